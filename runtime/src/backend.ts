// The seam between Device (device.ts) and the two backends (vfio/, sim/). See docs/design.md,
// "Runtime: backend interface". A backend only maps, maps DMA and wires interrupts; queues, DMA buffer
// bookkeeping and IOVA allocation live above it in Device.
import type { RemovalEvent } from "./errors.ts";
import type { RegisterIo } from "./mem/io.ts";

/** Where a register (or a doorbell array, with stride) lives. */
export type RegLoc = { region: string; offset: number; width: 8 | 16 | 32 | 64; stride?: number };

export type QueueSpec =
  | {
      kind: "index-ring";
      name: string;
      entrySize: number;
      depth: number;
      ring: { region: string; offset: number } | "dma";
      producer: RegLoc;
      consumer: RegLoc;
      doorbell: RegLoc;
      done: { offset: number; width: 8 | 16 | 32; pending: number };
      interrupt?: number;
    }
  | {
      kind: "sq-cq";
      name: string;
      first: number;
      last: number;
      /** tagWidth: bits of the tag field (default 16); tagBigEndian: its byte order (default little). */
      sq: { entrySize: number; depth: number; doorbell: RegLoc; tagOffset: number; tagWidth?: 8 | 16 | 32; tagBigEndian?: boolean };
      cq: {
        entrySize: number;
        depth: number;
        doorbell: RegLoc;
        tagOffset: number;
        tagWidth?: 8 | 16 | 32;
        tagBigEndian?: boolean;
        phase: { offset: number; width: 8 | 16 | 32; bit: number };
        sqHeadOffset?: number;
      };
      interrupt?: number;
    }
  | PortalQueueSpec
  | VirtqSplitQueueSpec;

/**
 * A virtio split virtqueue (virtio 1.x, 2.7): a descriptor table, an available ring the driver
 * fills with chain heads and a used ring the device fills with (id, len). A request is a chain:
 * an optional device-readable header struct, up to `segments` data buffers, an optional
 * device-writable footer struct. The rings are set up through the virtio transport (the common
 * configuration structure of `DeviceSpec.virtio`), not located by registers of their own.
 */
export interface VirtqSplitQueueSpec {
  kind: "virtq-split";
  name: string;
  /** Virtqueue indices covered, inclusive. */
  first: number;
  last: number;
  /** Entries asked for (a power of two); the device's queue_size caps it. */
  size: number;
  /** Bytes of the device-readable header each request starts with (0: none). */
  header: number;
  /** Bytes of the device-writable footer each request ends with (0: none). */
  footer: number;
  /** Most data buffers between header and footer. */
  segments: number;
  /** MSI-X vector (interrupt index) the queue raises. */
  interrupt?: number;
}

/** A region found through a PCI vendor-specific capability in the virtio_pci_cap layout (its `index` is -1). */
export interface CapabilitySpec {
  /** The capability's cfg_type (virtio: 1 common, 2 notify, 3 ISR, 4 device-specific). */
  cfgType: number;
  /** The capability carries notify_off_multiplier (virtio's notify capability). */
  multiplier?: boolean;
}

/** The virtio side of a description: its device type and which regions hold the transport's structures. */
export interface VirtioSpec {
  /** Virtio device id (1 network, 2 block, 4 entropy, ...); the PCI device id is 0x1040 + it. */
  deviceType: number;
  /** Region names of the common configuration, notification, ISR and device-specific structures. */
  common: string;
  notify: string;
  isr?: string;
  config?: string;
}

/**
 * A work queue fed through a portal: each request is one descriptor written to the portal in one
 * store (no ring, no producer index, no doorbell); the device reports completion by writing a small
 * completion record at the address the descriptor carries, and the host polls its status field.
 */
export interface PortalQueueSpec {
  kind: "portal";
  name: string;
  /** Queue ids covered, inclusive (queue id n's portal is at offset + n * stride). */
  first: number;
  last: number;
  /** Bytes in one descriptor (64 for DSA/IAA). */
  descriptorSize: number;
  /** Requests the host may have in flight (the work queue's size). */
  depth: number;
  portal: { region: string; offset: number; stride: number };
  /** The store the portal needs: one 64-byte direct store (dedicated queue) or an enqueue command (shared queue). */
  store: "movdir64b" | "enqcmd";
  completion: {
    /** Bytes of one record, and the alignment the device requires of its address. */
    size: number;
    align: number;
    /** Descriptor field (a 64-bit bus address) the engine sets to the record's address. */
    addressOffset: number;
    /** The record's status field, and its value while the device has not written the record. */
    statusOffset: number;
    statusWidth: 8 | 16 | 32;
    pending: number;
  };
  interrupt?: number;
}

/** One descriptor store into a portal (see BackendDevice.portal). */
export interface PortalPort {
  /** How the store is made: "movdir64b", "enqcmd" (native instructions), "sim" (the model's mailbox). */
  readonly primitive: string;
  /** Writes `size` bytes at `src` (process memory at `srcPtr`) to the portal at byte `offset` of its
   *  region, as one store the device sees whole; false when the device asked to retry (shared queue full). */
  submit(offset: number, src: Uint8Array, srcPtr: number): boolean;
}

/** What the generator emits as `spec`; everything a backend needs to open and map the device. */
export interface DeviceSpec {
  name: string;
  title: string;
  version: string;
  pci: { vendor: number; device: number }[];
  /** A region with `capability` is located through PCI capabilities at open; its `index` is -1. */
  regions: { name: string; kind: "mmio" | "ram"; index: number; size: number; capability?: CapabilitySpec }[];
  interrupts: { name: string; index: number; kind: "intx" | "msi" | "msix" }[];
  queues: QueueSpec[];
  /** The sim model: a module URL, or a package specifier such as "@warpdrive/<dev>/model" (generated
   *  specs name their driver package's model so), resolved by runtime/src/sim/model-location.ts. */
  model?: string;
  /** Sim backend only: settings the model reads as `ctx.spec.modelOptions` (plain data, copied to
   *  the model's thread), so one model module can present differently configured devices. */
  modelOptions?: Record<string, unknown>;
  /** How the device is driven through UACCE (the kernel's /dev/<name>-<n> queue files), when it can be. */
  uacce?: UacceSpec;
  /** The virtio transport of a virtio device (feature negotiation, virtqueue setup). */
  virtio?: VirtioSpec;
}

/** The UACCE side of a description: which api strings it drives and where its regions live. */
export interface UacceSpec {
  /** Values of /sys/class/uacce/<dev>/api this description drives (like PCI ids). */
  api: string[];
  /** Description region index -> the queue file region holding it (mmio: mmap offset 0, dus: 1 page). */
  regions: { index: number; qfr: "mmio" | "dus" }[];
  /** Bus address at which the device sees the first byte of the DUS region (no SVA). */
  dusAddress: number;
  /** sq-cq queues whose rings the device keeps in DUS and whose doorbell is the QM's 64-bit word. */
  queues?: UacceQueueSpec[];
}

/**
 * An sq-cq queue on UACCE the way HiSilicon's queue manager (QM v2) shows it to user space: the SQ
 * from DUS byte 0 (`depth` entries), the CQ right after it, both placed by the kernel, and one 64-bit
 * doorbell for both rings at `offset` of region `region` (placed in MMIO).
 */
export interface UacceQueueSpec {
  queue: string;
  rings: "dus";
  depth: number;
  doorbell: { format: "qm-v2"; region: number; offset: number };
}

/**
 * Rings a backend's device keeps in memory of its own (UACCE QM queues: the queue's DUS), with the
 * doorbell writes that go with them. The queue engine uses them instead of allocating rings and
 * ringing the description's doorbell registers.
 */
export interface DeviceRings {
  /** Entries of each ring (the device's, not chosen by the host). */
  readonly depth: number;
  /** Process addresses of the rings (page-aligned, `depth * entry size` bytes each, zeroed). */
  readonly sq: { ptr: number; size: number };
  readonly cq: { ptr: number; size: number };
  /** The number the device knows this queue by (the QM's sqn: doorbells and completions carry it). */
  readonly queueNumber: number;
  /** Publishes the SQ tail / CQ head. */
  ringSq(tail: number): void;
  ringCq(head: number): void;
  /** The queue gives the rings back (released); the device's queue is restarted before the next use. */
  release(): void;
}

/** A device region mapped into this process. Valid until the BackendDevice closes. */
export interface MappedRegion {
  readonly index: number;
  readonly size: number;
  /** Process address of the mapping (0 when the region is not mappable and io goes through pread/pwrite). */
  readonly ptr: number;
  readonly kind: "mmio" | "ram";
  readonly io: RegisterIo;
}

/** One interrupt vector delivered to an eventfd. */
export interface IrqLine {
  readonly fd: number;
  readonly index: number;
  /** poll + read the eventfd; true if it fired within timeoutMs (-1: wait forever). */
  wait(timeoutMs: number): boolean;
  /** Non-blocking read of the counter, 0 if none. */
  take(): number;
}

export interface BackendDevice {
  /** "0000:00:03.0", "sim:wd-dummy/1". */
  readonly address: string;
  /**
   * Present when the device is not usable as soon as open() returns: Device.open awaits it (the sim
   * backend resolves it once the model thread has run the model's init). A rejection is the open's
   * failure; the caller closes the device.
   */
  readonly ready?: Promise<void>;
  /** Mapped once, cached. */
  region(index: number): MappedRegion;
  dmaMap(ptr: number, size: number, iova: number): void;
  dmaUnmap(iova: number, size: number): void;
  /** Usable IOVA windows (end exclusive). */
  readonly iovaRanges: { start: number; end: number }[];
  readonly dmaPageSize: number;
  /** Enables the vector, returns its eventfd. */
  irq(index: number): IrqLine;
  reset(): void;
  /**
   * The descriptor store for a portal in region `index`, or a thrown ConfigError saying why this
   * machine or backend cannot make it (never a silent weaker store: a portal drops split writes).
   */
  portal?(index: number, store: "movdir64b" | "enqcmd", size: number): PortalPort;
  /** Unmaps regions, frees IRQs, closes fds; idempotent. */
  close(): void;
  /** Present when the backend hears of the device leaving (vfio: the REQ/ERR interrupts). */
  readonly removal?: RemovalSignal;
  /**
   * The device is gone (Device calls it once, after its queues are released): every mapping of the
   * device becomes anonymous memory at the same address (a stale pointer reads zeros instead of
   * faulting) and whatever holds the device in the kernel is let go, so the removal can finish.
   * Afterwards DMA unmapping and reset do nothing; close() frees the rest.
   */
  revoke?(): void;
  /** Present when the device decides which memory it can reach (see DeviceMemory). */
  readonly deviceMemory?: DeviceMemory;
  /**
   * The rings of sq-cq queue `spec` (id `id`) when the device keeps them itself (DeviceRings), else
   * undefined (the engine allocates them). `depth`: what the caller asked for; refused when it is
   * not the device's.
   */
  sqCqRings?(spec: Extract<QueueSpec, { kind: "sq-cq" }>, id: number, depth: number | undefined): DeviceRings | undefined;
}

/**
 * The backend contract for device-provided memory (docs/design.md, "Device-provided memory").
 * A backend whose device cannot reach arbitrary process memory through an IOMMU mapping says so here:
 * - "pool": only memory the device (its kernel driver) handed out is reachable, at device addresses
 *   it chose (UACCE without SVA: the queue's DUS region). Device.alloc carves buffers from `alloc`;
 *   any other buffer cannot be shared (dmaMap is never called).
 * - "va": every page of the process is reachable at its own virtual address (UACCE with SVA: the
 *   device shares the process's page table through PASID). No mapping step, IOVA = process address.
 */
export interface DeviceMemory {
  readonly mode: "pool" | "va";
  /** pool: `size` bytes (rounded up to pages) of device-reachable memory, zeroed; undefined when none is left. */
  alloc?(size: number): { ptr: number; size: number } | undefined;
  /** pool: gives back what `alloc` returned. */
  free?(ptr: number): void;
  /** The device address of [ptr, ptr + size), or undefined when the device cannot reach all of it. */
  deviceAddress(ptr: number, size: number): number | undefined;
  /** For refusals: what the device can reach ("the 4 MiB DUS region of wd_dummy-0"). */
  readonly describe: string;
}

/** How a backend reports that its device is leaving (see BackendDevice.removal). */
export interface RemovalSignal {
  /** Files that become readable when it fires: a sleeping waiter polls them beside its interrupt. */
  readonly fds: readonly number[];
  /** Non-blocking: what fired since the device was opened, or undefined. */
  poll(): RemovalEvent | undefined;
}

export interface Backend {
  readonly kind: "sim" | "vfio" | "uacce";
  open(spec: DeviceSpec, address?: string): BackendDevice;
}
