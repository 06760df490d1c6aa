// The request hot path (wd-dummy, generated client, sim backend): every refusal leaves the ring as
// it was and names the field and the queue; a long run of requests allocates (next to) nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { DmaError, WarpDriveError, type DmaBuffer } from "@warpdrive/runtime";
import { DescStatus, WdDummyDevice, type CmdQueue } from "@warpdrive/wd-dummy";

let dev: WdDummyDevice;
let q: CmdQueue;
let src: DmaBuffer;
let dst: DmaBuffer;

beforeAll(async () => {
  dev = await WdDummyDevice.open({ backend: "sim" });
  q = dev.requestQueue("cmd");
  src = dev.alloc(8192, "src");
  dst = dev.alloc(8192, "dst");
});
afterAll(() => dev.close());

const head = () => dev.device.region("queue").io.read32(0);

/** Sends `req` (any shape, as plain JavaScript would) and returns what it threw. */
function refusal(req: unknown): Error {
  const h0 = head();
  const before = q.inFlight;
  let err: unknown;
  try {
    q.send(req as never);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(Error);
  q.flush();
  expect(q.inFlight).toBe(before); // nothing queued
  expect(head()).toBe(h0); // nothing published
  return err as Error;
}

describe("refused before the ring, naming the field and the queue", () => {
  test("a size past either window: DmaError with both ranges", () => {
    const e = refusal({ src: src.ref(), dst: dst.ref(0, 16), size: 4096 });
    expect(e).toBeInstanceOf(DmaError);
    expect(e.message).toMatch(/^queue sim:wd-dummy\/\d+\/cmd: Descriptor\.dst: the device would touch 4096 bytes at \[0, 0\+4096\) of dma buffer dst, but the DmaRef window is \[0, 0\+16\)/);
    const end = refusal({ src: src.ref(0, 16), dst: dst.ref(dst.size - 16), size: 8192 });
    expect(end.message).toContain("Descriptor.src: the device would touch 8192 bytes");
  });

  test("integers out of range or not integers: RangeError; wrong types: TypeError; never truncated", () => {
    const base = { src: src.ref(0, 64), dst: dst.ref(0, 64) };
    const cases: [unknown, ErrorConstructor, string][] = [
      [2 ** 32 + 16, RangeError, "is outside 0..4294967295"],
      [1.5, RangeError, "1.5 is not an integer"],
      [-1, RangeError, "-1 is outside"],
      [Number.NaN, RangeError, "NaN is not an integer"],
      [Infinity, RangeError, "Infinity is not an integer"],
      ["64", TypeError, 'got "64"'],
      [64n, TypeError, "a 32-bit field takes a number, got the bigint 64n"],
      [{ valueOf: () => 64 }, TypeError, "got an object"],
    ];
    for (const [size, kind, says] of cases) {
      const e = refusal({ ...base, size });
      expect({ size: String(size), kind: e.constructor.name }).toEqual({ size: String(size), kind: kind.name });
      expect(e.message).toContain("Descriptor.size");
      expect(e.message).toContain("/cmd:"); // the queue
      expect(e.message).toContain(says);
    }
  });

  test("a request that is not an object, and a DmaRef that is not one", () => {
    for (const bad of [undefined, null, 42, "x", 7n]) {
      const e = refusal(bad);
      expect(e).toBeInstanceOf(TypeError);
      expect(e.message).toContain("Descriptor: expected a request object");
    }
    const look = { buffer: src, offset: 0, length: 64 };
    expect(refusal({ src: look, dst: dst.ref(), size: 8 }).message).toContain("Descriptor.src: expected a DmaRef from DmaBuffer.ref(), got an object");
  });

  test("each caller value is read once: a getter that changes its answer cannot pass the check and encode another", () => {
    let reads = 0;
    const tricky = {
      src: src.ref(0, 16),
      dst: dst.ref(0, 16),
      get size() {
        return reads++ === 0 ? 16 : 8192; // a second read would find a size past the windows
      },
      cookie: 9,
    };
    dst.bytes.fill(0);
    src.bytes.fill(3, 0, 16);
    q.send(tricky);
    expect(reads).toBe(1);
    const c = q.recvSync(5000);
    expect([c.size, c.status, c.cookie]).toEqual([16, DescStatus.DONE, 9]);
  });

  test("a getter that sends while the outer send encodes: refused, both requests are dropped, the queue works on", () => {
    const inner = { src: src.ref(0, 8), dst: dst.ref(0, 8), size: 8 };
    const outer = {
      src: src.ref(0, 8),
      dst: dst.ref(0, 8),
      get size() {
        q.send(inner);
        return 8;
      },
    };
    const e = refusal(outer);
    expect(e).toBeInstanceOf(WarpDriveError);
    expect(e.message).toContain("a request is being encoded already");
    q.send({ ...inner, cookie: 4 });
    expect(q.recvSync(5000).cookie).toBe(4);
    expect(src.pins + dst.pins).toBe(0); // the refused requests pinned nothing
  });

  test("recvSync's timeout is a number, never coerced", () => {
    q.send({ src: src.ref(0, 8), dst: dst.ref(0, 8), size: 8, cookie: 5 });
    expect(() => q.recvSync("100" as never)).toThrow(TypeError);
    expect(() => q.recvSync(-1)).toThrow(RangeError);
    expect(() => q.recvSync(Number.NaN)).toThrow(RangeError);
    expect(q.recvSync(5000).cookie).toBe(5);
  });
});

describe("pins are counts on the buffer, per request", () => {
  test("a buffer named twice by one request and once by another: three pins, gone when both complete", () => {
    q.send({ src: src.ref(0, 8), dst: src.ref(64, 8), size: 8 });
    q.send({ src: src.ref(0, 8), dst: dst.ref(0, 8), size: 8 });
    expect(src.pins).toBe(3);
    expect(dst.pins).toBe(1);
    expect(() => dev.device.unshare(src)).toThrow(/3 references from requests in flight on queue .*\/cmd point at it/);
    q.recvSync(5000);
    q.recvSync(5000);
    expect(src.pins + dst.pins).toBe(0);
  });
});

describe("no allocation per request", () => {
  test("100,000 send/reap cycles grow the heap's object count by less than a few hundred", { timeout: 300_000 }, () => {
    const req = { src: src.ref(0, 64), dst: dst.ref(0, 64), size: 64, cookie: 0 };
    const cycle = (n: number) => {
      for (let i = 0; i < n; i++) {
        q.send(req);
        q.flush();
        let c = q.reap();
        while (c === null) c = q.reap();
        if (c.status !== DescStatus.DONE) throw new Error(`status ${c.status}`);
      }
    };
    cycle(2000); // warm up: JIT tiers, lazily made views
    Bun.gc(true);
    const before = heapStats().objectCount;
    cycle(100_000);
    // Read before any forced GC: objects made by the loop and not yet collected count too.
    const after = heapStats().objectCount;
    expect(after - before).toBeLessThan(300);
  });
});

describe("memory a queue owns", () => {
  test("a live queue's rings cannot be freed or unshared by the caller; released, they are gone", async () => {
    const { Device } = await import("@warpdrive/runtime");
    const { spec } = await import("@warpdrive/hzip-generated/spec");
    const d = await Device.open(spec, { backend: "sim" });
    try {
      const q = d.requestQueue("qp", { id: 1 }) as import("@warpdrive/runtime").SqCqQueue;
      expect(() => q.sqBuffer.free()).toThrow(/owned by queue memory ".*qp\[1\] SQ"|queue memory ".*qp\[1\] SQ"/);
      expect(() => d.unshare(q.cqBuffer)).toThrow(DmaError);
      expect(q.sqBuffer.freed).toBe(false);
      q.release();
      expect(q.sqBuffer.freed).toBe(true);
      expect(q.cqBuffer.freed).toBe(true);
    } finally {
      d.close();
    }
  });
});
