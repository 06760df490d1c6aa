// The VFIO ABI pinned: ioctl numbers, struct sizes and offsets, encoders' bytes, capability chains.
// When a C compiler and linux/vfio.h are present, the numbers are also checked against the header.
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as abi from "@warpdrive/runtime/sys/abi";

test("ioctl numbers are _IO(';', 100 + n)", () => {
  expect(abi.VFIO_GET_API_VERSION).toBe(0x3b64);
  expect(abi.VFIO_CHECK_EXTENSION).toBe(0x3b65);
  expect(abi.VFIO_SET_IOMMU).toBe(0x3b66);
  expect(abi.VFIO_GROUP_GET_STATUS).toBe(0x3b67);
  expect(abi.VFIO_GROUP_SET_CONTAINER).toBe(0x3b68);
  expect(abi.VFIO_GROUP_UNSET_CONTAINER).toBe(0x3b69);
  expect(abi.VFIO_GROUP_GET_DEVICE_FD).toBe(0x3b6a);
  expect(abi.VFIO_DEVICE_GET_INFO).toBe(0x3b6b);
  expect(abi.VFIO_DEVICE_GET_REGION_INFO).toBe(0x3b6c);
  expect(abi.VFIO_DEVICE_GET_IRQ_INFO).toBe(0x3b6d);
  expect(abi.VFIO_DEVICE_SET_IRQS).toBe(0x3b6e);
  expect(abi.VFIO_DEVICE_RESET).toBe(0x3b6f);
  expect(abi.VFIO_IOMMU_GET_INFO).toBe(0x3b70);
  expect(abi.VFIO_IOMMU_MAP_DMA).toBe(0x3b71);
  expect(abi.VFIO_IOMMU_UNMAP_DMA).toBe(0x3b72);
  expect(abi.VFIO_IOCTL_NAMES[0x3b68]).toBe("VFIO_GROUP_SET_CONTAINER");
});

test("extension and index constants", () => {
  expect(abi.VFIO_TYPE1_IOMMU).toBe(1);
  expect(abi.VFIO_TYPE1v2_IOMMU).toBe(3);
  expect(abi.VFIO_PCI_CONFIG_REGION_INDEX).toBe(7);
  expect(abi.VFIO_PCI_MSIX_IRQ_INDEX).toBe(2);
  expect(abi.PCI_COMMAND_MASTER).toBe(4);
});

test("struct sizes", () => {
  expect(abi.GroupStatus.SIZE).toBe(8);
  expect(abi.DeviceInfo.SIZE).toBe(24);
  expect(abi.RegionInfo.SIZE).toBe(32);
  expect(abi.IrqInfo.SIZE).toBe(16);
  expect(abi.IrqSet.SIZE).toBe(20);
  expect(abi.IommuType1Info.SIZE).toBe(24);
  expect(abi.DmaMap.SIZE).toBe(32);
  expect(abi.DmaUnmap.SIZE).toBe(24);
  expect(abi.InfoCapHeader.SIZE).toBe(8);
});

test("dma_map bytes", () => {
  const b = abi.encodeDmaMap({ vaddr: 0x7f0000001000, iova: 0x10000, size: 0x2000 });
  expect(b.byteLength).toBe(32);
  const d = new DataView(b.buffer);
  expect(d.getUint32(0, true)).toBe(32);
  expect(d.getUint32(4, true)).toBe(3); // READ | WRITE
  expect(d.getBigUint64(8, true)).toBe(0x7f0000001000n);
  expect(d.getBigUint64(16, true)).toBe(0x10000n);
  expect(d.getBigUint64(24, true)).toBe(0x2000n);
});

test("dma_unmap bytes and the size the kernel writes back", () => {
  const b = abi.encodeDmaUnmap({ iova: 0x10000, size: 0x2000 });
  expect(b.byteLength).toBe(24);
  expect([...b.subarray(0, 8)]).toEqual([24, 0, 0, 0, 0, 0, 0, 0]);
  new DataView(b.buffer).setBigUint64(16, 0x1000n, true);
  expect(abi.decodeDmaUnmapSize(b)).toBe(0x1000);
});

test("irq_set is 20 + 4n bytes with s32 eventfds", () => {
  const b = abi.encodeIrqSet({ flags: abi.VFIO_IRQ_SET_DATA_EVENTFD | abi.VFIO_IRQ_SET_ACTION_TRIGGER, index: 1, start: 0, count: 3, fds: [7, -1, 9] });
  expect(b.byteLength).toBe(32);
  const d = new DataView(b.buffer);
  expect(d.getUint32(0, true)).toBe(32);
  expect(d.getUint32(4, true)).toBe(0x24);
  expect(d.getUint32(8, true)).toBe(1);
  expect(d.getUint32(12, true)).toBe(0);
  expect(d.getUint32(16, true)).toBe(3);
  expect([d.getInt32(20, true), d.getInt32(24, true), d.getInt32(28, true)]).toEqual([7, -1, 9]);
  const off = abi.encodeIrqSet({ flags: abi.VFIO_IRQ_SET_DATA_NONE | abi.VFIO_IRQ_SET_ACTION_TRIGGER, index: 2, start: 0, count: 0 });
  expect(off.byteLength).toBe(20);
});

test("region_info encode/decode", () => {
  const b = abi.encodeRegionInfo(7);
  expect(b.byteLength).toBe(32);
  const d = new DataView(b.buffer);
  expect(d.getUint32(0, true)).toBe(32);
  expect(d.getUint32(8, true)).toBe(7);
  d.setUint32(4, 0b1011, true);
  d.setBigUint64(16, 0x100000n, true);
  d.setBigUint64(24, 7n << 40n, true);
  const r = abi.decodeRegionInfo(b);
  expect(r).toEqual({ argsz: 32, flags: 0b1011, index: 7, capOffset: 0, size: 0x100000, offset: 0x70000000000 });
  expect(abi.encodeRegionInfo(3, 80).byteLength).toBe(80);
});

test("capability chains: walk, iova ranges (end made exclusive), sparse areas, loops stop", () => {
  const b = new Uint8Array(24 + 16 + 32 + 40);
  const d = new DataView(b.buffer);
  // cap 1 at 24: iova range, 2 ranges; next -> 72
  d.setUint16(24, 1, true);
  d.setUint16(26, 1, true);
  d.setUint32(28, 72, true);
  d.setUint32(32, 2, true);
  d.setBigUint64(40, 0n, true);
  d.setBigUint64(48, 0xfedfffffn, true);
  d.setBigUint64(56, 0xfef00000n, true);
  d.setBigUint64(64, 0xffffffffffffn, true);
  // cap 3 at 72: sparse mmap with 1 area; next -> 24 (a loop)
  d.setUint16(72, 1, true);
  d.setUint32(76, 24, true);
  d.setUint32(80, 1, true);
  d.setBigUint64(88, 0x1000n, true);
  d.setBigUint64(96, 0x3000n, true);
  const caps = abi.walkCaps(b, 24);
  expect(caps.map((c) => c.offset)).toEqual([24, 72]);
  expect(abi.decodeIovaRanges(b, 24)).toEqual([
    { start: 0, end: 0xfee00000 },
    { start: 0xfef00000, end: 0x1000000000000 },
  ]);
  expect(abi.decodeSparseAreas(b, 72)).toEqual([{ offset: 0x1000, size: 0x3000 }]);
  // a chain pointing outside the buffer ends quietly
  d.setUint32(28, 5000, true);
  expect(abi.walkCaps(b, 24).length).toBe(1);
});

// Cross-check with the C header: offsetof/sizeof as the compiler sees them.
const header = "/usr/include/linux/vfio.h";
const cc = Bun.which("cc");
test.skipIf(!cc || !existsSync(header))("numbers agree with linux/vfio.h", () => {
  const dir = mkdtempSync(join(tmpdir(), "wd-abi-"));
  try {
    const src = `#include <stdio.h>
#include <stddef.h>
#include <linux/vfio.h>
#define P(x) printf(#x " %lu\\n", (unsigned long)(x));
int main(void) {
  P(VFIO_GET_API_VERSION) P(VFIO_CHECK_EXTENSION) P(VFIO_SET_IOMMU) P(VFIO_GROUP_GET_STATUS)
  P(VFIO_GROUP_SET_CONTAINER) P(VFIO_GROUP_UNSET_CONTAINER) P(VFIO_GROUP_GET_DEVICE_FD)
  P(VFIO_DEVICE_GET_INFO) P(VFIO_DEVICE_GET_REGION_INFO) P(VFIO_DEVICE_GET_IRQ_INFO)
  P(VFIO_DEVICE_SET_IRQS) P(VFIO_DEVICE_RESET) P(VFIO_IOMMU_GET_INFO) P(VFIO_IOMMU_MAP_DMA) P(VFIO_IOMMU_UNMAP_DMA)
  P(sizeof(struct vfio_group_status)) P(sizeof(struct vfio_device_info)) P(sizeof(struct vfio_region_info))
  P(sizeof(struct vfio_irq_info)) P(sizeof(struct vfio_irq_set)) P(sizeof(struct vfio_iommu_type1_info))
  P(sizeof(struct vfio_iommu_type1_dma_map)) P(sizeof(struct vfio_iommu_type1_dma_unmap))
  P(offsetof(struct vfio_device_info, cap_offset)) P(offsetof(struct vfio_region_info, size))
  P(offsetof(struct vfio_region_info, offset)) P(offsetof(struct vfio_irq_set, data))
  P(offsetof(struct vfio_iommu_type1_info, cap_offset)) P(offsetof(struct vfio_iommu_type1_dma_map, vaddr))
  P(offsetof(struct vfio_iommu_type1_dma_map, iova)) P(offsetof(struct vfio_iommu_type1_dma_unmap, size))
  P(offsetof(struct vfio_iommu_type1_info_cap_iova_range, nr_iovas)) P(offsetof(struct vfio_iommu_type1_info_cap_iova_range, iova_ranges))
  P(offsetof(struct vfio_region_info_cap_sparse_mmap, areas)) P(VFIO_PCI_CONFIG_REGION_INDEX) P(VFIO_PCI_MSIX_IRQ_INDEX)
  return 0;
}`;
    writeFileSync(join(dir, "a.c"), src);
    const r = Bun.spawnSync([cc!, "-o", join(dir, "a"), join(dir, "a.c")], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const out = Bun.spawnSync([join(dir, "a")]).stdout.toString();
    const c = Object.fromEntries(out.trim().split("\n").map((l) => [l.slice(0, l.lastIndexOf(" ")), Number(l.slice(l.lastIndexOf(" ") + 1))]));
    for (const name of Object.values(abi.VFIO_IOCTL_NAMES)) expect([name, c[name]]).toEqual([name, (abi as unknown as Record<string, number>)[name]!]);
    expect(c["sizeof(struct vfio_group_status)"]).toBe(abi.GroupStatus.SIZE);
    // Headers before the `pad` member say 20; we pass 24 (newer layout), and the kernel accepts any argsz >= 16.
    expect([20, abi.DeviceInfo.SIZE]).toContain(c["sizeof(struct vfio_device_info)"]);
    expect(c["sizeof(struct vfio_region_info)"]).toBe(abi.RegionInfo.SIZE);
    expect(c["sizeof(struct vfio_irq_info)"]).toBe(abi.IrqInfo.SIZE);
    expect(c["sizeof(struct vfio_irq_set)"]).toBe(abi.IrqSet.SIZE);
    expect(c["sizeof(struct vfio_iommu_type1_info)"]).toBe(abi.IommuType1Info.SIZE);
    expect(c["sizeof(struct vfio_iommu_type1_dma_map)"]).toBe(abi.DmaMap.SIZE);
    expect(c["sizeof(struct vfio_iommu_type1_dma_unmap)"]).toBe(abi.DmaUnmap.SIZE);
    expect(c["offsetof(struct vfio_device_info, cap_offset)"]).toBe(abi.DeviceInfo.cap_offset);
    expect(c["offsetof(struct vfio_region_info, size)"]).toBe(abi.RegionInfo.size);
    expect(c["offsetof(struct vfio_region_info, offset)"]).toBe(abi.RegionInfo.offset);
    expect(c["offsetof(struct vfio_irq_set, data)"]).toBe(abi.IrqSet.data);
    expect(c["offsetof(struct vfio_iommu_type1_info, cap_offset)"]).toBe(abi.IommuType1Info.cap_offset);
    expect(c["offsetof(struct vfio_iommu_type1_dma_map, vaddr)"]).toBe(abi.DmaMap.vaddr);
    expect(c["offsetof(struct vfio_iommu_type1_dma_map, iova)"]).toBe(abi.DmaMap.iova);
    expect(c["offsetof(struct vfio_iommu_type1_dma_unmap, size)"]).toBe(abi.DmaUnmap.size);
    expect(c["offsetof(struct vfio_iommu_type1_info_cap_iova_range, nr_iovas)"]).toBe(abi.CapIovaRange.nr_iovas);
    expect(c["offsetof(struct vfio_iommu_type1_info_cap_iova_range, iova_ranges)"]).toBe(abi.CapIovaRange.ranges);
    expect(c["offsetof(struct vfio_region_info_cap_sparse_mmap, areas)"]).toBe(abi.CapSparseMmap.areas);
    expect(c["VFIO_PCI_CONFIG_REGION_INDEX"]).toBe(abi.VFIO_PCI_CONFIG_REGION_INDEX);
    expect(c["VFIO_PCI_MSIX_IRQ_INDEX"]).toBe(abi.VFIO_PCI_MSIX_IRQ_INDEX);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
