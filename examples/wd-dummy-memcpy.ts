// Copy memory with the WarpDrive dummy accelerator: share two buffers with the device, queue copy
// descriptors in batches (one doorbell per batch), collect the completions, check the bytes.
//
//   bun examples/wd-dummy-memcpy.ts                       # the sim device (default)
//   bun examples/wd-dummy-memcpy.ts --backend vfio --device <BDF or mdev>
//   bun examples/wd-dummy-memcpy.ts --backend uacce [--device uacce:wd_dummy-0]   # a UACCE queue
//   options: --size <bytes per copy, default 4096> --count <copies, default 10000>
import { parseArgs } from "node:util";
import { DescStatus, WdDummyDevice } from "@warpdrive/wd-dummy";
import { formatError, type BackendKind } from "@warpdrive/runtime";

const { values: opt } = parseArgs({
  options: {
    backend: { type: "string" },
    device: { type: "string" },
    size: { type: "string", default: "4096" },
    count: { type: "string", default: "10000" },
  },
});

async function main(): Promise<void> {
  const size = Number(opt.size);
  const count = Number(opt.count);
  using dev = await WdDummyDevice.open({ backend: opt.backend as BackendKind | undefined, address: opt.device });
  using q = dev.requestQueue("cmd");
  const slots = q.queue.depth;

  // One source and one destination area with a slot per ring entry, both shared with the device.
  const src = dev.alloc(size * slots, "src");
  const dst = dev.alloc(size * slots, "dst");
  for (let i = 0; i < src.size; i++) src.bytes[i] = (i * 7 + 3) & 0xff;

  const t0 = performance.now();
  let sent = 0;
  let done = 0;
  let bad = 0;
  while (done < count) {
    // Fill the ring, then publish the whole batch with one doorbell.
    while (sent < count && q.inFlight < slots) {
      const slot = sent % slots;
      q.send({ src: src.ref(slot * size, size), dst: dst.ref(slot * size, size), size, cookie: sent });
      sent++;
    }
    q.flush();
    // Take everything that has finished; wait (spin, then sleep on the interrupt) only when nothing has.
    let d: ReturnType<typeof q.recv> = q.recv() ?? q.recvSync(5000);
    while (d !== null) {
      if (d.status !== DescStatus.DONE) throw new Error(`copy ${d.cookie} failed with status ${d.status}`);
      const at = (d.cookie % slots) * size;
      const copied = dst.bytes.subarray(at, at + size);
      if (Buffer.compare(copied, src.bytes.subarray(at, at + size)) !== 0) bad++;
      copied.fill(0); // so the next copy into this slot is checked afresh
      done++;
      d = q.recv();
    }
  }
  const ms = performance.now() - t0;
  const completed = dev.queue.completed.read();
  console.log(`${dev.device.address}: ${count} copies of ${size} bytes in ${ms.toFixed(1)} ms ` +
    `(${((count * size) / ms / 1e3).toFixed(1)} MB/s, ${((ms * 1e6) / count).toFixed(0)} ns per copy), ` +
    `device counted ${completed}, ${bad} mismatches`);
  if (bad !== 0) process.exitCode = 1;
}

main().catch((e) => {
  console.error(formatError(e));
  process.exit(1);
});
