// Device: one opened accelerator, whatever the backend. It maps regions by name, owns the DMA
// domain (IOVA allocation + the backend's DMA map, i.e. wd_mem_share/unshare), hands out queues
// (wd_request_queue) once per queue id, and tears everything down in order on close.
import type { Backend, BackendDevice, DeviceSpec, IrqLine, MappedRegion, QueueSpec } from "./backend.ts";
import { checkBrand, checkInt, checkString, describe, optional } from "./args.ts";
import { checkDeviceOptions, checkQueueOptions, checkSpec } from "./device-args.ts";
import { ConfigError, DeviceRemovedError, DmaError, type RemovalEvent, UseAfterReleaseError, WarpDriveError } from "./errors.ts";
import { DmaBuffer, IovaAllocator, SharedResolver, type DmaDomain, type DmaResolver } from "./mem/index.ts";
import { allocProvided, providedAddress } from "./device-memory.ts";
import { RingClaims } from "./ring-claims.ts";
import { IndexRingQueue } from "./queue/index-ring.ts";
import { SqCqQueue } from "./queue/sq-cq.ts";
import { PortalQueue } from "./queue/portal.ts";
import { VirtqSplitQueue } from "./queue/virtq-split.ts";
import { locateRegion, type LocatedRegion } from "./pci/located-region.ts";
import { VirtioTransport } from "./virtio/transport.ts";
import { RemovalWatch } from "./removal.ts";
import type { Queue, QueueHost } from "./queue/types.ts";
import { simBackend } from "./sim/backend.ts";
import { uacceBackend } from "./uacce/index.ts";
import { vfioBackend } from "./vfio/index.ts";

export interface DeviceOptions {
  /** "sim" (default, or $WD_BACKEND), "vfio" or "uacce", or a Backend object (tests). */
  backend?: BackendKind | Backend;
  /** PCI address for vfio ("0000:00:03.0"); for sim an optional "sim:<name>/<n>". Default:
   *  $WD_DEVICE_<NAME> (e.g. WD_DEVICE_QEMU_EDU), then $WD_DEVICE, then (vfio) the device of the
   *  spec's ids that is bound to vfio-pci. */
  address?: string;
  /** IOVA = process address for every shared buffer (WarpDrive's unified address space). */
  unified?: boolean;
  /** Highest usable IOVA + 1, for devices with narrow DMA addressing (edu: 1 << 28). */
  iovaLimit?: number;
}

export interface QueueOptions {
  /** Queue id (sq-cq: within the spec's instances; default the first). */
  id?: number;
  /** sq-cq only: ring depth override. */
  depth?: number;
  /** sq-cq only: interrupt index to wait on (default the spec's). */
  irq?: number;
}

/** What requestQueue returns for each queue kind. */
export type QueueFor<S extends QueueSpec> = S extends { kind: "index-ring" } ? IndexRingQueue
  : S extends { kind: "portal" } ? PortalQueue
  : S extends { kind: "virtq-split" } ? VirtqSplitQueue
  : SqCqQueue;

type AnyQueue = IndexRingQueue | SqCqQueue | PortalQueue | VirtqSplitQueue;

/** Requests a reset took away from the device: the queue label and the tags send() returned. */
export interface AbandonedRequests {
  queue: string;
  tags: readonly number[];
}

export type BackendKind = "sim" | "vfio" | "uacce";
const BACKEND_KINDS: readonly string[] = ["sim", "vfio", "uacce"];

/** Whether an address from the environment is meant for `backend` (sim:…, uacce:…, else vfio). */
function envAddressFits(backend: BackendKind | Backend, env: string): boolean {
  if (backend === "sim") return env.startsWith("sim:");
  if (backend === "uacce") return env.startsWith("uacce:");
  return true;
}

function envName(device: string): string {
  return `WD_DEVICE_${device.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** The backend and address Device.open would use, from options then the environment. */
export function resolveTarget(spec: DeviceSpec, optionsIn?: DeviceOptions): { backend: BackendKind | Backend; address?: string } {
  checkSpec(spec, "resolveTarget");
  const options = checkDeviceOptions(optionsIn, "resolveTarget");
  const backend = options.backend ?? ((process.env.WD_BACKEND || "sim") as BackendKind);
  if (typeof backend === "string" && !BACKEND_KINDS.includes(backend)) {
    throw new ConfigError(`unknown backend "${backend}" (WD_BACKEND or options.backend): use sim, vfio or uacce`);
  }
  let address = options.address;
  if (address === undefined) {
    const env = process.env[envName(spec.name)] || process.env.WD_DEVICE || undefined;
    // A PCI address in the environment means nothing to the sim or uacce backend: it is meant for vfio runs.
    if (env !== undefined && envAddressFits(backend, env)) address = env;
  }
  return { backend, address };
}

function pickBackend(kind: BackendKind | Backend): Backend {
  if (typeof kind !== "string") return kind;
  return kind === "sim" ? simBackend : kind === "uacce" ? uacceBackend : vfioBackend;
}

export class Device implements DmaDomain {
  readonly spec: DeviceSpec;
  readonly backend: BackendDevice;
  readonly backendKind: BackendKind;
  /** For messages: "device sim:wd-dummy/1". */
  readonly name: string;
  /** Checks that a DmaRef is shared with this device and inside its buffer; returns the IOVA. */
  readonly dma: DmaResolver;

  readonly #iova: IovaAllocator;
  readonly #shared = new Set<DmaBuffer>();
  readonly #owned = new Set<DmaBuffer>();
  /** Shared buffers the device reaches without a mapping of ours (backend.deviceMemory). */
  readonly #provided = new Set<DmaBuffer>();
  readonly #queues = new Map<string, AnyQueue>();
  /** Rings of live queues: the caller cannot free or unshare them. */
  readonly #rings = new RingClaims();
  readonly #host: QueueHost;
  /** Regions found through PCI capabilities, by name (windows of a BAR; released before close). */
  readonly #located = new Map<string, LocatedRegion>();
  #virtio: VirtioTransport | undefined;
  /** Watches the backend's removal signal while the device is open (backends that have one). */
  readonly #removal: RemovalWatch | undefined;
  #removed: DeviceRemovedError | undefined;
  /** The backend let go of the device (after a removal): nothing of it is mapped any more. */
  #revoked = false;
  #closed = false;

  /**
   * Opens `spec` on the chosen backend (see DeviceOptions for the defaults). The sim backend starts
   * the device model and waits until it is running.
   */
  static async open(spec: DeviceSpec, optionsIn?: DeviceOptions): Promise<Device> {
    checkSpec(spec, "Device.open");
    const options = checkDeviceOptions(optionsIn); // a checked copy: each option read once
    const target = resolveTarget(spec, options);
    const backend = pickBackend(target.backend);
    // vfio without an address finds the one device of the spec's ids bound to vfio-pci
    const bd = backend.open(spec, target.address);
    try {
      if (bd.ready !== undefined) await bd.ready;
      return new Device(spec, bd, backend.kind, options);
    } catch (e) {
      bd.close();
      throw e;
    }
  }

  private constructor(spec: DeviceSpec, bd: BackendDevice, kind: BackendKind, options: DeviceOptions) {
    this.spec = spec;
    this.backend = bd;
    this.backendKind = kind;
    this.name = `device ${bd.address}`;
    this.#iova = new IovaAllocator({ ranges: bd.iovaRanges, pageSize: bd.dmaPageSize, unified: options.unified, limit: options.iovaLimit });
    this.dma = new SharedResolver(this);
    this.#removal = bd.removal === undefined ? undefined : new RemovalWatch(bd.removal, (event) => this.#removedBy(event));
    const self = this;
    this.#host = {
      address: bd.address,
      region: (name) => self.region(name),
      irq: (index) => self.backend.irq(index),
      // A ring belongs to its queue until the queue is released: claimed here, so the caller's
      // free() or unshare() of it is refused instead of detaching memory the device still uses.
      allocShared: (size, name) => {
        const buf = self.alloc(size, name);
        self.#rings.claim(buf, name);
        return buf;
      },
      freeShared: (buf) => {
        self.#rings.release(buf);
        self.#freeOwned(buf);
      },
      get dma() {
        return self.dma;
      },
      portal: (name, store, size) => {
        const r = self.spec.regions.find((x) => x.name === name);
        if (r === undefined) throw new ConfigError(`${self.spec.name} has no region "${name}"`);
        if (self.backend.portal === undefined) throw new ConfigError(`the ${self.backendKind} backend of ${self.name} cannot write portals`);
        return self.backend.portal(r.index, store, size);
      },
      onRelease: (q) => self.#queues.delete(`${q.name}#${q.id}`),
      deviceRings: (spec, id, depth, label) => self.#deviceRings(spec, id, depth, label),
      removal: this.#removal,
    };
  }

  /** Rings the backend's device keeps itself, wrapped as buffers claimed for their queue (see QueueHost). */
  #deviceRings(spec: Extract<QueueSpec, { kind: "sq-cq" }>, id: number, depth: number | undefined, label: string) {
    const rings = this.backend.sqCqRings?.(spec, id, depth);
    if (rings === undefined) return undefined;
    const made: DmaBuffer[] = [];
    try {
      for (const [m, what] of [[rings.sq, "SQ"], [rings.cq, "CQ"]] as const) {
        // the device's own memory: nothing to give back but the view, which free() detaches
        const buf = DmaBuffer.fromProvided(m.ptr, m.size, { name: `${label} ${what}`, giveBack: () => {} });
        made.push(buf);
        this.#owned.add(buf);
        this.#rings.claim(buf, `${label} ${what}`);
      }
    } catch (e) {
      for (const b of made) this.#host.freeShared(b);
      rings.release();
      throw e;
    }
    return { sq: made[0]!, cq: made[1]!, rings };
  }

  /** "sim:wd-dummy/1", "0000:00:03.0". */
  get address(): string {
    return this.backend.address;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Set once the device left while open (see DeviceRemovedError): every later call throws it. */
  get removed(): DeviceRemovedError | undefined {
    return this.#removed;
  }

  #check(what: string): void {
    if (this.#closed) throw new UseAfterReleaseError(`${what} of ${this.name}`, "closed");
    if (this.#removed !== undefined) throw this.#removed;
  }

  /**
   * The backend said the device is leaving (RemovalWatch): its queues die with DeviceRemovedError
   * (each waiter and pending request gets it, in-flight tags go to `queue.abandoned`), then the
   * backend lets go of the device (mappings made harmless, files closed) so the kernel can finish.
   * Runs from a timer or inside a queue call, so it never throws; close() still frees the rest.
   */
  #removedBy(event: RemovalEvent): void {
    if (this.#closed || this.#removed !== undefined) return;
    const err = new DeviceRemovedError(this.name, event);
    this.#removed = err;
    const why = event === "removed" ? "its device was removed" : "its device reported an error";
    for (const q of [...this.#queues.values()]) {
      try {
        q.releaseFor(why, "removed", err);
      } catch {
        // the queue is dead either way; close() frees what it left
      }
    }
    this.#queues.clear();
    // only now: the rings above were unmapped from the device while it could still reach them
    try {
      this.backend.revoke?.();
      this.#revoked = this.backend.revoke !== undefined;
    } catch {
      // a backend that could not let go keeps its files until close(); the device stays removed
    }
  }

  /** A region by its name in the device description. */
  region(name: string): MappedRegion {
    checkString(name, "name", `region of ${this.name}`);
    this.#check(`region ${name}`);
    const r = this.spec.regions.find((x) => x.name === name);
    if (r === undefined) throw new ConfigError(`${this.spec.name} has no region "${name}" (regions: ${this.spec.regions.map((x) => x.name).join(", ")})`);
    if (r.capability !== undefined) return this.#locate(r).region;
    return this.backend.region(r.index);
  }

  #locate(r: DeviceSpec["regions"][number]): LocatedRegion {
    let l = this.#located.get(r.name);
    if (l === undefined) {
      l = locateRegion(this.backend, r, `${this.spec.name} at ${this.address}`);
      this.#located.set(r.name, l);
    }
    return l;
  }

  /**
   * The virtio transport of a device whose description has a `virtio:` block: feature negotiation,
   * device status, configuration reads (virtio/transport.ts). Its virtqueues are set up by
   * requestQueue, between `negotiate()` and `driverOk()`.
   */
  get virtio(): VirtioTransport {
    this.#check("virtio");
    const v = this.spec.virtio;
    if (v === undefined) throw new ConfigError(`${this.spec.name} is not a virtio device (its description has no virtio block)`);
    if (this.#virtio === undefined) {
      const region = (name: string) => {
        const r = this.spec.regions.find((x) => x.name === name);
        if (r === undefined) throw new ConfigError(`${this.spec.name}: virtio names region "${name}", which the description does not have`);
        return r.capability !== undefined ? this.#locate(r) : undefined;
      };
      const notify = region(v.notify);
      this.#virtio = new VirtioTransport({
        label: `${this.spec.name} at ${this.address}`,
        common: this.region(v.common),
        notify: this.region(v.notify),
        multiplier: notify?.capability.multiplier ?? 0,
        isr: v.isr === undefined ? undefined : this.region(v.isr),
        config: v.config === undefined ? undefined : this.region(v.config),
        // Without ACCESS_PLATFORM a device ignores the IOMMU: only the sim's DMA table is then still right.
        needsAccessPlatform: this.backendKind !== "sim",
      });
    }
    return this.#virtio;
  }

  /** An interrupt line by name (or index), enabled on first use. */
  irq(name: string | number): IrqLine {
    if (typeof name !== "string" && typeof name !== "number") {
      throw new TypeError(`interrupt of ${this.name}: name must be an interrupt's name or index, got ${describe(name)}`);
    }
    this.#check(`interrupt ${name}`);
    const i = typeof name === "number" ? this.spec.interrupts.find((x) => x.index === name) : this.spec.interrupts.find((x) => x.name === name);
    if (i === undefined) throw new ConfigError(`${this.spec.name} has no interrupt ${JSON.stringify(name)} (interrupts: ${this.spec.interrupts.map((x) => x.name).join(", ") || "none"})`);
    return this.backend.irq(i.index);
  }

  // ---- DMA memory (wd_mem_share / wd_mem_unshare) ----

  /** Page-aligned zeroed memory, shared with this device; freed at close if still alive. */
  alloc(size: number, name?: string): DmaBuffer {
    checkInt(size, "size", 1, 2 ** 32, `alloc on ${this.name}`);
    optional(name, (v) => checkString(v, "name", `alloc on ${this.name}`));
    this.#check("alloc");
    // A device that reaches only its own memory (UACCE without SVA) gets buffers from that memory.
    const mem = this.backend.deviceMemory;
    const buf = mem?.alloc !== undefined ? allocProvided(mem, size, name, this.name) : DmaBuffer.alloc(size, { name });
    try {
      buf.share(this);
    } catch (e) {
      buf.free();
      throw e;
    }
    this.#owned.add(buf);
    return buf;
  }

  #freeOwned(buf: DmaBuffer): void {
    this.#owned.delete(buf);
    buf.free();
  }

  /** Lets the device reach `buf` (wd_mem_share); returns its IOVA. Idempotent. */
  share(buf: DmaBuffer): number {
    checkBrand(buf, DmaBuffer.isBuffer, "DmaBuffer", "buffer", `share with ${this.name}`);
    this.#check("share");
    return buf.share(this);
  }

  /** Takes `buf` away from the device (wd_mem_unshare); no-op when not shared. */
  unshare(buf: DmaBuffer): void {
    checkBrand(buf, DmaBuffer.isBuffer, "DmaBuffer", "buffer", `unshare from ${this.name}`);
    this.#check("unshare");
    buf.unshare(this);
  }

  /**
   * DmaDomain: why `buf` may not be unshared or freed now, or undefined. A request queued and not yet
   * completed references it: the device may still read or write it, so taking it away would let the
   * device reach memory the process reuses (sim: a fault; vfio: an IOMMU fault or, after reuse, a
   * silent write into other data).
   */
  dmaInUse(buf: DmaBuffer): string | undefined {
    // The pin count lives on the buffer (the queues count it without a lookup); which of this
    // device's queues hold it is asked only here, on the refusal path.
    if (buf.pins === 0) return undefined;
    let n = 0;
    const on: string[] = [];
    for (const q of this.#queues.values()) {
      const k = q.pinsOf(buf);
      if (k > 0) {
        n += k;
        on.push(q.label);
      }
    }
    if (n === 0) return undefined; // pinned by another device's requests, not this one's
    return `${n} reference${n === 1 ? "" : "s"} from requests in flight on queue ${on.join(", ")} point${n === 1 ? "s" : ""} at it`;
  }

  /** DmaDomain: called by DmaBuffer.share. */
  dmaAttach(buf: DmaBuffer): number {
    this.#check(`share of dma buffer ${buf.name}`);
    const mem = this.backend.deviceMemory;
    if (mem !== undefined) {
      const addr = providedAddress(mem, buf, this.name);
      this.#shared.add(buf);
      this.#provided.add(buf);
      return addr;
    }
    const iova = this.#iova.alloc(buf.size, buf.ptr);
    try {
      this.backend.dmaMap(buf.ptr, buf.size, iova);
    } catch (e) {
      this.#iova.free(iova);
      if (e instanceof DmaError) throw e;
      throw new DmaError(`${this.name}: mapping dma buffer ${buf.name} failed: ${e instanceof Error ? e.message : String(e)}`, { buffer: buf.name, cause: e });
    }
    this.#shared.add(buf);
    return iova;
  }

  /** DmaDomain: called by DmaBuffer.unshare / free. */
  dmaDetach(buf: DmaBuffer, iova: number): void {
    this.#shared.delete(buf);
    if (this.#provided.delete(buf)) return; // nothing was mapped
    if (this.#revoked) {
      this.#iova.free(iova); // every mapping went with the device (vfio: its container was closed)
      return;
    }
    try {
      this.backend.dmaUnmap(iova, buf.size);
    } finally {
      this.#iova.free(iova);
    }
  }

  // ---- queues (wd_request_queue) ----

  /** Opens queue `name` (a queue of the spec). Each queue id is handed out once until released. */
  requestQueue(name: string, optionsIn?: QueueOptions): AnyQueue {
    checkString(name, "name", `requestQueue on ${this.name}`);
    this.#check(`queue ${name}`);
    const spec = this.spec.queues.find((q) => q.name === name);
    if (spec === undefined) throw new ConfigError(`${this.spec.name} has no queue ${JSON.stringify(name)} (queues: ${this.spec.queues.map((q) => q.name).join(", ") || "none"})`);
    const [first, last] = spec.kind === "index-ring" ? [0, 0] : [spec.first, spec.last];
    const options = checkQueueOptions(optionsIn, `queue ${name} of ${this.name}`, { first, last }); // a checked copy
    const id = options.id ?? first;
    const key = `${name}#${id}`;
    if (this.#queues.has(key)) {
      throw new WarpDriveError(`queue ${name}${first === last ? "" : ` id ${id}`} of ${this.name} is already in use`, {
        hint: "release() it first; each queue is handed out once",
      });
    }
    let q: AnyQueue;
    if (spec.kind === "index-ring") {
      if (options.depth !== undefined && options.depth !== spec.depth) {
        throw new ConfigError(`queue ${name} of ${this.name}: the device's ring has ${spec.depth} entries, depth ${options.depth} cannot be chosen`);
      }
      q = new IndexRingQueue(this.#host, spec, id);
    } else if (spec.kind === "portal") {
      if (options.depth !== undefined && options.depth !== spec.depth) {
        throw new ConfigError(`queue ${name} of ${this.name}: the work queue takes ${spec.depth} descriptors, depth ${options.depth} cannot be chosen`);
      }
      q = new PortalQueue(this.#host, spec, id);
    } else if (spec.kind === "virtq-split") {
      q = new VirtqSplitQueue(this.#host, spec, id, this.virtio, { depth: options.depth });
    } else {
      q = new SqCqQueue(this.#host, spec, id, { depth: options.depth, irq: options.irq });
    }
    this.#queues.set(key, q);
    return q;
  }

  /** Queues currently handed out. */
  get queues(): Queue[] {
    return [...this.#queues.values()];
  }

  /** Resets the device (function-level reset / sim model reset). The device forgets its queues,
   *  so they are released here (later use says so): request them again. Shared memory stays shared.
   *  Returns the requests that were in flight, per queue: they will never complete (each is reported
   *  here once, and as `queue.abandoned`); their buffers are no longer pinned. */
  reset(): AbandonedRequests[] {
    this.#check("reset");
    const lost: AbandonedRequests[] = [];
    try {
      // The device first: until it is reset it may still fetch from the rings and write the
      // buffers of requests in flight, so their memory is given back only afterwards (freeing a
      // ring first let a busy device DMA into unmapped memory: a sim model fault, an IOMMU fault).
      this.backend.reset();
    } finally {
      this.#virtio?.forget();
      for (const q of [...this.#queues.values()]) {
        q.releaseFor("its device was reset", "reset");
        if (q.abandoned.length > 0) lost.push({ queue: q.label, tags: q.abandoned });
      }
      this.#queues.clear();
    }
    return lost;
  }

  /** Releases queues, unshares and frees DMA memory, closes the backend. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#removal?.stop();
    let first: unknown;
    const attempt = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        first ??= e;
      }
    };
    // Requests still in flight mean a device that may still fetch from the rings and write their
    // buffers: reset it before that memory is unmapped (a failed reset, e.g. a hung sim model, is
    // no reason to keep the device open).
    if (this.#removed === undefined && [...this.#queues.values()].some((q) => q.inFlight > 0)) {
      try {
        this.backend.reset();
      } catch {
        // closing anyway
      }
    }
    // A virtio device is told to stop (device_status 0) before its rings are freed.
    if (this.#removed === undefined && this.#virtio !== undefined && this.#virtio.features !== undefined) attempt(() => this.#virtio!.reset());
    for (const q of [...this.#queues.values()]) attempt(() => q.releaseFor("its device was closed", "closed"));
    this.#queues.clear();
    // rings a failed release left behind are the device's to free now
    this.#rings.releaseAll(attempt);
    for (const b of [...this.#shared]) attempt(() => b.unshare(this));
    for (const b of [...this.#owned]) attempt(() => b.free());
    this.#owned.clear();
    this.#closed = true;
    // windows into BARs die before the BARs are unmapped
    for (const l of this.#located.values()) attempt(() => l.release());
    this.#located.clear();
    attempt(() => this.backend.close());
    if (first !== undefined) throw first;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
