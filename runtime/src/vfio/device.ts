// A device opened through VFIO: the BackendDevice of the vfio backend.
//
// Open:     group of the device (sysfs) -> container (version, type1 check) -> group (viable?) ->
//           SET_CONTAINER -> SET_IOMMU -> IOMMU_GET_INFO -> GET_DEVICE_FD -> DEVICE_GET_INFO ->
//           PCI COMMAND |= memory | bus master (DMA moves zeros without it).
// Teardown: IRQs off -> eventfds closed -> regions unmapped -> leftover DMA unmapped -> device fd
//           closed -> group leaves the container -> group closed -> container closed.
// Every step that fails during open undoes the ones before it, so a failed open leaks nothing.
// Removal: at open the REQ and ERR interrupts (VFIO irq indexes 4 and 3) get an eventfd each when
//           the device offers them. The kernel signals REQ when it wants the device back (hot
//           unplug, unbind; it repeats every 10 s and finishes only when every file and mapping of
//           the device is gone) and ERR on a PCIe error its AER handling saw. `removal` reports
//           either; Device then fails the queues and calls revoke(): each BAR mapping is replaced
//           by anonymous memory at the same address (MAP_FIXED, atomically: a stale pointer reads
//           zeros instead of raising SIGBUS, and the mapping no longer holds the device file) and
//           the teardown runs, so the kernel can finish; close() later unmaps the stand-ins.
import { VfioError, type RemovalEvent } from "../errors.ts";
import type { BackendDevice, DeviceSpec, IrqLine, MappedRegion, PortalPort, RemovalSignal } from "../backend.ts";
import { mappedPortal } from "./portal.ts";
import { mmioIo, RamIo, type RegisterIo } from "../mem/io.ts";
import * as abi from "../sys/abi.ts";
import { EventFd } from "../sys/eventfd.ts";
import { MAP_SHARED, POLLIN, PROT_READ, PROT_WRITE, sys as realSys, type Sys } from "../sys/libc.ts";
import { VfioContainer } from "./container.ts";
import { checkBoundToVfio, iommuGroupOf, normalizeDeviceName, VfioGroup } from "./group.ts";
import { vfioIoctl } from "./ioctl.ts";
import { PreadIo, SparseIo } from "./regionio.ts";

export interface VfioOpenOptions {
  /** Syscall layer (unit tests pass a fake). */
  sys?: Sys;
  /** Default /dev/vfio. */
  devRoot?: string;
  /** Default /sys. */
  sysfs?: string;
}

export interface RegionDetails extends abi.RegionInfoData {
  /** Mappable sub-areas when the region has a sparse-mmap capability. */
  sparse?: { offset: number; size: number }[];
  msixMappable: boolean;
}

interface Mapped extends MappedRegion {
  readonly io: RegisterIo & { release(): void };
  /** Every mmap made for this region (one, or one per sparse area), unmapped at close. */
  readonly maps: { ptr: number; size: number }[];
}

const IRQ_KIND: Record<"intx" | "msi" | "msix", number> = {
  intx: abi.VFIO_PCI_INTX_IRQ_INDEX,
  msi: abi.VFIO_PCI_MSI_IRQ_INDEX,
  msix: abi.VFIO_PCI_MSIX_IRQ_INDEX,
};
const IRQ_NAME = ["INTx", "MSI", "MSI-X", "ERR", "REQ"];

/**
 * An eventfd wired to one vector. INTx is auto-masked by the kernel: unmask after each delivery.
 * A wait also wakes when the device's REQ/ERR eventfd fires (`removalFds`), so a waiter hears of a
 * removal at once; it returns false then (no interrupt) and the caller looks at the removal signal.
 */
class VfioIrqLine implements IrqLine {
  constructor(
    readonly index: number,
    readonly ev: EventFd,
    private readonly sys: Sys,
    private readonly removalFds: () => readonly number[],
    private readonly unmask?: () => void,
  ) {}
  get fd(): number {
    return this.ev.fd;
  }
  take(): number {
    const n = this.ev.take();
    if (n > 0 && this.unmask) this.unmask();
    return n;
  }
  wait(timeoutMs: number): boolean {
    const extra = this.removalFds();
    if (extra.length === 0) {
      const fired = this.ev.wait(timeoutMs);
      if (fired && this.unmask) this.unmask();
      return fired;
    }
    if (this.take() > 0) return true;
    const fds = [{ fd: this.ev.fd, events: POLLIN }];
    for (const fd of extra) fds.push({ fd, events: POLLIN });
    const [rev] = this.sys.poll(fds, timeoutMs);
    return rev !== 0 && this.take() > 0;
  }
}

/** The REQ and ERR eventfds of one device (those it offers), read without blocking. */
class VfioRemovalSignal implements RemovalSignal {
  #req: EventFd | undefined;
  #err: EventFd | undefined;
  #fds: number[] = [];
  #fired: RemovalEvent | undefined;
  constructor(private readonly sys: Sys) {}
  add(kind: RemovalEvent, ev: EventFd): void {
    if (kind === "removed") this.#req = ev;
    else this.#err = ev;
    this.#fds.push(ev.fd);
  }
  get armed(): boolean {
    return this.#fds.length > 0;
  }
  get fds(): readonly number[] {
    return this.#fds;
  }
  poll(): RemovalEvent | undefined {
    if (this.#fired !== undefined || this.#fds.length === 0) return this.#fired;
    // one poll for both; a read only for what fired
    const rev = this.sys.poll(this.#fds.map((fd) => ({ fd, events: POLLIN })), 0);
    if (!rev.some((r) => r !== 0)) return undefined;
    if (this.#req !== undefined && this.#req.take() > 0) this.#fired = "removed";
    else if (this.#err !== undefined && this.#err.take() > 0) this.#fired = "error";
    return this.#fired;
  }
  close(): void {
    this.#fds = [];
    this.#req?.close();
    this.#err?.close();
    this.#req = this.#err = undefined;
  }
}

export class VfioDevice implements BackendDevice {
  readonly address: string;
  readonly spec: DeviceSpec;
  readonly info: abi.DeviceInfoData;
  readonly iovaRanges: { start: number; end: number }[];
  readonly dmaPageSize: number;
  readonly #sys: Sys;
  #container: VfioContainer | undefined;
  #group: VfioGroup | undefined;
  #fd = -1;
  readonly #regions = new Map<number, Mapped>();
  readonly #regionInfo = new Map<number, RegionDetails>();
  readonly #dma = new Map<number, number>();
  /** VFIO IRQ index (INTx/MSI/MSI-X) currently enabled, and its vectors. */
  #irqKind: number | undefined;
  #irqCount = 0;
  readonly #irqs = new Map<number, VfioIrqLine>();
  readonly #removal: VfioRemovalSignal;
  #revoked = false;
  #closed = false;

  constructor(spec: DeviceSpec, address: string, options: VfioOpenOptions = {}) {
    this.spec = spec;
    this.address = normalizeDeviceName(address);
    const sys = options.sys ?? realSys;
    this.#sys = sys;
    this.#removal = new VfioRemovalSignal(sys);
    try {
      checkBoundToVfio(this.address, options.sysfs);
      const n = iommuGroupOf(this.address, options.sysfs);
      this.#container = new VfioContainer(sys, `${options.devRoot ?? "/dev/vfio"}/vfio`);
      this.#group = new VfioGroup(sys, n, options);
      this.#group.setContainer(this.#container);
      this.#container.setIommu();
      const im = this.#container.info();
      this.iovaRanges = im.ranges;
      this.dmaPageSize = im.pageSize;
      this.#fd = this.#group.deviceFd(this.address);
      this.info = this.#deviceInfo();
      if (this.info.flags & abi.VFIO_DEVICE_FLAGS_PCI) this.enableBusMaster();
      this.#armRemoval();
    } catch (e) {
      this.#teardown();
      throw e;
    }
  }

  /** The removal signal (REQ/ERR), or undefined when the device offers neither. */
  get removal(): RemovalSignal | undefined {
    return this.#removal.armed ? this.#removal : undefined;
  }

  /**
   * An eventfd on REQ and on ERR where the device has them (vfio-pci: REQ always, ERR for PCIe
   * functions; an mdev when its parent driver implements the request op). Best effort: a device
   * without them opens as before, it only cannot be told it is leaving.
   */
  #armRemoval(): void {
    for (const [index, kind] of [[abi.VFIO_PCI_REQ_IRQ_INDEX, "removed"], [abi.VFIO_PCI_ERR_IRQ_INDEX, "error"]] as const) {
      if (index >= this.info.numIrqs) continue;
      let ev: EventFd | undefined;
      try {
        const info = this.irqInfo(index);
        if (info.count < 1 || !(info.flags & abi.VFIO_IRQ_INFO_EVENTFD)) continue;
        ev = new EventFd(`${IRQ_NAME[index]} of ${this.address}`, this.#sys);
        this.#setIrqs(index, abi.VFIO_IRQ_SET_DATA_EVENTFD | abi.VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, [ev.fd]);
        this.#removal.add(kind, ev);
      } catch {
        ev?.close();
      }
    }
  }

  get fd(): number {
    if (this.#fd < 0) throw new VfioError("use", this.address, undefined, "the device is closed");
    return this.#fd;
  }

  #deviceInfo(): abi.DeviceInfoData {
    let b = abi.argszStruct(abi.DeviceInfo.SIZE);
    vfioIoctl(this.#sys, this.fd, abi.VFIO_DEVICE_GET_INFO, b, "VFIO_DEVICE_GET_INFO", this.address);
    const d = abi.decodeDeviceInfo(b);
    if (d.argsz > b.byteLength && d.argsz <= 1 << 16) {
      b = abi.argszStruct(d.argsz);
      vfioIoctl(this.#sys, this.fd, abi.VFIO_DEVICE_GET_INFO, b, "VFIO_DEVICE_GET_INFO", this.address);
      return abi.decodeDeviceInfo(b);
    }
    return d;
  }

  /** REGION_INFO, retried with the argsz the kernel asks for when the region has capabilities. */
  regionInfo(index: number): RegionDetails {
    const cached = this.#regionInfo.get(index);
    if (cached) return cached;
    if (index >= this.info.numRegions) {
      throw new VfioError("VFIO_DEVICE_GET_REGION_INFO", this.address, undefined, `region ${index} does not exist (the device has ${this.info.numRegions})`);
    }
    const what = `${this.address} (region ${index})`;
    let b = abi.encodeRegionInfo(index);
    vfioIoctl(this.#sys, this.fd, abi.VFIO_DEVICE_GET_REGION_INFO, b, "VFIO_DEVICE_GET_REGION_INFO", what);
    let d = abi.decodeRegionInfo(b);
    if (d.argsz > b.byteLength && d.argsz <= 1 << 16) {
      b = abi.encodeRegionInfo(index, d.argsz);
      vfioIoctl(this.#sys, this.fd, abi.VFIO_DEVICE_GET_REGION_INFO, b, "VFIO_DEVICE_GET_REGION_INFO", what);
      d = abi.decodeRegionInfo(b);
    }
    const out: RegionDetails = { ...d, msixMappable: false };
    if (d.flags & abi.VFIO_REGION_INFO_FLAG_CAPS && d.capOffset) {
      for (const cap of abi.walkCaps(b, d.capOffset)) {
        if (cap.id === abi.VFIO_REGION_INFO_CAP_SPARSE_MMAP) out.sparse = abi.decodeSparseAreas(b, cap.offset);
        if (cap.id === abi.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) out.msixMappable = true;
      }
    }
    this.#regionInfo.set(index, out);
    return out;
  }

  #regionName(index: number): string {
    const r = this.spec.regions.find((x) => x.index === index);
    return `${r ? r.name : `region ${index}`} of ${this.address}`;
  }

  /** Mapped once and cached: mmap when VFIO allows all of it, mmap'ed areas + pread/pwrite for a sparse
   *  region, pread/pwrite otherwise (config space). */
  /** MOVDIR64B/ENQCMD into the mapped BAR (see portal.ts for why there is no weaker fallback). */
  portal(index: number, store: "movdir64b" | "enqcmd", size: number): PortalPort {
    return mappedPortal(this.region(index), store, size, `portal in ${this.#regionName(index)} of ${this.address}`);
  }

  region(index: number): MappedRegion {
    if (this.#closed) throw new VfioError("region", this.address, undefined, "the device is closed");
    const have = this.#regions.get(index);
    if (have) return have;
    const info = this.regionInfo(index);
    const name = this.#regionName(index);
    if (info.size === 0) {
      throw new VfioError("VFIO_DEVICE_GET_REGION_INFO", this.address, undefined, `${name} is not implemented by the device (size 0)`);
    }
    const kind = this.spec.regions.find((x) => x.index === index)?.kind ?? "mmio";
    const mappable = (info.flags & abi.VFIO_REGION_INFO_FLAG_MMAP) !== 0;
    const prot = (info.flags & abi.VFIO_REGION_INFO_FLAG_READ ? PROT_READ : 0) | (info.flags & abi.VFIO_REGION_INFO_FLAG_WRITE ? PROT_WRITE : 0);
    const whole = mappable && (info.sparse === undefined || info.sparse.some((a) => a.offset === 0 && a.size >= info.size));
    let region: Mapped;
    if (whole) {
      const ptr = this.#sys.mmap(info.size, prot, MAP_SHARED, this.fd, info.offset, name);
      const io = kind === "ram" ? RamIo.fromPointer(ptr, info.size, name) : mmioIo(ptr, info.size, name);
      region = { index, size: info.size, ptr, kind, io, maps: [{ ptr, size: info.size }] };
    } else if (mappable && info.sparse && info.sparse.some((a) => a.size > 0)) {
      // map what may be mapped; the holes (MSI-X table, ...) go through pread/pwrite
      const maps: { ptr: number; size: number }[] = [];
      const areas: { offset: number; size: number; io: RegisterIo & { release(): void } }[] = [];
      try {
        for (const a of info.sparse.filter((x) => x.size > 0 && x.offset + x.size <= info.size)) {
          const ptr = this.#sys.mmap(a.size, prot, MAP_SHARED, this.fd, info.offset + a.offset, `${name} [0x${a.offset.toString(16)}+0x${a.size.toString(16)}]`);
          maps.push({ ptr, size: a.size });
          areas.push({ offset: a.offset, size: a.size, io: mmioIo(ptr, a.size, name) });
        }
      } catch (e) {
        for (const m of maps) this.#sys.munmap(m.ptr, m.size, name);
        throw e;
      }
      const io = new SparseIo(areas, new PreadIo(this.#sys, this.fd, info.offset, info.size, name), name);
      region = { index, size: info.size, ptr: 0, kind, io, maps };
    } else {
      region = { index, size: info.size, ptr: 0, kind, io: new PreadIo(this.#sys, this.fd, info.offset, info.size, name), maps: [] };
    }
    this.#regions.set(index, region);
    return region;
  }

  /** PCI configuration space (region 7) through pread/pwrite. */
  get config(): RegisterIo {
    return this.region(abi.VFIO_PCI_CONFIG_REGION_INDEX).io;
  }

  /** Sets Memory Space and Bus Master in PCI COMMAND; both are needed before the device can DMA. */
  enableBusMaster(): void {
    const cfg = this.config;
    const cmd = cfg.read16(abi.PCI_COMMAND);
    const want = cmd | abi.PCI_COMMAND_MEMORY | abi.PCI_COMMAND_MASTER;
    if (want !== cmd) cfg.write16(abi.PCI_COMMAND, want);
  }

  dmaMap(ptr: number, size: number, iova: number): void {
    this.#container!.mapDma(ptr, iova, size);
    this.#dma.set(iova, size);
  }

  dmaUnmap(iova: number, size: number): void {
    if (this.#revoked) return; // the container went with the device: nothing is mapped any more
    this.#dma.delete(iova);
    this.#container!.unmapDma(iova, size);
  }

  irqInfo(vfioIndex: number): { flags: number; index: number; count: number } {
    const b = abi.encodeIrqInfo(vfioIndex);
    vfioIoctl(this.#sys, this.fd, abi.VFIO_DEVICE_GET_IRQ_INFO, b, "VFIO_DEVICE_GET_IRQ_INFO", `${this.address} (${IRQ_NAME[vfioIndex] ?? vfioIndex})`);
    return abi.decodeIrqInfo(b);
  }

  #kindFor(index: number): number {
    const declared = this.spec.interrupts.find((i) => i.index === index);
    if (declared) return IRQ_KIND[declared.kind];
    if (this.#irqKind !== undefined) return this.#irqKind;
    if (this.irqInfo(abi.VFIO_PCI_MSIX_IRQ_INDEX).count > index) return abi.VFIO_PCI_MSIX_IRQ_INDEX;
    if (this.irqInfo(abi.VFIO_PCI_MSI_IRQ_INDEX).count > index) return abi.VFIO_PCI_MSI_IRQ_INDEX;
    return abi.VFIO_PCI_INTX_IRQ_INDEX;
  }

  #setIrqs(kind: number, flags: number, start: number, count: number, fds?: number[]): void {
    const arg = abi.encodeIrqSet({ flags, index: kind, start, count, fds });
    vfioIoctl(this.#sys, this.fd, abi.VFIO_DEVICE_SET_IRQS, arg, "VFIO_DEVICE_SET_IRQS", `${this.address} (${IRQ_NAME[kind]})`);
  }

  /**
   * Enables vector `index` (of the kind the spec declares for it) and returns its eventfd line.
   * The whole block 0..max is programmed at once: kernels before 6.5 cannot grow an enabled MSI/MSI-X
   * block, so growing it means disable + enable with every eventfd (-1 for vectors not asked for).
   */
  irq(index: number): IrqLine {
    if (this.#closed) throw new VfioError("irq", this.address, undefined, "the device is closed");
    const have = this.#irqs.get(index);
    if (have) return have;
    const kind = this.#kindFor(index);
    if (this.#irqKind !== undefined && this.#irqKind !== kind) {
      throw new VfioError("VFIO_DEVICE_SET_IRQS", this.address, undefined, `cannot enable ${IRQ_NAME[kind]} vector ${index} while ${IRQ_NAME[this.#irqKind]} is in use (one interrupt type at a time)`);
    }
    const info = this.irqInfo(kind);
    if (index >= info.count || !(info.flags & abi.VFIO_IRQ_INFO_EVENTFD)) {
      throw new VfioError("VFIO_DEVICE_GET_IRQ_INFO", this.address, undefined, `${IRQ_NAME[kind]} vector ${index} is not available (the device has ${info.count})`);
    }
    const ev = new EventFd(`irq ${index} (${IRQ_NAME[kind]}) of ${this.address}`, this.#sys);
    try {
      const count = Math.max(index + 1, this.#irqCount);
      const fds = Array.from({ length: count }, (_, i) => (i === index ? ev.fd : (this.#irqs.get(i)?.fd ?? -1)));
      if (this.#irqKind !== undefined && count > this.#irqCount) {
        this.#setIrqs(kind, abi.VFIO_IRQ_SET_DATA_NONE | abi.VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0);
        this.#irqKind = undefined;
        this.#irqCount = 0;
      }
      if (this.#irqKind === undefined) this.#setIrqs(kind, abi.VFIO_IRQ_SET_DATA_EVENTFD | abi.VFIO_IRQ_SET_ACTION_TRIGGER, 0, count, fds);
      else this.#setIrqs(kind, abi.VFIO_IRQ_SET_DATA_EVENTFD | abi.VFIO_IRQ_SET_ACTION_TRIGGER, index, 1, [ev.fd]);
      this.#irqKind = kind;
      this.#irqCount = Math.max(count, this.#irqCount);
    } catch (e) {
      ev.close();
      throw e;
    }
    const unmask =
      kind === abi.VFIO_PCI_INTX_IRQ_INDEX
        ? () => this.#setIrqs(kind, abi.VFIO_IRQ_SET_DATA_NONE | abi.VFIO_IRQ_SET_ACTION_UNMASK, 0, 1)
        : undefined;
    const line = new VfioIrqLine(index, ev, this.#sys, () => this.#removal.fds, unmask);
    this.#irqs.set(index, line);
    return line;
  }

  /** VFIO_DEVICE_RESET (function-level reset), then bus mastering again (reset clears it). */
  reset(): void {
    if (!(this.info.flags & abi.VFIO_DEVICE_FLAGS_RESET)) {
      throw new VfioError("VFIO_DEVICE_RESET", this.address, undefined, "the device does not support reset");
    }
    vfioIoctl(this.#sys, this.fd, abi.VFIO_DEVICE_RESET, null, "VFIO_DEVICE_RESET", this.address);
    if (this.info.flags & abi.VFIO_DEVICE_FLAGS_PCI) this.enableBusMaster();
  }

  /**
   * The device is leaving (Device calls this after failing its queues): every BAR mapping becomes
   * anonymous memory at its address, then the teardown lets go of the device (IRQs, eventfds,
   * DMA, the device, group and container files), so the kernel can finish removing it. The
   * stand-in mappings stay (region ios read zeros) until close(). Never throws.
   */
  revoke(): void {
    if (this.#closed || this.#revoked) return;
    this.#revoked = true;
    for (const r of this.#regions.values()) {
      const name = `region ${r.index} of ${this.address}`;
      for (const m of r.maps) {
        try {
          if (this.#sys.remapAnonymous === undefined) throw new VfioError("revoke", name, undefined, "no anonymous remapping in this syscall layer");
          this.#sys.remapAnonymous(m.ptr, m.size, name);
        } catch {
          // cannot stand in for it: unmap it (the kernel must not wait on it), the io refuses from now on
          r.io.release();
          try {
            this.#sys.munmap(m.ptr, m.size, name);
          } catch {
            // nothing more to do
          }
          m.size = 0;
        }
      }
    }
    try {
      this.#teardown(true);
    } catch {
      // best effort: whatever could be closed is
    }
  }

  /** Runs every teardown step even when one fails, then throws the first failure. `keepRegions`:
   *  revoke() keeps the (now anonymous) region mappings for close(). */
  #teardown(keepRegions = false): void {
    let first: unknown;
    const step = (f: () => void) => {
      try {
        f();
      } catch (e) {
        first ??= e;
      }
    };
    if (this.#irqKind !== undefined && this.#fd >= 0) {
      const k = this.#irqKind;
      step(() => this.#setIrqs(k, abi.VFIO_IRQ_SET_DATA_NONE | abi.VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
    }
    this.#irqKind = undefined;
    for (const l of this.#irqs.values()) step(() => l.ev.close());
    this.#irqs.clear();
    step(() => this.#removal.close());
    if (!keepRegions) {
      for (const r of this.#regions.values()) {
        r.io.release();
        for (const m of r.maps) if (m.size > 0) step(() => this.#sys.munmap(m.ptr, m.size, `region ${r.index} of ${this.address}`));
      }
      this.#regions.clear();
    }
    for (const [iova, size] of this.#dma) step(() => this.#container?.unmapDma(iova, size));
    this.#dma.clear();
    if (this.#fd >= 0) {
      const fd = this.#fd;
      this.#fd = -1;
      step(() => this.#sys.close(fd, this.address));
    }
    if (this.#group) step(() => this.#group!.close());
    this.#group = undefined;
    if (this.#container) step(() => this.#container!.close());
    this.#container = undefined;
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
