// The VFIO kernel ABI (linux/vfio.h, legacy container API) in one place: ioctl numbers, flags,
// struct layouts (byte offsets and sizes, x86-64/aarch64 LP64), and encoders/decoders over
// Uint8Array. Every number here is pinned by test/runtime/abi.test.ts, which also cross-checks
// against the C header when a compiler and linux/vfio.h are installed.

// ---- ioctl numbers: _IO(';', 100 + n) = (0x3b << 8) | (100 + n) ------------------------------

const VFIO_TYPE = 0x3b; // ';'
const VFIO_BASE = 100;
const io = (n: number) => (VFIO_TYPE << 8) | (VFIO_BASE + n);

export const VFIO_API_VERSION = 0;
export const VFIO_GET_API_VERSION = io(0);
export const VFIO_CHECK_EXTENSION = io(1);
export const VFIO_SET_IOMMU = io(2);
export const VFIO_GROUP_GET_STATUS = io(3);
export const VFIO_GROUP_SET_CONTAINER = io(4);
export const VFIO_GROUP_UNSET_CONTAINER = io(5);
export const VFIO_GROUP_GET_DEVICE_FD = io(6);
export const VFIO_DEVICE_GET_INFO = io(7);
export const VFIO_DEVICE_GET_REGION_INFO = io(8);
export const VFIO_DEVICE_GET_IRQ_INFO = io(9);
export const VFIO_DEVICE_SET_IRQS = io(10);
export const VFIO_DEVICE_RESET = io(11);
export const VFIO_IOMMU_GET_INFO = io(12);
export const VFIO_IOMMU_MAP_DMA = io(13);
export const VFIO_IOMMU_UNMAP_DMA = io(14);

/** Request number -> name, for traces and errors. */
export const VFIO_IOCTL_NAMES: Record<number, string> = {
  [VFIO_GET_API_VERSION]: "VFIO_GET_API_VERSION",
  [VFIO_CHECK_EXTENSION]: "VFIO_CHECK_EXTENSION",
  [VFIO_SET_IOMMU]: "VFIO_SET_IOMMU",
  [VFIO_GROUP_GET_STATUS]: "VFIO_GROUP_GET_STATUS",
  [VFIO_GROUP_SET_CONTAINER]: "VFIO_GROUP_SET_CONTAINER",
  [VFIO_GROUP_UNSET_CONTAINER]: "VFIO_GROUP_UNSET_CONTAINER",
  [VFIO_GROUP_GET_DEVICE_FD]: "VFIO_GROUP_GET_DEVICE_FD",
  [VFIO_DEVICE_GET_INFO]: "VFIO_DEVICE_GET_INFO",
  [VFIO_DEVICE_GET_REGION_INFO]: "VFIO_DEVICE_GET_REGION_INFO",
  [VFIO_DEVICE_GET_IRQ_INFO]: "VFIO_DEVICE_GET_IRQ_INFO",
  [VFIO_DEVICE_SET_IRQS]: "VFIO_DEVICE_SET_IRQS",
  [VFIO_DEVICE_RESET]: "VFIO_DEVICE_RESET",
  [VFIO_IOMMU_GET_INFO]: "VFIO_IOMMU_GET_INFO",
  [VFIO_IOMMU_MAP_DMA]: "VFIO_IOMMU_MAP_DMA",
  [VFIO_IOMMU_UNMAP_DMA]: "VFIO_IOMMU_UNMAP_DMA",
};

// ---- extensions / IOMMU types ----------------------------------------------------------------

export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_TYPE1v2_IOMMU = 3;
export const VFIO_NOIOMMU_IOMMU = 8;

// ---- flags -----------------------------------------------------------------------------------

export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;
export const VFIO_DEVICE_FLAGS_CAPS = 1 << 7;

export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;
export const VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;
export const VFIO_REGION_INFO_CAP_TYPE = 2;
export const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE = 3;

export const VFIO_IRQ_INFO_EVENTFD = 1 << 0;
export const VFIO_IRQ_INFO_MASKABLE = 1 << 1;
export const VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
export const VFIO_IRQ_INFO_NORESIZE = 1 << 3;

export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
export const VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
export const VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
export const VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;

export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
export const VFIO_IOMMU_INFO_CAPS = 1 << 1;
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;

export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;

// ---- vfio-pci indices ------------------------------------------------------------------------

export const VFIO_PCI_BAR0_REGION_INDEX = 0;
export const VFIO_PCI_ROM_REGION_INDEX = 6;
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
export const VFIO_PCI_VGA_REGION_INDEX = 8;
export const VFIO_PCI_INTX_IRQ_INDEX = 0;
export const VFIO_PCI_MSI_IRQ_INDEX = 1;
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;
export const VFIO_PCI_ERR_IRQ_INDEX = 3;
export const VFIO_PCI_REQ_IRQ_INDEX = 4;

// ---- PCI configuration space (what the runtime touches) --------------------------------------

export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_COMMAND_MEMORY = 1 << 1;
export const PCI_COMMAND_MASTER = 1 << 2;
export const PCI_COMMAND_INTX_DISABLE = 1 << 10;

// ---- struct layouts: byte offsets, and total size --------------------------------------------

export const GroupStatus = { argsz: 0, flags: 4, SIZE: 8 } as const;
/** 24 with the trailing pad of newer headers (older ones say 20); the kernel needs argsz >= 16. */
export const DeviceInfo = { argsz: 0, flags: 4, num_regions: 8, num_irqs: 12, cap_offset: 16, SIZE: 24 } as const;
export const RegionInfo = { argsz: 0, flags: 4, index: 8, cap_offset: 12, size: 16, offset: 24, SIZE: 32 } as const;
export const IrqInfo = { argsz: 0, flags: 4, index: 8, count: 12, SIZE: 16 } as const;
/** Followed by `count` s32 eventfds (DATA_EVENTFD) or u8 bools (DATA_BOOL). */
export const IrqSet = { argsz: 0, flags: 4, index: 8, start: 12, count: 16, data: 20, SIZE: 20 } as const;
export const IommuType1Info = { argsz: 0, flags: 4, iova_pgsizes: 8, cap_offset: 16, SIZE: 24 } as const;
export const DmaMap = { argsz: 0, flags: 4, vaddr: 8, iova: 16, size: 24, SIZE: 32 } as const;
export const DmaUnmap = { argsz: 0, flags: 4, iova: 8, size: 16, SIZE: 24 } as const;
export const InfoCapHeader = { id: 0, version: 2, next: 4, SIZE: 8 } as const;
/** vfio_iommu_type1_info_cap_iova_range: header, nr_iovas, reserved, then {u64 start, u64 end}[] (end inclusive). */
export const CapIovaRange = { nr_iovas: 8, ranges: 16, RANGE_SIZE: 16 } as const;
/** vfio_region_info_cap_sparse_mmap: header, nr_areas, reserved, then {u64 offset, u64 size}[]. */
export const CapSparseMmap = { nr_areas: 8, areas: 16, AREA_SIZE: 16 } as const;

// ---- encoders / decoders ---------------------------------------------------------------------

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
/** u64 as a JS number; VFIO sizes/offsets/IOVAs stay far below 2^53 in practice, check anyway. */
function u64(d: DataView, off: number): number {
  const v = d.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  return Number(v);
}

/** A zeroed struct of `argsz` bytes with argsz filled in. */
export function argszStruct(argsz: number): Uint8Array {
  const b = new Uint8Array(argsz);
  dv(b).setUint32(0, argsz, true);
  return b;
}

export function decodeGroupStatus(b: Uint8Array): { flags: number; viable: boolean; containerSet: boolean } {
  const flags = dv(b).getUint32(GroupStatus.flags, true);
  return { flags, viable: (flags & VFIO_GROUP_FLAGS_VIABLE) !== 0, containerSet: (flags & VFIO_GROUP_FLAGS_CONTAINER_SET) !== 0 };
}

export interface DeviceInfoData {
  argsz: number;
  flags: number;
  numRegions: number;
  numIrqs: number;
  capOffset: number;
}
export function decodeDeviceInfo(b: Uint8Array): DeviceInfoData {
  const d = dv(b);
  return {
    argsz: d.getUint32(DeviceInfo.argsz, true),
    flags: d.getUint32(DeviceInfo.flags, true),
    numRegions: d.getUint32(DeviceInfo.num_regions, true),
    numIrqs: d.getUint32(DeviceInfo.num_irqs, true),
    capOffset: b.byteLength >= DeviceInfo.SIZE ? d.getUint32(DeviceInfo.cap_offset, true) : 0,
  };
}

export function encodeRegionInfo(index: number, argsz: number = RegionInfo.SIZE): Uint8Array {
  const b = argszStruct(argsz);
  dv(b).setUint32(RegionInfo.index, index, true);
  return b;
}
export interface RegionInfoData {
  argsz: number;
  flags: number;
  index: number;
  capOffset: number;
  size: number;
  offset: number;
}
export function decodeRegionInfo(b: Uint8Array): RegionInfoData {
  const d = dv(b);
  return {
    argsz: d.getUint32(RegionInfo.argsz, true),
    flags: d.getUint32(RegionInfo.flags, true),
    index: d.getUint32(RegionInfo.index, true),
    capOffset: d.getUint32(RegionInfo.cap_offset, true),
    size: u64(d, RegionInfo.size),
    offset: u64(d, RegionInfo.offset),
  };
}

export function encodeIrqInfo(index: number): Uint8Array {
  const b = argszStruct(IrqInfo.SIZE);
  dv(b).setUint32(IrqInfo.index, index, true);
  return b;
}
export function decodeIrqInfo(b: Uint8Array): { flags: number; index: number; count: number } {
  const d = dv(b);
  return { flags: d.getUint32(IrqInfo.flags, true), index: d.getUint32(IrqInfo.index, true), count: d.getUint32(IrqInfo.count, true) };
}

/** vfio_irq_set with `fds` as s32 eventfds (DATA_EVENTFD; -1 leaves a vector unassigned), or none. */
export function encodeIrqSet(o: { flags: number; index: number; start: number; count: number; fds?: number[] }): Uint8Array {
  const n = o.fds?.length ?? 0;
  const b = argszStruct(IrqSet.SIZE + 4 * n);
  const d = dv(b);
  d.setUint32(IrqSet.flags, o.flags, true);
  d.setUint32(IrqSet.index, o.index, true);
  d.setUint32(IrqSet.start, o.start, true);
  d.setUint32(IrqSet.count, o.count, true);
  o.fds?.forEach((fd, i) => d.setInt32(IrqSet.data + 4 * i, fd, true));
  return b;
}

export function encodeDmaMap(o: { vaddr: number; iova: number; size: number; flags?: number }): Uint8Array {
  const b = argszStruct(DmaMap.SIZE);
  const d = dv(b);
  d.setUint32(DmaMap.flags, o.flags ?? VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, true);
  d.setBigUint64(DmaMap.vaddr, BigInt(o.vaddr), true);
  d.setBigUint64(DmaMap.iova, BigInt(o.iova), true);
  d.setBigUint64(DmaMap.size, BigInt(o.size), true);
  return b;
}

export function encodeDmaUnmap(o: { iova: number; size: number; flags?: number }): Uint8Array {
  const b = argszStruct(DmaUnmap.SIZE);
  const d = dv(b);
  d.setUint32(DmaUnmap.flags, o.flags ?? 0, true);
  d.setBigUint64(DmaUnmap.iova, BigInt(o.iova), true);
  d.setBigUint64(DmaUnmap.size, BigInt(o.size), true);
  return b;
}
/** The kernel writes back how many bytes it unmapped. */
export function decodeDmaUnmapSize(b: Uint8Array): number {
  return u64(dv(b), DmaUnmap.size);
}

export function decodeIommuInfo(b: Uint8Array): { argsz: number; flags: number; pgsizes: bigint; capOffset: number } {
  const d = dv(b);
  return {
    argsz: d.getUint32(IommuType1Info.argsz, true),
    flags: d.getUint32(IommuType1Info.flags, true),
    pgsizes: d.getBigUint64(IommuType1Info.iova_pgsizes, true),
    capOffset: d.getUint32(IommuType1Info.cap_offset, true),
  };
}

export interface CapHeader {
  id: number;
  version: number;
  /** Offset of this capability within the info struct. */
  offset: number;
}

/**
 * Walks an info struct's capability chain from `first` (its cap_offset). Offsets are from the start
 * of the struct; next = 0 ends it. Stops on loops or offsets outside the buffer (a bad chain must not
 * hang or throw a RangeError).
 */
export function walkCaps(b: Uint8Array, first: number): CapHeader[] {
  const out: CapHeader[] = [];
  const d = dv(b);
  const seen = new Set<number>();
  let off = first;
  while (off !== 0 && off + InfoCapHeader.SIZE <= b.byteLength && !seen.has(off)) {
    seen.add(off);
    out.push({ id: d.getUint16(off + InfoCapHeader.id, true), version: d.getUint16(off + InfoCapHeader.version, true), offset: off });
    off = d.getUint32(off + InfoCapHeader.next, true);
  }
  return out;
}

/** IOVA ranges of a VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE capability, converted to end-exclusive. */
export function decodeIovaRanges(b: Uint8Array, capOffset: number): { start: number; end: number }[] {
  const d = dv(b);
  const n = d.getUint32(capOffset + CapIovaRange.nr_iovas, true);
  const out: { start: number; end: number }[] = [];
  for (let i = 0; i < n; i++) {
    const at = capOffset + CapIovaRange.ranges + i * CapIovaRange.RANGE_SIZE;
    if (at + CapIovaRange.RANGE_SIZE > b.byteLength) break;
    const start = d.getBigUint64(at, true);
    const endIncl = d.getBigUint64(at + 8, true);
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    if (start > max) continue;
    out.push({ start: Number(start), end: Number(endIncl >= max ? max : endIncl + 1n) });
  }
  return out;
}

/** Mappable areas of a VFIO_REGION_INFO_CAP_SPARSE_MMAP capability. */
export function decodeSparseAreas(b: Uint8Array, capOffset: number): { offset: number; size: number }[] {
  const d = dv(b);
  const n = d.getUint32(capOffset + CapSparseMmap.nr_areas, true);
  const out: { offset: number; size: number }[] = [];
  for (let i = 0; i < n; i++) {
    const at = capOffset + CapSparseMmap.areas + i * CapSparseMmap.AREA_SIZE;
    if (at + CapSparseMmap.AREA_SIZE > b.byteLength) break;
    out.push({ offset: u64(d, at), size: u64(d, at + 8) });
  }
  return out;
}
