// The "faulty" test device for the reliability tests: the sq/cq and index-ring shapes of the queue
// tests' devices, with a model that misbehaves on request (a MODE register): never completes,
// completes with an error status, writes garbage completions, holds requests until told. Written by
// hand, as the generator would emit it, so the runtime is tested without generated code.
import type { DeviceSpec } from "@warpdrive/runtime";

/** bar0 (mmio, 8 KiB):
 *  MODE 0x20 (see MODE_*), FETCHED 0x24 (commands the device took, all queues), RELEASE 0x28 (a count
 *  only the host writes: held commands to complete in all since reset), MODE_ACK 0x2c (the mode the
 *  model works in: written at the start of each poll, so once it reads back the new mode no poll
 *  with the old one is running), per queue q (0..3) at 0x100 + q*0x20: sq_base u64, cq_base u64, sq_depth
 *  u32 (+0x10), cq_depth u32 (+0x14), enable u32 (+0x18); doorbells: SQ tail 0x1000 + 8q, CQ head
 *  0x1004 + 8q. SQE 64 bytes { opcode u8 @0, cid u16 @2, value u32 @4, buf u64 @8, len u32 @16 };
 *  CQE 16 bytes { result u32 @0, sqhd u16 @8, cid u16 @12, status u16 @14 (bit 0 phase, 15:1 code) }.
 *  Opcodes: ECHO result = value * 3; SUM result = sum of the len bytes at buf (DMA read); FILL writes
 *  value & 0xff into the len bytes at buf (DMA write), result = len.
 *  ring (ram, 4 KiB): index ring "ring": head 0x00, tail 0x04, doorbell 0x08, 16-byte entries at 0x100
 *  { value u32 @0, result u32 @4, status u32 @8 (0 pending, 1 done, 2 error, 3 dma fault), buf u32 @12 }. */
export const FAULTY = {
  MODE: 0x20, FETCHED: 0x24, RELEASE: 0x28, MODE_ACK: 0x2c,
  QBASE: 0x100, QSTRIDE: 0x20, SQ_BASE: 0, CQ_BASE: 8, SQ_DEPTH: 0x10, CQ_DEPTH: 0x14, ENABLE: 0x18,
  /** Written by the model: 1 while it holds the queue, 0 once it has deleted it. */
  ACTIVE: 0x1c,
  DB: 0x1000, SQE: 64, CQE: 16, QUEUES: 4,
  OP_ECHO: 1, OP_SUM: 2, OP_FILL: 3,
  /** Normal operation. */
  MODE_OK: 0,
  /** Takes commands and never completes them (a hung device). */
  MODE_SILENT: 1,
  /** Completes every command with status code ERR_CODE. */
  MODE_ERROR: 2,
  /** Completes with a cid that was never submitted. */
  MODE_BAD_TAG: 3,
  /** Posts every completion twice. */
  MODE_DUPLICATE: 4,
  /** Reports an SQ head outside the ring. */
  MODE_BAD_SQHD: 5,
  /** Writes the completion one CQ slot too far (the slot the host looks at keeps the old phase). */
  MODE_WRONG_SLOT: 6,
  /** Takes commands, holds them until RELEASE says how many to complete (in order). */
  MODE_HOLD: 7,
  /** Reports an SQ head behind the previous one (moving backwards). */
  MODE_SQHD_BACKWARDS: 8,
  /** Index ring: marks every slot done (sent or not) and moves its consumer index past the producer. */
  MODE_RING_GARBAGE: 9,
  ERR_CODE: 0x42,
  DMA_FAULT_CODE: 0x7,
  RING_HEAD: 0x00, RING_TAIL: 0x04, RING_DOORBELL: 0x08, RING_OFFSET: 0x100, RING_ENTRY: 16, RING_DEPTH: 8,
} as const;

export function faultySpec(): DeviceSpec {
  const db = (offset: number) => ({ region: "bar0", offset, width: 32 as const, stride: 8 });
  const sqcq = (name: string, first: number, last: number, depth: number, irq: number) => ({
    kind: "sq-cq" as const, name, first, last,
    sq: { entrySize: FAULTY.SQE, depth, doorbell: db(FAULTY.DB), tagOffset: 2 },
    cq: { entrySize: FAULTY.CQE, depth, doorbell: db(FAULTY.DB + 4), tagOffset: 12, phase: { offset: 14, width: 16 as const, bit: 0 }, sqHeadOffset: 8 },
    interrupt: irq,
  });
  const reg = (offset: number) => ({ region: "ring", offset, width: 32 as const });
  return {
    name: "faulty",
    title: "misbehaving test device",
    version: "1.0.0",
    pci: [],
    regions: [
      { name: "bar0", kind: "mmio", index: 0, size: 0x2000 },
      { name: "ring", kind: "ram", index: 1, size: 0x1000 },
    ],
    interrupts: [
      { name: "q0", index: 0, kind: "msix" },
      { name: "q1", index: 1, kind: "msix" },
      { name: "ring", index: 2, kind: "msix" },
    ],
    queues: [
      sqcq("admin", 0, 0, 4, 0),
      sqcq("io", 1, 3, 16, 1),
      {
        kind: "index-ring", name: "ring", entrySize: FAULTY.RING_ENTRY, depth: FAULTY.RING_DEPTH,
        ring: { region: "ring", offset: FAULTY.RING_OFFSET },
        producer: reg(FAULTY.RING_HEAD), consumer: reg(FAULTY.RING_TAIL), doorbell: reg(FAULTY.RING_DOORBELL),
        done: { offset: 8, width: 32, pending: 0 }, interrupt: 2,
      },
    ],
    model: new URL("./faulty-model.ts", import.meta.url).href,
  };
}
