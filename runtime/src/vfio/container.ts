// The VFIO container (/dev/vfio/vfio): one IOMMU address space. Legacy (pre-iommufd) API:
//   open -> GET_API_VERSION == 0 -> CHECK_EXTENSION(TYPE1v2 | TYPE1) -> [a group joins] ->
//   SET_IOMMU -> IOMMU_GET_INFO (page sizes, IOVA ranges) -> MAP_DMA / UNMAP_DMA.
import { VfioError } from "../errors.ts";
import * as abi from "../sys/abi.ts";
import { O_RDWR, type Sys } from "../sys/libc.ts";
import { vfioIoctl, vfioOpen } from "./ioctl.ts";

export interface IommuInfo {
  /** Smallest IOMMU page size that is at least the CPU page size. */
  pageSize: number;
  pgsizes: bigint;
  /** End-exclusive; when the kernel reports no ranges, the whole 48-bit space. */
  ranges: { start: number; end: number }[];
}

const DEFAULT_RANGES = [{ start: 0, end: 2 ** 48 }];

export class VfioContainer {
  readonly path: string;
  #fd: number;
  readonly #sys: Sys;
  /** TYPE1v2 when available (it unmaps exactly what was mapped), else TYPE1. */
  readonly iommuType: number;
  #iommuSet = false;
  #info: IommuInfo | undefined;

  constructor(sys: Sys, path = "/dev/vfio/vfio") {
    this.#sys = sys;
    this.path = path;
    this.#fd = vfioOpen(sys, path, O_RDWR, {
      ENOENT: `${path} does not exist: load the vfio modules (modprobe vfio-pci)`,
    });
    try {
      const v = vfioIoctl(sys, this.#fd, abi.VFIO_GET_API_VERSION, null, "VFIO_GET_API_VERSION", path);
      if (v !== abi.VFIO_API_VERSION) {
        throw new VfioError("VFIO_GET_API_VERSION", path, undefined, `kernel VFIO API version ${v}, expected ${abi.VFIO_API_VERSION}`);
      }
      const check = (ext: number) => vfioIoctl(sys, this.#fd, abi.VFIO_CHECK_EXTENSION, ext, "VFIO_CHECK_EXTENSION", path) > 0;
      if (check(abi.VFIO_TYPE1v2_IOMMU)) this.iommuType = abi.VFIO_TYPE1v2_IOMMU;
      else if (check(abi.VFIO_TYPE1_IOMMU)) this.iommuType = abi.VFIO_TYPE1_IOMMU;
      else {
        throw new VfioError("VFIO_CHECK_EXTENSION", path, undefined, "the kernel offers no type1 IOMMU (is vfio_iommu_type1 loaded? is the IOMMU on: intel_iommu=on?)");
      }
    } catch (e) {
      this.#closeQuietly();
      throw e;
    }
  }

  get fd(): number {
    if (this.#fd < 0) throw new VfioError("use", this.path, undefined, "the container is closed");
    return this.#fd;
  }

  /** After the first group joined: pick the IOMMU model. Idempotent. */
  setIommu(): void {
    if (this.#iommuSet) return;
    vfioIoctl(this.#sys, this.fd, abi.VFIO_SET_IOMMU, this.iommuType, "VFIO_SET_IOMMU", this.path);
    this.#iommuSet = true;
  }

  /** IOMMU_GET_INFO with the capability chain (retried with the argsz the kernel asks for). */
  info(): IommuInfo {
    if (this.#info) return this.#info;
    let buf = abi.argszStruct(abi.IommuType1Info.SIZE);
    vfioIoctl(this.#sys, this.fd, abi.VFIO_IOMMU_GET_INFO, buf, "VFIO_IOMMU_GET_INFO", this.path);
    let d = abi.decodeIommuInfo(buf);
    if (d.argsz > buf.byteLength && d.argsz <= 1 << 20) {
      buf = abi.argszStruct(d.argsz);
      vfioIoctl(this.#sys, this.fd, abi.VFIO_IOMMU_GET_INFO, buf, "VFIO_IOMMU_GET_INFO", this.path);
      d = abi.decodeIommuInfo(buf);
    }
    const cpuPage = this.#sys.pageSize;
    let pageSize = cpuPage;
    if (d.flags & abi.VFIO_IOMMU_INFO_PGSIZES && d.pgsizes !== 0n) {
      // lowest supported IOMMU page size that is >= the CPU page size
      for (let bit = 0n; bit < 64n; bit++) {
        if (d.pgsizes & (1n << bit) && Number(1n << bit) >= cpuPage) {
          pageSize = Number(1n << bit);
          break;
        }
      }
    }
    let ranges = DEFAULT_RANGES;
    if (d.flags & abi.VFIO_IOMMU_INFO_CAPS && d.capOffset) {
      const cap = abi.walkCaps(buf, d.capOffset).find((c) => c.id === abi.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
      if (cap) {
        const r = abi.decodeIovaRanges(buf, cap.offset);
        if (r.length) ranges = r;
      }
    }
    this.#info = { pageSize, pgsizes: d.pgsizes, ranges };
    return this.#info;
  }

  mapDma(vaddr: number, iova: number, size: number): void {
    const arg = abi.encodeDmaMap({ vaddr, iova, size });
    vfioIoctl(this.#sys, this.fd, abi.VFIO_IOMMU_MAP_DMA, arg, "VFIO_IOMMU_MAP_DMA", `${this.path} (iova 0x${iova.toString(16)}, ${size} bytes)`);
  }

  unmapDma(iova: number, size: number): void {
    const arg = abi.encodeDmaUnmap({ iova, size });
    vfioIoctl(this.#sys, this.fd, abi.VFIO_IOMMU_UNMAP_DMA, arg, "VFIO_IOMMU_UNMAP_DMA", `${this.path} (iova 0x${iova.toString(16)}, ${size} bytes)`);
    const done = abi.decodeDmaUnmapSize(arg);
    if (done !== size) {
      throw new VfioError("VFIO_IOMMU_UNMAP_DMA", this.path, undefined, `unmapped ${done} of ${size} bytes at iova 0x${iova.toString(16)}`);
    }
  }

  #closeQuietly(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    try {
      this.#sys.close(fd, this.path);
    } catch {
      /* already failing; the first error is the one to report */
    }
  }

  /** Last in the teardown order (after every group left). Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    this.#sys.close(fd, this.path);
  }
}
