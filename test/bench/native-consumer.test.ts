// The benchmark's native device (bench/c/consumer.c behind bench/native/backend.ts) must be a real
// wd-dummy, or the queue figures compare clients against a device that does less than the sim model:
// it completes descriptors in order and copies every byte, reports BAD_SIZE and DMA_FAULT, ignores a
// producer index more than a ring ahead, stops reaching memory once it is unmapped, and resets. The
// C client drives the same page and leaves it where the generated client takes up. Also: the latency
// histogram's bucket math (C and TypeScript must agree) and the GC-log window parser. No timing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dlopen, toArrayBuffer, type Pointer } from "bun:ffi";
import { existsSync, readFileSync } from "node:fs";
import { DescStatus, Descriptor, MAX_COPY_SIZE, QueueOffsets, RING_DEPTH, RING_OFFSET, WdDummyDevice } from "@warpdrive/wd-dummy";
import { gcsBetweenMarks } from "../../bench/items/syscalls.ts";
import { bucketOf, bucketRange, summarize, BUCKETS } from "../../bench/latency.ts";
import { nativeWdDummyBackend, type NativeWdDummy } from "../../bench/native/backend.ts";
import { consumerLib, LAYOUT, type ConsumerLib } from "../../bench/native/lib.ts";

const lib = consumerLib();
if (typeof lib === "string") throw new Error(`the native consumer must build wherever the tests run (a C compiler is required): ${lib}`);
const native: ConsumerLib = lib;

let dev: WdDummyDevice;
let nd: NativeWdDummy;
beforeAll(async () => {
  dev = await WdDummyDevice.open({ backend: nativeWdDummyBackend() });
  nd = dev.device.backend as NativeWdDummy;
});
afterAll(() => dev.close());

/** The queue page as words, for raw descriptors that bypass the generated encoder's checks. */
function pageWords(): Uint32Array {
  return new Uint32Array(toArrayBuffer(nd.page as Pointer, 0, 4096));
}

/** Writes one raw descriptor at the producer index, rings, waits; returns its status. */
function rawCopy(src: number, dst: number, size: number): number {
  const u = pageWords();
  const head = Atomics.load(u, QueueOffsets.head >> 2);
  const o = (RING_OFFSET + (head % RING_DEPTH) * Descriptor.SIZE) >> 2;
  u[o] = src >>> 0;
  u[o + 1] = Math.floor(src / 2 ** 32);
  u[o + 2] = dst >>> 0;
  u[o + 3] = Math.floor(dst / 2 ** 32);
  u[o + 4] = size;
  u[o + (Descriptor.LAYOUT.status.offset >> 2)] = DescStatus.PENDING;
  Atomics.store(u, QueueOffsets.head >> 2, head + 1);
  Atomics.store(u, QueueOffsets.doorbell >> 2, head + 1);
  const t0 = performance.now();
  while (Atomics.load(u, QueueOffsets.tail >> 2) !== ((head + 1) >>> 0)) {
    if (performance.now() - t0 > 5000) throw new Error("the native consumer did not complete a raw descriptor");
  }
  return Atomics.load(u, o + (Descriptor.LAYOUT.status.offset >> 2));
}

describe("native wd-dummy consumer", () => {
  test("the generated client's copies complete DONE, in order, with every byte moved", () => {
    using src = dev.alloc(3 * 4096);
    using dst = dev.alloc(3 * 4096);
    for (let i = 0; i < src.size; i++) src.bytes[i] = (i * 7 + 3) & 0xff;
    using q = dev.requestQueue("cmd");
    const before = nd.descriptors;
    const cases = [[0, 0, 1], [1, 4095, 4097], [13, 100, 8192], [0, 0, 3 * 4096]] as const;
    cases.forEach(([so, d0, n], i) => q.send({ src: src.ref(so, n), dst: dst.ref(d0 + 0, n), size: n, cookie: 100 + i }));
    q.flush();
    // in ring order, each with its cookie; the last copy (whole buffer) is what dst holds now
    for (let i = 0; i < cases.length; i++) {
      const c = q.recvSync(5000);
      expect([c.cookie, c.status]).toEqual([100 + i, DescStatus.DONE]);
    }
    expect(dst.bytes).toEqual(src.bytes);
    expect(nd.descriptors - before).toBe(cases.length);
    expect(dev.queue.completed.read()).toBe(dev.queue.tail.read());
  });

  test("size 0 or above MAX_COPY_SIZE is BAD_SIZE; memory not mapped, or a window overrun, is DMA_FAULT and writes nothing", () => {
    using a = dev.alloc(4096);
    using b = dev.alloc(4096);
    a.bytes.fill(0x5a);
    const ia = nd.iovaOf(a.ptr);
    const ib = nd.iovaOf(b.ptr);
    expect(rawCopy(ia, ib, 64)).toBe(DescStatus.DONE);
    expect(b.bytes[63]).toBe(0x5a);
    b.bytes.fill(0);
    expect(rawCopy(ia, ib, 0)).toBe(DescStatus.BAD_SIZE);
    expect(rawCopy(ia, ib, MAX_COPY_SIZE + 1)).toBe(DescStatus.BAD_SIZE);
    expect(rawCopy(ia + 4000, ib, 200)).toBe(DescStatus.DMA_FAULT); // source runs past its mapping
    expect(rawCopy(ia, ib + 4000, 200)).toBe(DescStatus.DMA_FAULT); // destination too
    expect(rawCopy(0x1000, ib, 64)).toBe(DescStatus.DMA_FAULT); // never mapped
    expect(b.bytes.every((x) => x === 0)).toBe(true);
  });

  test("memory is out of the device's reach once it is unmapped", () => {
    const a = dev.alloc(4096);
    using b = dev.alloc(4096);
    a.bytes.fill(1);
    const ia = nd.iovaOf(a.ptr);
    const ib = nd.iovaOf(b.ptr);
    expect(rawCopy(ia, ib, 16)).toBe(DescStatus.DONE);
    a.free(); // unshares: dmaUnmap
    b.bytes.fill(0);
    expect(rawCopy(ia, ib, 16)).toBe(DescStatus.DMA_FAULT);
    expect(b.bytes[0]).toBe(0);
  });

  test("a producer index more than a ring ahead is ignored, not walked", () => {
    using src = dev.alloc(4096);
    using dst = dev.alloc(4096);
    using q = dev.requestQueue("cmd");
    const head = dev.queue.head.read();
    const before = dev.queue.completed.read();
    dev.queue.head.write((head + 1000) >>> 0);
    dev.queue.doorbell.write((head + 1000) >>> 0);
    Bun.sleepSync(20);
    dev.queue.head.write(head);
    q.send({ src: src.ref(0, 64), dst: dst.ref(0, 64), size: 64, cookie: 7 });
    q.flush();
    const d = q.recvSync(5000);
    expect([d.cookie, d.status]).toEqual([7, DescStatus.DONE]);
    expect(dev.queue.completed.read()).toBe((before + 1) >>> 0);
  });

  test("the C client drives the same consumer and leaves the ring where the generated client takes up", () => {
    using src = dev.alloc(4096);
    using dst = dev.alloc(4096);
    src.bytes.fill(0x77);
    const bad = new Uint32Array(1);
    const page = nd.page as Pointer;
    const before = nd.descriptors;
    native.wdc_client_oneway(page, LAYOUT, 3200, 32, nd.iovaOf(src.ptr), nd.iovaOf(dst.ptr), 64, bad);
    native.wdc_client_oneway(page, LAYOUT, 500, 1, nd.iovaOf(src.ptr), nd.iovaOf(dst.ptr), 64, bad);
    const hist = new Uint32Array(BUCKETS);
    native.wdc_client_roundtrip(page, LAYOUT, 300, nd.iovaOf(src.ptr), nd.iovaOf(dst.ptr), 64, bad, hist);
    expect(bad[0]).toBe(0);
    expect(nd.descriptors - before).toBe(4000);
    expect(summarize(hist).count).toBe(300);
    expect(dst.bytes.subarray(0, 64).every((x) => x === 0x77)).toBe(true);
    expect(dst.bytes[64]).toBe(0);
    // a copy to an unmapped address counts as bad, not as done
    native.wdc_client_oneway(page, LAYOUT, 32, 32, 0x1000, nd.iovaOf(dst.ptr), 64, bad);
    expect(bad[0]).toBe(32);
    using q = dev.requestQueue("cmd");
    q.send({ src: src.ref(0, 8), dst: dst.ref(100, 8), size: 8 });
    expect(q.recvSync(5000).status).toBe(DescStatus.DONE);
    expect(dst.bytes[107]).toBe(0x77);
  });

  test("reset puts the registers back and the ring starts afresh", () => {
    using src = dev.alloc(4096);
    using dst = dev.alloc(4096);
    {
      using q = dev.requestQueue("cmd");
      q.send({ src: src.ref(0, 8), dst: dst.ref(0, 8), size: 8 });
      q.recvSync(5000);
    }
    expect(dev.queue.completed.read()).toBeGreaterThan(0);
    dev.device.reset();
    expect([dev.queue.head.read(), dev.queue.tail.read(), dev.queue.completed.read(), dev.queue.depth.read()]).toEqual([0, 0, 0, RING_DEPTH]);
    using q = dev.requestQueue("cmd");
    q.send({ src: src.ref(0, 8), dst: dst.ref(0, 8), size: 8, cookie: 9 });
    const c = q.recvSync(5000);
    expect([c.cookie, c.status]).toEqual([9, DescStatus.DONE]);
    expect(dev.queue.tail.read()).toBe(1);
  });
});

describe("latency histogram", () => {
  test("every duration lies in its bucket, buckets are ordered, and C computes the same bucket", () => {
    const values = [0, 1, 15, 16, 17, 31, 32, 33, 100, 255, 256, 1000, 4095, 4096, 123_456, 9_999_999, 2 ** 31, 2 ** 32 - 1];
    for (let v = 1; v < 1e9; v = Math.ceil(v * 1.37)) values.push(v);
    let last = -1;
    for (const v of values.sort((a, b) => a - b)) {
      const b = bucketOf(v);
      const [lo, hi] = bucketRange(b);
      if (b < BUCKETS - 1) expect(lo <= v && v < hi).toBe(true);
      expect(b).toBeGreaterThanOrEqual(last);
      expect(native.wdc_bucket(v)).toBe(b);
      last = b;
    }
    expect(bucketRange(bucketOf(1000))[1] - bucketRange(bucketOf(1000))[0]).toBeLessThanOrEqual(1000 / 15);
  });

  test("percentiles are the upper bounds of the buckets that hold them", () => {
    const h = new Uint32Array(BUCKETS);
    for (let i = 0; i < 9990; i++) h[bucketOf(100)]++;
    for (let i = 0; i < 9; i++) h[bucketOf(5000)]++;
    h[bucketOf(80_000)]++;
    const s = summarize(h);
    expect(s.count).toBe(10_000);
    expect(s.p50).toBe(bucketRange(bucketOf(100))[1]);
    expect(s.p99).toBe(bucketRange(bucketOf(100))[1]);
    expect(s.p9999).toBe(bucketRange(bucketOf(5000))[1]);
    expect(s.max).toBe(bucketRange(bucketOf(80_000))[1]);
    expect(s.histogram.map((x) => x[2])).toEqual([9990, 9, 1]);
  });
});

// The syscall figure's instrument: a perf counter on raw_syscalls:sys_enter for one thread counts
// exactly the calls that thread makes between enable and disable (plus the disabling ioctl itself).
const idFile = "/sys/kernel/tracing/events/raw_syscalls/sys_enter/id";
const tracepoint = existsSync(idFile) ? Number(readFileSync(idFile, "utf8").trim()) : -1;
const probe = tracepoint < 0 ? -1 : native.wdc_syscall_counter(process.pid, tracepoint);
describe.skipIf(probe < 0)("syscall counter (needs tracefs and permission to count tracepoints)", () => {
  test("counts the calls the thread makes in the window, and nothing outside it", () => {
    const libc = dlopen("libc.so.6", { getppid: { args: [], returns: "i32" }, close: { args: ["i32"], returns: "i32" } });
    const fds = new Int32Array([probe]);
    const before = native.wdc_counter_read(probe);
    for (let i = 0; i < 200; i++) libc.symbols.getppid(); // outside: not counted
    expect(native.wdc_counters_enable(fds, 1, 1)).toBe(0);
    for (let i = 0; i < 1000; i++) libc.symbols.getppid();
    native.wdc_counters_enable(fds, 1, 0);
    for (let i = 0; i < 200; i++) libc.symbols.getppid();
    const counted = native.wdc_counter_read(probe) - before;
    // 1000 getppid + the disabling ioctl, plus whatever the JS runtime itself does on this thread in
    // the window (a few calls at most); the 400 calls outside the window must not be in it
    expect(counted).toBeGreaterThanOrEqual(1001);
    expect(counted).toBeLessThan(1200);
    libc.symbols.close(probe);
  });
});

describe("GC window from JSC's log", () => {
  test("counts only the collections between the marks", () => {
    const log = [
      "[GC<0x1>: START M 8928kb => EdenCollection ...]",
      "GC END!",
      "WDMARK begin",
      "Requesting GC because bytes allocated this cycle: 1",
      "[GC<0x1>: START M 9099kb => EdenCollection ...]",
      "GC END!",
      "[GC<0x1>: START M 9199kb => FullCollection ...]",
      "WDMARK end",
      "[GC<0x1>: START M 1kb => EdenCollection ...]",
    ].join("\n");
    expect(gcsBetweenMarks(log)).toBe(2);
    expect(() => gcsBetweenMarks("GC END!\n")).toThrow(/WDMARK/);
  });
});
