// copied from devices/qemu-edu/model.ts by @warpdrive/generator 0.1.0; edit the original
// Sim model of QEMU's "edu" device (hw/misc/edu.c), so code written against the sim behaves the
// same on the real device in a QEMU guest. Offsets and behaviour are written out here from edu.c,
// not taken from the generated client: the model is a second, independent reading of the device,
// which is what lets tests catch a wrong offset in devices/qemu-edu.yaml.
//
// What edu does, and how the model does it:
// - BAR0 is journaled (see runtime sim/model.ts): each client store arrives here as a write event,
//   in order, and a client read waits until the model has taken the client's earlier writes. So
//   "write factorial, read status" sees COMPUTING, "write liveness, read it" gives ~value, and
//   writing the same value twice (irq_ack 1, irq_ack 1) is two writes, as on the device.
// - Registers below 0x80 answer only 32-bit accesses; the DMA block 0x80..0x9f 32 and 64. Other
//   widths are ignored; unimplemented offsets read as all ones (the region is filled with 0xff).
// - Factorial: a write of n while not computing sets COMPUTING; shortly after (edu uses a thread;
//   here FACT_DELAY_MS) the register holds n! mod 2^32, COMPUTING clears, and FACT_IRQ is raised
//   when status bit 7 is set. A write while computing is ignored.
// - Interrupts: irq_raise ORs into irq_status and signals MSI 0 whenever irq_status is non-zero;
//   irq_ack clears bits. Each raise is one MSI (one eventfd write).
// - DMA: writing dma_cmd with bit 0 starts a transfer unless one runs (edu arms a 100 ms timer; here
//   DMA_DELAY_MS); register writes while it runs are ignored. Bit 1 = direction (1: buffer ->
//   RAM), bit 2 = raise DMA_IRQ when done. Bus addresses are masked to 28 bits. The buffer window
//   is bounds-checked as QEMU 7.2 does it (see checkRange: a transfer must end before 0x41000, so
//   at most 4095 bytes reach the last byte); 7.2 stops the machine on a bad range (hw_error); the
//   model faults (a hung device, reported to the client). A DMA to an iova not shared with the
//   device is an IOMMU fault: logged, the transfer does nothing, and it still completes, as with
//   QEMU behind an IOMMU.
import { defineModel, DmaFault, type ModelContext, type ModelRegion } from "@warpdrive/runtime/sim/model";

export const REG = {
  ID: 0x00,
  LIVENESS: 0x04,
  FACTORIAL: 0x08,
  STATUS: 0x20,
  IRQ_STATUS: 0x24,
  IRQ_RAISE: 0x60,
  IRQ_ACK: 0x64,
  DMA_SRC: 0x80,
  DMA_DST: 0x88,
  DMA_COUNT: 0x90,
  DMA_CMD: 0x98,
} as const;
export const ID_VALUE = 0x010000ed;
const STATUS_COMPUTING = 0x01;
const STATUS_IRQFACT = 0x80;
const FACT_IRQ = 0x001;
const DMA_IRQ = 0x100;
const DMA_RUN = 0x1n;
const DMA_TO_RAM = 0x2n;
const DMA_IRQ_ON_DONE = 0x4n;
const DMA_START = 0x40000;
const DMA_SIZE = 4096;
const DMA_MASK = (1n << 28n) - 1n;
/** How long a factorial "computes" and a DMA "transfers" in the sim (edu: a thread; a 100 ms timer). */
export const FACT_DELAY_MS = 0.05;
export const DMA_DELAY_MS = 0.2;

interface Edu {
  bar: ModelRegion;
  addr4: number;
  fact: number;
  status: number;
  irqStatus: number;
  src: bigint;
  dst: bigint;
  cnt: bigint;
  cmd: bigint;
  buf: Uint8Array;
  factDue: number | undefined;
  dmaDue: number | undefined;
  /** An MSI to send once the registers show why (see publish). */
  signal: boolean;
}

const hex = (v: bigint | number) => `0x${v.toString(16).padStart(16, "0")}`;

function powerOn(ctx: ModelContext): Edu {
  const bar = ctx.region("bar0");
  bar.bytes.fill(0xff); // offsets edu does not decode read as all ones
  const s: Edu = {
    bar, addr4: 0, fact: 0, status: 0, irqStatus: 0, src: 0n, dst: 0n, cnt: 0n, cmd: 0n,
    buf: new Uint8Array(DMA_SIZE), factDue: undefined, dmaDue: undefined, signal: false,
  };
  publish(ctx, s);
  return s;
}

/** Registers first, then the MSI: a client woken by the interrupt must already read its cause. */
function publish(ctx: ModelContext, s: Edu): void {
  present(s);
  if (s.signal) {
    s.signal = false;
    ctx.raise(0);
  }
}

/** What reads return: the model is the only writer of BAR0 memory. */
function present(s: Edu): void {
  const b = s.bar;
  b.write32(REG.ID, ID_VALUE);
  b.write32(REG.LIVENESS, s.addr4);
  b.write32(REG.FACTORIAL, s.fact);
  b.write32(REG.STATUS, s.status);
  b.write32(REG.IRQ_STATUS, s.irqStatus);
  b.write64(REG.DMA_SRC, s.src);
  b.write64(REG.DMA_DST, s.dst);
  b.write64(REG.DMA_COUNT, s.cnt);
  b.write64(REG.DMA_CMD, s.cmd);
}

/** edu_raise_irq: OR into irq_status; an MSI whenever it is non-zero (sent by publish). */
function raiseIrq(s: Edu, v: number): void {
  s.irqStatus = (s.irqStatus | v) >>> 0;
  if (s.irqStatus !== 0) s.signal = true;
}

function write(ctx: ModelContext, s: Edu, off: number, value: bigint, width: number): void {
  if (off < 0x80 ? width !== 32 : width !== 32 && width !== 64) return; // edu ignores other widths
  const v = Number(value & 0xffffffffn);
  switch (off) {
    case REG.LIVENESS:
      s.addr4 = ~v >>> 0;
      break;
    case REG.FACTORIAL:
      if (s.status & STATUS_COMPUTING) break;
      s.fact = v;
      s.status |= STATUS_COMPUTING;
      s.factDue = ctx.now() + FACT_DELAY_MS;
      break;
    case REG.STATUS:
      s.status = v & STATUS_IRQFACT ? s.status | STATUS_IRQFACT : s.status & ~STATUS_IRQFACT;
      break;
    case REG.IRQ_RAISE:
      raiseIrq(s, v);
      break;
    case REG.IRQ_ACK:
      s.irqStatus = (s.irqStatus & ~v) >>> 0;
      break;
    case REG.DMA_SRC:
      if (!(s.cmd & DMA_RUN)) s.src = value;
      break;
    case REG.DMA_DST:
      if (!(s.cmd & DMA_RUN)) s.dst = value;
      break;
    case REG.DMA_COUNT:
      if (!(s.cmd & DMA_RUN)) s.cnt = value;
      break;
    case REG.DMA_CMD:
      if (!(value & DMA_RUN) || s.cmd & DMA_RUN) break;
      s.cmd = value;
      s.dmaDue = ctx.now() + DMA_DELAY_MS;
      break;
  }
}

/**
 * edu_check_range as in QEMU 7.2 (the QEMU the VM suite runs): the transfer must start inside the
 * buffer, move at least one byte and END BEFORE the buffer's last byte (end < buffer end, strictly:
 * a 4096-byte transfer, or any ending exactly at 0x41000, is refused). Later QEMU accepts
 * end == buffer end and only logs bad ranges; 7.2 stops the machine (hw_error), as the model does.
 */
function checkRange(ctx: ModelContext, start: bigint, size: bigint): number {
  const end = start + size;
  const lo = BigInt(DMA_START), hi = BigInt(DMA_START + DMA_SIZE);
  const within = (a: bigint) => lo <= a && a < hi;
  if (!(within(start) && end > start && within(end))) {
    ctx.fault(`EDU: DMA range ${hex(start)}-${hex(end - 1n)} out of bounds (${hex(lo)}-${hex(hi - 1n)})!`);
  }
  return Number(start - lo);
}

/**
 * n! mod 2^32, in at most 33 multiplications: from 34! on the product holds 2^32 (34! has 32
 * factors of two), so the answer is 0. edu loops n times in its own thread; a model must never
 * block inside poll, and a loop of up to 2^32 steps would hold poll for seconds (register reads
 * time out, close cannot unmap).
 */
export function factorial32(n: number): number {
  if (n >= 34) return 0;
  let r = 1;
  while (n > 0) r = Math.imul(r, n--) >>> 0;
  return r;
}

function finishFactorial(s: Edu): void {
  const r = factorial32(s.fact);
  s.fact = r;
  s.status &= ~STATUS_COMPUTING;
  if (s.status & STATUS_IRQFACT) raiseIrq(s, FACT_IRQ);
}

function finishDma(ctx: ModelContext, s: Edu): void {
  if (!(s.cmd & DMA_RUN)) return;
  const cnt = Number(s.cnt);
  try {
    if (s.cmd & DMA_TO_RAM) {
      const at = checkRange(ctx, s.src, s.cnt);
      ctx.dma.write(s.dst & DMA_MASK, s.buf.subarray(at, at + cnt));
    } else {
      const at = checkRange(ctx, s.dst, s.cnt);
      s.buf.set(ctx.dma.read(s.src & DMA_MASK, cnt), at);
    }
  } catch (e) {
    if (!(e instanceof DmaFault)) throw e;
    ctx.log(`IOMMU fault: ${e.message}`);
  }
  s.cmd &= ~DMA_RUN;
  if (s.cmd & DMA_IRQ_ON_DONE) raiseIrq(s, DMA_IRQ);
}

export default defineModel<Edu>({
  name: "qemu-edu",
  journal: ["bar0"],
  init: powerOn,
  reset: (ctx) => powerOn(ctx),
  poll(ctx, s) {
    const log = ctx.writes("bar0");
    let did = log.pending > 0 && log.drain((off, value, width) => {
      write(ctx, s, off, value, width);
      publish(ctx, s); // before the write is acknowledged: a read right after it sees the effect
    }) > 0;
    if (s.factDue !== undefined || s.dmaDue !== undefined) {
      const now = ctx.now();
      if (s.factDue !== undefined && now >= s.factDue) {
        s.factDue = undefined;
        finishFactorial(s);
        publish(ctx, s);
      }
      if (s.dmaDue !== undefined && now >= s.dmaDue) {
        s.dmaDue = undefined;
        finishDma(ctx, s);
        publish(ctx, s);
      }
      did = true; // timed work pending: keep polling
    }
    return did;
  },
});
