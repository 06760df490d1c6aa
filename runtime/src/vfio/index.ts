// runtime/src/vfio: the real backend over the legacy VFIO container API.
export { VfioBackend, vfioBackend, findVfioDevice } from "./backend.ts";
export { VfioContainer, type IommuInfo } from "./container.ts";
export { VfioGroup, checkBoundToVfio, groupMembers, iommuGroupOf, normalizeDeviceName, notViableReason } from "./group.ts";
export { VfioDevice, type RegionDetails, type VfioOpenOptions } from "./device.ts";
export { PreadIo, SparseIo } from "./regionio.ts";
export { vfioIoctl, hintFor } from "./ioctl.ts";
export { claimMdev, createMdev, findMdevTypes, listMdevInstances, listMdevTypes, removeMdev, type MdevInstance, type MdevType } from "./mdev.ts";
