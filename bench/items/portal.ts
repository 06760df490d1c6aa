// portal.submit: ns per descriptor submitted to a work-queue portal with a completion record.
//   ours       the generated dsa-copy client: WqQueue.memmove (reserve a slot, the generated
//              encoder checks and resolves both buffers, the engine sets the record address, marks
//              the record pending and issues MOVDIR64B), then take() on the record.
//   reference  a hand-written 64-byte store sequence doing the same work: clear the record's
//              status, write the descriptor's words with DataView (buffers checked for being alive,
//              bus addresses resolved once up front, as codec.ts's hand driver does), MOVDIR64B
//              through the same native helper, then poll the status byte.
// Both store into an ordinary memory page standing in for the portal (MOVDIR64B takes any
// write-back destination), so the figure is the CPU cost of building and storing a descriptor, not
// a device's. The "device" side is the same loop for both: after each batch of WQ_DEPTH
// descriptors it writes SUCCESS into every record. Goal: ratio >= 0.9. Skipped where the CPU does
// not report MOVDIR64B or the native helper is unavailable.
import { DsaCopyDevice, WQ_DEPTH, WqQueue, spec as dsaSpec } from "@warpdrive/dsa-copy";
import { DmaBuffer, mappedPortal, portalInstructions, PortalQueue, type DmaRef, type MappedRegion, type PortalQueueSpec, type QueueHost } from "@warpdrive/runtime";
import { nativeMmio, type NativeMmio } from "@warpdrive/runtime/mem/native";
import type { Pointer } from "bun:ffi";
import type { BenchEntry, BenchResult } from "../report.ts";
import { ratioGoal } from "../report.ts";
import { interleaved, type Spread } from "../stats.ts";

const DESC = 64;
const RECORD = 32;
const FLAGS_MEMMOVE = (0x03 << 24) | 0x04 | 0x08 | 0x10; // MEMMOVE; completion record valid, request completion, request interrupt (as the command fixes them)

interface HandWindow {
  buffer: DmaBuffer;
  iova: number;
}

/** The hand driver: one staging descriptor, its own records, MOVDIR64B through the native helper. */
class HandPortal {
  readonly staging: DataView;
  readonly stagingPtr: number;
  readonly status: Uint8Array;
  readonly recordIova: number;
  inFlight = 0;
  next = 0;
  constructor(
    private readonly n: NativeMmio,
    private readonly portalPtr: number,
    staging: DmaBuffer,
    records: DmaBuffer,
    recordIova: number,
  ) {
    this.staging = staging.view;
    this.stagingPtr = staging.ptr;
    this.status = records.bytes;
    this.recordIova = recordIova;
  }
  memmove(src: HandWindow, dst: HandWindow, size: number): number {
    if (src.buffer.freed || dst.buffer.freed) throw new Error("dma buffer was freed");
    if (this.inFlight === WQ_DEPTH) throw new Error("queue full");
    const slot = this.next;
    this.next = slot + 1 === WQ_DEPTH ? 0 : slot + 1;
    const v = this.staging;
    const rec = this.recordIova + slot * RECORD;
    Atomics.store(this.status, slot * RECORD, 0);
    v.setUint32(0, 0, true);
    v.setUint32(4, FLAGS_MEMMOVE, true);
    v.setUint32(8, rec >>> 0, true);
    v.setUint32(12, (rec / 0x100000000) >>> 0, true);
    v.setUint32(16, src.iova >>> 0, true);
    v.setUint32(20, (src.iova / 0x100000000) >>> 0, true);
    v.setUint32(24, dst.iova >>> 0, true);
    v.setUint32(28, (dst.iova / 0x100000000) >>> 0, true);
    v.setUint32(32, size, true);
    for (let i = 36; i < DESC; i += 4) v.setUint32(i, 0, true);
    this.n.wd_movdir64b(this.portalPtr as Pointer, this.stagingPtr as Pointer);
    this.inFlight++;
    return slot;
  }
  take(slot: number): boolean {
    if (Atomics.load(this.status, slot * RECORD) === 0) return false;
    this.inFlight--;
    return true;
  }
}

/** The "device": SUCCESS into each of `n` records (the same work for both sides). */
function completeAll(status: Uint8Array, n: number, stride: number): void {
  for (let s = 0; s < n; s++) Atomics.store(status, s * stride, 1);
}

let sink = 0;

function oursLoop(q: WqQueue, records: Uint8Array, stride: number, srcs: DmaRef[], dsts: DmaRef[], n: number): number {
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i += WQ_DEPTH) {
    for (let k = 0; k < WQ_DEPTH; k++) q.memmove({ src: srcs[k]!, dst: dsts[k]!, size: 4096 });
    completeAll(records, WQ_DEPTH, stride);
    for (let k = 0; k < WQ_DEPTH; k++) sink += q.queue.take();
  }
  return (Bun.nanoseconds() - t0) / n;
}

function handLoop(h: HandPortal, srcs: HandWindow[], dsts: HandWindow[], n: number): number {
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i += WQ_DEPTH) {
    for (let k = 0; k < WQ_DEPTH; k++) h.memmove(srcs[k]!, dsts[k]!, 4096);
    completeAll(h.status, WQ_DEPTH, RECORD);
    for (let k = 0; k < WQ_DEPTH; k++) if (h.take(k)) sink++;
  }
  return (Bun.nanoseconds() - t0) / n;
}

function result([ours, ref]: Spread[]): BenchResult {
  const ratio = ref.median / ours.median;
  return {
    id: "portal.submit",
    what: "portal descriptor + completion record: generated memmove",
    value: ours.median,
    unit: "ns",
    reference: { what: "hand-written 64-byte store sequence", value: ref.median, unit: "ns" },
    ratio,
    ...ratioGoal(ratio, 0.9),
    spread: { value: ours, reference: ref },
    note: "MOVDIR64B into an ordinary page standing in for the portal; per descriptor: build, store, reap its record",
  };
}

export async function benchPortal(scale = 1, runs = 7): Promise<BenchEntry[]> {
  const n = nativeMmio();
  if (n === null || !portalInstructions().movdir64b) {
    return [{ id: "portal.submit", what: "portal descriptor + completion record", skipped: n === null ? "the native MMIO helper is unavailable" : "this CPU does not report MOVDIR64B" }];
  }
  using dev = await DsaCopyDevice.open({ backend: "sim" });
  using portalPage = DmaBuffer.alloc(4096, { name: "portal stand-in" });
  using data = dev.alloc(2 * WQ_DEPTH * 4096, "bench data");
  using staging = dev.alloc(4096, "hand staging");
  using records = dev.alloc(4096, "hand records");
  const region: MappedRegion = { index: 2, size: 0x10000, ptr: portalPage.ptr, kind: "mmio", io: undefined as never };
  // the portal store goes to the stand-in page; everything else is the device's (DMA, records)
  const host: QueueHost = {
    address: "bench",
    region: () => ({ ...region, size: portalPage.size }),
    irq: () => {
      throw new Error("no interrupt in the bench");
    },
    allocShared: (size, name) => dev.alloc(size, name),
    freeShared: (b) => b.free(),
    dma: dev.dma,
    portal: (_r, store, size) => mappedPortal({ ...region, size: portalPage.size }, store, size, "bench portal"),
    onRelease: () => {},
  };
  const qspec = { ...(dsaSpec.queues[0] as PortalQueueSpec), interrupt: undefined };
  const engine = new PortalQueue(host, qspec, 0);
  const q = new WqQueue(engine);
  const srcs = Array.from({ length: WQ_DEPTH }, (_, i) => data.ref(i * 4096, 4096));
  const dsts = Array.from({ length: WQ_DEPTH }, (_, i) => data.ref((WQ_DEPTH + i) * 4096, 4096));
  const hand = new HandPortal(n, portalPage.ptr, staging, records, dev.dma.addressOf(records.ref(0, WQ_DEPTH * RECORD), "records"));
  const hs = srcs.map((r) => ({ buffer: data, iova: dev.dma.addressOf(r, "src") }));
  const hd = dsts.map((r) => ({ buffer: data, iova: dev.dma.addressOf(r, "dst") }));
  const engineRecords = engine.recordBuffer.bytes;

  // Both must store the same descriptor (record addresses aside, which are each side's own), or
  // the comparison means nothing.
  q.memmove({ src: srcs[3]!, dst: dsts[3]!, size: 4096 });
  const a = portalPage.bytes.slice(0, DESC);
  completeAll(engineRecords, WQ_DEPTH, engine.recordStride);
  while (engine.take() >= 0);
  hand.memmove(hs[3]!, hd[3]!, 4096);
  const b = portalPage.bytes.slice(0, DESC);
  completeAll(hand.status, WQ_DEPTH, RECORD);
  for (let k = 0; k < WQ_DEPTH; k++) hand.take(k);
  hand.inFlight = 0;
  hand.next = 0;
  a.fill(0, 8, 16);
  b.fill(0, 8, 16);
  if (!a.every((x, i) => x === b[i])) throw new Error("the hand-written descriptor differs from the generated one");

  const iters = Math.max(WQ_DEPTH * 300, Math.round((1_000_000 * scale) / WQ_DEPTH) * WQ_DEPTH);
  const spreads = interleaved(runs, [() => oursLoop(q, engineRecords, engine.recordStride, srcs, dsts, iters), () => handLoop(hand, hs, hd, iters)]);
  engine.release();
  if (sink === 0.5) console.log(sink);
  return [result(spreads)];
}
