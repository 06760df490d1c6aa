// The virtio devices of the QEMU guest: QEMU's virtio-blk-pci and virtio-rng-pci, modern only
// (disable-legacy=on) and behind the emulated IOMMU (iommu_platform=on: without
// VIRTIO_F_ACCESS_PLATFORM a QEMU virtio device bypasses the IOMMU and reads guest-physical
// addresses, which are not the IOVAs VFIO maps). /init binds both to vfio-pci (guest/init.sh).
//
// For test/peers, the kernel's own virtio drivers (virtio_pci and virtio_blk with what they need)
// travel in the peers archive (test/vm/guest-tools.ts, /etc/wd-virtio-modules); they are not
// loaded at boot, so both devices start unbound.
import { closeSync, openSync, truncateSync } from "node:fs";
import { join } from "node:path";

/** The serial QEMU's virtio-blk reports (the sim model's default, devices/virtio-blk/model.ts). */
export const VIRTIO_BLK_SERIAL = "wd-virtio-blk";
/** Size of the virtio-blk backing file: 32 MiB = 65536 sectors. */
export const VIRTIO_BLK_BYTES = 32 << 20;
/** PCI ids (modern virtio: 0x1040 + device type). */
export const VIRTIO_BLK_ID = { vendor: 0x1af4, device: 0x1042 };
export const VIRTIO_RNG_ID = { vendor: 0x1af4, device: 0x1044 };

/** -drive/-device arguments of both devices; the disk is a fresh sparse file in `runDir`. */
export function virtioQemuArgs(runDir: string): string[] {
  const img = join(runDir, "virtio-blk.img");
  closeSync(openSync(img, "w"));
  truncateSync(img, VIRTIO_BLK_BYTES);
  const modern = "disable-legacy=on,iommu_platform=on";
  return [
    "-drive", `file=${img},if=none,id=vblk,format=raw,discard=unmap`,
    "-device", `virtio-blk-pci,drive=vblk,serial=${VIRTIO_BLK_SERIAL},${modern}`,
    "-device", `virtio-rng-pci,${modern}`,
  ];
}
