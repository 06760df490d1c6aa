// The doorbell of HiSilicon's queue manager (QM v2) as user space rings it through UACCE: one 64-bit
// store to a word in the queue's MMIO region (offset 0x1000 on the real engine, the description says
// where) that names the queue and the ring:
//
//   bits  9:0   queue number (sqn: the id the kernel wrote back from UACCE_CMD_QM_SET_QP_CTX)
//   bits 15:12  command: 0 = SQ (index is the new tail), 1 = CQ (index is the new head)
//   bits 47:32  index
//   bits 63:48  priority (0: the only one the SDK uses)
//
// Both rings share the one word. After a CQ doorbell the last SQ doorbell is written again: the real
// QM takes it as "tail unchanged" (nothing new to fetch), and an engine that samples the word instead
// of seeing every store (the in-kernel emulation of hzip on UACCE) never ends on a CQ doorbell that
// hid an SQ tail it had not read yet.
import type { RegisterIo } from "../mem/io.ts";
import { nativeMmio } from "../mem/native.ts";

export const QM_DB_CMD_SQ = 0;
export const QM_DB_CMD_CQ = 1;
export const QM_DB_QN_MASK = 0x3ff;
export const QM_DB_CMD_SHIFT = 12;
export const QM_DB_INDEX_SHIFT = 32;
export const QM_DB_PRIORITY_SHIFT = 48;

/** The 64-bit doorbell value; RangeError for a field that does not fit. */
export function qmDoorbellV2(qn: number, cmd: number, index: number, priority = 0): bigint {
  if (!Number.isInteger(qn) || qn < 0 || qn > QM_DB_QN_MASK) throw new RangeError(`QM doorbell: queue number ${qn} must be 0..${QM_DB_QN_MASK}`);
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0xf) throw new RangeError(`QM doorbell: command ${cmd} must be 0..15`);
  if (!Number.isInteger(index) || index < 0 || index > 0xffff) throw new RangeError(`QM doorbell: index ${index} must be 0..65535`);
  if (!Number.isInteger(priority) || priority < 0 || priority > 0xffff) throw new RangeError(`QM doorbell: priority ${priority} must be 0..65535`);
  return BigInt(qn | (cmd << QM_DB_CMD_SHIFT)) | (BigInt(index) << BigInt(QM_DB_INDEX_SHIFT)) | (BigInt(priority) << BigInt(QM_DB_PRIORITY_SHIFT));
}

/** The fields of a doorbell value (tests, traces). */
export function decodeQmDoorbellV2(v: bigint): { qn: number; cmd: number; index: number; priority: number } {
  const lo = Number(v & 0xffffffffn);
  return {
    qn: lo & QM_DB_QN_MASK,
    cmd: (lo >>> QM_DB_CMD_SHIFT) & 0xf,
    index: Number((v >> BigInt(QM_DB_INDEX_SHIFT)) & 0xffffn),
    priority: Number((v >> BigInt(QM_DB_PRIORITY_SHIFT)) & 0xffffn),
  };
}

/** One queue's doorbell word: SQ tail and CQ head writes in the QM v2 format. */
export class QmDoorbell {
  // the command and queue number half of each value, computed once
  readonly #sqBase: bigint;
  readonly #cqBase: bigint;
  #lastSq: bigint | undefined;
  readonly #wmb: (() => void) | undefined;

  constructor(
    readonly io: RegisterIo,
    readonly offset: number,
    readonly queueNumber: number,
  ) {
    this.#sqBase = qmDoorbellV2(queueNumber, QM_DB_CMD_SQ, 0);
    this.#cqBase = qmDoorbellV2(queueNumber, QM_DB_CMD_CQ, 0);
    // The ring entries must be visible before the doorbell: x86-64 keeps stores in order (TSO), a
    // weakly ordered CPU needs the native helper's store barrier first (Linux's writeq has it too).
    const n = process.arch === "x64" ? undefined : nativeMmio();
    this.#wmb = n ? () => n.wd_wmb_export() : undefined;
  }

  ringSq(tail: number): void {
    const v = this.#sqBase | (BigInt(tail & 0xffff) << 32n);
    this.#lastSq = v;
    this.#wmb?.();
    this.io.write64(this.offset, v);
  }

  ringCq(head: number): void {
    this.#wmb?.();
    this.io.write64(this.offset, this.#cqBase | (BigInt(head & 0xffff) << 32n));
    if (this.#lastSq !== undefined) this.io.write64(this.offset, this.#lastSq);
  }

  /** The queue restarted: its tail is 0 again, nothing to repeat. */
  reset(): void {
    this.#lastSq = undefined;
  }
}
