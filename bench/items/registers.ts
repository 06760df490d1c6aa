// 3. Register access through the generated accessors against the raw runtime primitive
//    (RegisterIo.read32 / write32) on the same mapping, read and write.
import { Bar0Registers } from "@warpdrive/qemu-edu";
import { DmaBuffer, MmioIo, nativeMmio } from "@warpdrive/runtime";
import type { BenchEntry } from "../report.ts";
import { nsPerOp } from "../stats.ts";

export function benchRegisters(scale = 1): BenchEntry[] {
  const native = nativeMmio();
  if (!native) {
    return [{ id: "registers", what: "register access", skipped: "the native MMIO helper could not be built (no C compiler)" }];
  }
  // A page of ordinary memory stands in for the BAR: the access path (volatile native loads and
  // stores of the exact width) is the one a real BAR gets; only the memory behind it differs.
  using page = DmaBuffer.alloc(0x1000, { name: "bench bar" });
  const io = new MmioIo(page.ptr, 0x1000, "bench bar0", native);
  const regs = new Bar0Registers(io);
  const n = Math.round(5_000_000 * scale);
  let sink = 0;
  const genRead = nsPerOp(() => { sink += regs.liveness.read(); }, n);
  const rawRead = nsPerOp(() => { sink += io.read32(0x04); }, n);
  const genWrite = nsPerOp((i) => regs.liveness.write(i), n);
  const rawWrite = nsPerOp((i) => io.write32(0x04, i), n);
  const genField = nsPerOp(() => { sink += regs.status.get("computing"); }, n);
  const rawField = nsPerOp(() => { sink += io.read32(0x20) & 1; }, n);
  if (sink < 0) console.log(sink);
  io.release();
  return [
    { id: "registers.read", what: "register read (generated accessor)", value: genRead, unit: "ns",
      reference: { what: "RegisterIo.read32", value: rawRead, unit: "ns" }, ratio: rawRead / genRead },
    { id: "registers.write", what: "register write (generated accessor)", value: genWrite, unit: "ns",
      reference: { what: "RegisterIo.write32", value: rawWrite, unit: "ns" }, ratio: rawWrite / genWrite },
    { id: "registers.field", what: "register field read (generated accessor)", value: genField, unit: "ns",
      reference: { what: "read32 & mask", value: rawField, unit: "ns" }, ratio: rawField / genField },
  ];
}
