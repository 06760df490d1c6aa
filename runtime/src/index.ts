// @warpdrive/runtime: the public surface. Generated device packages import from here.
export { Device, resolveTarget, type BackendKind, type DeviceOptions, type QueueOptions } from "./device.ts";
export type { Backend, BackendDevice, CapabilitySpec, DeviceMemory, DeviceRings, DeviceSpec, IrqLine, MappedRegion, PortalPort, PortalQueueSpec, QueueSpec, RegLoc, RemovalSignal, UacceQueueSpec, UacceSpec, VirtioSpec, VirtqSplitQueueSpec } from "./backend.ts";
export * from "./errors.ts";
export { badArray, badCommand, badInt, badList, badListLength, badRequest, badVariant, badWord, dmaAddress, dmaMisaligned, isI64, isRequestError, isU64, packBits, packBits64, setU64, zeroBytes, type BitLayout } from "./codec.ts";
export * from "./mem/index.ts";
export { mappedPortal, portalInstructions } from "./vfio/portal.ts";
export { IndexRingQueue, PortalQueue, SqCqQueue, type Completion, type Encoder, type Queue, type QueueHost, type SqCqOptions } from "./queue/index.ts";
export { VirtqSplitQueue, chainEncoder, type VirtqBuffer, type VirtqDone, type VirtqRequest } from "./queue/index.ts";
export { VirtioTransport, type NegotiateOptions } from "./virtio/transport.ts";
export { simBackend, SimDevice } from "./sim/backend.ts";
export { drainHostPool } from "./sim/pool.ts";
export { defineModel, DmaFault, type DeviceModel, type ModelContext, type ModelDma, type ModelRegion, type PortalLog, type RegisterWatch } from "./sim/model.ts";
export { AsyncQueue, RoundRobin, type AsyncQueueOptions, type RequestEncoder, type SubmitOptions, type Submitter } from "./async/index.ts";
export * as sys from "./sys/index.ts";
export { vfioBackend, VfioBackend, findVfioDevice } from "./vfio/index.ts";
export { checkBigInt, checkBoolean, checkBrand, checkFunction, checkInt, checkNumber, checkOneOf, checkOptions, checkString, describe, optional } from "./args.ts";
export { RUNTIME_VERSION } from "./version.ts";
export { uacceBackend, UacceBackend, UacceQueue, findUacceDevices, listUacceDevices, qmDoorbellV2, decodeQmDoorbellV2, type UacceDeviceInfo } from "./uacce/index.ts";
