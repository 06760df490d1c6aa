// A device that leaves while open (hot unplug, or a fatal error report), on the sim backend:
// SimDevice.requestRemoval plays the kernel's REQ/ERR interrupt, and the same Device code the vfio
// backend drives notices it (waiter's sleep, event-loop timer, a queue's tick), fails everything
// in flight with DeviceRemovedError, revokes the device and lets it be opened again.
import { describe, expect, test } from "bun:test";
import { AsyncQueue, DeviceRemovedError, Device, DmaBuffer, IndexRingQueue, SimDevice, SqCqQueue, UseAfterReleaseError } from "@warpdrive/runtime";
import { Nvme } from "@warpdrive/nvme";
import { RING, ringSpec, SQCQ, sqcqSpec } from "./models/specs.ts";
import { ourFdCount, ourMapLines } from "../helpers/proc.ts";

const put = (value: number) => (v: DataView, o: number) => v.setUint32(o, value, true);
const sim = (dev: Device) => dev.backend as SimDevice;

/** A ring device with the model paused, so requests stay in flight. */
async function pausedRing(placement: "region" | "dma" = "region"): Promise<{ dev: Device; q: IndexRingQueue }> {
  const dev = await Device.open(ringSpec(placement), { backend: "sim" });
  const q = dev.requestQueue("cmd") as IndexRingQueue;
  if (q.ringBuffer) dev.region("queue").io.write64(RING.RING_BASE, BigInt(dev.dma.addressOf(q.ringBuffer.ref(), "ring_base")));
  // Pause, and know the model saw it: it clears RESYNC in a poll that read the pause bit, so no
  // poll that read the old control word is still running after that.
  const io = dev.region("queue").io;
  io.write32(RING.CTL, RING.CTL_PAUSE | RING.CTL_RESYNC);
  while (io.read32(RING.CTL) !== RING.CTL_PAUSE) await Bun.sleep(1);
  return { dev, q };
}

/** Resolves when Device has handled the removal (the unref'd timer, within a few of its periods). */
async function removed(dev: Device): Promise<DeviceRemovedError> {
  while (dev.removed === undefined) await Bun.sleep(5);
  return dev.removed;
}

describe("surprise removal on the sim", () => {
  test("a waiting recvSync throws DeviceRemovedError; the requests in flight are abandoned; later calls throw it too", async () => {
    const { dev, q } = await pausedRing();
    try {
      const tags = [q.send(put(1)), q.send(put(2)), q.send(put(3))];
      q.flush();
      expect(q.inFlight).toBe(3);
      const regionIo = dev.region("queue").io;
      sim(dev).requestRemoval();
      // no event-loop turn in between: the waiter itself finds the removal after a sleep slice
      let err: unknown;
      try {
        q.recvSync(60_000);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DeviceRemovedError);
      const e = err as DeviceRemovedError;
      expect(e.event).toBe("removed");
      expect(e.device).toBe(dev.name);
      expect(e.message).toContain(dev.address);
      expect(dev.removed).toBe(e);
      expect(q.released).toBe(true);
      expect([...q.abandoned]).toEqual(tags);
      // every later call says the same, on the queue and on the device
      expect(() => q.send(put(4))).toThrow(DeviceRemovedError);
      expect(() => q.flush()).toThrow(DeviceRemovedError);
      expect(() => q.recv()).toThrow(DeviceRemovedError);
      expect(() => dev.requestQueue("cmd")).toThrow(DeviceRemovedError);
      expect(() => dev.alloc(4096)).toThrow(DeviceRemovedError);
      expect(() => dev.region("queue")).toThrow(DeviceRemovedError);
      expect(() => dev.reset()).toThrow(DeviceRemovedError);
      // a register io taken before the removal reads the anonymous stand-in, it does not fault
      expect(regionIo.read32(RING.HEAD)).toBe(0);
      regionIo.write32(RING.CTL, 0);
    } finally {
      dev.close();
    }
    expect(() => dev.requestQueue("cmd")).toThrow(UseAfterReleaseError);
  });

  test("an error report fails the device the same way, with event \"error\"", async () => {
    const { dev, q } = await pausedRing("dma");
    try {
      q.send(put(1));
      q.flush();
      sim(dev).requestRemoval("error");
      expect(() => q.recvSync(60_000)).toThrow(DeviceRemovedError);
      expect(dev.removed?.event).toBe("error");
      expect(dev.removed?.message).toContain("error");
    } finally {
      dev.close();
    }
  });

  test("pending awaitable requests are rejected with DeviceRemovedError while the app only awaits", async () => {
    const { dev, q } = await pausedRing();
    try {
      const aq = new AsyncQueue(q, { decode: (qq, tag) => tag });
      const pending = [1, 2, 3].map((i) => aq.submit((v, o, arg: number) => v.setUint32(o, arg, true), i));
      const settled = Promise.allSettled(pending);
      await Bun.sleep(0);
      expect(aq.inFlight).toBe(3);
      sim(dev).requestRemoval();
      const results = await settled; // nothing but the event loop runs: the removal timer finds it
      for (const r of results) {
        expect(r.status).toBe("rejected");
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(DeviceRemovedError);
      }
      expect(aq.closed).toBe(true);
      await expect(aq.submit((v, o, arg: number) => v.setUint32(o, arg, true), 4)).rejects.toBeInstanceOf(DeviceRemovedError);
    } finally {
      dev.close();
    }
  });

  test("a sync loop that never sleeps (take() until it returns a tag) is stopped by the queue's tick", async () => {
    const { dev, q } = await pausedRing();
    try {
      q.send(put(1));
      q.flush();
      sim(dev).requestRemoval();
      let polls = 0;
      expect(() => {
        for (;;) {
          polls++;
          if (q.take() >= 0) return;
        }
      }).toThrow(DeviceRemovedError);
      expect(polls).toBeGreaterThan(0);
    } finally {
      dev.close();
    }
  });

  test("an idle device is revoked by the timer: the model stops, buffers can be freed, close frees the rest", async () => {
    const dev = await Device.open(sqcqSpec(), { backend: "sim" });
    const buf = dev.alloc(8192);
    const q = dev.requestQueue("io", { id: 1 }) as SqCqQueue;
    const bar = dev.region("bar0").io;
    const cfg = SQCQ.QBASE + q.id * SQCQ.QSTRIDE;
    bar.write64(cfg + SQCQ.SQ_BASE, BigInt(dev.dma.addressOf(q.sqBuffer.ref(), "sq_base")));
    bar.write64(cfg + SQCQ.CQ_BASE, BigInt(dev.dma.addressOf(q.cqBuffer.ref(), "cq_base")));
    bar.write32(cfg + SQCQ.SQ_DEPTH, q.sqDepth);
    bar.write32(cfg + SQCQ.CQ_DEPTH, q.cqDepth);
    bar.write32(cfg + SQCQ.ENABLE, 1);
    bar.write32(SQCQ.CTL, 1); // paused: the request below stays in flight, its buffer pinned
    q.send((v, o, dma) => {
      v.setUint8(o, SQCQ.OP_ECHO);
      dma.addressOf(buf.ref(0, 64), "data", 64);
    });
    q.flush();
    expect(buf.pins).toBe(1);
    sim(dev).requestRemoval();
    const e = await removed(dev);
    expect(e).toBeInstanceOf(DeviceRemovedError);
    expect(sim(dev).modelState).toBe("stopped");
    expect(q.abandoned.length).toBe(1);
    expect(buf.pins).toBe(0); // the request is dead: its buffer is the app's again
    buf.free();
    dev.close();
    expect(dev.closed).toBe(true);
  });

  test("20 remove/open cycles with requests in flight: no fd, mapping or DMA buffer growth; open works again each time", async () => {
    const cycle = async (i: number) => {
      const { dev, q } = await pausedRing(i & 1 ? "dma" : "region");
      const data = dev.alloc(4096);
      data.bytes[0] = i;
      q.send(put(i));
      q.send(put(i + 1));
      q.flush();
      sim(dev).requestRemoval();
      expect(() => q.recvSync(60_000)).toThrow(DeviceRemovedError);
      expect(data.bytes[0]).toBe(i); // host memory is untouched by the removal
      dev.close();
      // the same description opens again at once (a fresh device)
      const again = await Device.open(ringSpec(), { backend: "sim" });
      try {
        const q2 = again.requestQueue("cmd") as IndexRingQueue;
        q2.send(put(i));
        const c = q2.recvSync(10_000);
        expect(c.view.getUint32(c.offset + 4, true)).toBe((i * 2 + 1) >>> 0);
      } finally {
        again.close();
      }
    };
    await cycle(0);
    const f0 = ourFdCount(), m0 = ourMapLines().length, b0 = DmaBuffer.liveCount;
    for (let i = 1; i <= 20; i++) await cycle(i);
    expect(ourFdCount()).toBe(f0);
    expect(ourMapLines().length).toBe(m0);
    expect(DmaBuffer.liveCount).toBe(b0);
  });

  test("the NVMe driver on a removed device: reads in flight and later calls throw DeviceRemovedError; close does not hang", async () => {
    const nvme = await Nvme.open({ backend: "sim" });
    const buf = nvme.device.alloc(1 << 16);
    try {
      nvme.write(0, 8, buf.ref(0, 8 * nvme.blockSize));
      const io = nvme.asyncIo();
      const reads = [0, 1, 2, 3].map((k) => io.read(k * 8, 8, buf.ref(k * 4096, 4096)));
      sim(nvme.device).requestRemoval();
      const settled = await Promise.allSettled(reads);
      // each read either finished before the removal was noticed or failed with it
      for (const r of settled) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(DeviceRemovedError);
      await removed(nvme.device);
      expect(() => nvme.read(0, 1, buf.ref(0, 512))).toThrow(DeviceRemovedError);
      expect(() => nvme.write(0, 1, buf.ref(0, 512))).toThrow(DeviceRemovedError);
    } finally {
      nvme.close();
    }
    expect(nvme.device.closed).toBe(true);
  });

  test("requestRemoval checks its argument and refuses after close", async () => {
    const dev = await Device.open(ringSpec(), { backend: "sim" });
    // @ts-expect-error: not an event
    expect(() => sim(dev).requestRemoval("gone")).toThrow(TypeError);
    expect(dev.removed).toBeUndefined();
    dev.close();
    expect(() => sim(dev).requestRemoval()).toThrow(UseAfterReleaseError);
  });
});
