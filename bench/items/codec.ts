// Request construction and completion parsing on NVMe: the generated code against hand-written
// DataView code doing the same work, each in its own loop function, samples interleaved.
//   codec.sqe  generated encodeRead (checks the DMA window) vs a hand encoder that checks, per
//              request, that the buffer was not freed; the window was checked against its buffer
//              and its bus address resolved once, when the hand driver recorded it. A read's
//              transfer size ((nlb + 1) blocks of the namespace's LBA size) is not known to the
//              encoder, so neither side checks it against the window: a reference that did more
//              work than the generated code would flatter it. Goal: ratio >= 1.0.
//   codec.cqe  what a reaper needs from a completion (cid, sqhd, phase, sc, sct, dnr): the
//              generated path vs reading those fields straight from the view, allocating nothing.
//              No goal in the issue; context for the allocation-free completion path.
import { Cqe, encodeRead, spec } from "@warpdrive/nvme";
import { Device, type DmaBuffer, type DmaRef } from "@warpdrive/runtime";
import type { BenchResult } from "../report.ts";
import { ratioGoal } from "../report.ts";
import { interleaved, type Spread } from "../stats.ts";

const SQE = 64;
const CQE = 16;
const SLOTS = 64;

/** A hand-written driver's record of a window it shared: checked against its buffer and its bus
 *  address resolved once, when the record is made (handWindow). */
interface HandWindow {
  buffer: DmaBuffer;
  offset: number;
  length: number;
  iova: number;
}

function handWindow(buffer: DmaBuffer, offset: number, length: number, iova: number): HandWindow {
  if (!(offset >= 0 && length >= 0 && offset + length <= buffer.size)) throw new RangeError("window outside its buffer");
  return { buffer, offset, length, iova };
}

/** The hand-written check-and-resolve per request: what the generated builder's DMA check promises. */
function handAddress(w: HandWindow): number {
  if (w.buffer.freed) throw new Error(`dma buffer ${w.buffer.name} was freed`);
  return w.iova;
}

/** What a careful person writes by hand for an NVMe Read SQE. */
function handEncodeRead(v: DataView, o: number, nsid: number, w: HandWindow, slba: bigint, nlb: number): void {
  const prp1 = handAddress(w);
  for (let i = 0; i < SQE; i += 4) v.setUint32(o + i, 0);
  v.setUint8(o, 0x02);
  v.setUint32(o + 4, nsid, true);
  v.setUint32(o + 24, prp1 >>> 0, true);
  v.setUint32(o + 28, (prp1 / 0x100000000) >>> 0, true);
  v.setBigUint64(o + 40, slba, true);
  v.setUint16(o + 48, nlb, true);
}

/**
 * The generated completion path, reduced to what a reaper uses. The one place to change when the
 * allocation-free field readers land.
 */
/** The generated accessor, re-pointed at each entry (what a queue's reap() returns): no allocation. */
let cqeAt: Cqe | undefined;
let cqeView: DataView | undefined;
function genReapFields(v: DataView, o: number): number {
  if (cqeView !== v) (cqeAt = new Cqe(v)), (cqeView = v);
  const c = cqeAt!.moveTo(o);
  return c.cid + c.sqhd + c.statusP + c.statusSc + c.statusSct + c.statusDnr;
}

function handReapFields(v: DataView, o: number): number {
  const s = v.getUint16(o + 14, true);
  return v.getUint16(o + 12, true) + v.getUint16(o + 8, true) + (s & 1) + ((s >> 1) & 0xff) + ((s >> 9) & 7) + (s >>> 15);
}

let sink = 0;

function genSqeLoop(v: DataView, refs: DmaRef[], dev: Device, n: number): number {
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) {
    const s = i & (SLOTS - 1);
    encodeRead(v, s * SQE, { nsid: 1, buffer: refs[s], slba: BigInt(i & 0xffff), nlb: 7 }, dev.dma);
  }
  return (Bun.nanoseconds() - t0) / n;
}

function handSqeLoop(v: DataView, windows: HandWindow[], n: number): number {
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) {
    const s = i & (SLOTS - 1);
    handEncodeRead(v, s * SQE, 1, windows[s], BigInt(i & 0xffff), 7);
  }
  return (Bun.nanoseconds() - t0) / n;
}

function genCqeLoop(v: DataView, n: number): number {
  let acc = 0;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) acc += genReapFields(v, (i & (SLOTS - 1)) * CQE);
  const ns = (Bun.nanoseconds() - t0) / n;
  sink += acc;
  return ns;
}

function handCqeLoop(v: DataView, n: number): number {
  let acc = 0;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) acc += handReapFields(v, (i & (SLOTS - 1)) * CQE);
  const ns = (Bun.nanoseconds() - t0) / n;
  sink += acc;
  return ns;
}

function result(id: string, what: string, refWhat: string, [ours, ref]: Spread[], goal: number | null, note: string): BenchResult {
  const ratio = ref.median / ours.median;
  return {
    id, what, value: ours.median, unit: "ns", reference: { what: refWhat, value: ref.median, unit: "ns" }, ratio,
    ...(goal === null ? { goal: null, met: null } : ratioGoal(ratio, goal)), spread: { value: ours, reference: ref }, note,
  };
}

export async function benchCodec(scale = 1, runs = 7): Promise<BenchResult[]> {
  using dev = await Device.open(spec, { backend: "sim" });
  using ring = dev.alloc(SQE * SLOTS, "bench ring");
  using data = dev.alloc(SLOTS * 4096, "bench data");
  const v = ring.view;
  const refs: DmaRef[] = Array.from({ length: SLOTS }, (_, i) => data.ref(i * 4096, 4096));
  const windows: HandWindow[] = refs.map((r) => handWindow(data, r.offset, r.length, dev.dma.addressOf(r, "bench")));
  const n = Math.max(10_000, Math.round(1_000_000 * scale));

  // Both must write the same bytes, or the comparison means nothing.
  encodeRead(v, 0, { nsid: 1, buffer: refs[3], slba: 77n, nlb: 7 }, dev.dma);
  const a = ring.bytes.slice(0, SQE);
  handEncodeRead(v, 0, 1, windows[3], 77n, 7);
  if (!a.every((b, i) => b === ring.bytes[i])) throw new Error("hand-written SQE differs from the generated one");
  // ... and read the same fields: completions with varied contents in every slot
  for (let s = 0; s < SLOTS; s++) {
    v.setUint16(s * CQE + 8, s * 7, true);
    v.setUint16(s * CQE + 12, s * 13, true);
    v.setUint16(s * CQE + 14, (s * 0x9e37) & 0xffff, true);
  }
  for (let s = 0; s < SLOTS; s++) {
    if (genReapFields(v, s * CQE) !== handReapFields(v, s * CQE)) throw new Error(`CQE fields differ at slot ${s}`);
  }

  const sqe = interleaved(runs, [() => genSqeLoop(v, refs, dev, n), () => handSqeLoop(v, windows, n)]);
  const cqe = interleaved(runs, [() => genCqeLoop(v, n), () => handCqeLoop(v, n)]);
  if (sink === 0.5) console.log(sink);
  return [
    result("codec.sqe", "NVMe read SQE: generated builder", "hand-written DataView + DMA check", sqe, 1.0,
      "both refuse a freed buffer; the hand one checked its window and resolved the bus address once, up front, and skips the generated code's argument checks"),
    result("codec.cqe", "NVMe CQE, fields a reaper reads: generated", "hand-written DataView, no allocation", cqe, null,
      "cid, sqhd, phase, sc, sct, dnr"),
  ];
}
