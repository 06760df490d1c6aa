// DMA safety: a dma-address field takes only memory shared with that device, the window is checked
// before anything reaches the ring (so before the doorbell), and memory a queued, not yet completed
// request references cannot be unshared or freed until its completion is taken (or a reset abandons
// the request). The device side is real: the faulty model's FILL writes into the buffer when it is
// released, so a buffer freed too early would be written after free.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Device, DmaBuffer, DmaError, type DmaRef, type IndexRingQueue } from "@warpdrive/runtime";
import { WdDummyDevice } from "@warpdrive/wd-dummy";
import { FAULTY, faultySpec } from "./models/specs.ts";
import { code, fill, openSqCq, release, result, setMode, sum } from "./helpers.ts";

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

describe("a dma-address field takes only memory shared with its device (wd-dummy, generated client)", () => {
  let a: WdDummyDevice, b: WdDummyDevice;
  beforeEach(async () => {
    a = await WdDummyDevice.open({ backend: "sim" });
    b = await WdDummyDevice.open({ backend: "sim" });
  });
  afterEach(() => {
    a.close();
    b.close();
  });
  const head = () => a.device.region("queue").io.read32(0);

  test("another device's buffer, a freed buffer, a forged ref, a size past the window: refused before the ring", () => {
    const q = a.requestQueue("cmd");
    const mine = a.alloc(4096), theirs = b.alloc(4096), gone = a.alloc(4096);
    const goneRef = gone.ref();
    gone.free();
    const real = mine.ref(0, 64);
    const bad: [string, DmaRef, string][] = [
      ["another device's buffer", theirs.ref(), "is not shared with"],
      ["a freed buffer", goneRef, "was freed"],
      ["a forged ref", { buffer: { name: "fake", size: 4096 } as unknown as DmaBuffer, offset: 0, length: 64 } as unknown as DmaRef, "expected a DmaRef"],
      ["a look-alike of a real ref", { buffer: real.buffer, offset: real.offset, length: real.length } as unknown as DmaRef, "expected a DmaRef"],
      ["a window at the end shorter than size", mine.ref(4064), "window is [4064, 4064+32)"],
      ["a window shorter than size", mine.ref(0, 16), "touch 64 bytes"],
    ];
    const h0 = head();
    for (const [what, ref, says] of bad) {
      const e = thrown(() => q.send({ src: ref, dst: mine.ref(), size: 64 }));
      expect({ what, error: e.name }).toEqual({ what, error: "DmaError" });
      expect(e.message).toContain(says);
      expect(e.message).toContain("src"); // names the field
      expect(q.inFlight).toBe(0);
      q.queue.flush();
      expect(head()).toBe(h0); // nothing was published, no doorbell
    }
    // and the queue is fine afterwards
    mine.bytes.fill(7, 0, 64);
    const dst = a.alloc(4096);
    q.send({ src: mine.ref(0, 64), dst: dst.ref(0, 64), size: 64 });
    expect(q.recvSync(5000).status).toBe(1);
    expect(dst.bytes.subarray(0, 64).every((x) => x === 7)).toBe(true);
  });
});

describe("memory referenced by a request in flight cannot be unshared or freed", () => {
  let dev: Device;
  beforeEach(async () => {
    dev = await Device.open(faultySpec(), { backend: "sim" });
  });
  afterEach(() => dev.close());

  test("unshare and free are refused, naming the buffer and the queue, until the completion is taken", () => {
    setMode(dev, FAULTY.MODE_HOLD);
    const q = openSqCq(dev, "io", 1);
    const buf = dev.alloc(4096, "target");
    q.send(fill(buf.ref(0, 256), 0x5a));
    q.flush();
    for (const [what, f] of [["dev.unshare", () => dev.unshare(buf)], ["buf.unshare", () => buf.unshare(dev)], ["buf.free", () => buf.free()]] as const) {
      const e = thrown(f);
      expect({ what, error: e.name }).toEqual({ what, error: "DmaError" });
      expect(e.message).toContain("dma buffer target");
      expect(e.message).toContain(q.label);
      expect(e.message).toContain("in flight");
    }
    // nothing changed: still shared, still mapped
    expect(buf.freed).toBe(false);
    expect(buf.iovaIn(dev)).toBeDefined();
    // the device writes it late (when released): into live memory
    release(dev, 1);
    const c = q.recvSync(5000);
    expect([code(c), result(c)]).toEqual([0, 256]);
    expect(buf.bytes.subarray(0, 256).every((x) => x === 0x5a)).toBe(true);
    dev.unshare(buf);
    expect(buf.iovaIn(dev)).toBeUndefined();
    buf.free();
    expect(buf.freed).toBe(true);
  });

  test("two requests on one buffer: refused until both complete", () => {
    setMode(dev, FAULTY.MODE_HOLD);
    const q = openSqCq(dev, "io", 2);
    const buf = dev.alloc(4096);
    q.send(fill(buf.ref(0, 8), 1));
    q.send(sum(buf.ref(0, 8)));
    q.flush();
    release(dev, 1);
    q.recvSync(5000);
    expect(() => buf.free()).toThrow("1 reference from requests in flight");
    release(dev, 1);
    expect(result(q.recvSync(5000))).toBe(8); // the SUM saw the FILL's bytes
    buf.free();
  });

  test("an encoder that fails on its second buffer pins nothing and sends nothing", () => {
    const q = openSqCq(dev, "io", 1);
    const ok = dev.alloc(4096);
    const other = DmaBuffer.alloc(4096); // never shared with dev
    try {
      expect(() =>
        q.send((v, o, dma) => {
          dma.addressOf(ok.ref(), "first");
          dma.addressOf(other.ref(), "second");
        }),
      ).toThrow(DmaError);
      expect(q.inFlight).toBe(0);
      ok.free(); // not pinned by the failed send
      // the tag was not taken: a full window still fits
      for (let i = 0; i < q.sqDepth - 1; i++) q.send((v, o) => v.setUint8(o, FAULTY.OP_ECHO));
      expect(q.trySend((v, o) => v.setUint8(o, FAULTY.OP_ECHO))).toBe(-1);
    } finally {
      other.free();
    }
  });

  test("a reset abandons the requests and unpins their buffers", () => {
    setMode(dev, FAULTY.MODE_HOLD);
    const q = openSqCq(dev, "io", 3);
    const buf = dev.alloc(4096);
    const tag = q.send(fill(buf.ref(), 9));
    q.flush();
    expect(() => buf.free()).toThrow(DmaError);
    expect(dev.reset()).toEqual([{ queue: q.label, tags: [tag] }]);
    buf.free();
  });

  test("index ring: the same pinning, released when the entry is done", () => {
    setMode(dev, FAULTY.MODE_HOLD); // the ring stops fetching
    const q = dev.requestQueue("ring") as IndexRingQueue;
    const buf = dev.alloc(4096);
    q.send((v, o, dma) => {
      v.setUint32(o, 5, true);
      v.setUint32(o + 12, dma.addressOf(buf.ref(0, 16), "buf"), true);
    });
    q.flush();
    expect(() => dev.unshare(buf)).toThrow(`queue ${q.label}`);
    setMode(dev, FAULTY.MODE_OK);
    expect(q.recvSync(5000).status).toBe(1);
    dev.unshare(buf);
    buf.free();
  });

  test("closing the device with requests in flight tears everything down without complaint", async () => {
    const other = await Device.open(faultySpec(), { backend: "sim" });
    setMode(other, FAULTY.MODE_HOLD);
    const q = openSqCq(other, "io", 1);
    const buf = other.alloc(4096);
    q.send(fill(buf.ref(), 3));
    q.flush();
    other.close();
    expect(buf.freed).toBe(true);
  });
});
