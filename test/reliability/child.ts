// A client process for the process-fault and multi-process tests (spawned with `bun child.ts <job>`):
//   stream <n>   wd-dummy: copies forever, printing "streaming" after n verified copies (to be killed)
//   run <n>      faulty device: n verified requests on each of its queues, then "ok <count>"
// Each line of output is a fact the parent checks; any mismatch exits 1 with the reason on stderr.
import { Device, type Queue } from "@warpdrive/runtime";
import { WdDummyDevice } from "@warpdrive/wd-dummy";
import { FAULTY, faultySpec } from "./models/specs.ts";
import { echo, openSqCq, result, ringEntry } from "./helpers.ts";

const [job, nArg] = process.argv.slice(2);
const n = Number(nArg ?? 100);

function fail(why: string): never {
  process.stderr.write(`child ${process.pid}: ${why}\n`);
  process.exit(1);
}

if (job === "stream") {
  const dev = await WdDummyDevice.open({ backend: "sim" });
  const q = dev.requestQueue("cmd");
  const src = dev.alloc(1 << 16), dst = dev.alloc(1 << 16);
  let done = 0;
  const reap = () => {
    const d = q.recvSync(5000);
    if (d.status !== 1) fail(`copy ${d.cookie} failed with status ${d.status}`);
    const at = (d.cookie % 64) * 1024;
    if (dst.bytes[at] !== (d.cookie & 0xff) || dst.bytes[at + 1023] !== (d.cookie & 0xff)) fail(`copy ${d.cookie}: wrong bytes`);
    if (++done === n) console.log("streaming");
  };
  for (let i = 0; ; i++) {
    // keep the ring full: the kill lands with requests in flight. A slot's source is rewritten only
    // after the request that used it last has completed.
    while (q.inFlight >= 64) reap();
    const off = (i % 64) * 1024;
    src.bytes.fill(i & 0xff, off, off + 1024);
    q.send({ src: src.ref(off, 1024), dst: dst.ref(off, 1024), size: 1024, cookie: i });
    if (q.inFlight >= 32) q.queue.flush();
  }
} else if (job === "run") {
  const dev = await Device.open(faultySpec(), { backend: "sim" });
  const queues: Queue[] = [openSqCq(dev, "admin"), openSqCq(dev, "io", 1), openSqCq(dev, "io", 2), openSqCq(dev, "io", 3), dev.requestQueue("ring")];
  let verified = 0;
  const salt = process.pid;
  for (const [k, q] of queues.entries()) {
    const ring = q.name === "ring";
    const want = new Map<number, number>();
    let sent = 0, got = 0;
    while (got < n) {
      while (sent < n) {
        const v = (salt * 7 + k * 100_000 + sent) >>> 0;
        const tag = q.trySend(ring ? ringEntry(v) : echo(v));
        if (tag < 0) break;
        want.set(tag, (v * 3) >>> 0);
        sent++;
      }
      q.flush();
      const c = q.recvSync(5000);
      const r = ring ? c.view.getUint32(c.offset + 4, true) : result(c);
      if (want.get(c.tag) !== r) fail(`${q.label}: tag ${c.tag} answered ${r}, expected ${want.get(c.tag)}`);
      want.delete(c.tag);
      got++;
      verified++;
    }
  }
  if (dev.region("bar0").io.read32(FAULTY.FETCHED) !== 4 * n) fail(`the device fetched ${dev.region("bar0").io.read32(FAULTY.FETCHED)} commands, expected ${4 * n}`);
  dev.close();
  console.log(`ok ${verified}`);
} else {
  fail(`unknown job "${job}" (stream <n> | run <n>)`);
}
