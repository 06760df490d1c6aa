// IndexRingQueue against the ring-test sim device (test/sim/models): every op, the error paths,
// wrap-around, full/empty, many requests in flight, recvSync timeout, release semantics.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Device, IndexRingQueue, QueueFullError, TimeoutError, UseAfterReleaseError, WarpDriveError } from "@warpdrive/runtime";
import { RING, ringSpec } from "../sim/models/specs.ts";

const put = (value: number, cookie = 0) => (v: DataView, o: number) => {
  v.setUint32(o, value, true);
  v.setUint32(o + 12, cookie, true);
};
const result = (c: { view: DataView; offset: number }) => c.view.getUint32(c.offset + 4, true);

for (const placement of ["region", "dma"] as const) {
  describe(`IndexRingQueue, ring in ${placement}`, () => {
    let dev: Device;
    let q: IndexRingQueue;
    const pause = (on: boolean) => dev.region("queue").io.write32(RING.CTL, on ? RING.CTL_PAUSE : 0);

    beforeEach(async () => {
      dev = await Device.open(ringSpec(placement), { backend: "sim" });
      q = dev.requestQueue("cmd") as IndexRingQueue;
      if (placement === "dma") {
        expect(q.ringBuffer).toBeDefined();
        dev.region("queue").io.write64(RING.RING_BASE, BigInt(dev.dma.addressOf(q.ringBuffer!.ref(), "ring_base")));
      } else {
        expect(q.ringBuffer).toBeUndefined();
      }
    });
    afterEach(() => dev.close());

    test("send + flush + recvSync returns the device's answer for that request", () => {
      const tag = q.send(put(20));
      expect(q.inFlight).toBe(1);
      q.flush();
      const c = q.recvSync(5000);
      expect(c.tag).toBe(tag);
      expect(c.status).toBe(1);
      expect(result(c)).toBe(41);
      expect(q.inFlight).toBe(0);
    });

    test("recv on an empty queue is null and never blocks", () => {
      expect(q.recv()).toBeNull();
      expect(q.recv()).toBeNull();
    });

    test("send does not publish: the device sees nothing until flush or recv", () => {
      q.send(put(1));
      const io = dev.region("queue").io;
      expect(io.read32(RING.HEAD)).toBe(0);
      q.flush();
      expect(io.read32(RING.HEAD)).toBe(1);
      q.recvSync(5000);
      q.send(put(2));
      expect(io.read32(RING.HEAD)).toBe(1);
      expect(q.recvSync(5000).tag).toBe(1); // recvSync publishes what is pending
      expect(io.read32(RING.HEAD)).toBe(2);
    });

    test("a full ring throws QueueFullError naming the queue, trySend returns -1, nothing is overwritten", () => {
      pause(true);
      for (let i = 0; i < RING.DEPTH; i++) q.send(put(i, 100 + i));
      expect(q.inFlight).toBe(RING.DEPTH);
      expect(q.trySend(put(999))).toBe(-1);
      let err: unknown;
      try {
        q.send(put(999));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(QueueFullError);
      expect((err as Error).message).toContain(`${dev.address}/cmd`);
      q.flush();
      pause(false);
      for (let i = 0; i < RING.DEPTH; i++) {
        const c = q.recvSync(5000);
        expect(result(c)).toBe(i * 2 + 1);
        expect(c.view.getUint32(c.offset + 12, true)).toBe(100 + i);
      }
      expect(q.recv()).toBeNull();
    });

    test("wrap-around: many times the depth, in order, with batches of every size", () => {
      let next = 0;
      let expected = 0;
      for (let round = 0; round < 200; round++) {
        const batch = 1 + (round % RING.DEPTH);
        for (let i = 0; i < batch; i++) q.send(put(next++));
        q.flush();
        for (let i = 0; i < batch; i++) {
          const c = q.recvSync(5000);
          expect(c.tag).toBe(expected);
          expect(result(c)).toBe(expected * 2 + 1);
          expected++;
        }
      }
      expect(expected).toBeGreaterThan(RING.DEPTH * 50);
    });

    test("many in flight: keep the ring full while draining", () => {
      let sent = 0;
      let got = 0;
      const total = 5000;
      while (got < total) {
        while (sent < total && q.trySend(put(sent)) >= 0) sent++;
        q.flush();
        const c = q.recvSync(5000);
        expect(result(c)).toBe(got * 2 + 1);
        got++;
      }
      expect(q.inFlight).toBe(0);
    });

    test("recvSync times out with TimeoutError naming the queue when the device does not answer", () => {
      pause(true);
      q.send(put(5));
      let err: unknown;
      try {
        q.recvSync(30);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as Error).message).toContain(`queue ${dev.address}/cmd`);
      pause(false);
      expect(result(q.recvSync(5000))).toBe(11); // the request is still there and completes
    });

    test("recvSync with nothing in flight is an error, not a hang", () => {
      expect(() => q.recvSync(10)).toThrow(/nothing is in flight/);
    });

    test("recvSync sleeps on the interrupt: a completion long after the spin is still seen", async () => {
      pause(true);
      q.send(put(7));
      q.flush();
      // recvSync blocks this thread, so another thread unpauses the device: after 20 ms, well past the spin
      const w = new Worker(new URL("./queue-unpause-worker.ts", import.meta.url).href);
      const sab = new Int32Array(new SharedArrayBuffer(4));
      w.postMessage({ ptr: dev.region("queue").ptr, off: RING.CTL, delayMs: 20, sab });
      while (Atomics.load(sab, 0) === 0) await Bun.sleep(1);
      const c = q.recvSync(5000);
      expect(result(c)).toBe(15);
      w.terminate();
    });

    test("release twice and use after release are clear errors; the queue can then be requested again", () => {
      q.release();
      expect(q.released).toBe(true);
      expect(() => q.release()).toThrow(UseAfterReleaseError);
      expect(() => q.send(put(1))).toThrow(/queue .*\/cmd was used after it was released/);
      expect(() => q.recv()).toThrow(UseAfterReleaseError);
      expect(() => q.flush()).toThrow(UseAfterReleaseError);
      q[Symbol.dispose](); // disposing a released queue is quiet (the end of a `using` scope)
      const again = dev.requestQueue("cmd") as IndexRingQueue;
      if (placement === "dma") dev.region("queue").io.write64(RING.RING_BASE, BigInt(dev.dma.addressOf(again.ringBuffer!.ref(), "ring_base")));
      again.send(put(3));
      expect(result(again.recvSync(5000))).toBe(7);
      q = again;
    });

    test("the same queue cannot be requested twice", () => {
      expect(() => dev.requestQueue("cmd")).toThrow(/already in use/);
    });

    test("unknown queue, bad depth", () => {
      expect(() => dev.requestQueue("nope")).toThrow(/no queue "nope"/);
      q.release();
      expect(() => dev.requestQueue("cmd", { depth: 4 })).toThrow(/depth 4 cannot be chosen/);
      q = dev.requestQueue("cmd") as IndexRingQueue;
    });

    test("closing the device releases its queues", () => {
      dev.close();
      expect(q.released).toBe(true);
      expect(() => q.send(put(1))).toThrow(/released \(its device was closed\)/);
      expect(() => dev.requestQueue("cmd")).toThrow(UseAfterReleaseError);
    });

    test("using: the queue is released at the end of the scope", () => {
      q.release();
      {
        using inner = dev.requestQueue("cmd") as IndexRingQueue;
        expect(inner.released).toBe(false);
        q = inner;
      }
      expect(q.released).toBe(true);
      q = dev.requestQueue("cmd") as IndexRingQueue;
    });

    test("errors from the encoder leave the slot unused", () => {
      expect(() => q.send(() => { throw new WarpDriveError("bad field"); })).toThrow(/bad field/);
      expect(q.inFlight).toBe(0);
      q.send(put(4));
      expect(result(q.recvSync(5000))).toBe(9);
    });
  });
}

describe("IndexRingQueue and device reset", () => {
  test("reset releases the queue (later use says why); a new one starts from the reset indices", async () => {
    const dev = await Device.open(ringSpec(), { backend: "sim" });
    try {
      const q = dev.requestQueue("cmd") as IndexRingQueue;
      for (let i = 0; i < 5; i++) q.send(put(i));
      q.flush();
      for (let i = 0; i < 5; i++) q.recvSync(5000);
      dev.reset();
      expect(q.released).toBe(true);
      expect(() => q.send(put(1))).toThrow(/released \(its device was reset\)/);
      expect(dev.region("queue").io.read32(RING.HEAD)).toBe(0);
      const again = dev.requestQueue("cmd") as IndexRingQueue;
      const tag = again.send(put(8));
      expect(tag).toBe(0);
      expect(result(again.recvSync(5000))).toBe(17);
    } finally {
      dev.close();
    }
  });
});

describe("IndexRingQueue across the 32-bit index wrap", () => {
  test("indices just below 2^32 roll over to 0; tags stay non-negative and in order", async () => {
    const dev = await Device.open(ringSpec(), { backend: "sim" });
    try {
      const io = dev.region("queue").io;
      const start = 0xffffffff - 20;
      io.write32(RING.HEAD, start);
      io.write32(RING.TAIL, start);
      io.write32(RING.CTL, RING.CTL_RESYNC);
      for (let i = 0; i < 1e8 && io.read32(RING.CTL) !== 0; i++) if ((i & 1023) === 1023) Bun.sleepSync(0.1);
      const q = dev.requestQueue("cmd") as IndexRingQueue;
      const tags: number[] = [];
      for (let i = 0; i < 50; i++) {
        const tag = q.send(put(i));
        expect(tag).toBeGreaterThanOrEqual(0);
        const c = q.recvSync(5000);
        expect(c.tag).toBe(tag);
        expect(result(c)).toBe(i * 2 + 1);
        tags.push(tag);
      }
      expect(tags[0]).toBe(start);
      expect(tags).toContain(0xffffffff);
      expect(tags[49]).toBe((start + 49) >>> 0);
      expect(io.read32(RING.HEAD)).toBe((start + 50) >>> 0);
    } finally {
      dev.close();
    }
  });
});
