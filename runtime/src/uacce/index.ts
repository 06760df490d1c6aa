// runtime/src/uacce: the backend over the kernel's UACCE queue files (drivers/misc/uacce).
export { UacceBackend, uacceBackend, findUacceDevices, uacceDeviceName } from "./backend.ts";
export { UacceQueue, layoutRegions, type UacceOpenOptions } from "./device.ts";
export { DusPool, SvaMemory } from "./dus-pool.ts";
export { listUacceDevices, readUacceDevice, uacceDevicePresent, type UacceDeviceInfo } from "./sysfs.ts";
