// Register access through the generated accessors (qemu-edu's bar0) against the raw runtime
// primitive on the same mapping (RegisterIo.read32 / write32, read32 & mask for a field). Every
// case is its own loop function, so no call site is shared between cases (a shared `fn(i)` site
// turns polymorphic and its cost depends on the order the cases ran in), and the samples of each
// case alternate with its reference's. Goal: ratio >= 0.9 of raw.
import { Bar0Offsets, Bar0Registers } from "@warpdrive/qemu-edu";
import { DmaBuffer, MmioIo, nativeMmio } from "@warpdrive/runtime";
import type { Pointer } from "bun:ffi";
import { ratioGoal, type BenchEntry, type BenchResult } from "../report.ts";
import { interleaved, type Spread } from "../stats.ts";

type NativeMmio = NonNullable<ReturnType<typeof nativeMmio>>;

let sink = 0;

function genRead(regs: Bar0Registers, n: number): number {
  let s = 0;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) s += regs.liveness.read();
  const ns = (Bun.nanoseconds() - t0) / n;
  sink += s;
  return ns;
}

function rawRead(io: MmioIo, n: number): number {
  let s = 0;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) s += io.read32(Bar0Offsets.liveness);
  const ns = (Bun.nanoseconds() - t0) / n;
  sink += s;
  return ns;
}

function genWrite(regs: Bar0Registers, n: number): number {
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) regs.liveness.write(i);
  return (Bun.nanoseconds() - t0) / n;
}

function rawWrite(io: MmioIo, n: number): number {
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) io.write32(Bar0Offsets.liveness, i);
  return (Bun.nanoseconds() - t0) / n;
}

function genField(regs: Bar0Registers, n: number): number {
  let s = 0;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) s += regs.status.get("computing");
  const ns = (Bun.nanoseconds() - t0) / n;
  sink += s;
  return ns;
}

function rawField(io: MmioIo, n: number): number {
  let s = 0;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) s += io.read32(Bar0Offsets.status) & 1;
  const ns = (Bun.nanoseconds() - t0) / n;
  sink += s;
  return ns;
}

/** The native volatile load alone (no bounds check): context for what "raw" costs. */
function nativeRead(native: NativeMmio, at: number, n: number): number {
  let s = 0;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) s += native.wd_rd32(at as Pointer);
  const ns = (Bun.nanoseconds() - t0) / n;
  sink += s;
  return ns;
}

function result(id: string, what: string, refWhat: string, [ours, ref]: Spread[], extra?: Record<string, unknown>): BenchResult {
  const ratio = ref.median / ours.median;
  return {
    id, what, value: ours.median, unit: "ns", reference: { what: refWhat, value: ref.median, unit: "ns" }, ratio,
    ...ratioGoal(ratio, 0.9), spread: { value: ours, reference: ref }, ...(extra ? { extra } : {}),
  };
}

export function benchRegisters(scale = 1, runs = 7): BenchEntry[] {
  const native = nativeMmio();
  if (!native) {
    return ["read", "write", "field"].map((k) => ({ id: `registers.${k}`, what: `register ${k}`, skipped: "the native MMIO helper could not be built (no C compiler)" }));
  }
  // A page of ordinary memory stands in for the BAR: the access path (volatile native loads and
  // stores of the exact width) is the one a real BAR gets; only the memory behind it differs.
  using page = DmaBuffer.alloc(0x1000, { name: "bench bar" });
  const io = new MmioIo(page.ptr, 0x1000, "bench bar0", native);
  const regs = new Bar0Registers(io);
  const n = Math.max(10_000, Math.round(2_000_000 * scale));
  try {
    const read = interleaved(runs, [() => genRead(regs, n), () => rawRead(io, n), () => nativeRead(native, page.ptr + Bar0Offsets.liveness, n)]);
    const write = interleaved(runs, [() => genWrite(regs, n), () => rawWrite(io, n)]);
    const field = interleaved(runs, [() => genField(regs, n), () => rawField(io, n)]);
    if (sink === 0.5) console.log(sink); // keeps the loads' results alive
    return [
      result("registers.read", "register read (generated accessor)", "RegisterIo.read32", read,
        { nativeLoadNs: read[2].median, nativeSpread: read[2] }),
      result("registers.write", "register write (generated accessor)", "RegisterIo.write32", write),
      result("registers.field", "register field read (generated accessor)", "read32 & mask", field),
    ];
  } finally {
    io.release();
  }
}
