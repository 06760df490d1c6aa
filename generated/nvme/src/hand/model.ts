// copied from devices/nvme/model.ts by @warpdrive/generator 0.1.0; edit the original
// Sim model of an NVMe controller (NVM Express Base Specification 1.4), shaped after QEMU 7.2's
// hw/nvme so that code which passes against the sim has a fair chance against the real thing:
// CAP reads 0x4018200f0107ff (MQES 2047, CQR, TO 15 = 7.5 s, DSTRD 0, CSS NVM + I/O sets + admin
// only, MPSMAX 64 KiB), VS 1.4.0, MDTS 7, 64 I/O queue pairs, 65 MSI-X vectors, and the same status
// codes QEMU returns for bad queue creation, bad namespaces and out-of-range LBAs.
//
// Options (NvmeModelOptions) present the variations QEMU's nvme and nvme-ns devices can: logical
// block size (logical_block_size), MDTS (mdts), I/O queue pairs (max_ioqpairs), MSI-X vectors
// (msix_qsize), several namespaces with any ids (nvme-ns nsid), and a smaller CAP.MQES (QEMU 8.2's
// mqes; 7.2 has no such property).
//
// The sim backend runs this in a Worker. BAR0 is journaled: each client store arrives in order as
// a write event (NvmeController.write), the model alone writes BAR0's memory (what reads return),
// and a client read waits until its earlier stores were taken, so register side effects behave as
// with QEMU's synchronous MMIO handlers: CC.EN 0 then 1 is a reset and an enable, CC reads back 0
// after a reset, CSTS.RDY is set by the time the enabling store "returns". Doorbells are events
// too; commands run when poll() finds submission queue entries between head and tail.
//
// Not modelled: SGLs, fused commands, metadata, CMB/PMR, boot partitions, NVM subsystem reset,
// namespace management, asynchronous events (AERs are accepted and held), interrupt coalescing.
//
// Register offsets are written out here rather than taken from the generated client: the model is
// a second, independent reading of the spec, which is what lets the tests catch a wrong offset in
// devices/nvme.yaml.
import { defineModel, DmaFault, type DeviceModel, type ModelContext, type ModelDma, type WriteLog } from "@warpdrive/runtime/sim/model";

// ---- BAR0 layout ---------------------------------------------------------------------------
export const REG = {
  CAP: 0x00,
  VS: 0x08,
  INTMS: 0x0c,
  INTMC: 0x10,
  CC: 0x14,
  CSTS: 0x1c,
  NSSR: 0x20,
  AQA: 0x24,
  ASQ: 0x28,
  ACQ: 0x30,
  DOORBELLS: 0x1000,
} as const;

/** CAP for a given MQES (entries per I/O queue - 1), field by field (see the header). */
export function capValue(mqes: number): bigint {
  return (
    BigInt(mqes) | // MQES: mqes + 1 entries per I/O queue (QEMU: 2047)
    (1n << 16n) | // CQR: queues must be physically contiguous
    (15n << 24n) | // TO: 15 * 500 ms
    (0n << 32n) | // DSTRD: 4-byte doorbell stride
    (((1n << 0n) | (1n << 6n) | (1n << 7n)) << 37n) | // CSS: NVM, I/O command sets, admin only
    (0n << 48n) | // MPSMIN: 4 KiB
    (4n << 52n) // MPSMAX: 64 KiB
  );
}
/** QEMU 7.2's CAP value. */
export const CAP_VALUE = capValue(2047);
export const VS_VALUE = 0x00010400;
const MPSMIN = 0;
const MPSMAX = 4;
/** Doorbell pairs in BAR0: the admin queue and 64 I/O queues. */
const DOORBELL_PAIRS = 65;

const CSTS_RDY = 1 << 0;
const CSTS_CFS = 1 << 1;
const CSTS_SHST_SHIFT = 2;
const CSTS_NSSRO = 1 << 4;
const SHST_COMPLETE = 2;

// ---- status codes (SCT << 8 | SC); the CQE status field is built by cqeStatus() -----------
export const Status = {
  SUCCESS: 0x000,
  INVALID_OPCODE: 0x001,
  INVALID_FIELD: 0x002,
  DATA_TRANSFER_ERROR: 0x004,
  INVALID_NAMESPACE_OR_FORMAT: 0x00b,
  COMMAND_SEQUENCE_ERROR: 0x00c,
  PRP_OFFSET_INVALID: 0x013,
  LBA_OUT_OF_RANGE: 0x080,
  COMPLETION_QUEUE_INVALID: 0x100,
  INVALID_QUEUE_ID: 0x101,
  INVALID_QUEUE_SIZE: 0x102,
  ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED: 0x105,
  INVALID_INTERRUPT_VECTOR: 0x108,
  INVALID_LOG_PAGE: 0x109,
  INVALID_QUEUE_DELETION: 0x10c,
  FEATURE_ID_NOT_SAVEABLE: 0x10d,
  COMPARE_FAILURE: 0x285,
} as const;

/** CQE status word (without the phase bit): SC 8:1, SCT 11:9, DNR 15. Every error is final here
 *  (nothing in a simulated controller gets better by retrying), so errors carry DNR as QEMU's do. */
export function cqeStatus(code: number): number {
  if (code === 0) return 0;
  const sc = code & 0xff;
  const sct = (code >> 8) & 0x7;
  return (sc << 1) | (sct << 9) | (1 << 15);
}

const Admin = {
  DELETE_IO_SQ: 0x00,
  CREATE_IO_SQ: 0x01,
  GET_LOG_PAGE: 0x02,
  DELETE_IO_CQ: 0x04,
  CREATE_IO_CQ: 0x05,
  IDENTIFY: 0x06,
  ABORT: 0x08,
  SET_FEATURES: 0x09,
  GET_FEATURES: 0x0a,
  ASYNC_EVENT_REQUEST: 0x0c,
} as const;

const Nvm = { FLUSH: 0x00, WRITE: 0x01, READ: 0x02, COMPARE: 0x05, WRITE_ZEROES: 0x08 } as const;

const Feature = {
  ARBITRATION: 0x01,
  POWER_MANAGEMENT: 0x02,
  TEMPERATURE_THRESHOLD: 0x04,
  ERROR_RECOVERY: 0x05,
  VOLATILE_WRITE_CACHE: 0x06,
  NUMBER_OF_QUEUES: 0x07,
  INTERRUPT_COALESCING: 0x08,
  INTERRUPT_VECTOR_CONFIGURATION: 0x09,
  WRITE_ATOMICITY_NORMAL: 0x0a,
  ASYNC_EVENT_CONFIGURATION: 0x0b,
} as const;

// ---- configuration ---------------------------------------------------------------------------
/** One namespace (QEMU: an nvme-ns device, or the controller's own drive as namespace 1). */
export interface NvmeNamespaceOptions {
  /** 1..1024 (QEMU: nsid). */
  nsid: number;
  /** Logical block size, 512 or 4096 (default: the controller's blockSize). */
  blockSize?: number;
  /** Size in blocks (default: 64 MiB worth). */
  blocks?: number;
}

export interface NvmeModelOptions {
  serial?: string;
  modelNumber?: string;
  firmware?: string;
  /** Logical block size of the namespaces that do not give one: 512 or 4096. */
  blockSize?: number;
  /** Size in blocks of the namespaces that do not give one (default: 64 MiB worth). */
  blocks?: number;
  /** Active namespaces (default: namespace 1 only). NN, the highest id, is the largest nsid. */
  namespaces?: NvmeNamespaceOptions[];
  /** CAP.MQES: entries per I/O queue - 1, 1..2047 (default 2047, QEMU's). */
  mqes?: number;
  /** Maximum data transfer size, log2 of pages of 2^(12 + MPSMIN) bytes; 0 = unlimited. */
  mdts?: number;
  /** I/O queue pairs the controller supports (QEMU: max_ioqpairs, default 64). */
  maxIoQueuePairs?: number;
  /** MSI-X vectors (QEMU: msix_qsize, default 65). */
  msixVectors?: number;
  /** Queue entries processed per queue per poll before giving the others a turn. */
  burst?: number;
}

/** Options with every default filled in; each namespace with its block size and size. */
export type ResolvedNvmeOptions = Required<Omit<NvmeModelOptions, "blocks" | "namespaces">> & { namespaces: Required<NvmeNamespaceOptions>[] };

const DEFAULTS: Omit<ResolvedNvmeOptions, "namespaces"> & { namespaces: NvmeNamespaceOptions[] } = {
  serial: "WDSIM0001",
  modelNumber: "WarpDrive simulated NVMe controller",
  firmware: "1.0",
  blockSize: 512,
  namespaces: [{ nsid: 1 }],
  mqes: 2047,
  mdts: 7,
  maxIoQueuePairs: 64,
  msixVectors: 65,
  burst: 64,
};

/** Fills in the defaults and checks every option (a bad one is an Error naming it). */
export function resolveOptions(options: NvmeModelOptions): ResolvedNvmeOptions {
  const o = { ...DEFAULTS, ...options };
  const blockSizeOk = (b: number) => b === 512 || b === 4096;
  if (!blockSizeOk(o.blockSize)) throw new Error(`nvme model: block size ${o.blockSize} is not 512 or 4096`);
  if (!Number.isInteger(o.maxIoQueuePairs) || o.maxIoQueuePairs < 1 || o.maxIoQueuePairs > 64) {
    throw new Error(`nvme model: maxIoQueuePairs ${o.maxIoQueuePairs} outside 1..64 (BAR0 holds 65 doorbell pairs)`);
  }
  if (!Number.isInteger(o.msixVectors) || o.msixVectors < 1 || o.msixVectors > 2048) throw new Error(`nvme model: msixVectors ${o.msixVectors} outside 1..2048`);
  if (!Number.isInteger(o.mqes) || o.mqes < 1 || o.mqes > 2047) throw new Error(`nvme model: mqes ${o.mqes} outside 1..2047`);
  if (!Number.isInteger(o.mdts) || o.mdts < 0 || o.mdts > 20) throw new Error(`nvme model: mdts ${o.mdts} outside 0..20`);
  if (o.namespaces.length === 0) throw new Error("nvme model: at least one namespace");
  const seen = new Set<number>();
  const namespaces = o.namespaces.map((n) => {
    const blockSize = n.blockSize ?? o.blockSize;
    const blocks = n.blocks ?? options.blocks ?? (64 * 1024 * 1024) / blockSize;
    if (!Number.isInteger(n.nsid) || n.nsid < 1 || n.nsid > 1024 || seen.has(n.nsid)) throw new Error(`nvme model: namespace id ${n.nsid} is not a new id in 1..1024`);
    if (!blockSizeOk(blockSize)) throw new Error(`nvme model: namespace ${n.nsid}: block size ${blockSize} is not 512 or 4096`);
    if (!Number.isInteger(blocks) || blocks < 1 || blocks * blockSize > 1 << 30) throw new Error(`nvme model: namespace ${n.nsid}: ${blocks} blocks (1 GiB at most)`);
    seen.add(n.nsid);
    return { nsid: n.nsid, blockSize, blocks };
  });
  namespaces.sort((a, b) => a.nsid - b.nsid);
  return { ...o, namespaces };
}

/** What the controller needs from its surroundings: BAR0, DMA and MSI-X. A ModelContext has it. */
export interface ControllerPorts {
  bar: {
    read32(offset: number): number;
    write32(offset: number, value: number): void;
    read64(offset: number): bigint;
    write64(offset: number, value: bigint): void;
  };
  dma: ModelDma;
  raise(vector: number): void;
  log?(message: string): void;
}

interface SubmissionQueue {
  id: number;
  base: number;
  size: number;
  head: number;
  tail: number;
  cqid: number;
}

interface CompletionQueue {
  id: number;
  base: number;
  size: number;
  head: number;
  tail: number;
  phase: number;
  vector: number;
  irqEnabled: boolean;
  sqs: Set<number>;
  /** New entries posted since the last interrupt. */
  pending: boolean;
}

/** A command's outcome: a status code (Status.*) and the completion's DW0/DW1. */
interface Result {
  status: number;
  dw0?: number;
  dw1?: number;
}
/** Returned for a command the controller holds on to (Asynchronous Event Request). */
const DEFERRED = Symbol("deferred");

/** A parsed 64-byte submission queue entry. */
export interface Command {
  opcode: number;
  fuse: number;
  psdt: number;
  cid: number;
  nsid: number;
  prp1: number;
  prp2: number;
  cdw10: number;
  cdw11: number;
  cdw12: number;
  cdw13: number;
  cdw14: number;
  cdw15: number;
}

export function parseCommand(bytes: Uint8Array): Command {
  const v = new DataView(bytes.buffer, bytes.byteOffset, 64);
  const u64 = (o: number) => v.getUint32(o, true) + v.getUint32(o + 4, true) * 2 ** 32;
  const flags = v.getUint8(1);
  return {
    opcode: v.getUint8(0),
    fuse: flags & 0x3,
    psdt: flags >> 6,
    cid: v.getUint16(2, true),
    nsid: v.getUint32(4, true),
    prp1: u64(24),
    prp2: u64(32),
    cdw10: v.getUint32(40, true),
    cdw11: v.getUint32(44, true),
    cdw12: v.getUint32(48, true),
    cdw13: v.getUint32(52, true),
    cdw14: v.getUint32(56, true),
    cdw15: v.getUint32(60, true),
  };
}

// ---- PRP walking -------------------------------------------------------------------------------
/** One contiguous piece of a data transfer in host (IO virtual) memory. */
export interface Segment {
  iova: number;
  length: number;
}

/**
 * Turns PRP1/PRP2 into the list of host memory pieces that carry `length` bytes (spec 4.3):
 * PRP1 may start inside a page; if the rest fits in one page PRP2 is that page, otherwise PRP2
 * points to a PRP list whose entries are pages, the last entry of each list page chaining to the
 * next list page. Returns a status code instead when the PRPs are malformed or unreadable.
 */
export function walkPrps(
  dma: ModelDma,
  prp1: number,
  prp2: number,
  length: number,
  pageSize: number,
): Segment[] | number {
  if (prp1 % 4 !== 0) return Status.PRP_OFFSET_INVALID;
  const segments: Segment[] = [];
  const first = Math.min(length, pageSize - (prp1 % pageSize));
  segments.push({ iova: prp1, length: first });
  let remaining = length - first;
  if (remaining === 0) return segments;
  if (remaining <= pageSize) {
    if (prp2 % pageSize !== 0) return Status.PRP_OFFSET_INVALID;
    segments.push({ iova: prp2, length: remaining });
    return segments;
  }
  let list = prp2;
  if (list % 8 !== 0) return Status.PRP_OFFSET_INVALID;
  // Bounded by the number of pages the transfer can need: a malicious list cannot loop forever.
  for (let guard = Math.ceil(length / pageSize) + 1; guard > 0; guard--) {
    const slots = (pageSize - (list % pageSize)) / 8;
    const needed = Math.ceil(remaining / pageSize);
    // All of the rest fits in this list page, or its last slot chains to the next list page.
    const count = needed <= slots ? needed : slots;
    let raw: Uint8Array;
    try {
      raw = dma.read(list, count * 8);
    } catch (e) {
      if (e instanceof DmaFault) return Status.DATA_TRANSFER_ERROR;
      throw e;
    }
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) {
      const entry = v.getUint32(i * 8, true) + v.getUint32(i * 8 + 4, true) * 2 ** 32;
      if (i === slots - 1 && needed > slots) {
        if (entry % 8 !== 0) return Status.PRP_OFFSET_INVALID;
        list = entry;
        break;
      }
      if (entry % pageSize !== 0) return Status.PRP_OFFSET_INVALID;
      const take = Math.min(remaining, pageSize);
      const last = segments[segments.length - 1]!;
      // Merge physically adjacent pages so a contiguous buffer is one copy.
      if (last.iova + last.length === entry) last.length += take;
      else segments.push({ iova: entry, length: take });
      remaining -= take;
      if (remaining === 0) return segments;
    }
  }
  return Status.PRP_OFFSET_INVALID;
}

// ---- identify data -----------------------------------------------------------------------------
function putAscii(bytes: Uint8Array, offset: number, size: number, text: string, pad = 0x20) {
  bytes.fill(pad, offset, offset + size);
  for (let i = 0; i < Math.min(size, text.length); i++) bytes[offset + i] = text.charCodeAt(i) & 0x7f;
}

/** Identify Controller (CNS 01h), 4096 bytes, offsets per spec figure 247. */
export function identifyController(o: ResolvedNvmeOptions): Uint8Array {
  const b = new Uint8Array(4096);
  const v = new DataView(b.buffer);
  v.setUint16(0, 0x1b36, true); // VID: Red Hat (QEMU)
  v.setUint16(2, 0x1af4, true); // SSVID
  putAscii(b, 4, 20, o.serial);
  putAscii(b, 24, 40, o.modelNumber);
  putAscii(b, 64, 8, o.firmware);
  b[72] = 6; // RAB
  b.set([0x00, 0x54, 0x52], 73); // IEEE OUI 52:54:00, least significant byte first
  b[76] = 0; // CMIC
  b[77] = o.mdts;
  v.setUint16(78, 0, true); // CNTLID
  v.setUint32(80, VS_VALUE, true); // VER
  b[111] = 1; // CNTRLTYPE: I/O controller
  v.setUint16(256, 0, true); // OACS: no optional admin commands
  b[258] = 3; // ACL
  b[259] = 3; // AERL: four outstanding AERs
  b[260] = 0x03; // FRMW: one slot, slot 1 read-only
  b[261] = 0x04; // LPA: extended Get Log Page (offsets)
  b[262] = 3; // ELPE
  b[263] = 0; // NPSS: one power state
  v.setUint16(266, 0x157, true); // WCTEMP 343 K
  v.setUint16(268, 0x175, true); // CCTEMP 373 K
  b[512] = 0x66; // SQES: 64 bytes
  b[513] = 0x44; // CQES: 16 bytes
  v.setUint32(516, o.namespaces[o.namespaces.length - 1]!.nsid, true); // NN: the highest namespace id
  v.setUint16(520, (1 << 0) | (1 << 3), true); // ONCS: Compare, Write Zeroes
  b[525] = 1; // VWC: a volatile write cache is present (Flush means something)
  putAscii(b, 768, 256, `nqn.2026-11.dev.warpdrive:nvme:${o.serial}`, 0);
  // Power state 0: 25 W, 16 us entry, 4 us exit latency.
  v.setUint16(2048, 2500, true);
  v.setUint32(2048 + 4, 16, true);
  v.setUint32(2048 + 8, 4, true);
  return b;
}

/** Identify Namespace (CNS 00h), 4096 bytes, offsets per spec figure 249. */
export function identifyNamespace(o: ResolvedNvmeOptions, ns: Required<NvmeNamespaceOptions>): Uint8Array {
  const b = new Uint8Array(4096);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(ns.blocks), true); // NSZE
  v.setBigUint64(8, BigInt(ns.blocks), true); // NCAP
  v.setBigUint64(16, BigInt(ns.blocks), true); // NUSE
  b[24] = 0; // NSFEAT
  b[25] = 0; // NLBAF: one format
  b[26] = 0; // FLBAS: format 0, no metadata
  // NGUID / EUI64: stable, derived from the serial and the id so two namespaces or devices differ.
  for (let i = 0; i < 16; i++) b[104 + i] = (o.serial.charCodeAt(i % o.serial.length) * (i + 1) + ns.nsid) & 0xff;
  b.set([0x52, 0x54, 0x00, 0x00, 0x00, 0x00, 0x00, ns.nsid & 0xff], 120);
  v.setUint32(128, (Math.log2(ns.blockSize) << 16) | 0, true); // LBAF0: MS 0, LBADS, RP 0
  return b;
}

// ---- the controller --------------------------------------------------------------------------
/** An active namespace: its geometry, identify data and contents. */
interface Namespace {
  readonly nsid: number;
  readonly blockSize: number;
  readonly blocks: number;
  readonly id: Uint8Array;
  /** Survives controller and function resets, as a disk would. */
  readonly storage: Uint8Array;
}

export class NvmeController {
  readonly options: ResolvedNvmeOptions;
  /** Active namespaces by id. */
  readonly namespaces = new Map<number, Namespace>();
  private readonly ports: ControllerPorts;
  /** CC as last written (the model's copy; BAR0 memory shows the same). */
  private cc = 0;
  /** INTMS/INTMC mask. */
  private intMask = 0;
  private enabled = false;
  private shutdown = false;
  private fatal = false;
  private pageSize = 4096;
  private sqs = new Map<number, SubmissionQueue>();
  private cqs = new Map<number, CompletionQueue>();
  private ioQueuesCreated = false;
  private aers = 0;
  private features = new Map<number, number>();
  private readonly idCtrl: Uint8Array;
  /** CAP.MQES. */
  private readonly mqes: number;
  /** SMART counters: commands and 512-byte units (in thousands, per spec) moved. */
  private hostReads = 0;
  private hostWrites = 0;
  private bytesRead = 0;
  private bytesWritten = 0;

  /** `storage`: the namespaces' contents from before a reset (by nsid), kept as a disk keeps them. */
  constructor(ports: ControllerPorts, options: NvmeModelOptions = {}, storage?: ReadonlyMap<number, Uint8Array>) {
    this.options = resolveOptions(options);
    const o = this.options;
    this.ports = ports;
    this.mqes = o.mqes;
    for (const ns of o.namespaces) {
      const kept = storage?.get(ns.nsid);
      this.namespaces.set(ns.nsid, {
        ...ns,
        id: identifyNamespace(o, ns),
        storage: kept !== undefined && kept.length === ns.blocks * ns.blockSize ? kept : new Uint8Array(ns.blocks * ns.blockSize),
      });
    }
    this.idCtrl = identifyController(o);
    this.powerOn();
  }

  /** The first namespace's contents (namespace 1 in the default configuration). */
  get storage(): Uint8Array {
    return this.namespaces.values().next().value!.storage;
  }

  /** Every namespace's contents by id, for the controller that replaces this one after a reset. */
  get storages(): Map<number, Uint8Array> {
    return new Map([...this.namespaces].map(([id, ns]) => [id, ns.storage]));
  }

  /** Register reset values (the sim zeroes the page before init and reset). */
  powerOn(): void {
    const bar = this.ports.bar;
    bar.write64(REG.CAP, capValue(this.mqes));
    bar.write32(REG.VS, VS_VALUE);
    bar.write32(REG.CSTS, 0);
    this.cc = 0;
    this.intMask = 0;
    this.resetQueues();
    this.features.clear();
    this.enabled = false;
    this.shutdown = false;
    this.fatal = false;
  }

  get ready(): boolean {
    return this.enabled && !this.fatal;
  }

  /**
   * One client store to BAR0, in program order (the sim's write journal). Wider and narrower
   * stores are split into or merged with the aligned dwords they touch, so a 64-bit ASQ store and
   * two 32-bit halves land the same way. The model alone writes BAR0's memory: what a read returns.
   */
  write(offset: number, value: bigint, width: 8 | 16 | 32 | 64): void {
    if (width === 64) {
      this.writeDword(offset, Number(value & 0xffffffffn));
      this.writeDword(offset + 4, Number(value >> 32n));
      return;
    }
    if (width === 32) {
      this.writeDword(offset, Number(value));
      return;
    }
    const dword = offset & ~3;
    const shift = (offset & 3) * 8;
    const mask = (width === 8 ? 0xff : 0xffff) * 2 ** shift;
    const merged = (this.ports.bar.read32(dword) & ~mask) | ((Number(value) * 2 ** shift) & mask);
    this.writeDword(dword, merged >>> 0);
  }

  private writeDword(offset: number, v: number): void {
    const bar = this.ports.bar;
    if (offset >= REG.DOORBELLS && offset < REG.DOORBELLS + DOORBELL_PAIRS * 8) {
      this.doorbell((offset - REG.DOORBELLS) >> 3, (offset & 4) !== 0, v & 0xffff);
      return;
    }
    switch (offset) {
      case REG.INTMS: // set mask bits; both registers read the mask (pin/MSI only, unused with MSI-X)
      case REG.INTMC:
        this.intMask = offset === REG.INTMS ? (this.intMask | v) >>> 0 : (this.intMask & ~v) >>> 0;
        bar.write32(REG.INTMS, this.intMask);
        bar.write32(REG.INTMC, this.intMask);
        return;
      case REG.CC:
        this.onCc(v >>> 0);
        return;
      case REG.CSTS: // NSSRO is write-1-to-clear; the rest is read-only
        if (v & CSTS_NSSRO) bar.write32(REG.CSTS, bar.read32(REG.CSTS) & ~CSTS_NSSRO);
        return;
      case REG.AQA:
        bar.write32(REG.AQA, v & 0x0fff0fff);
        return;
      case REG.ASQ:
      case REG.ACQ:
      case REG.ASQ + 4:
      case REG.ACQ + 4:
        // Stored as written (as QEMU does); a base that is not page aligned refuses the enable.
        bar.write32(offset, v);
        return;
      default:
        // CAP, VS and NSSR (CAP.NSSRS = 0, as in QEMU) ignore writes; CMB/PMR/boot partitions are
        // not implemented and read as 0.
        return;
    }
  }

  /** A doorbell store: the new SQ tail or CQ head of queue `qid`; ignored for queues that do not exist. */
  private doorbell(qid: number, cqHead: boolean, value: number): void {
    if (!this.enabled) return;
    if (cqHead) {
      const cq = this.cqs.get(qid);
      // A head beyond the queue is an invalid doorbell write; ignored, as QEMU does.
      if (cq !== undefined && value < cq.size) cq.head = value;
    } else {
      const sq = this.sqs.get(qid);
      if (sq !== undefined && value < sq.size) sq.tail = value;
    }
  }

  /** One round: execute what the submission queues hold. True when anything happened. */
  poll(): boolean {
    if (!this.enabled || this.fatal || this.shutdown) return false;
    return this.processQueues();
  }

  private setCsts(update: (csts: number) => number) {
    const bar = this.ports.bar;
    bar.write32(REG.CSTS, update(bar.read32(REG.CSTS)) >>> 0);
  }

  private onCc(cc: number) {
    const old = this.cc;
    this.cc = cc;
    this.ports.bar.write32(REG.CC, cc);
    const wasEn = old & 1;
    const en = cc & 1;
    if (wasEn && !en) {
      // Controller reset: queues and pending commands vanish, RDY and CFS drop, and CC reads back
      // as 0 (QEMU 7.2 does the same).
      this.resetQueues();
      this.enabled = false;
      this.shutdown = false;
      this.fatal = false;
      this.cc = 0;
      this.ports.bar.write32(REG.CC, 0);
      this.ports.bar.write32(REG.CSTS, this.ports.bar.read32(REG.CSTS) & CSTS_NSSRO);
      return;
    }
    if (!wasEn && en) {
      if (this.start(cc)) {
        this.enabled = true;
        this.setCsts((c) => c | CSTS_RDY);
      } else {
        // QEMU reports a refused enable as a controller fatal status with RDY left at 0.
        this.fatal = true;
        this.setCsts((c) => c | CSTS_CFS);
      }
    }
    const shn = (cc >> 14) & 3;
    const oldShn = (old >> 14) & 3;
    if (shn !== 0 && oldShn === 0) {
      // Shutdown: nothing is buffered in this model, so processing is complete at once.
      this.shutdown = true;
      this.resetQueues();
      this.setCsts((c) => (c & ~(3 << CSTS_SHST_SHIFT)) | (SHST_COMPLETE << CSTS_SHST_SHIFT));
    } else if (shn === 0 && oldShn !== 0) {
      this.shutdown = false;
      this.setCsts((c) => c & ~(3 << CSTS_SHST_SHIFT));
    }
  }

  /** CC.EN 0 -> 1: checks the admin queue setup the way QEMU does; false refuses the enable. */
  private start(cc: number): boolean {
    const bar = this.ports.bar;
    const mps = (cc >> 7) & 0xf;
    const css = (cc >> 4) & 0x7;
    const iosqes = (cc >> 16) & 0xf;
    const iocqes = (cc >> 20) & 0xf;
    const aqa = bar.read32(REG.AQA);
    const asqs = (aqa & 0xfff) + 1;
    const acqs = ((aqa >> 16) & 0xfff) + 1;
    const asq = Number(bar.read64(REG.ASQ));
    const acq = Number(bar.read64(REG.ACQ));
    const page = 2 ** (12 + mps);
    const why =
      mps < MPSMIN || mps > MPSMAX ? `CC.MPS ${mps} outside CAP.MPSMIN..MPSMAX (${MPSMIN}..${MPSMAX})`
      : css !== 0 && css !== 6 && css !== 7 ? `CC.CSS ${css} is not a supported command set`
      : iosqes !== 6 ? `CC.IOSQES ${iosqes} is not 6 (64-byte entries)`
      : iocqes !== 4 ? `CC.IOCQES ${iocqes} is not 4 (16-byte entries)`
      : asqs < 2 || acqs < 2 ? `AQA sizes ${asqs}/${acqs}: admin queues need at least 2 entries`
      : asq === 0 || acq === 0 ? "ASQ or ACQ is 0"
      : asq % page !== 0 || acq % page !== 0 ? `ASQ 0x${asq.toString(16)} / ACQ 0x${acq.toString(16)} not aligned to the ${page}-byte page`
      : undefined;
    if (why !== undefined) {
      this.ports.log?.(`enable refused: ${why}`);
      return false;
    }
    this.pageSize = page;
    this.cqs.set(0, { id: 0, base: acq, size: acqs, head: 0, tail: 0, phase: 1, vector: 0, irqEnabled: true, sqs: new Set([0]), pending: false });
    this.sqs.set(0, { id: 0, base: asq, size: asqs, head: 0, tail: 0, cqid: 0 });
    return true;
  }

  private resetQueues() {
    this.sqs.clear();
    this.cqs.clear();
    this.ioQueuesCreated = false;
    this.aers = 0;
  }

  private processQueues(): boolean {
    // The idle poll (the host runs it back to back while waiting for a doorbell): no SQ has entries,
    // so nothing can be fetched and no interrupt is owed (post() only happens below). Return before
    // copying the queue list.
    let any = false;
    for (const sq of this.sqs.values()) {
      if (sq.head !== sq.tail) {
        any = true;
        break;
      }
    }
    if (!any) return false;
    let worked = false;
    for (const sq of [...this.sqs.values()]) {
      if (!this.sqs.has(sq.id)) continue; // deleted by an earlier command of this round
      for (let n = 0; n < this.options.burst && sq.head !== sq.tail && !this.fatal; n++) {
        const cq = this.cqs.get(sq.cqid);
        if (cq === undefined || (cq.tail + 1) % cq.size === cq.head) break; // CQ full: wait for the host
        let entry: Uint8Array;
        try {
          entry = this.ports.dma.read(sq.base + sq.head * 64, 64);
        } catch (e) {
          if (!(e instanceof DmaFault)) throw e;
          this.die(`cannot fetch SQ ${sq.id} entry ${sq.head}: ${e.message}`);
          break;
        }
        sq.head = (sq.head + 1) % sq.size;
        const cmd = parseCommand(entry);
        const result = sq.id === 0 ? this.admin(cmd) : this.io(cmd);
        worked = true;
        if (result !== DEFERRED) this.post(cq, sq, cmd.cid, result);
      }
      // More to do (burst limit) — but a full CQ is not work: the host's head doorbell will come
      // through the journal and wake the model.
      if (sq.head !== sq.tail && !this.fatal) {
        const cq = this.cqs.get(sq.cqid);
        if (cq !== undefined && (cq.tail + 1) % cq.size !== cq.head) worked = true;
      }
    }
    for (const cq of this.cqs.values()) {
      if (cq.pending && cq.irqEnabled) this.ports.raise(cq.vector);
      cq.pending = false;
    }
    return worked;
  }

  /** Something the host did leaves the controller unable to go on: CSTS.CFS, until a reset. */
  private die(why: string) {
    this.ports.log?.(`controller fatal status: ${why}`);
    this.fatal = true;
    this.setCsts((c) => c | CSTS_CFS);
  }

  private post(cq: CompletionQueue, sq: SubmissionQueue, cid: number, r: Result) {
    let slot: Uint8Array;
    try {
      slot = this.ports.dma.view(cq.base + cq.tail * 16, 16);
    } catch (e) {
      if (!(e instanceof DmaFault)) throw e;
      this.die(`cannot post to CQ ${cq.id} entry ${cq.tail}: ${e.message}`);
      return;
    }
    const v = new DataView(slot.buffer, slot.byteOffset, 16);
    v.setUint32(0, r.dw0 ?? 0, true);
    v.setUint32(4, r.dw1 ?? 0, true);
    v.setUint16(8, sq.head, true);
    v.setUint16(10, sq.id, true);
    v.setUint16(12, cid, true);
    // The status word carries the phase tag the host polls on, so it is stored last and with a
    // sequentially consistent store: the host must never see the new phase before the rest.
    Atomics.store(new Uint16Array(slot.buffer, slot.byteOffset + 14, 1), 0, cqeStatus(r.status) | cq.phase);
    cq.tail++;
    if (cq.tail === cq.size) {
      cq.tail = 0;
      cq.phase ^= 1;
    }
    cq.pending = true;
  }

  // ---- admin command set -------------------------------------------------------------------
  private admin(c: Command): Result | typeof DEFERRED {
    if (c.fuse !== 0 || c.psdt !== 0) return { status: Status.INVALID_FIELD }; // no fused ops, no SGLs
    switch (c.opcode) {
      case Admin.IDENTIFY:
        return this.identify(c);
      case Admin.CREATE_IO_CQ:
        return this.createCq(c);
      case Admin.CREATE_IO_SQ:
        return this.createSq(c);
      case Admin.DELETE_IO_SQ:
        return this.deleteSq(c);
      case Admin.DELETE_IO_CQ:
        return this.deleteCq(c);
      case Admin.GET_FEATURES:
        return this.getFeatures(c);
      case Admin.SET_FEATURES:
        return this.setFeatures(c);
      case Admin.GET_LOG_PAGE:
        return this.getLogPage(c);
      case Admin.ABORT:
        // Commands complete as soon as they are fetched, so there is never one to abort: DW0 bit 0
        // set means "not aborted".
        return { status: Status.SUCCESS, dw0: 1 };
      case Admin.ASYNC_EVENT_REQUEST:
        // Held until an event occurs; this model raises none. Dropped on reset.
        if (this.aers >= this.idCtrl[259]! + 1) return { status: Status.ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED };
        this.aers++;
        return DEFERRED;
      default:
        return { status: Status.INVALID_OPCODE };
    }
  }

  /** Copies `data` to the host through the command's PRPs. */
  private toHost(c: Command, data: Uint8Array): number {
    const segs = walkPrps(this.ports.dma, c.prp1, c.prp2, data.length, this.pageSize);
    if (typeof segs === "number") return segs;
    let at = 0;
    try {
      for (const s of segs) {
        this.ports.dma.write(s.iova, data.subarray(at, at + s.length));
        at += s.length;
      }
    } catch (e) {
      if (e instanceof DmaFault) return Status.DATA_TRANSFER_ERROR;
      throw e;
    }
    return Status.SUCCESS;
  }

  /** NN: the highest namespace id (Identify Controller says the same). */
  private get nn(): number {
    return this.options.namespaces[this.options.namespaces.length - 1]!.nsid;
  }

  /** 1..NN: an id the controller knows, active or not. */
  private validNsid(nsid: number): boolean {
    return nsid >= 1 && nsid <= this.nn;
  }

  /**
   * The namespace an I/O command names, or its status: an id outside 1..NN is an invalid
   * namespace, an id inside it with no active namespace is an invalid field (spec 1.4 section
   * 6.1.5; QEMU answers the same).
   */
  private ioNamespace(nsid: number): Namespace | number {
    if (!this.validNsid(nsid)) return Status.INVALID_NAMESPACE_OR_FORMAT;
    return this.namespaces.get(nsid) ?? Status.INVALID_FIELD;
  }

  private identify(c: Command): Result {
    const cns = c.cdw10 & 0xff;
    let data: Uint8Array;
    switch (cns) {
      case 0x00:
        if (!this.validNsid(c.nsid)) return { status: Status.INVALID_NAMESPACE_OR_FORMAT };
        // An id in 1..NN without an active namespace: a zero-filled structure (spec 1.4, CNS 00h).
        data = this.namespaces.get(c.nsid)?.id ?? new Uint8Array(4096);
        break;
      case 0x01:
        data = this.idCtrl;
        break;
      case 0x02: {
        // Active namespace ids greater than NSID, ascending.
        if (c.nsid >= 0xfffffffe) return { status: Status.INVALID_NAMESPACE_OR_FORMAT };
        data = new Uint8Array(4096);
        const list = new DataView(data.buffer);
        let n = 0;
        for (const id of this.namespaces.keys()) if (id > c.nsid && n < 1024) list.setUint32(4 * n++, id, true);
        break;
      }
      case 0x03: {
        // Namespace identification descriptors: the NGUID (type 2, 16 bytes) and the command set
        // identifier (type 4, 1 byte: NVM).
        if (!this.validNsid(c.nsid)) return { status: Status.INVALID_NAMESPACE_OR_FORMAT };
        const ns = this.namespaces.get(c.nsid);
        if (ns === undefined) return { status: Status.INVALID_FIELD };
        data = new Uint8Array(4096);
        data.set([2, 16, 0, 0], 0);
        data.set(ns.id.subarray(104, 120), 4);
        data.set([4, 1, 0, 0, 0], 20);
        break;
      }
      default:
        return { status: Status.INVALID_FIELD };
    }
    return { status: this.toHost(c, data) };
  }

  private createCq(c: Command): Result {
    const qid = c.cdw10 & 0xffff;
    const qsize = c.cdw10 >>> 16;
    const pc = c.cdw11 & 1;
    const ien = (c.cdw11 >> 1) & 1;
    const iv = c.cdw11 >>> 16;
    if (qid === 0 || qid > this.options.maxIoQueuePairs || this.cqs.has(qid)) return { status: Status.INVALID_QUEUE_ID };
    if (qsize === 0 || qsize > this.mqes) return { status: Status.INVALID_QUEUE_SIZE };
    if (c.prp1 % this.pageSize !== 0) return { status: Status.PRP_OFFSET_INVALID };
    if (iv >= this.options.msixVectors) return { status: Status.INVALID_INTERRUPT_VECTOR };
    if (!pc) return { status: Status.INVALID_FIELD }; // CAP.CQR: only contiguous queues
    this.cqs.set(qid, { id: qid, base: c.prp1, size: qsize + 1, head: 0, tail: 0, phase: 1, vector: iv, irqEnabled: ien === 1, sqs: new Set(), pending: false });
    this.ioQueuesCreated = true;
    return { status: Status.SUCCESS };
  }

  private createSq(c: Command): Result {
    const qid = c.cdw10 & 0xffff;
    const qsize = c.cdw10 >>> 16;
    const pc = c.cdw11 & 1;
    const cqid = c.cdw11 >>> 16;
    if (cqid === 0 || !this.cqs.has(cqid)) return { status: Status.COMPLETION_QUEUE_INVALID };
    if (qid === 0 || qid > this.options.maxIoQueuePairs || this.sqs.has(qid)) return { status: Status.INVALID_QUEUE_ID };
    if (qsize === 0 || qsize > this.mqes) return { status: Status.INVALID_QUEUE_SIZE };
    if (c.prp1 % this.pageSize !== 0) return { status: Status.PRP_OFFSET_INVALID };
    if (!pc) return { status: Status.INVALID_FIELD };
    this.sqs.set(qid, { id: qid, base: c.prp1, size: qsize + 1, head: 0, tail: 0, cqid });
    this.cqs.get(cqid)!.sqs.add(qid);
    return { status: Status.SUCCESS };
  }

  private deleteSq(c: Command): Result {
    const qid = c.cdw10 & 0xffff;
    const sq = this.sqs.get(qid);
    if (qid === 0 || sq === undefined) return { status: Status.INVALID_QUEUE_ID };
    // Commands are executed when fetched, so nothing is left to abort on this queue.
    this.sqs.delete(qid);
    this.cqs.get(sq.cqid)?.sqs.delete(qid);
    return { status: Status.SUCCESS };
  }

  private deleteCq(c: Command): Result {
    const qid = c.cdw10 & 0xffff;
    const cq = this.cqs.get(qid);
    // As QEMU's controller answers: a CQ id with no queue behind it is "completion queue invalid".
    if (qid === 0 || cq === undefined) return { status: Status.COMPLETION_QUEUE_INVALID };
    if (cq.sqs.size > 0) return { status: Status.INVALID_QUEUE_DELETION };
    this.cqs.delete(qid);
    return { status: Status.SUCCESS };
  }

  private featureDefault(fid: number): number | undefined {
    const n = this.options.maxIoQueuePairs - 1;
    switch (fid) {
      case Feature.ARBITRATION:
      case Feature.POWER_MANAGEMENT:
      case Feature.ERROR_RECOVERY:
      case Feature.INTERRUPT_COALESCING:
      case Feature.WRITE_ATOMICITY_NORMAL:
      case Feature.ASYNC_EVENT_CONFIGURATION:
        return 0;
      case Feature.TEMPERATURE_THRESHOLD:
        return 0x157; // WCTEMP, over-temperature, composite sensor
      case Feature.VOLATILE_WRITE_CACHE:
        return 1;
      case Feature.NUMBER_OF_QUEUES:
        return n | (n << 16);
      case Feature.INTERRUPT_VECTOR_CONFIGURATION:
        return 0;
      default:
        return undefined;
    }
  }

  private getFeatures(c: Command): Result {
    const fid = c.cdw10 & 0xff;
    const sel = (c.cdw10 >> 8) & 0x7;
    const dflt = this.featureDefault(fid);
    if (dflt === undefined) return { status: Status.INVALID_FIELD };
    if (fid === Feature.INTERRUPT_VECTOR_CONFIGURATION) {
      const iv = c.cdw11 & 0xffff;
      if (iv >= this.options.msixVectors) return { status: Status.INVALID_FIELD };
      return { status: Status.SUCCESS, dw0: this.features.get(fid * 0x10000 + iv) ?? iv };
    }
    switch (sel) {
      case 0: // current
        return { status: Status.SUCCESS, dw0: this.features.get(fid) ?? dflt };
      case 1: // default
      case 2: // saved: nothing is saveable, so the default (spec 5.15)
        return { status: Status.SUCCESS, dw0: dflt };
      case 3: // supported capabilities: changeable, not saveable, not namespace specific
        return { status: Status.SUCCESS, dw0: fid === Feature.NUMBER_OF_QUEUES ? 0 : 0b100 };
      default:
        return { status: Status.INVALID_FIELD };
    }
  }

  private setFeatures(c: Command): Result {
    const fid = c.cdw10 & 0xff;
    const save = c.cdw10 >>> 31;
    if (this.featureDefault(fid) === undefined) return { status: Status.INVALID_FIELD };
    if (save) return { status: Status.FEATURE_ID_NOT_SAVEABLE };
    switch (fid) {
      case Feature.NUMBER_OF_QUEUES: {
        const nsqr = c.cdw11 & 0xffff;
        const ncqr = c.cdw11 >>> 16;
        if (nsqr === 0xffff || ncqr === 0xffff) return { status: Status.INVALID_FIELD };
        // Spec 5.21.1.7: only before the first I/O queue is created.
        if (this.ioQueuesCreated) return { status: Status.COMMAND_SEQUENCE_ERROR };
        // Like QEMU, always grants every queue it has, whatever was asked.
        return { status: Status.SUCCESS, dw0: this.featureDefault(fid) };
      }
      case Feature.INTERRUPT_VECTOR_CONFIGURATION: {
        const iv = c.cdw11 & 0xffff;
        if (iv >= this.options.msixVectors) return { status: Status.INVALID_FIELD };
        this.features.set(fid * 0x10000 + iv, c.cdw11);
        return { status: Status.SUCCESS };
      }
      case Feature.VOLATILE_WRITE_CACHE:
        this.features.set(fid, c.cdw11 & 1);
        return { status: Status.SUCCESS };
      default:
        this.features.set(fid, c.cdw11);
        return { status: Status.SUCCESS };
    }
  }

  private getLogPage(c: Command): Result {
    const lid = c.cdw10 & 0xff;
    const dwords = ((c.cdw11 & 0xffff) * 0x10000 + (c.cdw10 >>> 16)) + 1;
    const offset = c.cdw12 + c.cdw13 * 2 ** 32;
    let page: Uint8Array;
    switch (lid) {
      case 0x01: // error information: no errors logged, 4 entries of 64 bytes
        page = new Uint8Array(64 * (this.idCtrl[262]! + 1));
        break;
      case 0x02: {
        // SMART / health information.
        page = new Uint8Array(512);
        const v = new DataView(page.buffer);
        v.setUint16(1, 0x143, true); // composite temperature, 323 K
        page[3] = 100; // available spare %
        page[4] = 10; // available spare threshold %
        v.setBigUint64(32, BigInt(Math.ceil(this.bytesRead / 512_000)), true);
        v.setBigUint64(48, BigInt(Math.ceil(this.bytesWritten / 512_000)), true);
        v.setBigUint64(64, BigInt(this.hostReads), true);
        v.setBigUint64(80, BigInt(this.hostWrites), true);
        break;
      }
      case 0x03: // firmware slot information: slot 1 active
        page = new Uint8Array(512);
        page[0] = 1;
        page.set(this.idCtrl.subarray(64, 72), 8);
        break;
      default:
        return { status: Status.INVALID_LOG_PAGE };
    }
    if (offset % 4 !== 0 || offset >= page.length) return { status: Status.INVALID_FIELD };
    // The transfer is bounded by MDTS like any other (QEMU checks the same), or by 1 MiB without
    // one: a host asking for 2^32 dwords must not make the model allocate them.
    const limit = this.options.mdts > 0 ? 4096 * 2 ** this.options.mdts : 1 << 20;
    if (dwords * 4 > limit) return { status: Status.INVALID_FIELD };
    const out = new Uint8Array(dwords * 4);
    out.set(page.subarray(offset, Math.min(page.length, offset + out.length)));
    return { status: this.toHost(c, out) };
  }

  // ---- NVM command set ------------------------------------------------------------------------
  private io(c: Command): Result {
    if (c.fuse !== 0 || c.psdt !== 0) return { status: Status.INVALID_FIELD };
    const css = (this.cc >> 4) & 7;
    if (css === 7) return { status: Status.INVALID_OPCODE }; // admin-only: no I/O command set
    // Flush may name every namespace (0xffffffff); any other command must name an active one, and
    // that is checked before the opcode, as QEMU does: an unknown opcode on an inactive namespace
    // is an invalid field, not an invalid opcode.
    if (c.opcode === Nvm.FLUSH && c.nsid === 0xffffffff) return { status: Status.SUCCESS };
    const ns = this.ioNamespace(c.nsid);
    if (typeof ns === "number") return { status: ns };
    switch (c.opcode) {
      case Nvm.FLUSH:
        return { status: Status.SUCCESS };
      case Nvm.READ:
      case Nvm.WRITE:
      case Nvm.COMPARE:
      case Nvm.WRITE_ZEROES:
        return this.rw(c, ns);
      default:
        return { status: Status.INVALID_OPCODE };
    }
  }

  private rw(c: Command, ns: Namespace): Result {
    const bs = ns.blockSize;
    const storage = ns.storage;
    const slba = c.cdw10 + c.cdw11 * 2 ** 32;
    const nlb = (c.cdw12 & 0xffff) + 1;
    const bytes = nlb * bs;
    const hasData = c.opcode !== Nvm.WRITE_ZEROES;
    // MDTS is in units of the minimum page size (CAP.MPSMIN = 4 KiB) and bounds data transfers only.
    if (hasData && this.options.mdts > 0 && bytes > 4096 * 2 ** this.options.mdts) return { status: Status.INVALID_FIELD };
    if (slba + nlb > ns.blocks) return { status: Status.LBA_OUT_OF_RANGE };
    const at = slba * bs;
    if (c.opcode === Nvm.WRITE_ZEROES) {
      storage.fill(0, at, at + bytes);
      return { status: Status.SUCCESS };
    }
    const segs = walkPrps(this.ports.dma, c.prp1, c.prp2, bytes, this.pageSize);
    if (typeof segs === "number") return { status: segs };
    const dma = this.ports.dma;
    // Writes check every piece first so a bad PRP never leaves a half-written range behind.
    if (c.opcode !== Nvm.READ && !segs.every((s) => dma.mapped(s.iova, s.length))) return { status: Status.DATA_TRANSFER_ERROR };
    let pos = at;
    try {
      for (const s of segs) {
        if (c.opcode === Nvm.READ) {
          dma.write(s.iova, storage.subarray(pos, pos + s.length));
        } else if (c.opcode === Nvm.WRITE) {
          storage.set(dma.view(s.iova, s.length), pos);
        } else {
          const host = dma.view(s.iova, s.length);
          const disk = storage.subarray(pos, pos + s.length);
          for (let i = 0; i < s.length; i++) if (host[i] !== disk[i]) return { status: Status.COMPARE_FAILURE };
        }
        pos += s.length;
      }
    } catch (e) {
      if (e instanceof DmaFault) return { status: Status.DATA_TRANSFER_ERROR };
      throw e;
    }
    if (c.opcode === Nvm.READ) {
      this.hostReads++;
      this.bytesRead += bytes;
    } else if (c.opcode === Nvm.WRITE) {
      this.hostWrites++;
      this.bytesWritten += bytes;
    }
    return { status: Status.SUCCESS };
  }
}

// ---- the sim backend's entry point -----------------------------------------------------------
interface ModelState {
  controller: NvmeController;
  /** BAR0's write journal, looked up once (poll runs millions of times). */
  writes: WriteLog;
  /** The journal handler, bound once (poll runs millions of times). */
  onWrite: (offset: number, value: bigint, width: 8 | 16 | 32 | 64) => void;
}

function state(ctx: ModelContext, options: NvmeModelOptions, storage?: ReadonlyMap<number, Uint8Array>): ModelState {
  const ports: ControllerPorts = { bar: ctx.region("bar0"), dma: ctx.dma, raise: (v) => ctx.raise(v), log: (m) => ctx.log(m) };
  const controller = new NvmeController(ports, options, storage);
  return { controller, writes: ctx.writes("bar0"), onWrite: (o, v, w) => controller.write(o, v, w) };
}

/**
 * Options a device spec carries for its model (`spec.modelOptions`, sim backend only): the same
 * model module then presents another controller, e.g. the configurations test/hw runs on the sim.
 */
function specOptions(ctx: ModelContext): NvmeModelOptions {
  return (ctx.spec.modelOptions ?? {}) as NvmeModelOptions;
}

/** A model with non-default options (serial, size, MDTS...), e.g. for a test's own spec. */
export function createNvmeModel(options: NvmeModelOptions = {}): DeviceModel<ModelState> {
  return defineModel<ModelState>({
    name: "nvme",
    // Every BAR0 store is an event: CC.EN edges are never lost (EN 0 then 1 between two polls is
    // a reset and an enable), doorbells need no memory to compare against, and a read after a
    // write sees its effect, as with QEMU's synchronous MMIO handlers.
    journal: ["bar0"],
    init: (ctx) => state(ctx, { ...options, ...specOptions(ctx) }),
    poll: (ctx, s) => {
      const writes = s.writes.drain(s.onWrite);
      return s.controller.poll() || writes > 0;
    },
    // A function-level reset clears the controller but not the medium.
    reset: (ctx, s) => state(ctx, { ...options, ...specOptions(ctx) }, s.controller.storages),
  });
}

export default createNvmeModel();
