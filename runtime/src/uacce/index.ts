// runtime/src/uacce: the backend over the kernel's UACCE queue files (drivers/misc/uacce).
export { UacceBackend, uacceBackend, findUacceDevices, uacceDeviceName } from "./backend.ts";
export { UacceQueue, layoutRegions, qmRings, type UacceOpenOptions } from "./device.ts";
export { QmDoorbell, qmDoorbellV2, decodeQmDoorbellV2, QM_DB_CMD_CQ, QM_DB_CMD_SQ } from "./qm-doorbell.ts";
export { DusPool, SvaMemory } from "./dus-pool.ts";
export { listUacceDevices, readUacceDevice, uacceDevicePresent, type UacceDeviceInfo } from "./sysfs.ts";
