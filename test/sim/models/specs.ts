// Device specs for the queue-engine tests: small made-up devices whose models (beside this file)
// the tests can steer through a control register (pause, reorder). Written by hand, as the
// generator would emit them, so the engines are tested without depending on generated code.
import type { DeviceSpec } from "@warpdrive/runtime";

const url = (f: string) => new URL(f, import.meta.url).href;

/** Ring-test device: region `queue` (ram) with head 0x00, tail 0x04, doorbell 0x08, ctl 0x0c
 *  (bit 0 paused; bit 1 = take the tail register as the model's index, then clear), ring_base 0x10 (64-bit, for the DMA-ring variant); 16-byte entries
 *  { value u32 @0, result u32 @4, status u32 @8 (0 pending, 1 done), cookie u32 @12 } at 0x100. */
export const RING = {
  HEAD: 0x00, TAIL: 0x04, DOORBELL: 0x08, CTL: 0x0c, RING_BASE: 0x10, RING_OFFSET: 0x100,
  ENTRY: 16, DEPTH: 8, CTL_PAUSE: 1, CTL_RESYNC: 2,
} as const;

export function ringSpec(ring: "region" | "dma" = "region"): DeviceSpec {
  const reg = (offset: number) => ({ region: "queue", offset, width: 32 as const });
  return {
    name: ring === "dma" ? "ring-test-dma" : "ring-test",
    title: "index ring test device",
    version: "1.0.0",
    pci: [],
    regions: [{ name: "queue", kind: "ram", index: 0, size: 0x1000 }],
    interrupts: [{ name: "done", index: 0, kind: "msi" }],
    queues: [
      {
        kind: "index-ring", name: "cmd", entrySize: RING.ENTRY, depth: RING.DEPTH,
        ring: ring === "dma" ? "dma" : { region: "queue", offset: RING.RING_OFFSET },
        producer: reg(RING.HEAD), consumer: reg(RING.TAIL), doorbell: reg(RING.DOORBELL),
        done: { offset: 8, width: 32, pending: 0 }, interrupt: 0,
      },
    ],
    model: url("./ring-model.ts"),
  };
}

/** SQ/CQ test device: bar0 (mmio). Per queue id q (0..3) at 0x100 + q*0x20: sq_base u64, cq_base u64,
 *  sq_depth u32 (+0x10), cq_depth u32 (+0x14), enable u32 (+0x18). Doorbells: sq tail 0x1000 + 8q,
 *  cq head 0x1004 + 8q. ctl 0x20: 1 = paused. SQE 64 bytes { opcode u8 @0, cid u16 @2, value u32 @4 };
 *  opcode 1 = echo value*3 now, 2 = hold until the next command has completed (out of order).
 *  CQE 16 bytes { result u32 @0, sqhd u16 @8, cid u16 @12, status u16 @14 (bit 0 phase) }. */
export const SQCQ = {
  CTL: 0x20, QBASE: 0x100, QSTRIDE: 0x20, SQ_BASE: 0, CQ_BASE: 8, SQ_DEPTH: 0x10, CQ_DEPTH: 0x14, ENABLE: 0x18,
  /** Written by the model: 1 while it holds the queue, 0 once it has deleted it. */
  ACTIVE: 0x1c,
  DB: 0x1000, SQE: 64, CQE: 16, QUEUES: 4, OP_ECHO: 1, OP_HOLD: 2,
} as const;

export function sqcqSpec(): DeviceSpec {
  return {
    name: "sqcq-test",
    title: "sq/cq test device",
    version: "1.0.0",
    pci: [],
    regions: [{ name: "bar0", kind: "mmio", index: 0, size: 0x2000 }],
    interrupts: [
      { name: "q0", index: 0, kind: "msix" },
      { name: "q1", index: 1, kind: "msix" },
    ],
    queues: [
      {
        kind: "sq-cq", name: "admin", first: 0, last: 0,
        sq: { entrySize: 64, depth: 4, doorbell: { region: "bar0", offset: 0x1000, width: 32, stride: 8 }, tagOffset: 2 },
        cq: { entrySize: 16, depth: 4, doorbell: { region: "bar0", offset: 0x1004, width: 32, stride: 8 }, tagOffset: 12,
              phase: { offset: 14, width: 16, bit: 0 }, sqHeadOffset: 8 },
        interrupt: 0,
      },
      {
        kind: "sq-cq", name: "io", first: 1, last: 3,
        sq: { entrySize: 64, depth: 16, doorbell: { region: "bar0", offset: 0x1000, width: 32, stride: 8 }, tagOffset: 2 },
        cq: { entrySize: 16, depth: 16, doorbell: { region: "bar0", offset: 0x1004, width: 32, stride: 8 }, tagOffset: 12,
              phase: { offset: 14, width: 16, bit: 0 }, sqHeadOffset: 8 },
        interrupt: 1,
      },
    ],
    model: url("./sqcq-model.ts"),
  };
}

/** Probe device: region `regs` (mmio, 4 KiB): CMD 0x00 (write a command), STATUS 0x04, IOVA 0x08
 *  (u64), LEN 0x10, ID 0x14 (reset value 0x9e0be), RESETS 0x18, FAULT_IOVA 0x20, DATA 0x100.. */
export const PROBE = {
  CMD: 0x00, STATUS: 0x04, IOVA: 0x08, LEN: 0x10, ID: 0x14, RESETS: 0x18, FAULT_IOVA: 0x20, DATA: 0x100,
  ID_VALUE: 0x9e0be,
  CMD_READ: 1, CMD_WRITE: 2, CMD_RAISE: 3, CMD_FAULT: 4, CMD_THROW: 5,
  OK: 1, DMA_FAULT: 2, BAD_CMD: 3,
} as const;

export function probeSpec(): DeviceSpec {
  return {
    name: "probe",
    title: "sim backend probe",
    version: "1.0.0",
    pci: [],
    regions: [{ name: "regs", kind: "mmio", index: 0, size: 0x1000 }],
    interrupts: [
      { name: "a", index: 0, kind: "msi" },
      { name: "b", index: 1, kind: "msi" },
    ],
    queues: [],
    model: url("./probe-model.ts"),
  };
}
