// runtime/src/sys: libc through bun:ffi, errno, the VFIO kernel ABI.
export * from "./libc.ts";
export { EventFd } from "./eventfd.ts";
export { Errno, errnoName, errnoText } from "../errno.ts";
export * as abi from "./abi.ts";
export * as uacceAbi from "./uacce-abi.ts";
