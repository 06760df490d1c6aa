// The NVMe sim model (devices/nvme/model.ts) driven directly, without the sim backend: a fake BAR
// and a fake IOMMU stand in for the Worker's ModelContext, and the test plays the host driver by
// writing registers, SQEs and doorbells itself. This pins down model details (status codes, phase,
// SQ head, back-pressure, doorbell reset) that the hardware-level test cannot see.
import { describe, expect, test } from "bun:test";
import { DmaBuffer, simBackend, type Backend } from "@warpdrive/runtime";
import { DmaFault, type ModelDma } from "@warpdrive/runtime/sim/model";
import { Bar0Offsets, encodeRead, encodeSetNumberOfQueues, IdentifyController, IdentifyNamespace, SmartLog, Sqe } from "@warpdrive/nvme";
import { Nvme, NvmeControllerError } from "@warpdrive/nvme";
import { CAP_VALUE, cqeStatus, NvmeController, parseCommand, REG, Status, walkPrps, type ControllerPorts, type NvmeModelOptions } from "@warpdrive/nvme/model";

const PAGE = 4096;

/** Host memory: one window of `size` bytes at `base`; everything else faults like an unshared iova. */
class FakeDma implements ModelDma {
  readonly mem: Uint8Array;
  constructor(readonly base: number, size: number) {
    this.mem = new Uint8Array(new SharedArrayBuffer(size));
  }
  private at(iova: number | bigint, length: number, write: boolean): number {
    const a = Number(iova);
    if (!this.mapped(a, length)) throw new DmaFault(BigInt(a), length, write);
    return a - this.base;
  }
  mapped(iova: number | bigint, length: number): boolean {
    const a = Number(iova);
    return a >= this.base && a + length <= this.base + this.mem.length;
  }
  read(iova: number | bigint, length: number): Uint8Array {
    const o = this.at(iova, length, false);
    return this.mem.slice(o, o + length);
  }
  write(iova: number | bigint, bytes: Uint8Array): void {
    this.mem.set(bytes, this.at(iova, bytes.length, true));
  }
  view(iova: number | bigint, length: number): Uint8Array {
    const o = this.at(iova, length, false);
    return this.mem.subarray(o, o + length);
  }
  /** Host-side helpers. */
  u8(iova: number, length: number): Uint8Array {
    return this.mem.subarray(iova - this.base, iova - this.base + length);
  }
  dv(iova: number, length: number): DataView {
    return new DataView(this.mem.buffer, iova - this.base, length);
  }
}

class FakeBar {
  readonly v = new DataView(new ArrayBuffer(0x4000));
  read32 = (o: number) => this.v.getUint32(o, true);
  write32 = (o: number, x: number) => this.v.setUint32(o, x >>> 0, true);
  read64 = (o: number) => this.v.getBigUint64(o, true);
  write64 = (o: number, x: bigint) => this.v.setBigUint64(o, x, true);
}

interface Cqe {
  dw0: number;
  sqhd: number;
  sqid: number;
  cid: number;
  status: number;
  phase: number;
}

interface QueuePair {
  id: number;
  sq: number;
  cq: number;
  depth: number;
  tail: number;
  head: number;
  phase: number;
}

/** Plays the host: memory layout, admin queue, a minimal submit/complete loop. BAR0 reads come from
 *  the register memory the model maintains; stores go to the model as events. */
class Host {
  readonly bar = new FakeBar();
  readonly dma = new FakeDma(0x10_0000, 4 << 20);
  readonly irqs: number[] = [];
  readonly ctrl: NvmeController;
  private next = this.dma.base;
  private cid = 1;
  admin!: QueuePair;

  constructor(options = {}) {
    const ports: ControllerPorts = { bar: this.bar, dma: this.dma, raise: (v) => this.irqs.push(v) };
    this.ctrl = new NvmeController(ports, options);
  }

  /** Host stores to BAR0 reach the model as write events, as the sim's journal delivers them. */
  w32(offset: number, value: number) {
    this.ctrl.write(offset, BigInt(value >>> 0), 32);
  }
  w64(offset: number, value: bigint) {
    this.ctrl.write(offset, value, 64);
  }

  alloc(bytes: number): number {
    const at = this.next;
    this.next += Math.ceil(bytes / PAGE) * PAGE;
    return at;
  }

  pair(id: number, depth: number): QueuePair {
    return { id, sq: this.alloc(depth * 64), cq: this.alloc(depth * 16), depth, tail: 0, head: 0, phase: 1 };
  }

  enable(depth = 8, cc = (6 << 16) | (4 << 20) | 1) {
    this.admin = this.pair(0, depth);
    this.w32(REG.AQA, ((depth - 1) << 16) | (depth - 1));
    this.w64(REG.ASQ, BigInt(this.admin.sq));
    this.w64(REG.ACQ, BigInt(this.admin.cq));
    this.w32(REG.CC, cc);
    this.ctrl.poll();
  }

  /** Writes one SQE (fields by byte offset) and rings the doorbell; returns the cid. */
  submit(q: QueuePair, fill: (v: DataView) => void): number {
    const v = this.dma.dv(q.sq + q.tail * 64, 64);
    new Uint8Array(v.buffer, v.byteOffset, 64).fill(0);
    fill(v);
    const cid = this.cid++ & 0xffff;
    v.setUint16(2, cid, true);
    q.tail = (q.tail + 1) % q.depth;
    this.w32(REG.DOORBELLS + q.id * 8, q.tail);
    return cid;
  }

  /** Takes the next completion if its phase says it is new. */
  reap(q: QueuePair): Cqe | null {
    const v = this.dma.dv(q.cq + q.head * 16, 16);
    const status = v.getUint16(14, true);
    if ((status & 1) !== q.phase) return null;
    q.head = (q.head + 1) % q.depth;
    if (q.head === 0) q.phase ^= 1;
    this.w32(REG.DOORBELLS + q.id * 8 + 4, q.head);
    return { dw0: v.getUint32(0, true), sqhd: v.getUint16(8, true), sqid: v.getUint16(10, true), cid: v.getUint16(12, true), status: status & ~1, phase: status & 1 };
  }

  run(q: QueuePair, fill: (v: DataView) => void): Cqe {
    const cid = this.submit(q, fill);
    this.ctrl.poll();
    const c = this.reap(q);
    if (c === null) throw new Error(`no completion for cid ${cid}`);
    expect(c.cid).toBe(cid);
    return c;
  }

  createPair(id: number, depth: number, ien = true): QueuePair {
    const q = this.pair(id, depth);
    const cq = this.run(this.admin, (v) => {
      v.setUint8(0, 0x05);
      v.setBigUint64(24, BigInt(q.cq), true);
      v.setUint32(40, ((depth - 1) << 16) | id, true);
      v.setUint32(44, (1 << 16) | (ien ? 2 : 0) | 1, true);
    });
    expect(cq.status).toBe(0);
    const sq = this.run(this.admin, (v) => {
      v.setUint8(0, 0x01);
      v.setBigUint64(24, BigInt(q.sq), true);
      v.setUint32(40, ((depth - 1) << 16) | id, true);
      v.setUint32(44, (id << 16) | 1, true);
    });
    expect(sq.status).toBe(0);
    return q;
  }

  rw(q: QueuePair, opcode: number, slba: number, blocks: number, prp1: number, prp2 = 0, nsid = 1): Cqe {
    return this.run(q, (v) => {
      v.setUint8(0, opcode);
      v.setUint32(4, nsid, true);
      v.setBigUint64(24, BigInt(prp1), true);
      v.setBigUint64(32, BigInt(prp2), true);
      v.setBigUint64(40, BigInt(slba), true);
      v.setUint32(48, blocks - 1, true);
    });
  }

  csts(): number {
    return this.bar.read32(REG.CSTS);
  }
}

const st = (code: number) => cqeStatus(code);

describe("registers and enable", () => {
  test("CAP and VS read like QEMU 7.2's controller", () => {
    const h = new Host();
    expect(h.bar.read64(REG.CAP)).toBe(0x4018200f0107ffn);
    expect(CAP_VALUE).toBe(0x4018200f0107ffn);
    expect(h.bar.read32(REG.VS)).toBe(0x00010400);
    expect(h.csts()).toBe(0);
  });

  test("EN 0->1 sets RDY, 1->0 clears it and forgets the queues", () => {
    const h = new Host();
    h.enable();
    expect(h.csts() & 1).toBe(1);
    h.w32(REG.CC, 0x460000); // EN = 0 with the configuration left in place
    h.ctrl.poll();
    expect(h.csts()).toBe(0);
    expect(h.bar.read32(REG.CC)).toBe(0); // reset clears CC, as QEMU's does
    // Re-enabled with fresh rings: the old admin tail must not be replayed.
    h.enable();
    expect(h.csts() & 1).toBe(1);
    expect(h.ctrl.poll()).toBe(false);
  });

  test("an enable with a misaligned ASQ or wrong IOSQES is refused with CFS", () => {
    const h = new Host();
    h.w32(REG.AQA, 0x00070007);
    h.w64(REG.ASQ, 0x10_0800n);
    h.w64(REG.ACQ, 0x10_2000n);
    h.w32(REG.CC, (6 << 16) | (4 << 20) | 1);
    h.ctrl.poll();
    expect(h.csts() & 3).toBe(2);
    h.w32(REG.CC, 0);
    h.ctrl.poll();
    expect(h.csts()).toBe(0);
    h.enable(8, (7 << 16) | (4 << 20) | 1);
    expect(h.csts() & 3).toBe(2);
  });

  test("register stores: 32-bit halves of ASQ, a byte store into AQA, the interrupt mask, ignored writes", () => {
    const h = new Host();
    h.w32(REG.ASQ, 0x0020_0000);
    h.w32(REG.ASQ + 4, 0x1);
    expect(h.bar.read64(REG.ASQ)).toBe(0x1_0020_0000n);
    h.w64(REG.ACQ, 0x2_0000_1000n);
    expect(h.bar.read64(REG.ACQ)).toBe(0x2_0000_1000n);
    h.w32(REG.AQA, 0x001f001f);
    h.ctrl.write(REG.AQA + 2, 0x07n, 8); // ACQS low byte only
    expect(h.bar.read32(REG.AQA)).toBe(0x0007001f);
    h.w32(REG.AQA, 0xffffffff);
    expect(h.bar.read32(REG.AQA)).toBe(0x0fff0fff); // reserved bits stay 0
    h.w32(REG.INTMS, 0b101);
    h.w32(REG.INTMC, 0b001);
    expect(h.bar.read32(REG.INTMS)).toBe(0b100);
    expect(h.bar.read32(REG.INTMC)).toBe(0b100);
    h.w64(REG.CAP, 0n);
    h.w32(REG.VS, 0);
    h.w32(REG.NSSR, 0x4e564d65); // CAP.NSSRS = 0: no subsystem reset
    expect(h.bar.read64(REG.CAP)).toBe(CAP_VALUE);
    expect(h.bar.read32(REG.VS)).toBe(0x00010400);
    expect(h.bar.read32(REG.NSSR)).toBe(0);
  });

  test("EN 1 (refused), 0, 1 stored back to back: a reset and a good enable, none lost", () => {
    const h = new Host();
    h.enable(8, (5 << 16) | (4 << 20) | 1); // refused: CFS
    expect(h.csts() & 3).toBe(2);
    h.w32(REG.CC, 0);
    h.w32(REG.CC, (6 << 16) | (4 << 20) | 1);
    expect(h.csts() & 3).toBe(1);
    expect(h.bar.read32(REG.CC)).toBe((6 << 16) | (4 << 20) | 1);
  });

  test("doorbell values past the queue end and doorbells of missing queues are ignored", () => {
    const h = new Host();
    h.enable(8);
    h.w32(REG.DOORBELLS, 9); // admin SQ has 8 entries
    h.w32(REG.DOORBELLS + 5 * 8, 1); // no SQ 5
    expect(h.ctrl.poll()).toBe(false);
    expect(h.run(h.admin, (v) => v.setUint8(0, 0x7f)).sqhd).toBe(1);
  });

  test("shutdown notification reports SHST complete", () => {
    const h = new Host();
    h.enable();
    h.w32(REG.CC, h.bar.read32(REG.CC) | (1 << 14));
    h.ctrl.poll();
    expect((h.csts() >> 2) & 3).toBe(2);
  });

  test("an idle controller reports no work", () => {
    const h = new Host();
    h.enable();
    expect(h.ctrl.poll()).toBe(false);
    expect(h.ctrl.poll()).toBe(false);
  });
});

describe("admin commands", () => {
  test("identify controller and namespace", () => {
    const h = new Host();
    h.enable();
    const buf = h.alloc(2 * PAGE);
    let c = h.run(h.admin, (v) => {
      v.setUint8(0, 0x06);
      v.setBigUint64(24, BigInt(buf), true);
      v.setUint32(40, 1, true);
    });
    expect(c.status).toBe(0);
    expect(c.sqid).toBe(0);
    expect(c.sqhd).toBe(1);
    const id = h.dma.dv(buf, 4096);
    expect(id.getUint16(0, true)).toBe(0x1b36);
    expect(new TextDecoder().decode(h.dma.u8(buf + 4, 20)).trim()).toBe("WDSIM0001");
    expect(id.getUint8(77)).toBe(7);
    expect(id.getUint32(80, true)).toBe(0x10400);
    expect(id.getUint8(512)).toBe(0x66);
    expect(id.getUint8(513)).toBe(0x44);
    expect(id.getUint32(516, true)).toBe(1);

    c = h.run(h.admin, (v) => {
      v.setUint8(0, 0x06);
      v.setUint32(4, 1, true);
      v.setBigUint64(24, BigInt(buf + PAGE), true);
      v.setUint32(40, 0, true);
    });
    expect(c.status).toBe(0);
    const ns = h.dma.dv(buf + PAGE, 4096);
    expect(ns.getBigUint64(0, true)).toBe(131072n);
    expect(ns.getUint8(26) & 0xf).toBe(0);
    expect((ns.getUint32(128, true) >> 16) & 0xff).toBe(9);

    c = h.run(h.admin, (v) => {
      v.setUint8(0, 0x06);
      v.setUint32(4, 2, true);
      v.setBigUint64(24, BigInt(buf), true);
    });
    expect(c.status).toBe(st(Status.INVALID_NAMESPACE_OR_FORMAT));
  });

  test("identify into an unshared buffer fails with a data transfer error", () => {
    const h = new Host();
    h.enable();
    const c = h.run(h.admin, (v) => {
      v.setUint8(0, 0x06);
      v.setBigUint64(24, 0x9000_0000n, true);
      v.setUint32(40, 1, true);
    });
    expect(c.status).toBe(st(Status.DATA_TRANSFER_ERROR));
    expect(c.status >> 15).toBe(1); // DNR
  });

  test("unknown admin opcode", () => {
    const h = new Host();
    h.enable();
    expect(h.run(h.admin, (v) => v.setUint8(0, 0x7f)).status).toBe(st(Status.INVALID_OPCODE));
  });

  test("queue creation and deletion checks return the spec's status codes", () => {
    const h = new Host();
    h.enable();
    const ring = h.alloc(PAGE);
    const create = (op: number, cdw10: number, cdw11: number, prp1 = ring) =>
      h.run(h.admin, (v) => {
        v.setUint8(0, op);
        v.setBigUint64(24, BigInt(prp1), true);
        v.setUint32(40, cdw10, true);
        v.setUint32(44, cdw11, true);
      }).status;
    expect(create(0x05, (15 << 16) | 0, 1)).toBe(st(Status.INVALID_QUEUE_ID));
    expect(create(0x05, (15 << 16) | 65, 1)).toBe(st(Status.INVALID_QUEUE_ID));
    expect(create(0x05, (0 << 16) | 1, 1)).toBe(st(Status.INVALID_QUEUE_SIZE));
    expect(create(0x05, (2048 << 16) | 1, 1)).toBe(st(Status.INVALID_QUEUE_SIZE));
    expect(create(0x05, (15 << 16) | 1, 1, ring + 512)).toBe(st(Status.PRP_OFFSET_INVALID));
    expect(create(0x05, (15 << 16) | 1, (65 << 16) | 1)).toBe(st(Status.INVALID_INTERRUPT_VECTOR));
    expect(create(0x05, (15 << 16) | 1, 0)).toBe(st(Status.INVALID_FIELD));
    expect(create(0x01, (15 << 16) | 1, (1 << 16) | 1)).toBe(st(Status.COMPLETION_QUEUE_INVALID));
    expect(create(0x05, (15 << 16) | 1, (1 << 16) | 1)).toBe(0);
    expect(create(0x05, (15 << 16) | 1, (1 << 16) | 1)).toBe(st(Status.INVALID_QUEUE_ID));
    expect(create(0x01, (15 << 16) | 1, (1 << 16) | 1, h.alloc(PAGE))).toBe(0);
    const del = (op: number, qid: number) => create(op, qid, 0);
    expect(del(0x04, 1)).toBe(st(Status.INVALID_QUEUE_DELETION));
    expect(del(0x00, 2)).toBe(st(Status.INVALID_QUEUE_ID));
    expect(del(0x00, 1)).toBe(0);
    expect(del(0x04, 1)).toBe(0);
    // A CQ id with no queue behind it: "completion queue invalid", as QEMU's controller answers.
    expect(del(0x04, 1)).toBe(st(Status.COMPLETION_QUEUE_INVALID));
    expect(del(0x04, 0)).toBe(st(Status.COMPLETION_QUEUE_INVALID));
  });

  test("number of queues: all 64 granted, refused once I/O queues exist", () => {
    const h = new Host();
    h.enable();
    const set = () =>
      h.run(h.admin, (v) => {
        v.setUint8(0, 0x09);
        v.setUint32(40, 7, true);
        v.setUint32(44, (3 << 16) | 3, true);
      });
    const c = set();
    expect(c.status).toBe(0);
    expect(c.dw0).toBe(63 | (63 << 16));
    h.createPair(1, 4);
    expect(set().status).toBe(st(Status.COMMAND_SEQUENCE_ERROR));
    const get = h.run(h.admin, (v) => {
      v.setUint8(0, 0x0a);
      v.setUint32(40, 7, true);
    });
    expect(get.dw0).toBe(63 | (63 << 16));
  });

  test("get log page: SMART counters, offsets, unknown pages", () => {
    const h = new Host();
    h.enable();
    const q = h.createPair(1, 8);
    const buf = h.alloc(PAGE);
    for (let i = 0; i < 3; i++) h.rw(q, 0x02, i, 2, buf);
    h.rw(q, 0x01, 0, 1, buf);
    const log = (lid: number, dwords: number, offset = 0) =>
      h.run(h.admin, (v) => {
        v.setUint8(0, 0x02);
        v.setUint32(4, 0xffffffff, true);
        v.setBigUint64(24, BigInt(buf), true);
        v.setUint32(40, lid | ((dwords - 1) << 16), true);
        v.setUint32(48, offset, true);
      }).status;
    expect(log(0x02, 128)).toBe(0);
    const smart = SmartLog.decode(h.dma.dv(buf, 512), 0);
    expect(smart).toMatchObject({ compositeTemperature: 0x143, availableSpare: 100, availableSpareThreshold: 10 });
    expect(smart.hostReadCommands).toEqual([3n, 0n]);
    expect(smart.hostWriteCommands).toEqual([1n, 0n]);
    expect(smart.dataUnitsRead[0]).toBe(1n); // 3 KiB, rounded up to one thousand-unit
    expect(log(0x02, 2, 64)).toBe(0); // 8 bytes from offset 64: host read commands
    expect(h.dma.dv(buf, 8).getBigUint64(0, true)).toBe(3n);
    expect(log(0x02, 1, 2)).toBe(st(Status.INVALID_FIELD)); // offset not dword aligned
    expect(log(0x7f, 1)).toBe(st(Status.INVALID_LOG_PAGE));
    expect(log(0x02, 1024)).toBe(0); // 4 KiB of a 512-byte page: the rest comes back zero-filled
    expect(h.run(h.admin, (v) => {
      v.setUint8(0, 0x02);
      v.setBigUint64(24, BigInt(buf), true);
      v.setUint32(40, 0x02 | (0xffff << 16), true);
      v.setUint32(44, 0xffff, true); // NUMDU: 2^32 dwords in all
    }).status).toBe(st(Status.INVALID_FIELD));
  });

  test("admin completions raise vector 0", () => {
    const h = new Host();
    h.enable();
    h.run(h.admin, (v) => v.setUint8(0, 0x7f));
    expect(h.irqs).toEqual([0]);
  });
});

describe("I/O", () => {
  test("write then read back across pages with PRP1 offset, PRP2 page and PRP list", () => {
    const h = new Host();
    h.enable();
    const q = h.createPair(1, 16);
    h.irqs.length = 0;
    // 1 block in one page; 8 blocks over two pages (offset PRP1 + PRP2); 64 blocks via a list.
    for (const [slba, blocks, offset] of [[0, 1, 0], [100, 8, 2048], [1000, 64, 512]] as const) {
      const bytes = blocks * 512;
      const pages = Math.ceil((offset + bytes) / PAGE);
      const src = h.alloc(pages * PAGE);
      const dst = h.alloc(pages * PAGE);
      const list = h.alloc(PAGE);
      const data = h.dma.u8(src + offset, bytes);
      for (let i = 0; i < bytes; i++) data[i] = (i * 7 + slba) & 0xff;
      const prp2 = (base: number) => {
        if (pages === 1) return 0;
        if (pages === 2) return base + PAGE;
        const l = h.dma.dv(list, PAGE);
        for (let p = 1; p < pages; p++) l.setBigUint64((p - 1) * 8, BigInt(base + p * PAGE), true);
        return list;
      };
      expect(h.rw(q, 0x01, slba, blocks, src + offset, prp2(src)).status).toBe(0);
      expect(h.rw(q, 0x02, slba, blocks, dst + offset, prp2(dst)).status).toBe(0);
      expect(Buffer.compare(h.dma.u8(dst + offset, bytes), data)).toBe(0);
      expect(Buffer.compare(h.ctrl.storage.subarray(slba * 512, slba * 512 + bytes), data)).toBe(0);
    }
    expect(h.irqs.every((v) => v === 1)).toBe(true);
    expect(h.irqs.length).toBe(6);
  });

  test("status codes: LBA range, namespace, opcode, MDTS, unmapped buffer, compare", () => {
    const h = new Host();
    h.enable();
    const q = h.createPair(1, 16);
    const buf = h.alloc(PAGE);
    expect(h.rw(q, 0x02, 131071, 1, buf).status).toBe(0);
    expect(h.rw(q, 0x02, 131071, 2, buf + 0).status).toBe(st(Status.LBA_OUT_OF_RANGE));
    expect(h.rw(q, 0x02, 2 ** 40, 1, buf).status).toBe(st(Status.LBA_OUT_OF_RANGE));
    expect(h.rw(q, 0x02, 0, 1, buf, 0, 2).status).toBe(st(Status.INVALID_NAMESPACE_OR_FORMAT));
    expect(h.rw(q, 0x02, 0, 1, buf, 0, 0).status).toBe(st(Status.INVALID_NAMESPACE_OR_FORMAT));
    expect(h.rw(q, 0x7e, 0, 1, buf).status).toBe(st(Status.INVALID_OPCODE));
    // MDTS 7: 512 KiB; 1025 blocks is one block more.
    expect(h.rw(q, 0x02, 0, 1025, buf, buf + PAGE).status).toBe(st(Status.INVALID_FIELD));
    expect(h.rw(q, 0x01, 0, 1, 0x8000_0000).status).toBe(st(Status.DATA_TRANSFER_ERROR));
    expect(h.rw(q, 0x02, 0, 8, buf + 2048, 0x8000_0000).status).toBe(st(Status.DATA_TRANSFER_ERROR));
    expect(h.rw(q, 0x02, 0, 8, buf + 3).status).toBe(st(Status.PRP_OFFSET_INVALID));
    expect(h.rw(q, 0x00, 0, 1, 0, 0, 0xffffffff).status).toBe(0); // flush every namespace
    h.dma.u8(buf, 512).fill(0xab);
    expect(h.rw(q, 0x01, 5, 1, buf).status).toBe(0);
    expect(h.rw(q, 0x05, 5, 1, buf).status).toBe(0);
    h.dma.u8(buf, 1)[0] = 0;
    expect(h.rw(q, 0x05, 5, 1, buf).status).toBe(st(Status.COMPARE_FAILURE));
    expect(h.rw(q, 0x08, 5, 1, 0).status).toBe(0);
    expect(h.ctrl.storage[5 * 512 + 1]).toBe(0);
  });

  test("phase flips on wrap, SQ head is reported, a full CQ holds back the SQ", () => {
    const h = new Host();
    h.enable();
    const q = h.createPair(1, 4);
    const buf = h.alloc(PAGE);
    // Three submissions at once: a 4-entry CQ holds at most 3 before the host frees one.
    for (let i = 0; i < 3; i++) h.submit(q, (v) => { v.setUint8(0, 0x00); v.setUint32(4, 1, true); });
    h.ctrl.poll();
    const seen: Cqe[] = [];
    // Reap without ringing the CQ head doorbell yet, to see back-pressure.
    const cqv = (i: number) => h.dma.dv(q.cq + i * 16, 16);
    for (let i = 0; i < 3; i++) expect(cqv(i).getUint16(14, true) & 1).toBe(1);
    expect(cqv(3).getUint16(14, true) & 1).toBe(0);
    // Fourth command: CQ is full (3 of 4), so it stays in the SQ.
    h.submit(q, (v) => { v.setUint8(0, 0x02); v.setUint32(4, 1, true); v.setBigUint64(24, BigInt(buf), true); });
    h.ctrl.poll();
    expect(cqv(3).getUint16(14, true) & 1).toBe(0);
    for (let c = h.reap(q); c !== null; c = h.reap(q)) seen.push(c);
    expect(seen.map((c) => c.sqhd)).toEqual([1, 2, 3]);
    h.ctrl.poll();
    const last = h.reap(q)!;
    expect(last.status).toBe(0);
    expect(last.sqhd).toBe(0);
    // Slot 3 was written with phase 1; the next lap writes slot 0 with phase 0.
    h.rw(q, 0x00, 0, 1, 0);
    expect(q.phase).toBe(0);
  });

  test("a CQ created without IEN raises no interrupt; a recreated queue starts from zero", () => {
    const h = new Host();
    h.enable();
    let q = h.createPair(1, 4, false);
    h.irqs.length = 0;
    h.rw(q, 0x00, 0, 1, 0);
    h.rw(q, 0x00, 0, 1, 0);
    expect(h.irqs).toEqual([]);
    for (const op of [0x00, 0x04]) {
      expect(h.run(h.admin, (v) => { v.setUint8(0, op); v.setUint32(40, 1, true); }).status).toBe(0);
    }
    q = h.createPair(1, 4);
    h.irqs.length = 0;
    expect(h.rw(q, 0x00, 0, 1, 0).sqhd).toBe(1);
    expect(h.irqs).toEqual([0, 1].slice(1));
  });
});

describe("configurations (options as QEMU's nvme / nvme-ns properties)", () => {
  const identify = (h: Host, cns: number, nsid: number, buf: number) =>
    h.run(h.admin, (v) => {
      v.setUint8(0, 0x06);
      v.setUint32(4, nsid, true);
      v.setBigUint64(24, BigInt(buf), true);
      v.setUint32(40, cns, true);
    });

  test("namespaces 2 and 4 without 1: NN, the active list, zeroed identify for an inactive id, I/O statuses", () => {
    const h = new Host({ namespaces: [{ nsid: 4, blockSize: 4096, blocks: 64 }, { nsid: 2, blocks: 128 }] });
    h.enable();
    const buf = h.alloc(PAGE);
    expect(identify(h, 1, 0, buf).status).toBe(0);
    expect(h.dma.dv(buf, 4096).getUint32(516, true)).toBe(4); // NN: the highest id
    expect(identify(h, 2, 0, buf).status).toBe(0);
    const list = h.dma.dv(buf, 16);
    expect([list.getUint32(0, true), list.getUint32(4, true), list.getUint32(8, true)]).toEqual([2, 4, 0]);
    expect(identify(h, 2, 2, buf).status).toBe(0); // ids above 2
    expect([list.getUint32(0, true), list.getUint32(4, true)]).toEqual([4, 0]);
    expect(identify(h, 0, 4, buf).status).toBe(0);
    const ns = h.dma.dv(buf, 4096);
    expect(ns.getBigUint64(0, true)).toBe(64n);
    expect((ns.getUint32(128, true) >> 16) & 0xff).toBe(12);
    h.dma.u8(buf, 4096).fill(0xaa);
    expect(identify(h, 0, 1, buf).status).toBe(0); // inactive, but within 1..NN: zero-filled
    expect(h.dma.u8(buf, 4096).every((b) => b === 0)).toBe(true);
    expect(identify(h, 0, 5, buf).status).toBe(st(Status.INVALID_NAMESPACE_OR_FORMAT));
    const q = h.createPair(1, 4);
    const data = h.alloc(PAGE);
    expect(h.rw(q, 0x02, 0, 1, data, 0, 4).status).toBe(0);
    expect(h.rw(q, 0x02, 63, 2, data, 0, 4).status).toBe(st(Status.LBA_OUT_OF_RANGE));
    expect(h.rw(q, 0x02, 0, 1, data, 0, 1).status).toBe(st(Status.INVALID_FIELD));
    expect(h.rw(q, 0x02, 0, 1, data, 0, 9).status).toBe(st(Status.INVALID_NAMESPACE_OR_FORMAT));
  });

  test("MQES, queue pairs and vectors bound queue creation", () => {
    const h = new Host({ mqes: 7, maxIoQueuePairs: 2, msixVectors: 1 });
    h.enable();
    expect(h.bar.read64(REG.CAP) & 0xffffn).toBe(7n);
    const ring = h.alloc(PAGE);
    const createCq = (qid: number, size: number, iv: number) =>
      h.run(h.admin, (v) => {
        v.setUint8(0, 0x05);
        v.setBigUint64(24, BigInt(ring), true);
        v.setUint32(40, ((size - 1) << 16) | qid, true);
        v.setUint32(44, (iv << 16) | 3, true);
      }).status;
    expect(createCq(1, 9, 0)).toBe(st(Status.INVALID_QUEUE_SIZE));
    expect(createCq(1, 8, 1)).toBe(st(Status.INVALID_INTERRUPT_VECTOR));
    expect(createCq(3, 8, 0)).toBe(st(Status.INVALID_QUEUE_ID));
    expect(createCq(1, 8, 0)).toBe(0);
  });

  test("a 4096-byte block size and MDTS 1 (8 KiB)", () => {
    const h = new Host({ blockSize: 4096, mdts: 1, blocks: 16 });
    h.enable();
    const q = h.createPair(1, 4);
    const data = h.alloc(4 * PAGE);
    const list = h.alloc(PAGE);
    h.dma.dv(list, 8).setBigUint64(0, BigInt(data + 2 * PAGE), true);
    expect(h.rw(q, 0x01, 15, 1, data).status).toBe(0);
    expect(h.rw(q, 0x01, 14, 2, data, data + PAGE).status).toBe(0);
    expect(h.rw(q, 0x01, 0, 3, data, list).status).toBe(st(Status.INVALID_FIELD)); // 12 KiB > MDTS
    expect(h.rw(q, 0x01, 15, 2, data, data + PAGE).status).toBe(st(Status.LBA_OUT_OF_RANGE));
  });

  test("bad options are refused, naming the option", () => {
    const mk = (o: object) => () => new Host(o);
    expect(mk({ namespaces: [] })).toThrow(/at least one namespace/);
    expect(mk({ namespaces: [{ nsid: 2 }, { nsid: 2 }] })).toThrow(/namespace id 2/);
    expect(mk({ namespaces: [{ nsid: 0 }] })).toThrow(/namespace id 0/);
    expect(mk({ namespaces: [{ nsid: 1, blockSize: 1024 }] })).toThrow(/namespace 1: block size 1024/);
    expect(mk({ mqes: 0 })).toThrow(/mqes 0/);
    expect(mk({ mqes: 4096 })).toThrow(/mqes 4096/);
    expect(mk({ msixVectors: 0 })).toThrow(/msixVectors 0/);
    expect(mk({ mdts: -1 })).toThrow(/mdts -1/);
  });
});

describe("PRP walking", () => {
  test("chained PRP list pages", () => {
    const dma = new FakeDma(0x100000, 8 << 20);
    const page = 4096;
    const pages = 1000; // more than one list page (511 data entries + a chain pointer per page)
    const list1 = 0x100000;
    const list2 = 0x101000;
    const data = 0x200000;
    const l1 = dma.dv(list1, page);
    const l2 = dma.dv(list2, page);
    for (let i = 0; i < 511; i++) l1.setBigUint64(i * 8, BigInt(data + (i + 1) * page), true);
    l1.setBigUint64(511 * 8, BigInt(list2), true);
    for (let i = 0; i < pages - 1 - 511; i++) l2.setBigUint64(i * 8, BigInt(data + (512 + i) * page), true);
    const segs = walkPrps(dma, data, list1, pages * page, page);
    if (typeof segs === "number") throw new Error(`status ${segs}`);
    // Physically contiguous pages merge into one segment.
    expect(segs).toEqual([{ iova: data, length: pages * page }]);
  });

  test("a list entry with an offset is refused", () => {
    const dma = new FakeDma(0x100000, 1 << 20);
    dma.dv(0x100000, 16).setBigUint64(0, 0x110010n, true);
    expect(walkPrps(dma, 0x120000, 0x100000, 3 * 4096, 4096)).toBe(Status.PRP_OFFSET_INVALID);
  });
});

// ---- cross-checks against the generated client, and the model inside the real sim backend ----

describe("the model and devices/nvme.yaml agree", () => {
  test("register offsets", () => {
    expect(Bar0Offsets.cap).toBe(REG.CAP);
    expect(Bar0Offsets.vs).toBe(REG.VS);
    expect(Bar0Offsets.cc).toBe(REG.CC);
    expect(Bar0Offsets.csts).toBe(REG.CSTS);
    expect(Bar0Offsets.nssr).toBe(REG.NSSR);
    expect(Bar0Offsets.aqa).toBe(REG.AQA);
    expect(Bar0Offsets.asq).toBe(REG.ASQ);
    expect(Bar0Offsets.acq).toBe(REG.ACQ);
    expect(Bar0Offsets.sqTail).toBe(REG.DOORBELLS);
    expect(Bar0Offsets.cqHead as number).toBe(REG.DOORBELLS + 4);
  });

  test("the generated encoders produce what the model parses", () => {
    const v = new DataView(new ArrayBuffer(64));
    // A resolver that maps every buffer to one bus address: what matters is where encode puts it.
    const resolver = { addressOf: () => 0x12345000 };
    using buf = DmaBuffer.alloc(4096, { name: "encode test" });
    encodeRead(v, 0, { nsid: 1, buffer: buf.ref(), prp2: 0xabc000n, slba: 0x1_0000_0002n, nlb: 7, control: { fua: 1 } }, resolver);
    const c = parseCommand(new Uint8Array(v.buffer));
    expect(c).toMatchObject({ opcode: 0x02, nsid: 1, prp1: 0x12345000, prp2: 0xabc000, cdw10: 2, cdw11: 1, cdw12: 7 | (1 << 30) });
    encodeSetNumberOfQueues(v, 0, { nsqr: 3, ncqr: 5 });
    expect(parseCommand(new Uint8Array(v.buffer))).toMatchObject({ opcode: 0x09, cdw10: 7, cdw11: 3 | (5 << 16) });
    expect(Sqe.SIZE).toBe(64);
  });

  test("identify data decodes to the model's values through the generated structs", () => {
    const h = new Host();
    h.enable();
    const buf = h.alloc(2 * PAGE);
    h.run(h.admin, (v) => { v.setUint8(0, 0x06); v.setBigUint64(24, BigInt(buf), true); v.setUint32(40, 1, true); });
    h.run(h.admin, (v) => { v.setUint8(0, 0x06); v.setUint32(4, 1, true); v.setBigUint64(24, BigInt(buf + PAGE), true); });
    const id = IdentifyController.decode(h.dma.dv(buf, 4096), 0);
    expect(new TextDecoder().decode(id.sn).trim()).toBe("WDSIM0001");
    expect(new TextDecoder().decode(id.fr).trim()).toBe("1.0");
    expect(id).toMatchObject({ vid: 0x1b36, ssvid: 0x1af4, mdts: 7, ver: 0x10400, nn: 1, sqes: { min: 6, max: 6 }, cqes: { min: 4, max: 4 }, aerl: 3, vwc: 1 });
    expect(id.psd[0]!.mp).toBe(2500);
    const ns = IdentifyNamespace.decode(h.dma.dv(buf + PAGE, 4096), 0);
    expect(ns).toMatchObject({ nsze: 131072n, ncap: 131072n, nuse: 131072n, nlbaf: 0, flbas: { format: 0, extended: 0 } });
    expect(ns.lbaf[0]).toMatchObject({ ms: 0, lbads: 9 });
  });
});

describe("inside the sim backend", () => {
  test("stores reach the model in order and a later read sees their effect", async () => {
    const nvme = await Nvme.open({ ioQueues: 0 });
    try {
      const cc = nvme.regs.cc.read();
      // EN 0 then EN 1 with nothing in between: both edges are seen, and the read that follows
      // waits for them (the journal orders reads after the client's writes), like QEMU's MMIO.
      nvme.regs.cc.write(0);
      nvme.regs.cc.write(cc);
      expect(nvme.regs.csts.fields()).toMatchObject({ rdy: 1, cfs: 0 });
      expect(nvme.regs.cc.read()).toBe(cc);
    } finally {
      nvme.close();
    }
  });

  test("a device reset clears the controller but keeps the medium; the driver can bring it up again", async () => {
    const nvme = await Nvme.open();
    try {
      const buf = nvme.device.alloc(8 * nvme.blockSize, "reset test");
      for (let i = 0; i < buf.size; i++) buf.bytes[i] = (i * 13) & 0xff;
      nvme.write(42, 8, buf.ref(0, 8 * nvme.blockSize));
      nvme.device.reset();
      expect(nvme.regs.csts.read()).toBe(0);
      expect(nvme.regs.cc.read()).toBe(0);
      expect(nvme.regs.cap.read()).toBe(CAP_VALUE);
      nvme.init();
      const back = nvme.device.alloc(8 * nvme.blockSize, "reset readback");
      nvme.read(42, 8, back.ref(0, 8 * nvme.blockSize));
      expect(Buffer.compare(back.bytes.subarray(0, 8 * nvme.blockSize), buf.bytes.subarray(0, 8 * nvme.blockSize))).toBe(0);
    } finally {
      nvme.close();
    }
  });

  /** The sim backend presenting a configured controller (spec.modelOptions). */
  const configured = (modelOptions: NvmeModelOptions): Backend => ({
    kind: "sim",
    open: (spec, address) => simBackend.open({ ...spec, modelOptions: { ...modelOptions } }, address),
  });

  test("a reset keeps every namespace's medium (namespaces 2 and 3)", async () => {
    const nvme = await Nvme.open({ backend: configured({ namespaces: [{ nsid: 2 }, { nsid: 3 }] }), nsid: 3 });
    try {
      expect(nvme.nsid).toBe(3);
      const buf = nvme.device.alloc(nvme.blockSize, "ns3 data");
      buf.bytes.fill(0x5a);
      nvme.write(7, 1, buf.ref(0, nvme.blockSize));
      nvme.device.reset();
      nvme.init();
      expect(nvme.nsid).toBe(3);
      buf.bytes.fill(0);
      nvme.read(7, 1, buf.ref(0, nvme.blockSize));
      expect(buf.bytes.subarray(0, nvme.blockSize).every((b) => b === 0x5a)).toBe(true);
    } finally {
      nvme.close();
    }
  });

  test("client options: an inactive namespace is refused naming the active ones; bad numbers are refused", async () => {
    const backend = configured({ namespaces: [{ nsid: 2 }, { nsid: 3 }] });
    const err = await Nvme.open({ backend, nsid: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(NvmeControllerError);
    expect(err.message).toContain("namespace 1 is not usable");
    expect(err.hint).toContain("active namespaces: 2, 3");
    const refusal = (options: Parameters<typeof Nvme.open>[0]) => Nvme.open({ backend, ...options }).then(() => new Error("opened"), (e: unknown) => e);
    const depth = await refusal({ ioDepth: 1 });
    expect(depth).toBeInstanceOf(RangeError);
    expect((depth as Error).message).toContain("option ioDepth 1 is outside 2..4096");
    expect(((await refusal({ nsid: 0 })) as Error).message).toContain("option nsid 0");
    expect(((await refusal({ ioQueues: 1.5 })) as Error).message).toContain("option ioQueues 1.5");
    expect(await refusal({ ioQueues: "2" as unknown as number })).toBeInstanceOf(TypeError);
    // Nothing was left open by the refusals: a normal open still works.
    const ok = await Nvme.open({ backend });
    expect(ok.nsid).toBe(2);
    ok.close();
  });
});
