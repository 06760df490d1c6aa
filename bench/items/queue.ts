// The request hot path on wd-dummy, measured against one device: the native consumer thread of
// bench/c/consumer.c (a Backend, so the generated client runs unchanged). Against it:
//   - the generated TypeScript client (WdDummyDevice / CmdQueue), as a user writes it;
//   - a C client (same protocol as the runtime's engine: whole descriptor, pending status, release
//     stores of producer and doorbell, reap by the status of the oldest request), bus addresses
//     resolved once, no checks: the cost floor of the protocol;
//   - a hand-written TypeScript ring over the same page (bus addresses resolved once, the copy size
//     checked against both windows, plain stores + one Atomics.store for the doorbell, Atomics.load
//     to poll): what the generated client should be as cheap as.
// Samples of each figure alternate with its reference's (stats.interleaved), medians of >= 5.
// Also here: the wd-dummy sim model per descriptor (context), round-trip latency percentiles, and
// pipelined 64 KiB copies against TypedArray.set.
import { toArrayBuffer, type Pointer } from "bun:ffi";
import { QemuEduDevice } from "@warpdrive/qemu-edu";
import { simBackend } from "@warpdrive/runtime";
import { DescStatus, Descriptor, QueueOffsets, RING_DEPTH, RING_OFFSET, WdDummyDevice } from "@warpdrive/wd-dummy";
import { BUCKETS, bucketOf, summarize, type LatencySummary } from "../latency.ts";
import { nativeWdDummyBackend, recordingBackend, type NativeWdDummy, type RecordingDevice } from "../native/backend.ts";
import { consumerLib, LAYOUT, PAGE_SIZE, type ConsumerLib } from "../native/lib.ts";
import { ratioGoal, type BenchEntry, type BenchResult } from "../report.ts";
import { interleaved, spreadOf, type Spread } from "../stats.ts";

type CmdQueue = ReturnType<WdDummyDevice["requestQueue"]>;
type Shared = ReturnType<WdDummyDevice["alloc"]>;
type Window = ReturnType<Shared["ref"]>;

/** Bytes per request: small, so the ring (not memcpy) is what is measured. */
const COPY = 64;
const MASK = RING_DEPTH - 1;
const PENDING = DescStatus.PENDING;
const DONE = DescStatus.DONE;

/**
 * The completion step of every generated-client loop below: the status of the next finished
 * request, or -1, through the allocation-free reap() (one reused accessor, no decoded object).
 */
function reap(q: CmdQueue): number {
  const c = q.reap();
  return c === null ? -1 : c.status;
}

// ---- generated client loops (one function per case: no shared call site between cases) ----

/** Ring kept full, doorbell per request; returns ns per request. */
export function clientBatch1(q: CmdQueue, s: Window, d: Window, n: number): number {
  let sent = 0;
  let done = 0;
  let bad = 0;
  const t0 = Bun.nanoseconds();
  while (done < n) {
    while (sent < n && q.inFlight < RING_DEPTH) {
      q.send({ src: s, dst: d, size: COPY, cookie: sent++ });
      q.flush();
    }
    for (let st = reap(q); st >= 0; st = reap(q)) {
      if (st !== DONE) bad++;
      done++;
    }
  }
  const ns = (Bun.nanoseconds() - t0) / n;
  if (bad) throw new Error(`generated client, batch 1: ${bad} requests did not complete DONE`);
  return ns;
}

/** Ring kept full, doorbell per 32 requests; returns ns per request. */
export function clientBatch32(q: CmdQueue, s: Window, d: Window, n: number): number {
  let sent = 0;
  let done = 0;
  let bad = 0;
  const t0 = Bun.nanoseconds();
  while (done < n) {
    while (sent < n && q.inFlight + 32 <= RING_DEPTH) {
      for (let b = 0; b < 32; b++) q.send({ src: s, dst: d, size: COPY, cookie: sent++ });
      q.flush();
    }
    for (let st = reap(q); st >= 0; st = reap(q)) {
      if (st !== DONE) bad++;
      done++;
    }
  }
  const ns = (Bun.nanoseconds() - t0) / n;
  if (bad) throw new Error(`generated client, batch 32: ${bad} requests did not complete DONE`);
  return ns;
}

/** One request at a time: send, doorbell, spin until it is back; returns ns per round trip. */
export function clientRoundTrip(q: CmdQueue, s: Window, d: Window, n: number): number {
  let bad = 0;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) {
    q.send({ src: s, dst: d, size: COPY, cookie: i });
    q.flush();
    let st = reap(q);
    while (st < 0) st = reap(q);
    if (st !== DONE) bad++;
  }
  const ns = (Bun.nanoseconds() - t0) / n;
  if (bad) throw new Error(`generated client, round trip: ${bad} requests did not complete DONE`);
  return ns;
}

/** Round trips, each timed into `hist` (bench/latency.ts buckets). */
function clientLatency(q: CmdQueue, s: Window, d: Window, n: number, hist: Uint32Array): void {
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const t0 = Bun.nanoseconds();
    q.send({ src: s, dst: d, size: COPY, cookie: i });
    q.flush();
    let st = reap(q);
    while (st < 0) st = reap(q);
    hist[bucketOf(Bun.nanoseconds() - t0)]++;
    if (st !== DONE) bad++;
  }
  if (bad) throw new Error(`generated client, latency: ${bad} requests did not complete DONE`);
}

/** `copies` copies of CHUNK bytes, up to `windows.length` in flight; returns ns in all. */
function clientCopies(q: CmdQueue, src: Window[], dst: Window[], size: number, copies: number): number {
  const k = src.length;
  let sent = 0;
  let done = 0;
  let bad = 0;
  const t0 = Bun.nanoseconds();
  while (done < copies) {
    while (sent < copies && q.inFlight < k) {
      const w = sent % k;
      q.send({ src: src[w], dst: dst[w], size, cookie: sent++ });
      q.flush();
    }
    for (let st = reap(q); st >= 0; st = reap(q)) {
      if (st !== DONE) bad++;
      done++;
    }
  }
  const ns = Bun.nanoseconds() - t0;
  if (bad) throw new Error(`generated client, copies: ${bad} copies did not complete DONE`);
  return ns;
}

/** The reference of clientCopies: the same copies in process. */
function setCopies(src: Uint8Array[], dst: Uint8Array[], copies: number): number {
  const k = src.length;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < copies; i++) dst[i % k].set(src[i % k]);
  return Bun.nanoseconds() - t0;
}

// ---- hand-written TypeScript ring over the same page ----

/** A ring as a careful person writes it by hand for this one device. */
class HandRing {
  readonly u32: Uint32Array;
  head: number;
  next: number;
  constructor(page: number) {
    this.u32 = new Uint32Array(toArrayBuffer(page as Pointer, 0, PAGE_SIZE));
    // take up where the device is, as the runtime's engine does
    this.head = this.next = Atomics.load(this.u32, QueueOffsets.head >> 2);
  }
}

/** A window resolved once: bus address and length. */
interface HandWindow {
  lo: number;
  hi: number;
  length: number;
}

const W_SRC = (RING_OFFSET + Descriptor.LAYOUT.src.offset) >> 2;
const W_DST = (RING_OFFSET + Descriptor.LAYOUT.dst.offset) >> 2;
const W_SIZE = (RING_OFFSET + Descriptor.LAYOUT.size.offset) >> 2;
const W_STATUS = (RING_OFFSET + Descriptor.LAYOUT.status.offset) >> 2;
const W_COOKIE = (RING_OFFSET + Descriptor.LAYOUT.cookie.offset) >> 2;
const W_ENTRY = Descriptor.SIZE >> 2;
const W_HEAD = QueueOffsets.head >> 2;
const W_DOORBELL = QueueOffsets.doorbell >> 2;

function handPut(r: HandRing, s: HandWindow, d: HandWindow, size: number): void {
  // the same promise the SDK makes: the device is never told to move more than either window holds
  if (!(size <= s.length && size <= d.length)) throw new RangeError(`size ${size} overruns a window`);
  const u = r.u32;
  const o = (r.head & MASK) * W_ENTRY;
  u[W_SRC + o] = s.lo;
  u[W_SRC + o + 1] = s.hi;
  u[W_DST + o] = d.lo;
  u[W_DST + o + 1] = d.hi;
  u[W_SIZE + o] = size;
  u[W_COOKIE + o] = r.head;
  u[W_STATUS + o] = PENDING;
  r.head = (r.head + 1) >>> 0;
}

/** Plain store of the producer, then one sequentially consistent store of the doorbell: on x86 and
 *  arm64 that orders every earlier store (entry, producer) before the doorbell. */
function handPublish(r: HandRing): void {
  r.u32[W_HEAD] = r.head;
  Atomics.store(r.u32, W_DOORBELL, r.head);
}

/** Status of the oldest request if it is done (and retires it), else -1. */
function handReap(r: HandRing): number {
  if (r.next === r.head) return -1;
  const st = Atomics.load(r.u32, W_STATUS + (r.next & MASK) * W_ENTRY);
  if (st === PENDING) return -1;
  r.next = (r.next + 1) >>> 0;
  return st;
}

function handBatch1(r: HandRing, s: HandWindow, d: HandWindow, n: number): number {
  let sent = 0;
  let done = 0;
  let bad = 0;
  const t0 = Bun.nanoseconds();
  while (done < n) {
    while (sent < n && ((r.head - r.next) >>> 0) < RING_DEPTH) {
      handPut(r, s, d, COPY);
      handPublish(r);
      sent++;
    }
    for (let st = handReap(r); st >= 0; st = handReap(r)) {
      if (st !== DONE) bad++;
      done++;
    }
  }
  const ns = (Bun.nanoseconds() - t0) / n;
  if (bad) throw new Error(`hand-written ring, batch 1: ${bad} requests did not complete DONE`);
  return ns;
}

function handBatch32(r: HandRing, s: HandWindow, d: HandWindow, n: number): number {
  let sent = 0;
  let done = 0;
  let bad = 0;
  const t0 = Bun.nanoseconds();
  while (done < n) {
    while (sent < n && ((r.head - r.next) >>> 0) + 32 <= RING_DEPTH) {
      for (let b = 0; b < 32; b++) handPut(r, s, d, COPY);
      handPublish(r);
      sent += 32;
    }
    for (let st = handReap(r); st >= 0; st = handReap(r)) {
      if (st !== DONE) bad++;
      done++;
    }
  }
  const ns = (Bun.nanoseconds() - t0) / n;
  if (bad) throw new Error(`hand-written ring, batch 32: ${bad} requests did not complete DONE`);
  return ns;
}

// ---- the C client ----

class CClient {
  readonly #bad = new Uint32Array(1);
  constructor(
    readonly lib: ConsumerLib,
    readonly page: number,
    readonly src: number,
    readonly dst: number,
  ) {}
  #check(what: string, ns: number): void {
    if (ns < 0) throw new Error(`C client, ${what}: the device completed nothing for 10 s`);
    if (this.#bad[0]) throw new Error(`C client, ${what}: ${this.#bad[0]} requests did not complete DONE`);
  }
  /** ns per request, ring full, doorbell per `batch`. */
  oneWay(n: number, batch: number): number {
    const ns = this.lib.wdc_client_oneway(this.page as Pointer, LAYOUT, n, batch, this.src, this.dst, COPY, this.#bad);
    this.#check(`batch ${batch}`, ns);
    return ns / n;
  }
  /** ns per round trip. */
  roundTrip(n: number): number {
    const ns = this.lib.wdc_client_roundtrip(this.page as Pointer, LAYOUT, n, this.src, this.dst, COPY, this.#bad, null);
    this.#check("round trip", ns);
    return ns / n;
  }
  latency(n: number, hist: Uint32Array): void {
    const ns = this.lib.wdc_client_roundtrip(this.page as Pointer, LAYOUT, n, this.src, this.dst, COPY, this.#bad, hist);
    this.#check("latency", ns);
  }
}

// ---- the item ----

function entry(
  id: string, what: string, unit: string, refWhat: string,
  [ours, ref]: Spread[], lowerIsBetter: boolean, goal: number | null, note?: string, extra?: Record<string, unknown>,
): BenchResult {
  const ratio = lowerIsBetter ? ref.median / ours.median : ours.median / ref.median;
  const g = goal === null ? { goal: null, met: null } : ratioGoal(ratio, goal);
  return {
    id, what, value: ours.median, unit, reference: { what: refWhat, value: ref.median, unit }, ratio, ...g,
    spread: { value: ours, reference: ref }, ...(note ? { note } : {}), ...(extra ? { extra } : {}),
  };
}

export async function benchQueue(scale = 1, runs = 7): Promise<BenchEntry[]> {
  const lib = consumerLib();
  if (typeof lib === "string") {
    const ids = ["queue.client.batch32", "queue.client.batch1", "queue.client.roundtrip", "queue.client.vs-hand", "queue.model", "queue.latency", "memcpy.65536.pipelined"];
    return ids.map((id) => ({ id, what: id, skipped: `no native consumer: ${lib}` }));
  }
  const entries: BenchEntry[] = [];
  using dev = await WdDummyDevice.open({ backend: nativeWdDummyBackend() });
  const native = dev.device.backend as NativeWdDummy;
  using src = dev.alloc(1 << 20, "bench source");
  using dst = dev.alloc(1 << 20, "bench destination");
  src.bytes.fill(0xa5);
  const s = src.ref(0, COPY);
  const d = dst.ref(0, COPY);
  const c = new CClient(lib, native.page, native.iovaOf(src.ptr), native.iovaOf(dst.ptr));
  const hs: HandWindow = { lo: c.src >>> 0, hi: Math.floor(c.src / 2 ** 32), length: COPY };
  const hd: HandWindow = { lo: c.dst >>> 0, hi: Math.floor(c.dst / 2 ** 32), length: COPY };

  /** A sample of a generated-client loop: the queue is requested afresh, so it takes up where the
   *  C client or the hand ring left the indices. */
  const gen = <A extends unknown[]>(loop: (q: CmdQueue, s: Window, d: Window, ...a: A) => number, ...a: A) => () => {
    using q = dev.requestQueue("cmd");
    return loop(q, s, d, ...a);
  };
  const hand = (loop: (r: HandRing, s: HandWindow, d: HandWindow, n: number) => number, n: number) => () =>
    loop(new HandRing(native.page), hs, hd, n);

  const nB32 = Math.max(3200, Math.round(320_000 * scale));
  const nB1 = Math.max(1000, Math.round(100_000 * scale));
  const nRt = Math.max(1000, Math.round(50_000 * scale));

  const b32 = interleaved(runs, [gen(clientBatch32, nB32), () => c.oneWay(nB32, 32), hand(handBatch32, nB32)]);
  entries.push(entry("queue.client.batch32", "wd-dummy, ring full, doorbell per 32: generated client", "ns/req", "C client, same consumer",
    [b32[0], b32[1]], true, 0.8));
  const b1 = interleaved(runs, [gen(clientBatch1, nB1), () => c.oneWay(nB1, 1), hand(handBatch1, nB1)]);
  entries.push(entry("queue.client.batch1", "wd-dummy, ring full, doorbell per request: generated client", "ns/req", "C client, same consumer",
    [b1[0], b1[1]], true, 0.5));
  const rt = interleaved(runs, [gen(clientRoundTrip, nRt), () => c.roundTrip(nRt)]);
  entries.push(entry("queue.client.roundtrip", "wd-dummy round trip, one at a time: generated client", "ns", "C client, same consumer",
    rt, true, null, "no goal in the issue: a round trip is mostly the two threads' cache-line handoffs"));
  entries.push(entry("queue.client.vs-hand", "wd-dummy, ring full, doorbell per 32: generated client vs hand ring", "ns/req", "hand-written TS ring, same page",
    [b32[0], b32[2]], true, 0.8,
    "the hand ring resolves bus addresses once and checks the copy size against both windows; it keeps no pins",
    { batch1: { generated: b1[0].median, hand: b1[2].median, ratio: b1[2].median / b1[0].median, handSpread: b1[2] } }));

  entries.push(await benchModel(lib, c, runs, nB32));
  entries.push(latency(dev, c, s, d, scale));
  entries.push(pipelinedCopies(dev, src, dst, runs, scale));
  return entries;
}

/** The wd-dummy sim model per descriptor against the native consumer, both fed by the C client. */
async function benchModel(lib: ConsumerLib, nativeClient: CClient, runs: number, n: number): Promise<BenchResult> {
  using sim = await WdDummyDevice.open({ backend: recordingBackend(simBackend) });
  const rec = sim.device.backend as RecordingDevice;
  using a = sim.alloc(4096, "model source");
  using b = sim.alloc(4096, "model destination");
  const simClient = new CClient(lib, sim.device.region("queue").ptr, rec.iovaOf(a.ptr), rec.iovaOf(b.ptr));
  const m = Math.max(3200, Math.round(n / 4)); // the model is slower: fewer requests per sample
  const r = interleaved(Math.max(5, runs - 2), [() => simClient.oneWay(m, 32), () => nativeClient.oneWay(n, 32)]);
  return entry("queue.model", "wd-dummy sim model (TS, Worker), ns per descriptor", "ns/desc", "native C consumer", r, true, null,
    "context: both fed by the C client, ring full, doorbell per 32; the figure is the slower of client and device",
    { sim: await simFigures(sim, a, b, runs, n) });
}

/** The figures runtime/src/sim/README.md quotes, taken here so they come from a run. */
async function simFigures(sim: WdDummyDevice, a: Shared, b: Shared, runs: number, n: number): Promise<Record<string, unknown>> {
  const rtN = Math.max(1000, Math.round(n / 16));
  const rt = interleaved(Math.max(5, runs - 2), [() => {
    using q = sim.requestQueue("cmd");
    return clientRoundTrip(q, a.ref(0, COPY), b.ref(0, COPY), rtN);
  }]);
  // a journaled write+read pair: qemu-edu's liveness register (the read waits for the model to apply the write)
  using edu = await QemuEduDevice.open({ backend: "sim" });
  const pairs = Math.max(200, Math.round(rtN / 10));
  const journaled = interleaved(Math.max(5, runs - 2), [() => journaledPairs(edu, pairs)]);
  const openClose: number[] = [];
  for (let i = 0; i < Math.max(5, runs - 2); i++) {
    const t0 = performance.now();
    const d = await WdDummyDevice.open({ backend: "sim" });
    d.close();
    openClose.push(performance.now() - t0);
  }
  return {
    roundTripNs: rt[0].median,
    roundTripSpread: rt[0],
    journaledWriteReadNs: journaled[0].median,
    journaledSpread: journaled[0],
    openCloseMs: spreadOf(openClose),
  };
}

function journaledPairs(edu: QemuEduDevice, n: number): number {
  let bad = 0;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) {
    edu.bar0.liveness.write(i);
    if (edu.bar0.liveness.read() !== ~i >>> 0) bad++;
  }
  const ns = (Bun.nanoseconds() - t0) / n;
  if (bad) throw new Error(`qemu-edu sim: ${bad} liveness reads did not return the inverted write`);
  return ns;
}

function latency(dev: WdDummyDevice, c: CClient, s: Window, d: Window, scale: number): BenchResult {
  const n = Math.max(10_000, Math.round(1_000_000 * scale));
  const ours = new Uint32Array(BUCKETS);
  const ref = new Uint32Array(BUCKETS);
  {
    using q = dev.requestQueue("cmd");
    clientLatency(q, s, d, Math.min(n, 100_000), new Uint32Array(BUCKETS)); // warm up (JIT tiers)
  }
  // alternate halves so a noisy spell does not land on one side only
  const half = Math.ceil(n / 2);
  for (let part = 0; part < 2; part++) {
    {
      using q = dev.requestQueue("cmd");
      clientLatency(q, s, d, half, ours);
    }
    c.latency(half, ref);
  }
  const o: LatencySummary = summarize(ours);
  const r: LatencySummary = summarize(ref);
  const bound = 5 * o.p50;
  return {
    id: "queue.latency",
    what: `wd-dummy round trip p99.99 (generated client, ${o.count} requests)`,
    value: o.p9999,
    unit: "ns",
    reference: { what: "C client p99.99, same consumer", value: r.p9999, unit: "ns" },
    ratio: r.p9999 / o.p9999,
    goal: "p99.99 <= 5 x p50",
    met: o.p9999 <= bound,
    note: `p50 ${o.p50} ns, p99 ${o.p99} ns (C: ${r.p50}, ${r.p99}); bucket upper bounds, ~6% wide; each sample includes two clock reads`,
    extra: { generated: o, c: r },
  };
}

function pipelinedCopies(dev: WdDummyDevice, src: Shared, dst: Shared, runs: number, scale: number): BenchResult {
  const CHUNK = 65536;
  const K = 8;
  const srcW = Array.from({ length: K }, (_, i) => src.ref(i * CHUNK, CHUNK));
  const dstW = Array.from({ length: K }, (_, i) => dst.ref(i * CHUNK, CHUNK));
  const srcA = Array.from({ length: K }, (_, i) => src.bytes.subarray(i * CHUNK, (i + 1) * CHUNK));
  const dstA = Array.from({ length: K }, (_, i) => dst.bytes.subarray(i * CHUNK, (i + 1) * CHUNK));
  const copies = Math.max(64, Math.round(1024 * scale));
  const gbps = (ns: number) => (copies * CHUNK) / ns;
  const r = interleaved(runs, [
    () => {
      using q = dev.requestQueue("cmd");
      return gbps(clientCopies(q, srcW, dstW, CHUNK, copies));
    },
    () => gbps(setCopies(srcA, dstA, copies)),
  ]);
  // the device really copied: what it wrote is what was there
  dst.bytes.fill(0, 0, K * CHUNK);
  {
    using q = dev.requestQueue("cmd");
    clientCopies(q, srcW, dstW, CHUNK, K);
  }
  if (!dst.bytes.subarray(0, K * CHUNK).every((v) => v === 0xa5)) throw new Error("pipelined copies: the destination does not hold the source bytes");
  return entry("memcpy.65536.pipelined", `64 KiB copies, ${K} in flight: generated client + native consumer`, "GB/s", "TypedArray.set, same buffers",
    r, false, 0.8);
}
