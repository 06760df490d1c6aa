// What generated clients build on: struct accessors, typed queues and typed devices.
export { StructView } from "./struct-view.ts";
export { TypedDevice } from "./typed-device.ts";
export { TypedQueue, type RecvStruct, type SendStruct } from "./typed-queue.ts";
