// One process of test/hw/wd-dummy-mdev.test.ts: claims a wd-dummy queue over vfio (the resource agent
// picks a free mdev instance, or creates one; or the instance named by WD_PEER_ADDRESS), prints
// `READY <uuid>`, then waits for a line on stdin and runs its copies, each verified byte for byte:
//   WD_PEER_MODE=copies  WD_PEER_COUNT copies of WD_PEER_SIZE bytes, WD_PEER_BATCH per doorbell;
//                        prints `RESULT {json}` (uuid, copies, bad, seconds, requests/s)
//   WD_PEER_MODE=stream  copies forever (prints `STREAMING` after the first batch): to be killed
import { WdDummyDevice, DescStatus, RING_DEPTH } from "@warpdrive/wd-dummy";

const mode = process.env.WD_PEER_MODE ?? "copies";
const count = Number(process.env.WD_PEER_COUNT ?? 2000);
const size = Number(process.env.WD_PEER_SIZE ?? 4096);
const batch = Math.min(Number(process.env.WD_PEER_BATCH ?? 32), RING_DEPTH);
const seed = Number(process.env.WD_PEER_SEED ?? process.pid) & 0xff;

const dev = await WdDummyDevice.open({ backend: "vfio", address: process.env.WD_PEER_ADDRESS || undefined });
const q = dev.requestQueue("cmd");
const slots = batch;
const src = dev.alloc(size * slots, "src");
const dst = dev.alloc(size * slots, "dst");
for (let i = 0; i < src.size; i++) src.bytes[i] = (i * 7 + seed + (i >> 12)) & 0xff;
console.log(`READY ${dev.device.address}`);

// wait for "go" (stdin): every peer holds its queue at the same time before any of them copies
const reader = Bun.stdin.stream().getReader();
await reader.read();

let bad = 0;
let done = 0;
const t0 = performance.now();
while (mode === "stream" || done < count) {
  const n = mode === "stream" ? batch : Math.min(batch, count - done);
  dst.bytes.fill(0);
  for (let i = 0; i < n; i++) q.send({ src: src.ref(i * size, size), dst: dst.ref(i * size, size), size, cookie: done + i });
  q.flush();
  for (let i = 0; i < n; i++) {
    const d = q.recvSync(10000);
    if (d.status !== DescStatus.DONE || d.cookie !== done + i) bad++;
  }
  if (!Buffer.from(dst.bytes.subarray(0, n * size)).equals(Buffer.from(src.bytes.subarray(0, n * size)))) bad++;
  if (done === 0 && mode === "stream") console.log("STREAMING");
  done += n;
}
const seconds = (performance.now() - t0) / 1000;
console.log(`RESULT ${JSON.stringify({ uuid: dev.device.address, copies: done, bad, seconds, rps: done / seconds, completed: dev.queue.completed.read() })}`);
dev.close();
process.exit(0);
