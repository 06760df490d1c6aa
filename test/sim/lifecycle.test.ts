// Resource hygiene of the sim path: thousands of open/use/release cycles leave no file
// descriptors, mappings or DMA buffers behind, and an idle model does not burn a core.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Device, DmaBuffer, IndexRingQueue, SimDevice } from "@warpdrive/runtime";
import { RING, ringSpec } from "./models/specs.ts";
import { fdCount, mapsCount, ourFdCount, ourMapLines } from "../helpers/proc.ts";

const fds = fdCount;
const maps = mapsCount;
const ourFds = ourFdCount;
const ourMaps = () => ourMapLines().length;
/** Bun's own heap maps and unmaps as the GC works: allow that much drift in the totals. */
const HEAP_SLACK = 16;
const put = (value: number) => (v: DataView, o: number) => v.setUint32(o, value, true);

async function cycle(i: number, placement: "region" | "dma"): Promise<void> {
  const dev = await Device.open(ringSpec(placement), { backend: "sim" });
  try {
    const q = dev.requestQueue("cmd") as IndexRingQueue;
    if (q.ringBuffer) dev.region("queue").io.write64(RING.RING_BASE, BigInt(dev.dma.addressOf(q.ringBuffer.ref(), "ring_base")));
    const buf = dev.alloc(4096);
    buf.bytes[0] = i & 0xff;
    q.send(put(i));
    const c = q.recvSync(5000);
    if (c.view.getUint32(c.offset + 4, true) !== ((i * 2 + 1) >>> 0)) throw new Error(`cycle ${i}: wrong answer`);
    q.release();
    buf.free();
  } finally {
    dev.close();
  }
}

describe("sim lifecycle", () => {
  test("10,000 device open/use/close cycles: no growth in fds, mappings or live DMA buffers", async () => {
    for (let i = 0; i < 50; i++) await cycle(i, i & 1 ? "dma" : "region"); // warm up: pool, JIT, native helper
    const f0 = fds(), m0 = maps(), b0 = DmaBuffer.liveCount;
    const own = [ourFds(), ourMaps()];
    // Named, so a register file left mapped by an earlier test file in this process shows whose it is.
    expect(ourMapLines().map((l) => l.slice(l.indexOf("/memfd:")))).toEqual([]);
    for (let i = 0; i < 10_000; i++) await cycle(i, i & 1 ? "dma" : "region");
    expect([ourFds(), ourMaps()]).toEqual(own);
    expect(fds()).toBeLessThanOrEqual(f0);
    expect(maps()).toBeLessThanOrEqual(m0 + HEAP_SLACK);
    expect(DmaBuffer.liveCount).toBe(b0);
  }, 120_000);

  test("10,000 queue request/use/release cycles on one device", async () => {
    const dev = await Device.open(ringSpec("dma"), { backend: "sim" });
    try {
      const use = (i: number) => {
        using q = dev.requestQueue("cmd") as IndexRingQueue;
        dev.region("queue").io.write64(RING.RING_BASE, BigInt(dev.dma.addressOf(q.ringBuffer!.ref(), "ring_base")));
        q.send(put(i));
        const c = q.recvSync(5000);
        if (c.view.getUint32(c.offset + 4, true) !== ((i * 2 + 1) >>> 0)) throw new Error(`cycle ${i}: wrong answer`);
      };
      use(0); // the first request enables the interrupt line (one eventfd for the device's life)
      const f0 = fds(), m0 = maps(), b0 = DmaBuffer.liveCount;
      const own = [ourFds(), ourMaps()];
      for (let i = 1; i <= 10_000; i++) use(i);
      expect([ourFds(), ourMaps()]).toEqual(own);
      expect(fds()).toBeLessThanOrEqual(f0);
      expect(maps()).toBeLessThanOrEqual(m0 + HEAP_SLACK);
      expect(DmaBuffer.liveCount).toBe(b0);
    } finally {
      dev.close();
    }
  }, 120_000);

  test("an idle device model sleeps instead of spinning", async () => {
    const dev = await Device.open(ringSpec(), { backend: "sim" });
    try {
      const tid = (dev.backend as SimDevice).modelThreadId;
      expect(tid).toBeGreaterThan(0);
      // utime + stime of the model's thread, in clock ticks (USER_HZ, 100 on Linux)
      const ticks = () => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return Number(f[11]) + Number(f[12]);
      };
      await Bun.sleep(20); // past the model's spin window
      const t0 = ticks();
      await Bun.sleep(500);
      // A spinning model would use ~50 ticks here; sleeping in 1 ms steps costs one or two.
      expect(ticks() - t0).toBeLessThan(15);
    } finally {
      dev.close();
    }
  });
});
