// NVMe driver logic that the device description cannot say: bring-up (NVMe Base Specification 1.4
// section 7.6.1), admin commands, I/O queue pairs, data transfers described by PRPs, and shutdown.
// Built on the generated client (@warpdrive/nvme) and the runtime's Device and SqCqQueue; the same
// code drives the sim model and a real controller through vfio.
//
// Once the device is open, calls are synchronous: a command is sent, the doorbell rung and the
// completion awaited with recvSync (spin, then sleep on the queue's MSI-X eventfd). For I/O there is
// also a pipelined level (trySubmit / reap) that keeps a queue full without waiting per command.
import {
  AsyncQueue, ConfigError, TimeoutError, WarpDriveError, type DmaBuffer, type DmaRef, type Encoder, type Queue, type SqCqQueue, type SubmitOptions,
} from "@warpdrive/runtime";
import type { Device, DeviceOptions } from "@warpdrive/runtime";
import { NvmeDevice } from "@warpdrive/nvme-generated/client";
import type { Bar0Registers, CapFields } from "@warpdrive/nvme-generated/registers";
import { Cqe, IdentifyController, IdentifyNamespace, SmartLog, type IdentifyControllerData, type IdentifyNamespaceData, type SmartLogData } from "@warpdrive/nvme-generated/structs";
import {
  Arbitration,
  CommandSet,
  CommandSpecificStatus,
  FeatureId,
  GenericStatus,
  IdentifyCns,
  LogPageId,
  MediaStatus,
  PathStatus,
  ShutdownNotification,
  ShutdownStatus,
  StatusCodeType,
} from "@warpdrive/nvme-generated/enums";
import {
  encodeCreateIoCq,
  encodeCreateIoSq,
  encodeDeleteIoCq,
  encodeDeleteIoSq,
  encodeFlush,
  encodeGetFeatures,
  encodeGetLogPage,
  encodeIdentify,
  encodeRead,
  encodeSetNumberOfQueues,
  encodeWrite,
} from "@warpdrive/nvme-generated/commands";
import { BROADCAST_NSID, IDENTIFY_DATA_SIZE, IOCQES, IOSQES, MPS_BASE_SHIFT } from "@warpdrive/nvme-generated/constants";

// ---- errors ----------------------------------------------------------------------------------

const STATUS_TABLES: Record<number, Record<string, number>> = {
  [StatusCodeType.GENERIC]: GenericStatus,
  [StatusCodeType.COMMAND_SPECIFIC]: CommandSpecificStatus,
  [StatusCodeType.MEDIA_AND_DATA_INTEGRITY]: MediaStatus,
  [StatusCodeType.PATH_RELATED]: PathStatus,
};

/** "LBA_OUT_OF_RANGE", "INVALID_QUEUE_ID", or "SCT 7 SC 0x12" for codes the spec tables lack. */
export function statusName(sct: number, sc: number): string {
  const table = STATUS_TABLES[sct];
  if (table !== undefined) {
    for (const [name, value] of Object.entries(table)) if (value === sc) return name;
  }
  return `SCT ${sct} SC 0x${sc.toString(16).padStart(2, "0")}`;
}

/** A command completed with a non-zero status. `status` is the spec name of (sct, sc). */
export class NvmeStatusError extends WarpDriveError {
  readonly command: string;
  readonly queue: string;
  readonly sct: number;
  readonly sc: number;
  readonly status: string;
  /** Do Not Retry: the same command would fail again. */
  readonly dnr: boolean;
  readonly dw0: number;
  constructor(command: string, queue: string, statusWord: number, dw0: number) {
    const sc = (statusWord >> 1) & 0xff;
    const sct = (statusWord >> 9) & 0x7;
    const name = statusName(sct, sc);
    const table = ["generic", "command specific", "media and data integrity", "path related"][sct] ?? `type ${sct}`;
    super(`nvme ${command} on ${queue} failed: ${name} (${table} status 0x${sc.toString(16).padStart(2, "0")})`, {
      hint: hintFor(name),
    });
    this.command = command;
    this.queue = queue;
    this.sct = sct;
    this.sc = sc;
    this.status = name;
    this.dnr = ((statusWord >> 15) & 1) === 1;
    this.dw0 = dw0;
  }
}

function hintFor(status: string): string | undefined {
  switch (status) {
    case "LBA_OUT_OF_RANGE":
      return "the blocks requested lie past the namespace's size (Identify Namespace NSZE)";
    case "DATA_TRANSFER_ERROR":
      return "the controller could not reach the data buffer: is it shared with this device?";
    case "INVALID_NAMESPACE_OR_FORMAT":
      return "use a namespace id from Identify (1..NN, active)";
    case "INVALID_QUEUE_ID":
      return "queue ids run from 1 to the number granted by Set Features / Number of Queues, and each is created once";
    case "INVALID_QUEUE_SIZE":
      return "queue depth must be 2..CAP.MQES+1";
    default:
      return undefined;
  }
}

/** The controller itself failed (CSTS.CFS) or would not change state in time. */
export class NvmeControllerError extends WarpDriveError {}

// ---- options ---------------------------------------------------------------------------------

export interface NvmeOptions {
  /** Backend and address, as for Device.open (default: $WD_BACKEND, $WD_DEVICE_NVME / $WD_DEVICE). */
  backend?: DeviceOptions["backend"];
  address?: string;
  /** Admin queue depth (2..4096). */
  adminDepth?: number;
  /** I/O queue pairs wanted (each gets its own SQ and CQ); 0 for the admin queue only. The
   *  controller may grant fewer (Set Features / Number of Queues): `io.length` is what was created. */
  ioQueues?: number;
  /** I/O queue depth wanted (2..4096); a controller with a smaller CAP.MQES + 1 gets that instead, as
   *  the kernel's driver does (`ioDepth` on the Nvme object is the depth in use). */
  ioDepth?: number;
  /** How long one command may take before TimeoutError (QEMU under TCG is slow: be generous). */
  commandTimeoutMs?: number;
  /** Namespace to use for read/write/flush (default: the first active one, Identify CNS 02h). */
  nsid?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

// ---- the controller --------------------------------------------------------------------------

/** What a pipelined command on an I/O queue is: kept per tag in typed arrays, described only on demand. */
const enum IoOp {
  None = 0,
  Read = 1,
  Write = 2,
  Flush = 3,
}

/** Parameters of the next read or write, reused: submitting builds no object per command. */
interface IoParams {
  nsid: number;
  buffer: DmaRef | undefined;
  prp2: number;
  slba: number | bigint;
  nlb: number;
}

/**
 * One I/O queue pair plus the PRP list pages its in-flight commands use. Everything per command is
 * kept per tag in arrays sized once (no Map, no string, no closure per I/O): the text of a command
 * ("read LBA 8 +16") is made only when someone asks (an error, `pending`).
 */
export class NvmeIoQueue {
  readonly id: number;
  readonly queue: SqCqQueue;
  /** One page per in-flight command: PRP lists for transfers spanning more than two pages. */
  readonly prpLists: DmaBuffer;
  /** The reused parameters of the next read/write (see Nvme.trySubmit). */
  readonly params: IoParams = { nsid: 0, buffer: undefined, prp2: 0, slba: 0, nlb: 0 };
  /** The reused completion accessor. */
  readonly cqe: Cqe;
  readonly #op: Uint8Array;
  readonly #lba: (number | bigint)[];
  readonly #blocks: Uint32Array;
  readonly #pageOfTag: Int32Array;
  readonly #freePages: Int32Array;
  #freeTop = 0;
  #count = 0;

  constructor(id: number, queue: SqCqQueue, prpLists: DmaBuffer, pageSize: number) {
    this.id = id;
    this.queue = queue;
    this.prpLists = prpLists;
    this.cqe = new Cqe(queue.completionView);
    const tags = queue.sqDepth;
    this.#op = new Uint8Array(tags);
    this.#lba = new Array<number | bigint>(tags).fill(0);
    this.#blocks = new Uint32Array(tags);
    this.#pageOfTag = new Int32Array(tags).fill(-1);
    const pages = prpLists.size / pageSize;
    this.#freePages = new Int32Array(pages);
    for (let p = pages - 1; p >= 0; p--) this.#freePages[this.#freeTop++] = p;
  }

  /** A PRP list page index for the next command, or -1 when all are in use. */
  takePage(): number {
    return this.#freeTop === 0 ? -1 : this.#freePages[--this.#freeTop]!;
  }
  givePage(page: number): void {
    this.#freePages[this.#freeTop++] = page;
  }

  /** A command was submitted under `tag`. */
  track(tag: number, op: IoOp, lba: number | bigint, blocks: number, page: number): void {
    this.#op[tag] = op;
    this.#lba[tag] = lba;
    this.#blocks[tag] = blocks;
    this.#pageOfTag[tag] = page;
    this.#count++;
  }

  /** Called for each completion: forgets the command and frees the PRP list page it held, if any. */
  completed(tag: number): void {
    if (this.#op[tag] === IoOp.None) return;
    this.#op[tag] = IoOp.None;
    this.#count--;
    const p = this.#pageOfTag[tag]!;
    if (p >= 0) {
      this.#pageOfTag[tag] = -1;
      this.givePage(p);
    }
  }

  /** Pipelined commands in flight. */
  get inFlight(): number {
    return this.#count;
  }

  /** What the command under `tag` is, as text ("read LBA 8 +16"). */
  describe(tag: number): string {
    switch (this.#op[tag]) {
      case IoOp.Read: return `read LBA ${this.#lba[tag]} +${this.#blocks[tag]}`;
      case IoOp.Write: return `write LBA ${this.#lba[tag]} +${this.#blocks[tag]}`;
      case IoOp.Flush: return "flush";
      default: return `tag ${tag}`;
    }
  }

  /** Pipelined commands in flight: tag -> what it is (made on each call; for errors and tests). */
  get pending(): ReadonlyMap<number, string> {
    const m = new Map<number, string>();
    for (let t = 0; t < this.#op.length; t++) if (this.#op[t] !== IoOp.None) m.set(t, this.describe(t));
    return m;
  }
}

/** One finished I/O command from reap(). */
export interface IoCompletion {
  tag: number;
  /** What was submitted, e.g. "write LBA 100 +8". */
  command: string;
  dw0: number;
  /** Set when the command failed; names the status. */
  error?: NvmeStatusError;
}

/** Decoded CQE fields the driver needs. */
export interface Completion {
  dw0: number;
  dw1: number;
  sqhd: number;
  sqid: number;
  cid: number;
  /** Raw status word (phase bit included). */
  status: number;
}

function readCompletion(view: DataView, offset: number): Completion {
  const c = Cqe.decode(view, offset);
  return { dw0: c.dw0, dw1: c.dw1, sqhd: c.sqhd, sqid: c.sqid, cid: c.cid, status: statusWord(c.status) };
}

/** The CQE status as a raw 16-bit word, whichever way the generated decoder shows a bitfield word. */
function statusWord(s: unknown): number {
  if (typeof s === "number") return s;
  const f = s as { p: number; sc: number; sct: number; crd: number; m: number; dnr: number };
  return f.p | (f.sc << 1) | (f.sct << 9) | (f.crd << 12) | (f.m << 14) | (f.dnr << 15);
}

/** Text of a space-padded ASCII identify field (SN, MN, FR). */
export function asciiField(bytes: ArrayLike<number>): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0) break;
    s += String.fromCharCode(b);
  }
  return s.trimEnd();
}

export class Nvme {
  readonly client: NvmeDevice;
  readonly device: Device;
  readonly regs: Bar0Registers;
  readonly options: Required<Omit<NvmeOptions, "backend" | "address">>;
  /** CAP as read at open. */
  readonly cap: CapFields;
  /** Controller memory page size chosen (CC.MPS): the PRP page size. */
  readonly pageSize: number;
  admin!: SqCqQueue;
  readonly io: NvmeIoQueue[] = [];
  controller!: IdentifyControllerData;
  namespace!: IdentifyNamespaceData;
  /** Logical block size and count of the namespace in use. */
  blockSize = 0;
  blocks = 0n;
  /** Largest transfer one command may carry (MDTS, and one PRP list page). */
  maxTransferBytes = 0;
  /** MSI-X vector of the I/O completion queues: the spec's "io" vector, or the admin queue's when
   *  the device has only one (they share it, as the kernel's driver shares vector 0). */
  ioVector = 0;
  /** The namespace id asked for at open (undefined: the first active one). */
  readonly #nsidWanted: number | undefined;
  #identifyBuf: DmaBuffer | undefined;
  readonly #asyncIo = new Map<NvmeIoQueue, NvmeAsyncIo>();
  #closed = false;
  #shutDown = false;

  private constructor(client: NvmeDevice, options: NvmeOptions) {
    this.client = client;
    this.device = client.device;
    this.regs = client.bar0;
    const nsid = options.nsid;
    this.options = {
      adminDepth: options.adminDepth ?? 32,
      ioQueues: checkInt("ioQueues", options.ioQueues ?? 1, 0, 65535, this.device.name),
      ioDepth: checkInt("ioDepth", options.ioDepth ?? 64, 2, 4096, this.device.name),
      commandTimeoutMs: options.commandTimeoutMs ?? DEFAULT_TIMEOUT_MS,
      nsid: nsid ?? 0, // 0: found at bring-up (the first active namespace)
    };
    this.#nsidWanted = nsid === undefined ? undefined : checkInt("nsid", nsid, 1, 0xfffffffe, this.device.name);
    this.cap = this.regs.cap.fields();
    if (this.cap.dstrd !== 0) {
      throw new ConfigError(`${this.device.name}: CAP.DSTRD is ${this.cap.dstrd}; devices/nvme.yaml describes doorbells for stride 0 only`);
    }
    // The host page size (DmaBuffers are page aligned) expressed as CC.MPS, within CAP's range.
    const hostShift = Math.log2(this.device.backend.dmaPageSize || 4096);
    const mps = Math.min(Math.max(hostShift - MPS_BASE_SHIFT, this.cap.mpsmin), this.cap.mpsmax);
    this.pageSize = 2 ** (MPS_BASE_SHIFT + mps);
    if (this.pageSize > (this.device.backend.dmaPageSize || 4096)) {
      throw new ConfigError(`${this.device.name}: the controller's smallest page (${this.pageSize} bytes) is larger than the host's`);
    }
  }

  /** Opens the controller and brings it up: reset, admin queue, identify, I/O queues. */
  static async open(options: NvmeOptions = {}): Promise<Nvme> {
    const client = await NvmeDevice.open({ backend: options.backend, address: options.address });
    let nvme: Nvme | undefined;
    try {
      nvme = new Nvme(client, options);
      nvme.init();
      return nvme;
    } catch (e) {
      if (nvme) nvme.#closeQuietly();
      else client.close();
      throw e;
    }
  }

  get label(): string {
    return this.device.name;
  }

  /** CAP.TO in milliseconds: how long CSTS.RDY may take to follow CC.EN. */
  get readyTimeoutMs(): number {
    return Math.max(1, this.cap.to) * 500;
  }

  /** The whole bring-up sequence (spec 7.6.1). Public so a test can re-run it after reset(). */
  init(): void {
    this.#shutDown = false;
    this.disable();
    // A re-run (after reset()): the controller has forgotten every queue now that RDY is 0, so
    // their memory can go.
    for (const q of this.io.splice(0)) {
      if (!q.queue.released) q.queue.release();
      q.prpLists.free();
    }
    if (this.admin !== undefined && !this.admin.released) this.admin.release();
    this.admin = this.device.requestQueue("admin", { depth: this.options.adminDepth }) as SqCqQueue;
    this.enable();
    this.controller = this.identifyController();
    this.#useNamespace();
    const mdtsBytes = this.controller.mdts === 0 ? Infinity : 2 ** this.controller.mdts * 2 ** (MPS_BASE_SHIFT + this.cap.mpsmin);
    // One PRP list page holds pageSize / 8 entries; this driver never chains list pages.
    const prpBytes = (this.pageSize / 8) * this.pageSize;
    this.maxTransferBytes = Math.min(mdtsBytes, prpBytes, 65536 * this.blockSize);
    if (this.options.ioQueues < 1) return; // admin queue only
    const granted = this.setNumberOfQueues(this.options.ioQueues);
    const pairs = Math.min(this.options.ioQueues, granted);
    this.ioVector = this.#pickIoVector();
    for (let id = 1; id <= pairs; id++) this.io.push(this.#createFirstQueues(id));
  }

  /** The I/O queue depth in use: what was asked for, capped at CAP.MQES + 1. */
  get ioDepth(): number {
    return Math.min(this.options.ioDepth, this.cap.mqes + 1);
  }

  /** The namespace read/write/flush use. */
  get nsid(): number {
    return this.options.nsid;
  }

  /**
   * The namespace asked for, or the first active one (a controller need not have namespace 1):
   * its identify data, block size and size. An id with no active namespace is refused, naming the
   * active ones.
   */
  #useNamespace(): void {
    const nsid = this.#nsidWanted ?? this.activeNamespaces()[0];
    if (nsid === undefined) throw new NvmeControllerError(`${this.label}: the controller has no active namespace`);
    this.namespace = this.identifyNamespace(nsid);
    const flbas = fieldOf(this.namespace.flbas, "format", 0xf);
    const lbaf = this.namespace.lbaf[flbas]!;
    const blocks = BigInt(this.namespace.nsze);
    if (blocks === 0n || lbaf.lbads < 9) {
      throw new NvmeControllerError(`${this.label}: namespace ${nsid} is not usable (NSZE ${blocks}, LBADS ${lbaf.lbads})`, {
        hint: `active namespaces: ${this.activeNamespaces().join(", ") || "none"}`,
      });
    }
    this.options.nsid = nsid;
    this.blockSize = 2 ** lbaf.lbads;
    this.blocks = blocks;
  }

  /**
   * The vector for I/O completion queues. A device with a single MSI-X vector (QEMU: msix_qsize=1)
   * cannot give the spec's "io" vector: the backend refuses to enable it, and then the I/O queues
   * share the admin queue's vector, as the kernel's driver does with one vector. (All I/O queues
   * share one vector either way: a waiter checks its own CQ after every wake-up.)
   */
  #pickIoVector(): number {
    const admin = this.device.spec.interrupts.find((i) => i.name === "admin")?.index ?? 0;
    const io = this.device.spec.interrupts.find((i) => i.name === "io")?.index ?? admin;
    try {
      this.device.irq(io);
      return io;
    } catch {
      return admin;
    }
  }

  /**
   * createIoQueuePair at bring-up: a controller that refuses the I/O vector (INVALID_INTERRUPT_VECTOR:
   * it has fewer vectors than the backend offers) gets every I/O queue on the admin vector.
   */
  #createFirstQueues(id: number): NvmeIoQueue {
    try {
      return this.createIoQueuePair(id, this.ioDepth);
    } catch (e) {
      const admin = this.device.spec.interrupts.find((i) => i.name === "admin")?.index ?? 0;
      if (!(e instanceof NvmeStatusError && e.status === "INVALID_INTERRUPT_VECTOR" && this.ioVector !== admin)) throw e;
      this.ioVector = admin;
      return this.createIoQueuePair(id, this.ioDepth);
    }
  }

  // ---- controller state ----

  #wait(what: string, timeoutMs: number, done: () => boolean): void {
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      if (performance.now() > deadline) {
        throw new TimeoutError(`${what} on ${this.label}`, timeoutMs, "the controller did not change state in time (CAP.TO)");
      }
      Bun.sleepSync(1);
    }
  }

  /**
   * CC.EN = 0 and wait for CSTS.RDY = 0: the controller forgets every queue. After a refused enable
   * RDY is already 0 and says nothing about whether the reset happened; CSTS.CFS does (QEMU and the
   * sim clear it on reset), so then that is waited for too. A controller whose CFS survives the
   * reset is given CAP.TO and then tried anyway: enable() reports it if it persists.
   */
  disable(): void {
    const cc = this.regs.cc.fields();
    const failed = this.regs.csts.fields().cfs === 1;
    if (cc.en === 1) this.regs.cc.modify({ en: 0 });
    this.#wait("CSTS.RDY = 0 after CC.EN = 0", this.readyTimeoutMs, () => this.regs.csts.fields().rdy === 0);
    if (failed && cc.en === 1) {
      try {
        this.#wait("CSTS.CFS = 0 after CC.EN = 0", this.readyTimeoutMs, () => this.regs.csts.fields().cfs === 0);
      } catch (e) {
        if (!(e instanceof TimeoutError)) throw e;
      }
    }
  }

  /** Programs the admin queue and CC, sets CC.EN = 1 and waits for CSTS.RDY (or CSTS.CFS). */
  enable(): void {
    const depth = this.admin.sqDepth;
    this.regs.aqa.writeFields({ asqs: depth - 1, acqs: this.admin.cqDepth - 1 });
    this.regs.asq.write(this.admin.sqBuffer.ref());
    this.regs.acq.write(this.admin.cqBuffer.ref());
    const config = {
      css: CommandSet.NVM,
      mps: Math.log2(this.pageSize) - MPS_BASE_SHIFT,
      ams: Arbitration.ROUND_ROBIN,
      shn: ShutdownNotification.NONE,
      iosqes: IOSQES,
      iocqes: IOCQES,
    };
    // Configuration first with EN = 0, then EN: the spec wants CC settled before the enable edge.
    this.regs.cc.writeFields({ ...config, en: 0 });
    this.regs.cc.writeFields({ ...config, en: 1 });
    this.#wait("CSTS.RDY = 1 after CC.EN = 1", this.readyTimeoutMs, () => {
      const csts = this.regs.csts.fields();
      if (csts.cfs === 1) {
        throw new NvmeControllerError(`${this.label}: controller fatal status (CSTS.CFS) while enabling`, {
          hint: "the controller refused the admin queue or CC settings; a reset (CC.EN = 0) clears it",
        });
      }
      return csts.rdy === 1;
    });
  }

  // ---- admin commands ----

  /** Sends one command on `q`, waits for its completion, throws NvmeStatusError on failure. */
  command(q: SqCqQueue, name: string, encode: Encoder): Completion {
    // The encoder gets the queue's own resolver: the buffers it names stay pinned (cannot be
    // unshared or freed) until this command's completion is taken.
    const tag = q.send(encode);
    q.flush();
    const c = q.recvSync(this.options.commandTimeoutMs);
    const done = readCompletion(c.view, c.offset);
    if (c.tag !== tag) {
      throw new NvmeControllerError(`${q.label}: ${name} expected completion of tag ${tag}, got ${c.tag}`);
    }
    if ((done.status >> 1) !== 0) throw new NvmeStatusError(name, q.label, done.status, done.dw0);
    return done;
  }

  /**
   * Get Log Page: the first `bytes` (a multiple of 4, at most 4096) of log `lid`, from byte
   * `offset`. The view is valid until the next identify or log page call.
   */
  getLogPage(lid: LogPageId, bytes: number, nsid = BROADCAST_NSID, offset = 0n): DataView {
    if (!(Number.isInteger(bytes) && bytes >= 4 && bytes <= IDENTIFY_DATA_SIZE && bytes % 4 === 0)) {
      throw new ConfigError(`nvme get log page: ${bytes} bytes must be a multiple of 4 in 4..${IDENTIFY_DATA_SIZE}`);
    }
    const buf = this.#adminBuffer();
    const numd = bytes / 4 - 1;
    this.command(this.admin, `get log page (LID 0x${lid.toString(16)})`, (v, o, dma) =>
      encodeGetLogPage(v, o, { nsid, buffer: buf.ref(0, IDENTIFY_DATA_SIZE), lid, numdl: numd & 0xffff, numdu: numd >>> 16, lpo: offset }, dma),
    );
    return new DataView(buf.arrayBuffer, 0, bytes);
  }

  /** The SMART / health log (controller-wide). */
  smartLog(): SmartLogData {
    return SmartLog.decode(this.getLogPage(LogPageId.SMART_HEALTH, SmartLog.SIZE), 0);
  }

  /** One page shared with the device for identify data and log pages (admin commands run one at a time). */
  #adminBuffer(): DmaBuffer {
    const buf = (this.#identifyBuf ??= this.device.alloc(IDENTIFY_DATA_SIZE, "nvme admin data"));
    buf.bytes.fill(0);
    return buf;
  }

  #identify(cns: IdentifyCns, nsid: number): DataView {
    const buf = this.#adminBuffer();
    this.command(this.admin, `identify (CNS ${cns})`, (v, o, dma) =>
      encodeIdentify(v, o, { nsid, buffer: buf.ref(0, IDENTIFY_DATA_SIZE), cns, cntid: 0 }, dma),
    );
    return buf.view;
  }

  identifyController(): IdentifyControllerData {
    return IdentifyController.decode(this.#identify(IdentifyCns.CONTROLLER, 0), 0);
  }

  identifyNamespace(nsid: number): IdentifyNamespaceData {
    return IdentifyNamespace.decode(this.#identify(IdentifyCns.NAMESPACE, nsid), 0);
  }

  /** Active namespace ids (CNS 02h), ascending. */
  activeNamespaces(): number[] {
    const v = this.#identify(IdentifyCns.ACTIVE_NAMESPACE_LIST, 0);
    const out: number[] = [];
    for (let i = 0; i < 1024; i++) {
      const id = v.getUint32(i * 4, true);
      if (id === 0) break;
      out.push(id);
    }
    return out;
  }

  /** Asks for `count` I/O queue pairs; returns how many the controller granted (of each kind). */
  setNumberOfQueues(count: number): number {
    const c = this.command(this.admin, "set features (number of queues)", (v, o) =>
      encodeSetNumberOfQueues(v, o, { nsqr: count - 1, ncqr: count - 1 }),
    );
    return Math.min(c.dw0 & 0xffff, c.dw0 >>> 16) + 1;
  }

  /** Get Features: the current value (completion DW0) of `fid`. */
  getFeature(fid: FeatureId): number {
    return this.command(this.admin, `get features (FID 0x${fid.toString(16)})`, (v, o) => encodeGetFeatures(v, o, { fid, sel: 0 })).dw0;
  }

  /** Create I/O CQ then SQ `id` over a fresh queue pair's rings; CQ interrupts on `ioVector`. */
  createIoQueuePair(id: number, depth: number): NvmeIoQueue {
    if (depth > this.cap.mqes + 1) {
      throw new ConfigError(`${this.label}: I/O queue depth ${depth} exceeds CAP.MQES + 1 = ${this.cap.mqes + 1}`);
    }
    const vector = this.ioVector;
    const q = this.device.requestQueue("io", { id, depth, irq: vector }) as SqCqQueue;
    let lists: DmaBuffer | undefined;
    try {
      this.command(this.admin, `create I/O CQ ${id}`, (v, o, dma) =>
        encodeCreateIoCq(v, o, { buffer: q.cqBuffer.ref(), qid: id, qsize: q.cqDepth - 1, cqFlags: { pc: 1, ien: 1 }, iv: vector }, dma),
      );
      try {
        this.command(this.admin, `create I/O SQ ${id}`, (v, o, dma) =>
          encodeCreateIoSq(v, o, { buffer: q.sqBuffer.ref(), qid: id, qsize: q.sqDepth - 1, sqFlags: { pc: 1, qprio: 0 }, cqid: id }, dma),
        );
      } catch (e) {
        this.#tryDelete(`delete I/O CQ ${id}`, (v, o) => encodeDeleteIoCq(v, o, { qid: id }));
        throw e;
      }
      lists = this.device.alloc(q.sqDepth * this.pageSize, `nvme io[${id}] PRP lists`);
      return new NvmeIoQueue(id, q, lists, this.pageSize);
    } catch (e) {
      q.release();
      throw e;
    }
  }

  #tryDelete(name: string, encode: (v: DataView, o: number) => void): unknown {
    try {
      this.command(this.admin, name, encode);
      return undefined;
    } catch (e) {
      return e;
    }
  }

  /** Delete I/O SQ then CQ (the spec's order) and release the queue. */
  deleteIoQueuePair(q: NvmeIoQueue): void {
    const i = this.io.indexOf(q);
    if (i >= 0) this.io.splice(i, 1);
    const first =
      this.#tryDelete(`delete I/O SQ ${q.id}`, (v, o) => encodeDeleteIoSq(v, o, { qid: q.id })) ??
      this.#tryDelete(`delete I/O CQ ${q.id}`, (v, o) => encodeDeleteIoCq(v, o, { qid: q.id }));
    if (!q.queue.released) q.queue.release();
    q.prpLists.free();
    if (first !== undefined) throw first;
  }

  // ---- I/O ----
  //
  // Two levels. read/write/flush are synchronous: they split a transfer into commands, keep the
  // queue full, and return when every command has completed (throwing the first failure).
  // trySubmit/submitFlush/reap are the pipelined level underneath, for callers that keep their
  // own requests in flight (benchmarks, several buffers at once). The two must not be mixed on
  // one queue at the same time: the synchronous calls refuse a queue with pipelined work pending.

  /** Reads `blocks` blocks at `lba` into `into` (a DmaRef or whole buffer shared with the device). */
  read(lba: number | bigint, blocks: number, into: DmaRef | DmaBuffer, queue?: NvmeIoQueue): void {
    this.#transfer("read", lba, blocks, into, queue);
  }

  /** Writes `blocks` blocks at `lba` from `from`. */
  write(lba: number | bigint, blocks: number, from: DmaRef | DmaBuffer, queue?: NvmeIoQueue): void {
    this.#transfer("write", lba, blocks, from, queue);
  }

  /** Flush: commits the volatile write cache of the namespace. */
  flush(queue?: NvmeIoQueue): void {
    const q = this.#idle(queue, "flush");
    if (this.submitFlush(q) < 0) throw new NvmeControllerError(`${q.queue.label}: no room for a flush on an idle queue`);
    const err = this.#drain(q);
    if (err !== undefined) throw err;
  }

  /**
   * Queues one read or write of at most maxTransferBytes without waiting; returns its tag, or -1
   * when the queue (or its PRP list pages) is full: reap() to make room. The doorbell is rung by
   * the next reap() or `queue.queue.flush()`.
   */
  trySubmit(op: "read" | "write", lba: number | bigint, blocks: number, target: DmaRef | DmaBuffer, queue?: NvmeIoQueue): number {
    const q = this.#queue(queue);
    const ref = this.#checkTransfer(op, blocks, target);
    const bytes = blocks * this.blockSize;
    if (bytes > this.maxTransferBytes) {
      throw new ConfigError(`nvme ${op}: ${blocks} blocks exceed one command's ${this.maxTransferBytes} bytes (MDTS): use ${op}() to split`);
    }
    const chunk = ref.length === bytes ? ref : ref.buffer.ref(ref.offset, bytes);
    // The whole transfer must lie in the window: PRP1 and PRP2 (or its list) are derived from it.
    const iova = this.device.dma.addressOf(chunk, "prp1", bytes);
    const page = this.#needsList(iova, bytes) ? q.takePage() : -2;
    if (page === -1) return -1;
    const sq = q.queue;
    const at = sq.tryReserve();
    if (at < 0) {
      if (page >= 0) q.givePage(page);
      return -1;
    }
    try {
      const p = q.params;
      p.nsid = this.options.nsid;
      p.buffer = chunk;
      p.prp2 = this.#prp2(q, iova, bytes, page);
      p.slba = lba;
      p.nlb = blocks - 1;
      (op === "read" ? encodeRead : encodeWrite)(sq.view, at, p, sq);
      p.buffer = undefined; // hold no reference to the caller's buffer between commands
    } catch (e) {
      q.params.buffer = undefined;
      if (page >= 0) q.givePage(page);
      throw sq.cancel(e);
    }
    const tag = sq.publish();
    q.track(tag, op === "read" ? IoOp.Read : IoOp.Write, lba, blocks, page >= 0 ? page : -1);
    return tag;
  }

  /** Queues a flush without waiting; returns its tag or -1 when the queue is full. */
  submitFlush(queue?: NvmeIoQueue): number {
    const q = this.#queue(queue);
    const sq = q.queue;
    const at = sq.tryReserve();
    if (at < 0) return -1;
    try {
      encodeFlush(sq.view, at, { nsid: this.options.nsid }, sq);
    } catch (e) {
      throw sq.cancel(e);
    }
    const tag = sq.publish();
    q.track(tag, IoOp.Flush, 0, 0, -1);
    return tag;
  }

  /**
   * The next finished command of `queue`, or null. timeoutMs 0 (default) never blocks; otherwise
   * waits that long (TimeoutError). A failed command is returned with `error`, not thrown, so one
   * bad request does not hide the others' completions.
   */
  reap(queue?: NvmeIoQueue, timeoutMs = 0): IoCompletion | null {
    const q = this.#queue(queue);
    const tag = timeoutMs === 0 ? q.queue.take() : q.queue.takeSync(timeoutMs);
    if (tag < 0) return null;
    const cqe = q.cqe.moveTo(q.queue.completionOffset);
    const status = cqe.status;
    const dw0 = cqe.dw0;
    const command = q.describe(tag);
    q.completed(tag);
    return { tag, command, dw0, error: status >> 1 !== 0 ? new NvmeStatusError(command, q.queue.label, status, dw0) : undefined };
  }

  // ---- awaitable I/O ----

  /**
   * Awaitable reads and writes on `queue` (default the first I/O queue), for apps on the event
   * loop: `const io = nvme.asyncIo(); await io.read(lba, blocks, buf)`. Commands are kept in flight
   * up to the queue's depth (QD = ioDepth - 1) by the runtime's AsyncQueue. From the first call the
   * queue is async only: the sync read/write/trySubmit/reap refuse it (other I/O queues stay sync).
   */
  asyncIo(queue?: NvmeIoQueue): NvmeAsyncIo {
    const q = this.#queue(queue);
    let io = this.#asyncIo.get(q);
    if (io === undefined || io.closed) {
      io = new NvmeAsyncIo(this, q);
      this.#asyncIo.set(q, io);
    }
    return io;
  }

  /**
   * Encodes one read or write (at most maxTransferBytes) into the reserved SQ slot `at` of `q`
   * and records it under the tag it is about to get; for NvmeAsyncIo. Throws what trySubmit throws.
   */
  encodeTransfer(q: NvmeIoQueue, op: "read" | "write", lba: number | bigint, blocks: number, chunk: DmaRef, view: DataView, at: number): void {
    const sq = q.queue;
    const bytes = blocks * this.blockSize;
    const iova = this.device.dma.addressOf(chunk, "prp1", bytes);
    // pages = SQ depth > tags: a reserved tag always finds one
    const page = this.#needsList(iova, bytes) ? q.takePage() : -1;
    try {
      const p = q.params;
      p.nsid = this.options.nsid;
      p.buffer = chunk;
      p.prp2 = this.#prp2(q, iova, bytes, page);
      p.slba = lba;
      p.nlb = blocks - 1;
      (op === "read" ? encodeRead : encodeWrite)(view, at, p, sq);
      p.buffer = undefined;
    } catch (e) {
      q.params.buffer = undefined;
      if (page >= 0) q.givePage(page);
      throw e;
    }
    q.track(sq.reservedTag, op === "read" ? IoOp.Read : IoOp.Write, lba, blocks, page);
  }

  #queue(q?: NvmeIoQueue): NvmeIoQueue {
    // a device that left: its error, not a complaint about the state its queues died in
    const removed = this.device.removed;
    if (removed !== undefined) throw removed;
    const queue = q ?? this.io[0];
    if (queue === undefined) throw new ConfigError(`${this.label}: no I/O queue (ioQueues was 0 or they were deleted)`);
    return queue;
  }

  #idle(queue: NvmeIoQueue | undefined, what: string): NvmeIoQueue {
    const q = this.#queue(queue);
    if (q.inFlight > 0) {
      throw new ConfigError(`nvme ${what} on ${q.queue.label}: ${q.inFlight} pipelined command(s) still in flight`, {
        hint: "reap() them first, or use another queue",
      });
    }
    return q;
  }

  #checkTransfer(op: string, blocks: number, target: DmaRef | DmaBuffer): DmaRef {
    const ref: DmaRef = "buffer" in target ? target : target.ref();
    if (!Number.isInteger(blocks) || blocks < 1) throw new ConfigError(`nvme ${op}: block count ${blocks} must be a positive integer`);
    const bytes = blocks * this.blockSize;
    if (bytes > ref.length) {
      throw new ConfigError(`nvme ${op}: ${blocks} blocks of ${this.blockSize} bytes need ${bytes} bytes, buffer ${ref.buffer.name} window has ${ref.length}`);
    }
    if (ref.offset % 4 !== 0) throw new ConfigError(`nvme ${op}: buffer offset ${ref.offset} must be a multiple of 4 (PRP1 is dword aligned)`);
    return ref;
  }

  /**
   * Splits the transfer into commands of at most maxTransferBytes, keeps as many in flight as the
   * queue allows, and waits for all of them before reporting the first failure, so no command is
   * left pointing at a PRP list page or a buffer the caller may free.
   */
  #transfer(op: "read" | "write", lba: number | bigint, blocks: number, target: DmaRef | DmaBuffer, queue?: NvmeIoQueue): void {
    const q = this.#idle(queue, op);
    const ref = this.#checkTransfer(op, blocks, target);
    const perCommand = Math.floor(this.maxTransferBytes / this.blockSize);
    let firstError: unknown;
    let done = 0;
    const start = BigInt(lba);
    try {
      while (done < blocks) {
        const n = Math.min(perCommand, blocks - done);
        const chunk = ref.buffer.ref(ref.offset + done * this.blockSize, n * this.blockSize);
        while (this.trySubmit(op, start + BigInt(done), n, chunk, q) < 0) {
          // Out of queue slots or PRP list pages: take a completion to make room.
          firstError ??= this.reap(q, this.options.commandTimeoutMs)!.error;
        }
        done += n;
      }
    } finally {
      q.queue.flush();
      const err = this.#drain(q);
      firstError ??= err;
    }
    if (firstError !== undefined) throw firstError;
  }

  /** Waits for every pending command of `q`; returns the first failure. */
  #drain(q: NvmeIoQueue): NvmeStatusError | undefined {
    let first: NvmeStatusError | undefined;
    while (q.inFlight > 0) first ??= this.reap(q, this.options.commandTimeoutMs)!.error;
    return first;
  }

  /** True when [iova, iova+len) touches more than two controller pages. */
  #needsList(iova: number, len: number): boolean {
    const first = this.pageSize - (iova % this.pageSize);
    return len > first + this.pageSize;
  }

  /** PRP2 for a transfer: 0, the second page, or the address of a PRP list written into `page`. */
  #prp2(q: NvmeIoQueue, iova: number, len: number, page: number): number {
    const P = this.pageSize;
    const first = P - (iova % P);
    if (len <= first) return 0;
    if (len <= first + P) return iova + first;
    // A PRP list: the queue's own page for this command (never freed while the queue lives), whose
    // IOVA is the list buffer's plus the page offset; entries as two 32-bit stores (no BigInt).
    const list = q.prpLists.view;
    const base = page * P;
    let n = 0;
    for (let at = iova + first; at < iova + len; at += P, n++) {
      list.setUint32(base + 8 * n, at >>> 0, true);
      list.setUint32(base + 8 * n + 4, (at / 0x100000000) >>> 0, true);
    }
    return q.prpLists.iovaIn(this.device)! + base;
  }

  // ---- teardown ----

  /**
   * Normal shutdown (spec 7.6.2): delete the I/O queues, set CC.SHN = NORMAL and wait for
   * CSTS.SHST = COMPLETE. The controller needs a reset (CC.EN = 0) before it is used again.
   */
  shutdown(): void {
    let first: unknown;
    for (const q of [...this.io].reverse()) {
      try {
        this.deleteIoQueuePair(q);
      } catch (e) {
        first ??= e;
      }
    }
    this.#shutDown = true;
    this.regs.cc.modify({ shn: ShutdownNotification.NORMAL });
    // RTD3E (µs) is the controller's own bound when it gives one.
    const rtd3e = Number(this.controller?.rtd3e ?? 0) / 1000;
    this.#wait("CSTS.SHST = COMPLETE after CC.SHN = NORMAL", Math.max(rtd3e, this.readyTimeoutMs, 5000), () =>
      this.regs.csts.fields().shst === ShutdownStatus.COMPLETE,
    );
    if (first !== undefined) throw first;
  }

  /** Shuts the controller down (best effort) and closes the device. Idempotent. */
  close(): void {
    if (this.#closed) return;
    let first: unknown;
    try {
      // A controller in fatal status (CFS) will not complete a shutdown: just close.
      const csts = this.regs.csts.fields();
      if (!this.#shutDown && this.admin !== undefined && !this.admin.released && csts.rdy === 1 && csts.cfs === 0) this.shutdown();
    } catch (e) {
      first = e;
    }
    this.#closeQuietly();
    if (first !== undefined) throw first;
  }

  #closeQuietly(): void {
    this.#closed = true;
    this.client.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** An integer option in lo..hi, or a RangeError/TypeError naming it and the device. */
function checkInt(name: string, value: unknown, lo: number, hi: number, device: string): number {
  if (typeof value !== "number") throw new TypeError(`nvme ${device}: option ${name} must be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < lo || value > hi) throw new RangeError(`nvme ${device}: option ${name} ${value} is outside ${lo}..${hi}`);
  return value;
}

/** One finished command of NvmeAsyncIo. */
interface IoDone {
  tag: number;
  command: string;
  dw0: number;
  status: number;
}

interface IoArg {
  op: "read" | "write";
  lba: bigint;
  blocks: number;
  chunk: DmaRef;
}

/**
 * Awaitable NVMe reads and writes on one I/O queue (Nvme.asyncIo). A transfer is split into
 * commands of at most MDTS; all are submitted at once and the AsyncQueue keeps up to the queue's
 * depth in flight (the rest wait for room), so `await io.read(...)` runs at QD ioDepth - 1, and
 * several awaits at once share the queue. A transfer resolves when all its commands completed,
 * and rejects with the first failure (NvmeStatusError naming the command) only after every
 * command of it settled, so no command still points at the caller's buffer.
 */
export class NvmeAsyncIo {
  readonly nvme: Nvme;
  readonly queue: NvmeIoQueue;
  readonly async: AsyncQueue<IoDone>;
  readonly #encode: (view: DataView, at: number, a: IoArg) => void;

  constructor(nvme: Nvme, queue: NvmeIoQueue) {
    this.nvme = nvme;
    this.queue = queue;
    const decode = (sq: Queue, tag: number): IoDone => {
      const cqe = queue.cqe.moveTo(sq.completionOffset);
      const status = cqe.status;
      const dw0 = cqe.dw0;
      const command = queue.describe(tag);
      queue.completed(tag);
      return { tag, command, dw0, status };
    };
    const check = (c: IoDone) => (c.status >> 1 !== 0 ? new NvmeStatusError(c.command, queue.queue.label, c.status, c.dw0) : undefined);
    this.async = new AsyncQueue(queue.queue, { decode, check, timeoutMs: nvme.options.commandTimeoutMs, maxWaiters: 1 << 16 });
    this.#encode = (view, at, a) => nvme.encodeTransfer(queue, a.op, a.lba, a.blocks, a.chunk, view, at);
  }

  get closed(): boolean {
    return this.async.closed;
  }

  /** Commands in flight on the device. */
  get inFlight(): number {
    return this.async.inFlight;
  }

  /** Reads `blocks` blocks at `lba` into `into` (a DmaRef or whole buffer shared with the device). */
  read(lba: number | bigint, blocks: number, into: DmaRef | DmaBuffer, options?: SubmitOptions): Promise<void> {
    return this.#transfer("read", lba, blocks, into, options);
  }

  /** Writes `blocks` blocks at `lba` from `from`. */
  write(lba: number | bigint, blocks: number, from: DmaRef | DmaBuffer, options?: SubmitOptions): Promise<void> {
    return this.#transfer("write", lba, blocks, from, options);
  }

  async #transfer(op: "read" | "write", lba: number | bigint, blocks: number, target: DmaRef | DmaBuffer, options?: SubmitOptions): Promise<void> {
    const n = this.nvme;
    if (typeof lba !== "bigint" && !(Number.isSafeInteger(lba) && lba >= 0)) throw new RangeError(`nvme ${op}: lba must be a non-negative integer or bigint, got ${String(lba)}`);
    const ref: DmaRef = typeof target === "object" && target !== null && "buffer" in target ? target : (target as DmaBuffer).ref();
    if (!Number.isInteger(blocks) || blocks < 1) throw new ConfigError(`nvme ${op}: block count ${blocks} must be a positive integer`);
    const bytes = blocks * n.blockSize;
    if (bytes > ref.length) {
      throw new ConfigError(`nvme ${op}: ${blocks} blocks of ${n.blockSize} bytes need ${bytes} bytes, buffer ${ref.buffer.name} window has ${ref.length}`);
    }
    if (ref.offset % 4 !== 0) throw new ConfigError(`nvme ${op}: buffer offset ${ref.offset} must be a multiple of 4 (PRP1 is dword aligned)`);
    const perCommand = Math.floor(n.maxTransferBytes / n.blockSize);
    const start = BigInt(lba);
    const parts: Promise<IoDone>[] = [];
    for (let done = 0; done < blocks; done += perCommand) {
      const k = Math.min(perCommand, blocks - done);
      const chunk = ref.buffer.ref(ref.offset + done * n.blockSize, k * n.blockSize);
      parts.push(this.async.submit(this.#encode, { op, lba: start + BigInt(done), blocks: k, chunk }, options));
    }
    const settled = await Promise.allSettled(parts);
    const failed = settled.find((r) => r.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }
}

/** A bitfield of a decoded struct field, whether the decoder gives the word or its fields. */
function fieldOf(value: unknown, field: string, mask: number): number {
  if (typeof value === "number") return value & mask;
  return (value as Record<string, number>)[field]!;
}

