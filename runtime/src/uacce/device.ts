// One UACCE queue, opened: the BackendDevice of the uacce backend.
//
// Open:     open(/dev/<name>-<n>) (the kernel's get_queue: one queue per open, EBUSY when none is
//           left) -> mmap MMIO (offset 0) and DUS (offset 1 page), MAP_SHARED, once each: the 6.1
//           core answers a second mmap of a region with EEXIST even after munmap -> UACCE_CMD_START_Q.
// Regions:  each description region lives in the queue file region the description names; regions
//           sharing one are laid out in index order, each on a page boundary. Without SVA the rest
//           of DUS is the DMA pool (dus-pool.ts); with SVA every process address is a device address.
// QM rings: a description whose match.uacce.queues names an sq-cq queue (hzip: HiSilicon's queue
//           manager) gets that queue's rings from the device: the SQ at DUS byte 0, the CQ right
//           after it (both zeroed when handed out), the queue number and ring shape from the QM
//           ioctls (SET_QP_CTX writes back the sqn, SET_QP_INFO the SQE size and depths, checked
//           against the description), and the 64-bit QM doorbell (qm-doorbell.ts). Description
//           regions placed in DUS and the DMA pool come after the rings.
// Waiting:  poll() on the queue fd (the driver's is_q_updated) is the one "interrupt" of the queue.
// Teardown: mappings released and unmapped -> UACCE_CMD_PUT_Q -> close (stop + put in the kernel).
// Removal:  when the parent driver goes away with the queue open, the core first zaps our mappings
//           (a touch is then SIGBUS), later releases the queue (ioctl/mmap: ENXIO), and poll() reports
//           nothing. So a wait that ends without news checks two things: whether a page that was
//           mapped in at open is still there (mincore: the zap is the first sign; only mappings whose
//           pages the driver inserted at mmap count, a PFN mapping always reads as absent), and the
//           queue itself (START_Q on a started queue is EINVAL while it lives, ENXIO once released).
//           Either one: the dead mappings are replaced in place by zeroed memory, then a UacceError
//           is thrown, so stale views and the ring read zeros and the app gets a typed error. A touch
//           between the zap and that check would be SIGBUS: both mappings are guarded
//           (sigbus-guard.ts), so it reads zeros instead, and the guard's mark is a third sign.
import type { BackendDevice, DeviceMemory, DeviceRings, DeviceSpec, IrqLine, MappedRegion, QueueSpec, UacceQueueSpec, UacceSpec } from "../backend.ts";
import { ConfigError, SysError, UacceError } from "../errors.ts";
import { toArrayBuffer, type Pointer } from "bun:ffi";
import { mmioIo, RamIo, type RegisterIo } from "../mem/io.ts";
import { MAP_SHARED, O_RDWR, POLLIN, PROT_READ, PROT_WRITE, sys as realSys, type Sys } from "../sys/libc.ts";
import {
  HISI_QP_CTX_SIZE, HISI_QP_INFO_SIZE, qfrOffset, UACCE_CMD_PUT_Q, UACCE_CMD_QM_SET_QP_CTX, UACCE_CMD_QM_SET_QP_INFO, UACCE_CMD_START_Q, UACCE_QFRT_DUS, UACCE_QFRT_MMIO,
} from "../sys/uacce-abi.ts";
import { DusPool, SvaMemory } from "./dus-pool.ts";
import { QmDoorbell } from "./qm-doorbell.ts";
import { guardMapping, type MappingGuard } from "./sigbus-guard.ts";
import type { UacceDeviceInfo } from "./sysfs.ts";

const ENXIO = 6;

export interface UacceOpenOptions {
  /** Syscall layer (unit tests pass a fake). */
  sys?: Sys;
  /** Default /sys. */
  sysfs?: string;
  /** Default /dev. */
  devRoot?: string;
}

type Qfr = "mmio" | "dus";

interface Mapping {
  ptr: number;
  size: number;
  /** Turns a SIGBUS in the mapping into zeros (real system calls only; a fake Sys maps plain memory). */
  guard: MappingGuard | undefined;
}

interface Mapped extends MappedRegion {
  readonly io: RegisterIo & { release(): void };
}

type SqCqSpec = Extract<QueueSpec, { kind: "sq-cq" }>;

/** The QM queue whose rings the device keeps in DUS (match.uacce.queues: one per queue file), and their bytes. */
export function qmRings(spec: DeviceSpec, u: UacceSpec): { place: UacceQueueSpec; queue: SqCqSpec; sqBytes: number; cqBytes: number } | undefined {
  const place = u.queues?.[0];
  if (place === undefined) return undefined;
  const queue = spec.queues.find((q): q is SqCqSpec => q.name === place.queue && q.kind === "sq-cq");
  if (queue === undefined) throw new ConfigError(`${spec.name}: match.uacce.queues names ${place.queue}, which is not an sq-cq queue of the description`);
  return { place, queue, sqBytes: place.depth * queue.sq.entrySize, cqBytes: place.depth * queue.cq.entrySize };
}

/** Where each description region sits: its queue file region and byte offset there (DUS regions after
 *  `dusStart` bytes: the rings of a QM queue come first). */
export function layoutRegions(spec: DeviceSpec, u: UacceSpec, pageSize: number, dusStart = 0): Map<number, { qfr: Qfr; offset: number; size: number }> {
  const out = new Map<number, { qfr: Qfr; offset: number; size: number }>();
  const next: Record<Qfr, number> = { mmio: 0, dus: Math.ceil(dusStart / pageSize) * pageSize };
  for (const m of [...u.regions].sort((a, b) => a.index - b.index)) {
    const r = spec.regions.find((x) => x.index === m.index);
    if (r === undefined) continue;
    out.set(m.index, { qfr: m.qfr, offset: next[m.qfr], size: r.size });
    next[m.qfr] += Math.ceil(r.size / pageSize) * pageSize;
  }
  return out;
}

/** The queue's wait: poll() on the queue file; the driver's is_q_updated says whether work completed. */
class QueuePollLine implements IrqLine {
  constructor(
    readonly index: number,
    private readonly q: UacceQueue,
  ) {}
  get fd(): number {
    return this.q.fd;
  }
  wait(timeoutMs: number): boolean {
    if (this.q.pollIn(timeoutMs)) return true;
    this.q.checkAlive("poll");
    return false;
  }
  take(): number {
    return this.q.pollIn(0) ? 1 : 0;
  }
}

export class UacceQueue implements BackendDevice {
  /** "uacce:wd_dummy-0". */
  readonly address: string;
  readonly path: string;
  readonly iovaRanges: { start: number; end: number }[] = [];
  readonly dmaPageSize: number;
  readonly deviceMemory: DeviceMemory;
  readonly #sys: Sys;
  readonly #spec: DeviceSpec;
  readonly #layout: Map<number, { qfr: Qfr; offset: number; size: number }>;
  readonly #maps = new Map<Qfr, Mapping>();
  readonly #regions = new Map<number, Mapped>();
  readonly #lines = new Map<number, QueuePollLine>();
  #fd: number;
  #closed = false;
  /** Why the queue is unusable though open (its device was removed), or undefined. */
  #gone: string | undefined;
  /** Pages that were mapped in right after open: their loss is the first sign of removal. */
  #sentinels: number[] = [];
  /** The QM queue's rings in DUS, when the description has one. */
  readonly #qm: ReturnType<typeof qmRings>;
  /** The rings are with a queue now / were handed out since the last (re)start of the kernel's queue. */
  #ringsOut = false;
  #ringsUsed = false;

  constructor(spec: DeviceSpec, readonly info: UacceDeviceInfo, options: UacceOpenOptions = {}) {
    const u = spec.uacce;
    if (u === undefined) throw new UacceError("open", info.name, undefined, `${spec.name} has no uacce section in its description`);
    this.#sys = options.sys ?? realSys;
    this.#spec = spec;
    this.address = `uacce:${info.name}`;
    this.path = `${options.devRoot ?? "/dev"}/${info.name}`;
    const page = this.#sys.pageSize;
    this.dmaPageSize = page;
    this.#qm = qmRings(spec, u);
    const ringBytes = this.#qm === undefined ? 0 : this.#qm.sqBytes + this.#qm.cqBytes;
    if (this.#qm !== undefined && (this.#qm.sqBytes % page !== 0 || this.#qm.cqBytes % page !== 0)) {
      throw new ConfigError(`${spec.name}: the rings of ${this.#qm.place.queue} (${this.#qm.sqBytes} + ${this.#qm.cqBytes} bytes at depth ${this.#qm.place.depth}) are not whole pages`);
    }
    this.#layout = layoutRegions(spec, u, page, ringBytes);
    const need: Record<Qfr, number> = { mmio: 0, dus: ringBytes };
    for (const l of this.#layout.values()) need[l.qfr] = Math.max(need[l.qfr], l.offset + l.size);
    const have: Record<Qfr, number> = { mmio: info.mmioSize, dus: info.dusSize };
    for (const q of ["mmio", "dus"] as const) {
      if (need[q] > have[q]) {
        throw new UacceError("open", info.name, undefined,
          `${spec.name} places ${need[q]} bytes of regions in ${q.toUpperCase()}, but the device's region_${q}_size is ${have[q]}: is this the device the description is for?`);
      }
    }
    this.#fd = this.#sys.open(this.path, O_RDWR);
    try {
      for (const [q, type] of [["mmio", UACCE_QFRT_MMIO], ["dus", UACCE_QFRT_DUS]] as const) {
        if (have[q] === 0) continue;
        const ptr = this.#sys.mmap(have[q], PROT_READ | PROT_WRITE, MAP_SHARED, this.#fd, qfrOffset(type, page), `${q.toUpperCase()} region of ${this.path}`);
        this.#maps.set(q, { ptr, size: have[q], guard: options.sys === undefined ? guardMapping(ptr, have[q]) : undefined });
      }
      if (info.sva) this.deviceMemory = new SvaMemory();
      else {
        // the pool: DUS after the description's own regions, from the next page on
        const dus = this.#maps.get("dus");
        const start = Math.ceil(need.dus / page) * page;
        const size = dus === undefined ? 0 : Math.max(0, dus.size - start);
        this.deviceMemory = new DusPool(dus === undefined ? 0 : dus.ptr + start, size, u.dusAddress + start, page, this.address);
      }
      this.#sys.ioctl(this.#fd, UACCE_CMD_START_Q, null, "UACCE_CMD_START_Q", this.path);
      for (const m of this.#maps.values()) if (this.#sys.pageResident?.(m.ptr) === true) this.#sentinels.push(m.ptr);
    } catch (e) {
      this.#teardown();
      throw e;
    }
  }

  get fd(): number {
    if (this.#closed) throw new UacceError("fd", this.address, undefined, "the queue is closed");
    return this.#fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The removal reason once the device went away with the queue open. */
  get removed(): string | undefined {
    return this.#gone;
  }

  /**
   * Throws a UacceError when the device was removed while this queue is open (see the header). One
   * ioctl: START_Q on a started queue changes nothing and is EINVAL; on a released queue, ENXIO.
   */
  checkAlive(call: string): void {
    // the queue first: while the core removes the device this blocks until the queue is released;
    // then the pages, which catch a zap that came before the core took the device's lock
    if (this.#gone === undefined) {
      try {
        this.#sys.ioctl(this.fd, UACCE_CMD_START_Q, null, "UACCE_CMD_START_Q", this.path);
      } catch (e) {
        // EINVAL is the answer of a live, started queue
        if (e instanceof SysError && e.errno === ENXIO) this.#retire();
      }
    }
    if (this.#gone === undefined && this.#sentinels.some((p) => this.#sys.pageResident?.(p) === false)) this.#retire();
    if (this.#gone === undefined && [...this.#maps.values()].some((m) => m.guard?.hit === true)) this.#retire();
    if (this.#gone !== undefined) throw this.#goneError(call);
  }

  #goneError(call: string): UacceError {
    return new UacceError(call, this.address, ENXIO, this.#gone);
  }

  /** The device is gone: its mappings become zeroed anonymous memory, so nothing in the process faults. */
  #retire(): void {
    this.#gone = `${this.info.name} was removed while its queue was open (its driver unloaded or the device went away): close the device`;
    if (this.deviceMemory instanceof DusPool) this.deviceMemory.retire("the device was removed");
    for (const [q, m] of this.#maps) {
      try {
        this.#sys.remapAnonymous?.(m.ptr, m.size, `${q.toUpperCase()} region of ${this.path}`);
      } catch {
        // left as it is: the next touch may fault, but the error below still tells what happened
      }
    }
  }

  region(index: number): MappedRegion {
    if (this.#closed) throw new UacceError("region", this.address, undefined, "the queue is closed");
    const have = this.#regions.get(index);
    if (have) return have;
    if (this.#gone !== undefined) throw this.#goneError("region");
    const r = this.#spec.regions.find((x) => x.index === index);
    const l = this.#layout.get(index);
    if (r === undefined || l === undefined) {
      throw new UacceError("region", this.address, undefined, `region ${index} of ${this.#spec.name} is not placed in a UACCE queue file region (uacce.regions of its description)`);
    }
    const m = this.#maps.get(l.qfr);
    if (m === undefined) throw new UacceError("mmap", this.path, undefined, `the device has no ${l.qfr.toUpperCase()} region`);
    const ptr = m.ptr + l.offset;
    const name = `region ${r.name} of ${this.address}`;
    const io = r.kind === "ram" ? RamIo.fromPointer(ptr, r.size, name) : mmioIo(ptr, r.size, name);
    const mapped: Mapped = { index, size: r.size, ptr, kind: r.kind, io };
    this.#regions.set(index, mapped);
    return mapped;
  }

  /**
   * BackendDevice.sqCqRings: the QM queue's rings in DUS and its doorbell (see the header). A queue
   * file is one queue: only the queue's first id, and once at a time; a depth other than the
   * device's is refused. Handed out again after a release, the kernel's queue is restarted first
   * (PUT_Q + START_Q), so the device's ring positions start from 0 like the host's.
   */
  sqCqRings(q: SqCqSpec, id: number, depth: number | undefined): DeviceRings | undefined {
    const qm = this.#qm;
    if (qm === undefined || qm.queue.name !== q.name) return undefined;
    if (this.#closed) throw new UacceError("queue", this.address, undefined, "the queue is closed");
    if (this.#gone !== undefined) throw this.#goneError("queue");
    if (id !== q.first) {
      throw new ConfigError(`queue ${q.name} id ${id} of ${this.address}: a UACCE queue file is one queue (id ${q.first}); open the device again for another`);
    }
    if (depth !== undefined && depth !== qm.place.depth) {
      throw new ConfigError(`queue ${q.name} of ${this.address}: the device's rings have ${qm.place.depth} entries, depth ${depth} cannot be chosen`);
    }
    if (this.#ringsOut) throw new UacceError("queue", this.address, undefined, `queue ${q.name} is in use`);
    if (this.#ringsUsed) this.reset();
    const sqn = this.#qmSetup(qm);
    const dus = this.#maps.get("dus");
    if (dus === undefined) throw new UacceError("mmap", this.path, undefined, "the device has no DUS region for its rings");
    const doorbellRegion = this.region(qm.place.doorbell.region);
    const db = new QmDoorbell(doorbellRegion.io, qm.place.doorbell.offset, sqn);
    // the device starts from an empty ring; phase 1 marks the first pass, so zero is "nothing yet"
    new Uint8Array(toArrayBuffer(dus.ptr as Pointer, 0, qm.sqBytes + qm.cqBytes)).fill(0);
    this.#ringsOut = true;
    this.#ringsUsed = true;
    return {
      depth: qm.place.depth,
      sq: { ptr: dus.ptr, size: qm.sqBytes },
      cq: { ptr: dus.ptr + qm.sqBytes, size: qm.cqBytes },
      queueNumber: sqn,
      ringSq: (tail) => db.ringSq(tail),
      ringCq: (head) => db.ringCq(head),
      release: () => {
        this.#ringsOut = false;
      },
    };
  }

  /** SET_QP_CTX (algorithm type 0; the kernel writes back the queue number), then SET_QP_INFO checked against the description. */
  #qmSetup(qm: NonNullable<ReturnType<typeof qmRings>>): number {
    const ctx = new Uint8Array(HISI_QP_CTX_SIZE);
    const cv = new DataView(ctx.buffer);
    // qc_type: the engine's per-queue algorithm type. This description's requests carry their
    // direction themselves (Sqe.op), so the queue is set up as type 0 and takes both.
    cv.setUint16(2, 0, true);
    const info = new Uint8Array(HISI_QP_INFO_SIZE);
    try {
      this.#sys.ioctl(this.#fd, UACCE_CMD_QM_SET_QP_CTX, ctx, "UACCE_CMD_QM_SET_QP_CTX", this.path);
      this.#sys.ioctl(this.#fd, UACCE_CMD_QM_SET_QP_INFO, info, "UACCE_CMD_QM_SET_QP_INFO", this.path);
    } catch (e) {
      if (!(e instanceof SysError && e.errno === ENXIO)) throw e;
      this.#retire();
      throw this.#goneError("queue");
    }
    const iv = new DataView(info.buffer);
    const got = { sqeSize: iv.getUint32(0, true), sqDepth: iv.getUint16(4, true), cqDepth: iv.getUint16(6, true) };
    const want = { sqeSize: qm.queue.sq.entrySize, sqDepth: qm.place.depth, cqDepth: qm.place.depth };
    if (got.sqeSize !== want.sqeSize || got.sqDepth !== want.sqDepth || got.cqDepth !== want.cqDepth) {
      throw new UacceError("UACCE_CMD_QM_SET_QP_INFO", this.address, undefined,
        `the kernel reports SQE size ${got.sqeSize}, depths ${got.sqDepth}/${got.cqDepth}; ${this.#spec.name}'s description says ${want.sqeSize}, ${want.sqDepth}/${want.cqDepth}: is this the device the description is for?`);
    }
    return cv.getUint16(0, true);
  }

  dmaMap(): void {
    throw new UacceError("dma map", this.address, undefined, "a UACCE queue maps no memory for its device: buffers come from device.alloc()");
  }

  dmaUnmap(): void {
    throw new UacceError("dma unmap", this.address, undefined, "a UACCE queue maps no memory for its device");
  }

  irq(index: number): IrqLine {
    if (this.#closed) throw new UacceError("poll", this.address, undefined, "the queue is closed");
    let l = this.#lines.get(index);
    if (l === undefined) this.#lines.set(index, (l = new QueuePollLine(index, this)));
    return l;
  }

  /** poll(POLLIN) on the queue file: true when the driver reported completed work within timeoutMs. */
  pollIn(timeoutMs: number): boolean {
    const [rev] = this.#sys.poll([{ fd: this.fd, events: POLLIN }], timeoutMs);
    return (rev & POLLIN) !== 0;
  }

  /** Stop and start the queue again: the driver brings the queue back to its state after open. */
  reset(): void {
    if (this.#closed) throw new UacceError("reset", this.address, undefined, "the queue is closed");
    if (this.#gone !== undefined) throw this.#goneError("reset");
    try {
      this.#sys.ioctl(this.#fd, UACCE_CMD_PUT_Q, null, "UACCE_CMD_PUT_Q", this.path);
      this.#sys.ioctl(this.#fd, UACCE_CMD_START_Q, null, "UACCE_CMD_START_Q", this.path);
      this.#ringsUsed = false;
    } catch (e) {
      if (!(e instanceof SysError && e.errno === ENXIO)) throw e;
      this.#retire();
      throw this.#goneError("reset");
    }
  }

  #teardown(): void {
    let first: unknown;
    const step = (f: () => void) => {
      try {
        f();
      } catch (e) {
        first ??= e;
      }
    };
    if (this.deviceMemory instanceof DusPool) this.deviceMemory.retire();
    for (const r of this.#regions.values()) r.io.release();
    this.#regions.clear();
    this.#lines.clear();
    for (const [q, m] of this.#maps) {
      m.guard?.remove();
      step(() => this.#sys.munmap(m.ptr, m.size, `${q.toUpperCase()} region of ${this.path}`));
    }
    this.#maps.clear();
    if (this.#fd >= 0) {
      const fd = this.#fd;
      this.#fd = -1;
      // PUT_Q stops the queue; close() would as well. ENXIO: the parent is gone, nothing to stop.
      step(() => {
        try {
          this.#sys.ioctl(fd, UACCE_CMD_PUT_Q, null, "UACCE_CMD_PUT_Q", this.path);
        } catch (e) {
          if (!(e instanceof SysError && e.errno === ENXIO)) throw e;
        }
      });
      step(() => this.#sys.close(fd, this.path));
    }
    if (first !== undefined) throw first;
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#teardown();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
