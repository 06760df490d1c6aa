// A fake VFIO kernel behind the Sys seam: /dev/vfio files, a container, a group and one PCI device
// (edu-like: BAR0 1 MiB mmap-able, BAR2 with a sparse-mmap capability, config space via pread/pwrite,
// INTx + 1 MSI vector). It records every call with a copy of the ioctl argument bytes, so unit tests
// can check the exact bytes the real kernel would get, and tracks open fds and mappings for leaks.
import { SysError } from "@warpdrive/runtime/errors";
import * as abi from "@warpdrive/runtime/sys/abi";
import { sys as real, type IoctlArg, type PollFd, type Sys } from "@warpdrive/runtime/sys/libc";

export interface Call {
  call: string;
  fd?: number;
  name?: string;
  request?: number;
  /** Copy of the ioctl argument as passed in (before the fake kernel wrote its answer). */
  bytes?: Uint8Array;
  int?: number;
  text?: string;
}

export interface FakeOptions {
  viable?: boolean;
  /** errno to fail a named ioctl with (e.g. { VFIO_GROUP_SET_CONTAINER: 16 }). */
  failIoctl?: Record<string, number>;
  group?: number;
  address?: string;
  iovaRanges?: [number, number][]; // inclusive ends, as the kernel reports
  typeV2?: boolean;
  /** MSI-X vectors the device offers (default 0, like edu). */
  msix?: number;
  /** The device offers the REQ interrupt (vfio-pci always does; default false, like an old mdev). */
  req?: boolean;
  /** The device offers the ERR interrupt (vfio-pci does for PCIe functions; default false). */
  err?: boolean;
}

const BAR0 = 0x100000;
const CONFIG_OFFSET = 7 * 2 ** 40;

export class FakeVfio implements Sys {
  readonly calls: Call[] = [];
  readonly open_ = new Map<number, string>();
  readonly maps = new Map<number, number>();
  readonly config = new Uint8Array(256);
  readonly opts: Required<FakeOptions>;
  #next = 1000;
  #containerFd = -1;
  #groupHasContainer = false;
  #iommuSet = false;
  readonly dmaMaps = new Map<number, { vaddr: number; size: number }>();
  /** The eventfd wired to each IRQ index with a single-vector trigger (REQ, ERR), as SET_IRQS left it. */
  readonly triggers = new Map<number, number>();

  constructor(opts: FakeOptions = {}) {
    this.opts = {
      viable: true,
      failIoctl: {},
      group: 7,
      address: "0000:00:03.0",
      iovaRanges: [
        [0, 0xfedfffff],
        [0xfef00000, 0xffffffffffff],
      ],
      typeV2: true,
      msix: 0,
      req: false,
      err: false,
      ...opts,
    };
    const c = new DataView(this.config.buffer);
    c.setUint16(0, 0x1234, true);
    c.setUint16(2, 0x11e8, true);
    c.setUint16(4, abi.PCI_COMMAND_MEMORY, true); // bus master off, as after open
  }

  get pageSize(): number {
    return 4096;
  }

  #err(call: string, object: string | undefined, errno: number): never {
    throw new SysError(call, object, errno);
  }

  #kind(fd: number): string {
    const k = this.open_.get(fd);
    if (k === undefined) this.#err("?", `fd ${fd}`, 9);
    return k;
  }

  open(path: string, flags: number): number {
    this.calls.push({ call: "open", text: path, int: flags });
    const kind =
      path === "/dev/vfio/vfio" ? "container" : path === `/dev/vfio/${this.opts.group}` ? "group" : undefined;
    if (!kind) this.#err("open", path, 2);
    if (kind === "group" && [...this.open_.values()].includes("group")) this.#err("open", path, 16);
    const fd = this.#next++;
    this.open_.set(fd, kind);
    return fd;
  }

  close(fd: number, object?: string): void {
    this.calls.push({ call: "close", fd, text: this.open_.get(fd) });
    if (!this.open_.has(fd)) {
      // eventfds are real
      real.close(fd, object);
      return;
    }
    if (this.open_.get(fd) === "device") this.triggers.clear(); // released with the device
    this.open_.delete(fd);
  }

  ioctl(fd: number, request: number, arg: IoctlArg, name: string, object?: string): number {
    const rec: Call = { call: "ioctl", fd, name, request };
    if (arg instanceof Uint8Array) rec.bytes = arg.slice();
    else if (typeof arg === "number") rec.int = arg;
    this.calls.push(rec);
    if (abi.VFIO_IOCTL_NAMES[request] !== name) throw new Error(`fake: ioctl ${name} with request 0x${request.toString(16)}`);
    const fail = this.opts.failIoctl[name];
    if (fail) this.#err(name, object, fail);
    const kind = this.#kind(fd);
    const bytes = arg instanceof Uint8Array ? arg : new Uint8Array(0);
    const d = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const need = (k: string) => {
      if (kind !== k) this.#err(name, object, 25);
    };
    switch (request) {
      case abi.VFIO_GET_API_VERSION:
        need("container");
        return 0;
      case abi.VFIO_CHECK_EXTENSION:
        need("container");
        return arg === abi.VFIO_TYPE1v2_IOMMU ? (this.opts.typeV2 ? 1 : 0) : arg === abi.VFIO_TYPE1_IOMMU ? 1 : 0;
      case abi.VFIO_SET_IOMMU:
        need("container");
        if (!this.#groupHasContainer) this.#err(name, object, 22);
        this.#iommuSet = true;
        return 0;
      case abi.VFIO_IOMMU_GET_INFO: {
        need("container");
        if (!this.#iommuSet) this.#err(name, object, 22);
        const n = this.opts.iovaRanges.length;
        const full = 24 + 16 + 16 * n;
        d.setUint32(4, abi.VFIO_IOMMU_INFO_PGSIZES | abi.VFIO_IOMMU_INFO_CAPS, true);
        d.setBigUint64(8, 0x40201000n, true);
        if (d.getUint32(0, true) < full) {
          d.setUint32(0, full, true);
          d.setUint32(16, 0, true);
          return 0;
        }
        d.setUint32(16, 24, true);
        d.setUint16(24, abi.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, true);
        d.setUint16(26, 1, true);
        d.setUint32(28, 0, true);
        d.setUint32(32, n, true);
        this.opts.iovaRanges.forEach(([s, e], i) => {
          d.setBigUint64(40 + 16 * i, BigInt(s), true);
          d.setBigUint64(48 + 16 * i, BigInt(e), true);
        });
        return 0;
      }
      case abi.VFIO_IOMMU_MAP_DMA: {
        need("container");
        const iova = Number(d.getBigUint64(16, true));
        if (this.dmaMaps.has(iova)) this.#err(name, object, 17);
        this.dmaMaps.set(iova, { vaddr: Number(d.getBigUint64(8, true)), size: Number(d.getBigUint64(24, true)) });
        return 0;
      }
      case abi.VFIO_IOMMU_UNMAP_DMA: {
        need("container");
        const iova = Number(d.getBigUint64(8, true));
        const m = this.dmaMaps.get(iova);
        this.dmaMaps.delete(iova);
        d.setBigUint64(16, BigInt(m?.size ?? 0), true);
        return 0;
      }
      case abi.VFIO_GROUP_GET_STATUS:
        need("group");
        d.setUint32(4, (this.opts.viable ? abi.VFIO_GROUP_FLAGS_VIABLE : 0) | (this.#groupHasContainer ? abi.VFIO_GROUP_FLAGS_CONTAINER_SET : 0), true);
        return 0;
      case abi.VFIO_GROUP_SET_CONTAINER: {
        need("group");
        const cfd = d.getInt32(0, true);
        if (this.open_.get(cfd) !== "container") this.#err(name, object, 9);
        this.#containerFd = cfd;
        this.#groupHasContainer = true;
        return 0;
      }
      case abi.VFIO_GROUP_UNSET_CONTAINER:
        need("group");
        if (!this.#groupHasContainer) this.#err(name, object, 22);
        this.#groupHasContainer = false;
        return 0;
      case abi.VFIO_GROUP_GET_DEVICE_FD: {
        need("group");
        const s = new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
        rec.text = s;
        if (s !== this.opts.address) this.#err(name, object, 22);
        if (!this.#iommuSet) this.#err(name, object, 22);
        const dfd = this.#next++;
        this.open_.set(dfd, "device");
        return dfd;
      }
      case abi.VFIO_DEVICE_GET_INFO:
        need("device");
        d.setUint32(4, abi.VFIO_DEVICE_FLAGS_PCI | abi.VFIO_DEVICE_FLAGS_RESET, true);
        d.setUint32(8, 9, true);
        d.setUint32(12, 5, true);
        return 0;
      case abi.VFIO_DEVICE_GET_REGION_INFO: {
        need("device");
        const index = d.getUint32(8, true);
        const RW = abi.VFIO_REGION_INFO_FLAG_READ | abi.VFIO_REGION_INFO_FLAG_WRITE;
        const set = (flags: number, size: number) => {
          d.setUint32(4, flags, true);
          d.setBigUint64(16, BigInt(size), true);
          d.setBigUint64(24, BigInt(index * 2 ** 40), true);
        };
        if (index === 0) set(RW | abi.VFIO_REGION_INFO_FLAG_MMAP, BAR0);
        else if (index === 2) {
          // sparse: only [0, 0x1000) of 0x4000 may be mapped; needs argsz 32 + 16 + 16
          set(RW | abi.VFIO_REGION_INFO_FLAG_MMAP | abi.VFIO_REGION_INFO_FLAG_CAPS, 0x4000);
          if (d.getUint32(0, true) < 64) {
            d.setUint32(0, 64, true);
            return 0;
          }
          d.setUint32(12, 32, true);
          d.setUint16(32, abi.VFIO_REGION_INFO_CAP_SPARSE_MMAP, true);
          d.setUint16(34, 1, true);
          d.setUint32(40, 1, true);
          d.setBigUint64(48, 0n, true);
          d.setBigUint64(56, 0x1000n, true);
        } else if (index === 7) set(RW, 256);
        else set(0, 0);
        return 0;
      }
      case abi.VFIO_DEVICE_GET_IRQ_INFO: {
        need("device");
        const index = d.getUint32(8, true);
        const count =
          index === 0 ? 1
          : index === 1 ? 1
          : index === 2 ? this.opts.msix
          : index === abi.VFIO_PCI_ERR_IRQ_INDEX ? (this.opts.err ? 1 : 0)
          : index === abi.VFIO_PCI_REQ_IRQ_INDEX ? (this.opts.req ? 1 : 0)
          : 0;
        d.setUint32(4, abi.VFIO_IRQ_INFO_EVENTFD | (index === 0 ? abi.VFIO_IRQ_INFO_MASKABLE | abi.VFIO_IRQ_INFO_AUTOMASKED : 0), true);
        d.setUint32(12, count, true);
        return 0;
      }
      case abi.VFIO_DEVICE_SET_IRQS: {
        need("device");
        const flags = d.getUint32(4, true), index = d.getUint32(8, true), count = d.getUint32(16, true);
        if (index === abi.VFIO_PCI_ERR_IRQ_INDEX || index === abi.VFIO_PCI_REQ_IRQ_INDEX) {
          if (!(index === abi.VFIO_PCI_ERR_IRQ_INDEX ? this.opts.err : this.opts.req)) this.#err(name, object, 22);
          if (flags & abi.VFIO_IRQ_SET_DATA_EVENTFD && count === 1) this.triggers.set(index, d.getInt32(20, true));
          else this.triggers.delete(index);
        }
        return 0;
      }
      case abi.VFIO_DEVICE_RESET:
        need("device");
        if (request === abi.VFIO_DEVICE_RESET) new DataView(this.config.buffer).setUint16(4, abi.PCI_COMMAND_MEMORY, true);
        return 0;
    }
    this.#err(name, object, 25);
  }

  mmap(length: number, prot: number, flags: number, fd: number, offset: number, object?: string): number {
    this.calls.push({ call: "mmap", fd, int: offset });
    if (this.open_.get(fd) !== "device") return real.mmap(length, prot, flags, fd, offset, object);
    // BAR0 whole, or BAR2's one mappable sparse area [0, 0x1000)
    if (!(offset === 0 || (offset === 2 * 2 ** 40 && length <= 0x1000))) this.#err("mmap", object, 22);
    // stand-in for the BAR: anonymous memory of the same size
    const p = real.mmap(length, prot, 0x22, -1, 0, object);
    this.maps.set(p, length);
    return p;
  }

  munmap(addr: number, length: number, object?: string): void {
    this.calls.push({ call: "munmap", int: addr });
    this.maps.delete(addr);
    this.anon.delete(addr);
    real.munmap(addr, length, object);
  }

  pread(fd: number, buf: Uint8Array, offset: number, object?: string): number {
    this.calls.push({ call: "pread", fd, int: offset });
    if (this.open_.get(fd) !== "device") return real.pread(fd, buf, offset, object);
    if (offset >= CONFIG_OFFSET && offset + buf.length <= CONFIG_OFFSET + 256) {
      buf.set(this.config.subarray(offset - CONFIG_OFFSET, offset - CONFIG_OFFSET + buf.length));
      return buf.length;
    }
    buf.fill(0xff);
    return buf.length;
  }

  pwrite(fd: number, buf: Uint8Array, offset: number, object?: string): number {
    this.calls.push({ call: "pwrite", fd, int: offset, bytes: buf.slice() });
    if (this.open_.get(fd) !== "device") return real.pwrite(fd, buf, offset, object);
    if (offset >= CONFIG_OFFSET && offset + buf.length <= CONFIG_OFFSET + 256) this.config.set(buf, offset - CONFIG_OFFSET);
    return buf.length;
  }

  read(fd: number, buf: Uint8Array, object?: string): number {
    return real.read(fd, buf, object);
  }
  write(fd: number, buf: Uint8Array, object?: string): number {
    return real.write(fd, buf, object);
  }
  eventfd(initval: number, flags: number): number {
    const fd = real.eventfd(initval, flags);
    this.calls.push({ call: "eventfd", fd });
    return fd;
  }
  poll(fds: PollFd[], timeoutMs: number): number[] {
    return real.poll(fds, timeoutMs);
  }
  memfdCreate(name: string, flags: number): number {
    return real.memfdCreate(name, flags);
  }
  ftruncate(fd: number, length: number, object?: string): void {
    real.ftruncate(fd, length, object);
  }
  /** Stands the anonymous stand-in in for a BAR mapping: the BAR counts as unmapped from then on. */
  remapAnonymous(addr: number, length: number, object?: string): void {
    this.calls.push({ call: "remapAnonymous", int: addr });
    real.remapAnonymous!(addr, length, object);
    if (this.maps.delete(addr)) this.anon.set(addr, length);
  }
  /** Anonymous stand-ins of BARs (remapAnonymous), until munmap. */
  readonly anon = new Map<number, number>();
  /** What the kernel does when the device is being removed (REQ) or reports an error (ERR). */
  signal(index: number): void {
    const fd = this.triggers.get(index);
    if (fd === undefined) throw new Error(`fake: no eventfd wired to irq index ${index}`);
    const one = new Uint8Array(8);
    one[0] = 1;
    real.write(fd, one);
  }

  mlock(addr: number, length: number): boolean {
    return real.mlock(addr, length);
  }
  munlock(addr: number, length: number): void {
    real.munlock(addr, length);
  }

  /** ioctl names in call order. */
  ioctls(): string[] {
    return this.calls.filter((c) => c.call === "ioctl").map((c) => c.name!);
  }
  /** The argument bytes of the last ioctl with this name. */
  lastArg(name: string): Uint8Array {
    const c = this.calls.filter((x) => x.name === name).at(-1);
    if (!c?.bytes) throw new Error(`no ${name} with bytes`);
    return c.bytes;
  }
  containerFd(): number {
    return this.#containerFd;
  }
}
