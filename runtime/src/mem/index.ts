// runtime/src/mem: register access, register classes, DMA memory.
export { FfiMmioIo, MmioIo, RamIo, mmioIo, type RegisterIo } from "./io.ts";
export { cacheDir, nativeMmio, nativeMmioUnavailableReason, buildMmioLibrary } from "./native.ts";
export {
  DmaAddrReg,
  DmaAddrReg32,
  RegArray,
  RoReg8,
  RoReg16,
  RoReg32,
  RoReg64,
  RwReg8,
  RwReg16,
  RwReg32,
  RwReg64,
  WoReg8,
  WoReg16,
  WoReg32,
  WoReg64,
  type Access,
  type FieldLayout,
  type FieldSpec,
  type FieldValue,
  type RegCtor,
} from "./registers.ts";
export {
  DmaBuffer,
  SharedResolver,
  describe,
  type DmaAllocOptions,
  type DmaDomain,
  DmaRef,
  type DmaResolver,
} from "./dma.ts";
export { IovaAllocator, clipRanges, type IovaAllocatorOptions, type IovaRange } from "./iova.ts";
export { copyBytes } from "./bytes.ts";
