// The sim backend: a device whose registers are shared memory and whose behaviour is a model
// running in another thread.
//
// - Regions: one memfd each, mapped MAP_SHARED (a model could map the same fd in another process).
//   The client gets the RegisterIo the hardware path would use for that kind of region (native
//   volatile access for `mmio`, Atomics for `ram`), so client code cannot tell the difference.
// - DMA: a translation table iova -> process pointer in a SharedArrayBuffer (seqlock: the client
//   is the only writer). The model reaches host memory only through it; an iova that is not in
//   the table is a DMA fault the model reports as its device would.
// - Interrupts: real eventfds, written by the model thread.
// - Unmapping safety: the model may be inside poll() using a view of memory the client is about
//   to unmap (dmaUnmap before a buffer is freed, close before regions are unmapped). The host
//   counts poll entries/exits in EPOCH; the client removes the mapping, then waits until the host
//   is outside poll or has left the call it was in. No view survives a poll call, so after that
//   no model code can touch the memory.
// - Removal: requestRemoval() plays the kernel's request to release a hot-unplugged device (what
//   VFIO's REQ interrupt says): the device's removal signal fires, Device fails every request with
//   DeviceRemovedError and revokes the device (model stopped, regions replaced by anonymous memory,
//   as the vfio backend does with its BARs). It lets `bun run test` hold the behaviour the guest
//   suite checks on QEMU.
import { ConfigError, DmaError, type RemovalEvent, TimeoutError, UseAfterReleaseError, WarpDriveError } from "../errors.ts";
import type { Backend, BackendDevice, DeviceSpec, IrqLine, MappedRegion, PortalPort, RemovalSignal } from "../backend.ts";
import { mmioIo, RamIo, type RegisterIo } from "../mem/io.ts";
import { EventFd } from "../sys/eventfd.ts";
import { MAP_SHARED, MFD_CLOEXEC, PROT_READ, PROT_WRITE, sys } from "../sys/libc.ts";
import {
  Cmd, CMD, DMA_COUNT, DMA_ENTRY, DMA_MAX_ENTRIES, DMA_SEQ, EPOCH, EPOCH_WAITERS, HOST_TID, IRQ_BASE, IRQ_PENDING, MAX_IRQS, newControl, newJournal, RESET_DONE,
  SIM_CONFIG_REGION, SIM_NOTIFY_MULTIPLIER, State, STATE, WAKE, type HostMessage, type StartMessage,
} from "./control.ts";
import { writeVendorCapabilities } from "../pci/capabilities.ts";
import { describe } from "../args.ts";
import { JournalIo } from "./journal-io.ts";
import { MailboxPort, MAX_DESCRIPTOR, newMailbox } from "./portal-mailbox.ts";
import { resolveModelLocation } from "./model-location.ts";
import { acquireHost, discardHost, releaseHost, type Host } from "./pool.ts";
import { isMainThread, threadId } from "node:worker_threads";

/** How long close/reset wait for the model thread before declaring it hung. */
const STOP_TIMEOUT_MS = 2000;
const PAGE = 4096;

let nextInstance = 1;
/** Addresses of the sim devices open in this thread: an address names one device at a time. */
const openAddresses = new Set<string>();

/**
 * A fresh address for a sim device of `name`: "sim:<name>/<n>" in the main thread and
 * "sim:<name>/<thread>.<n>" in a Worker. Module state is per thread (each Worker loads its own
 * copy of the runtime), so a plain counter would make the first device of every Worker
 * "sim:<name>/1"; the thread id (unique in the process) keeps them apart. Numbers an explicit
 * open already took are skipped.
 */
function freshAddress(name: string): string {
  const prefix = isMainThread ? `sim:${name}/` : `sim:${name}/${threadId}.`;
  for (;;) {
    const a = `${prefix}${nextInstance++}`;
    if (!openAddresses.has(a)) return a;
  }
}

interface SimRegion extends MappedRegion {
  readonly name: string;
  readonly fd: number;
  readonly mapSize: number;
  /** Replaced by a JournalIo once the model says it journals this region (before open returns). */
  io: RegisterIo & { release(): void };
}

/** An eventfd the model writes; see IRQ_PENDING in control.ts for why reads clear a flag first. */
class SimIrq implements IrqLine {
  constructor(readonly index: number, readonly efd: EventFd, private readonly control: Int32Array) {}
  get fd(): number {
    return this.efd.fd;
  }
  wait(timeoutMs: number): boolean {
    Atomics.store(this.control, IRQ_PENDING + this.index, 0);
    return this.efd.wait(timeoutMs);
  }
  take(): number {
    Atomics.store(this.control, IRQ_PENDING + this.index, 0);
    return this.efd.take();
  }
}

export class SimDevice implements BackendDevice {
  readonly address: string;
  readonly spec: DeviceSpec;
  readonly iovaRanges = [{ start: 0x10000, end: 2 ** 47 }];
  readonly dmaPageSize = PAGE;
  /** Resolves when the model has run init() (Device.open awaits it). */
  readonly ready: Promise<void>;
  /** Set when the model faulted (an uncaught error or ctx.fault): the device is hung. */
  fault: string | undefined;

  readonly #regions: SimRegion[] = [];
  readonly #control: Int32Array;
  readonly #dma: Float64Array;
  readonly #irqs = new Map<number, SimIrq>();
  /** Portal mailboxes by region name: one per region a portal queue of the spec names. */
  readonly #portals = new Map<string, Int32Array>();
  #host: Host | undefined;
  #closed = false;
  #leaked = false;
  #removal: RemovalEvent | undefined;
  #revoked = false;
  /** No files to poll: requestRemoval runs in this thread, and waiters look after each sleep slice. */
  readonly removal: RemovalSignal = { fds: [], poll: () => this.#removal };

  constructor(spec: DeviceSpec, address?: string) {
    if (!spec.model) throw new ConfigError(`device ${spec.name} has no sim model (spec.model is empty)`, { hint: "add devices/<dev>/model.ts and regenerate, or use --backend vfio" });
    if (address !== undefined && !address.startsWith("sim:")) {
      throw new ConfigError(`"${address}" is not a sim device address (sim:<name>/<n>)`, { hint: "use WD_BACKEND=vfio for a PCI address" });
    }
    if (address !== undefined && openAddresses.has(address)) {
      throw new ConfigError(`sim device ${address} is already open in this thread`, { hint: "close it first, or leave the address out and one is chosen" });
    }
    this.spec = spec;
    this.address = address ?? freshAddress(spec.name);
    openAddresses.add(this.address);
    const { control, dma } = newControl();
    this.#control = control;
    this.#dma = dma;
    try {
      for (const r of placeRegions(spec)) this.#regions.push(this.#mapRegion(r));
      this.#writeCapabilities(spec);
    } catch (e) {
      this.#unmapAll();
      openAddresses.delete(this.address);
      throw e;
    }
    for (const q of spec.queues) if (q.kind === "portal" && !this.#portals.has(q.portal.region)) this.#portals.set(q.portal.region, newMailbox());
    this.ready = this.#start(spec.model);
    this.ready.catch(() => {}); // reported to whoever awaits it; never an unhandled rejection
  }

  /** The configuration space of a device with capability-located regions (see SIM_NOTIFY_MULTIPLIER). */
  #writeCapabilities(spec: DeviceSpec): void {
    const config = this.#regions.find((r) => r.index === SIM_CONFIG_REGION.index && r.name === SIM_CONFIG_REGION.name);
    if (config === undefined) return;
    const caps = spec.regions.flatMap((r) => {
      const bar = this.#regions.find((x) => x.name === r.name);
      if (r.capability === undefined || bar === undefined) return [];
      return [{ cfgType: r.capability.cfgType, bar: bar.index, capId: 0, offset: 0, length: bar.size, multiplier: r.capability.multiplier ? SIM_NOTIFY_MULTIPLIER : undefined }];
    });
    writeVendorCapabilities(config.io, spec.pci[0] ?? { vendor: 0, device: 0 }, caps);
  }

  #mapRegion(r: DeviceSpec["regions"][number]): SimRegion {
    const name = `${r.name} of ${this.address}`;
    const mapSize = Math.max(PAGE, Math.ceil(r.size / PAGE) * PAGE);
    const fd = sys.memfdCreate(`wd ${this.address} ${r.name}`, MFD_CLOEXEC);
    let ptr = 0;
    try {
      sys.ftruncate(fd, mapSize, name);
      ptr = sys.mmap(mapSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, name);
      const io = r.kind === "mmio" ? mmioIo(ptr, r.size, name) : RamIo.fromPointer(ptr, r.size, name);
      return { name: r.name, index: r.index, size: r.size, kind: r.kind, ptr, io, fd, mapSize };
    } catch (e) {
      if (ptr) sys.munmap(ptr, mapSize, name);
      sys.close(fd, name);
      throw e;
    }
  }

  async #start(model: string): Promise<void> {
    const modelUrl = resolveModelLocation(model, this.spec.name);
    const host = await acquireHost(modelUrl);
    if (this.#closed) {
      releaseHost(host);
      return;
    }
    this.#host = host;
    const journals: Record<string, Int32Array> = {};
    for (const name of host.journal) {
      const r = this.#regions.find((x) => x.name === name);
      if (r === undefined) {
        this.#host = undefined;
        releaseHost(host);
        throw new ConfigError(`sim model ${modelUrl} journals region "${name}", which ${this.spec.name} does not have`);
      }
      journals[name] = newJournal();
      r.io = new JournalIo(r.io, r.size, journals[name], this.#control, `${r.name} of ${this.address}`);
    }
    const msg: StartMessage = {
      type: "start",
      address: this.address,
      modelUrl,
      spec: this.spec,
      regions: this.#regions.map((r) => ({ name: r.name, index: r.index, size: r.size, kind: r.kind, ptr: r.ptr, fd: r.fd })),
      control: this.#control,
      dma: this.#dma,
      journals,
      portals: Object.fromEntries(this.#portals),
    };
    host.worker.ref(); // the open awaits the host's answer: keep the process alive until it comes
    await new Promise<void>((resolve, reject) => {
      host.listener = (m: HostMessage) => {
        if (m.type === "loaded" || m.type === "load-error" || m.address !== this.address) return;
        if (m.type === "started" || m.type === "stopped") resolve();
        else if (m.type === "fault") {
          this.fault = m.message;
          reject(new WarpDriveError(`sim device ${this.address}: model fault: ${m.message}`));
        }
      };
      host.worker.postMessage(msg);
    }).finally(() => host.worker.unref());
    host.listener = (m: HostMessage) => {
      if (m.type === "fault" && m.address === this.address) this.fault = m.message;
    };
    if (this.fault !== undefined) throw new WarpDriveError(`sim device ${this.address}: model fault: ${this.fault}`);
  }

  /** Kernel thread id of the model's thread (0 before it started): its CPU time is in
   *  /proc/self/task/<id>/stat. */
  get modelThreadId(): number {
    return Atomics.load(this.#control, HOST_TID);
  }

  /** The model thread's state, read synchronously from the control block. */
  get modelState(): "starting" | "running" | "stopped" | "faulted" {
    const st = Atomics.load(this.#control, STATE);
    return st === State.STARTING ? "starting" : st === State.RUNNING ? "running" : st === State.FAULTED ? "faulted" : "stopped";
  }

  #check(what: string): void {
    if (this.#closed) throw new UseAfterReleaseError(`${what} of sim device ${this.address}`, "closed");
  }

  /** The model's mailbox for the region's portals: every descriptor arrives whole (sim/portal-mailbox.ts). */
  portal(index: number, store: "movdir64b" | "enqcmd", size: number): PortalPort {
    this.#check(`portal in region ${index}`);
    const r = this.#regions.find((x) => x.index === index);
    const mailbox = r === undefined ? undefined : this.#portals.get(r.name);
    if (r === undefined || mailbox === undefined) throw new ConfigError(`sim device ${this.address}: region ${index} holds no portal of a portal queue`);
    if (!(size > 0 && size <= MAX_DESCRIPTOR)) throw new ConfigError(`sim device ${this.address}: a ${size}-byte descriptor does not fit a portal store (1..${MAX_DESCRIPTOR} bytes)`);
    return new MailboxPort(mailbox, store === "enqcmd", () => this.#wake());
  }

  region(index: number): MappedRegion {
    this.#check(`region ${index}`);
    const r = this.#regions.find((x) => x.index === index);
    if (r === undefined) throw new ConfigError(`sim device ${this.address} has no region ${index} (has ${this.#regions.map((x) => x.index).join(", ")})`);
    return r;
  }

  // ---- DMA translation table (client side: the only writer) ----

  #edit(fn: () => void): void {
    const c = this.#control;
    Atomics.add(c, DMA_SEQ, 1); // odd: editing
    try {
      fn();
    } finally {
      Atomics.add(c, DMA_SEQ, 1);
    }
  }

  dmaMap(ptr: number, size: number, iova: number): void {
    this.#check("dmaMap");
    const bad = (why: string) => new DmaError(`sim device ${this.address}: cannot map iova 0x${iova.toString(16)} (+${size}): ${why}`);
    if (!Number.isSafeInteger(iova) || !Number.isSafeInteger(size) || size <= 0 || iova % PAGE || size % PAGE || ptr % PAGE) {
      throw bad("iova, size and address must be page multiples");
    }
    if (!this.iovaRanges.some((w) => iova >= w.start && iova + size <= w.end)) throw bad("outside the device's IOVA window");
    const n = Atomics.load(this.#control, DMA_COUNT);
    for (let i = 0; i < n; i++) {
      const s = this.#dma[i * DMA_ENTRY]!, z = this.#dma[i * DMA_ENTRY + 1]!;
      if (iova < s + z && s < iova + size) throw bad(`overlaps the mapping at 0x${s.toString(16)}`);
    }
    if (n >= DMA_MAX_ENTRIES) throw bad(`the sim IOMMU table is full (${DMA_MAX_ENTRIES} mappings)`);
    this.#edit(() => {
      this.#dma[n * DMA_ENTRY] = iova;
      this.#dma[n * DMA_ENTRY + 1] = size;
      this.#dma[n * DMA_ENTRY + 2] = ptr;
      Atomics.store(this.#control, DMA_COUNT, n + 1);
    });
  }

  dmaUnmap(iova: number, size: number): void {
    this.#check("dmaUnmap");
    const n = Atomics.load(this.#control, DMA_COUNT);
    let at = -1;
    for (let i = 0; i < n; i++) if (this.#dma[i * DMA_ENTRY] === iova && this.#dma[i * DMA_ENTRY + 1] === size) at = i;
    if (at < 0) throw new DmaError(`sim device ${this.address}: no mapping at iova 0x${iova.toString(16)} (+${size}) to unmap`);
    this.#edit(() => {
      const last = n - 1;
      for (let k = 0; k < DMA_ENTRY; k++) this.#dma[at * DMA_ENTRY + k] = this.#dma[last * DMA_ENTRY + k]!;
      Atomics.store(this.#control, DMA_COUNT, last);
    });
    this.#quiesce();
  }

  /** Waits until the model has left the poll() call it may be in (see the file comment). */
  #quiesce(): void {
    const c = this.#control;
    if ((Atomics.load(c, EPOCH) & 1) === 0) return;
    Atomics.add(c, EPOCH_WAITERS, 1); // before loading the epoch we wait on: see control.ts
    try {
      const e = Atomics.load(c, EPOCH);
      if ((e & 1) === 0) return;
      const t0 = performance.now();
      while (Atomics.load(c, EPOCH) === e && Atomics.load(c, STATE) === State.RUNNING) {
        Atomics.wait(c, EPOCH, e, 1);
        if (performance.now() - t0 > STOP_TIMEOUT_MS) {
          throw new TimeoutError(`the model of ${this.address} to leave poll()`, STOP_TIMEOUT_MS, "the device model is stuck in poll(): a model must never block");
        }
      }
    } finally {
      Atomics.sub(c, EPOCH_WAITERS, 1);
    }
  }

  // ---- interrupts ----

  irq(index: number): IrqLine {
    this.#check(`irq ${index}`);
    let line = this.#irqs.get(index);
    if (line) return line;
    if (!this.spec.interrupts.some((i) => i.index === index) || index >= MAX_IRQS) {
      throw new ConfigError(`sim device ${this.address} has no interrupt ${index}`);
    }
    line = new SimIrq(index, new EventFd(`irq ${index} of ${this.address}`), this.#control);
    this.#irqs.set(index, line);
    Atomics.store(this.#control, IRQ_BASE + index, line.fd);
    return line;
  }

  // ---- removal ----

  /**
   * Plays a hot unplug ("removed": the kernel asks for the device back) or a fatal device error
   * ("error"): the device's removal signal fires, and the open Device notices it as it would the
   * vfio backend's REQ/ERR interrupt (within one look: a timer, a waiter's sleep, a queue's tick).
   */
  requestRemoval(event: RemovalEvent = "removed"): void {
    if (event !== "removed" && event !== "error") throw new TypeError(`requestRemoval on sim device ${this.address}: event must be "removed" or "error", got ${describe(event)}`);
    this.#check("requestRemoval");
    this.#removal ??= event;
  }

  /** The device left: stop the model (it lets go of every buffer), regions become anonymous memory. */
  revoke(): void {
    if (this.#closed || this.#revoked) return;
    this.#revoked = true;
    this.#stopModel();
    for (const r of this.#regions) sys.remapAnonymous?.(r.ptr, r.mapSize, `${r.name} of ${this.address}`);
  }

  // ---- reset / close ----

  reset(): void {
    this.#check("reset");
    if (this.#revoked) return; // nothing left to reset
    const c = this.#control;
    if (Atomics.load(c, STATE) !== State.RUNNING) {
      throw new WarpDriveError(`sim device ${this.address}: cannot reset, the model is not running${this.fault ? ` (fault: ${this.fault})` : ""}`);
    }
    const done = Atomics.load(c, RESET_DONE);
    Atomics.store(c, CMD, Cmd.RESET);
    this.#wake();
    const t0 = performance.now();
    while (Atomics.load(c, RESET_DONE) === done) {
      if (Atomics.load(c, STATE) !== State.RUNNING) throw new WarpDriveError(`sim device ${this.address}: the model stopped during reset${this.fault ? ` (fault: ${this.fault})` : ""}`);
      Atomics.wait(c, RESET_DONE, done, 5);
      if (performance.now() - t0 > STOP_TIMEOUT_MS) throw new TimeoutError(`reset of ${this.address}`, STOP_TIMEOUT_MS);
    }
    for (const l of this.#irqs.values()) l.take(); // interrupts raised before the reset are stale
  }

  #wake(): void {
    Atomics.add(this.#control, WAKE, 1);
    Atomics.notify(this.#control, WAKE);
  }

  /** Stops the model (waits for it to let go of all memory), then unmaps, closes every fd. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    openAddresses.delete(this.address);
    this.#stopModel();
    const c = this.#control;
    for (let i = 0; i < MAX_IRQS; i++) Atomics.store(c, IRQ_BASE + i, -1);
    if (this.#host !== undefined) {
      if (this.#leaked) discardHost(this.#host);
      else releaseHost(this.#host);
      this.#host = undefined;
    }
    for (const l of this.#irqs.values()) l.efd.close();
    this.#irqs.clear();
    if (this.#leaked) {
      process.stderr.write(`sim device ${this.address}: the model did not stop within ${STOP_TIMEOUT_MS} ms; its memory is left mapped\n`);
      return;
    }
    this.#unmapAll();
  }

  /** Tells the model to stop and waits until it let go of all memory (or declares it hung: #leaked). */
  #stopModel(): void {
    const c = this.#control;
    Atomics.store(c, CMD, Cmd.STOP);
    this.#wake();
    // The instance may not have started yet: cancel it, so the host never touches the memory.
    Atomics.compareExchange(c, STATE, State.STARTING, State.CANCELLED);
    const t0 = performance.now();
    while (Atomics.load(c, STATE) === State.RUNNING) {
      Atomics.wait(c, STATE, State.RUNNING, 5);
      if (performance.now() - t0 > STOP_TIMEOUT_MS) {
        // A model stuck in poll(): unmapping would crash the process under it. Leak the memory
        // (and its fds) instead, kill the thread, and say so.
        this.#leaked = true;
        break;
      }
    }
  }

  #unmapAll(): void {
    for (const r of this.#regions.splice(0)) {
      const name = `${r.name} of ${this.address}`;
      r.io.release();
      sys.munmap(r.ptr, r.mapSize, name);
      sys.close(r.fd, name);
    }
  }
}

/**
 * The register files the sim maps: fixed regions as described; each capability-located region in a
 * BAR of its own (lowest free index 0..5, a whole number of pages), plus the configuration space
 * that lists them.
 */
function placeRegions(spec: DeviceSpec): DeviceSpec["regions"] {
  const fixed = spec.regions.filter((r) => r.capability === undefined);
  const located = spec.regions.filter((r) => r.capability !== undefined);
  if (located.length === 0) return fixed;
  const used = new Set(fixed.map((r) => r.index));
  if (used.has(SIM_CONFIG_REGION.index)) throw new ConfigError(`sim device ${spec.name}: region index ${SIM_CONFIG_REGION.index} is the configuration space that lists its capability regions`);
  const out = [...fixed];
  for (const r of located) {
    let bar = 0;
    while (bar <= 5 && used.has(bar)) bar++;
    if (bar > 5) throw new ConfigError(`sim device ${spec.name}: no free BAR (0..5) for capability region ${r.name}`);
    used.add(bar);
    out.push({ name: r.name, kind: r.kind, index: bar, size: Math.max(PAGE, Math.ceil(r.size / PAGE) * PAGE) });
  }
  out.push({ ...SIM_CONFIG_REGION });
  return out;
}

export const simBackend: Backend = {
  kind: "sim",
  open(spec: DeviceSpec, address?: string): SimDevice {
    return new SimDevice(spec, address);
  },
};
