// One helper for every VFIO ioctl: runs it through the Sys seam and turns a SysError into a VfioError
// that names the step, the file, the errno and the likely fix.
import { SysError, VfioError } from "../errors.ts";
import type { IoctlArg, Sys } from "../sys/libc.ts";

/** errno -> hint, per ioctl name; "*" applies to every ioctl. */
const HINTS: Record<string, Record<string, string>> = {
  VFIO_GROUP_SET_CONTAINER: { EBUSY: "is every device of the group bound to vfio-pci?", EINVAL: "the group is not viable or the container already has an incompatible IOMMU" },
  VFIO_SET_IOMMU: { ENODEV: "no IOMMU of this type: boot with intel_iommu=on / amd_iommu=on", EINVAL: "set the container on a group before VFIO_SET_IOMMU", EBUSY: "the container already has an IOMMU set" },
  VFIO_GROUP_GET_DEVICE_FD: { EINVAL: "the device is not in this group", ENODEV: "the device is not in this group or not bound to vfio-pci", EBUSY: "the device is already open (another process?)" },
  VFIO_IOMMU_MAP_DMA: { ENOMEM: "the memlock limit is too low to pin the pages: raise `ulimit -l` (or run as root)", EINVAL: "iova/size not page-aligned or iova outside the IOMMU's ranges", EEXIST: "that IOVA range is already mapped", ENOSPC: "too many DMA mappings (the type1 dma_entry_limit)" },
  VFIO_IOMMU_UNMAP_DMA: { EINVAL: "unmap exactly what was mapped (same iova and size)" },
  VFIO_DEVICE_SET_IRQS: { EINVAL: "vector out of range, or another interrupt type (INTx/MSI/MSI-X) is already enabled" },
  VFIO_DEVICE_RESET: { ENOTTY: "the device cannot be reset (no FLR or PM reset)", EAGAIN: "reset needs every device of the slot/bus: hot reset is not supported here" },
  "*": { ENOTTY: "not a VFIO file descriptor (or the kernel lacks this ioctl)", EPERM: "run as root or give this user access to /dev/vfio", EACCES: "run as root or give this user access to /dev/vfio" },
};

export function hintFor(call: string, errnoName: string): string | undefined {
  return HINTS[call]?.[errnoName] ?? HINTS["*"]?.[errnoName];
}

/** The ioctl's result (>= 0), or a VfioError naming it. */
export function vfioIoctl(sys: Sys, fd: number, request: number, arg: IoctlArg, name: string, object: string): number {
  try {
    return sys.ioctl(fd, request, arg, name, object);
  } catch (e) {
    if (e instanceof SysError) throw new VfioError(name, object, e.errno, hintFor(name, e.errnoName), e);
    throw e;
  }
}

/** open(2) of a VFIO file with hints for the common failures. */
export function vfioOpen(sys: Sys, path: string, flags: number, hints: Record<string, string>): number {
  try {
    return sys.open(path, flags);
  } catch (e) {
    if (e instanceof SysError) throw new VfioError("open", path, e.errno, hints[e.errnoName] ?? hintFor("open", e.errnoName), e);
    throw e;
  }
}
