// RegisterIo: width-exact access to a region's registers, and its three implementations:
//   MmioIo     device memory (a mapped BAR) through the native helper: every access is one opaque FFI
//              call doing one volatile load/store of the exact width. Never Atomics: on device memory
//              Atomics.load is a locked read-modify-write and Atomics.store an xchg (both also
//              read or write the register).
//   FfiMmioIo  fallback when no C compiler is there: reads are bun:ffi `read.u*` calls (native calls
//              the JIT cannot hoist, exact width); writes are typed-array stores (one mov of the exact
//              width; a BigUint64Array store is one 64-bit store). Weaker: the doorbell has no store
//              fence, which is fine on x86 (TSO keeps stores in order, BARs are mapped uncached) but not
//              on weakly ordered CPUs, and ~4x slower on reads. Used only when native is unavailable.
//   RamIo      ordinary memory (sim register files, `ram` regions): Atomics, which are correct and
//              cheap on RAM and never hoisted.
// All three check bounds and alignment on every access: a stray offset into device memory is a
// SIGSEGV or a write into some other register, so it must be an error naming the region instead.
// The offset must be a number (typeof first): an object's valueOf could answer one value to the
// bounds check and another to the pointer arithmetic after it. Stored values must be exact: a
// number that fits the width unsigned (write8: 0..0xff), a bigint for write64; nothing is masked
// or truncated into place, and a refused store writes nothing.
import { read, toArrayBuffer, type Pointer } from "bun:ffi";
import { describe } from "../args.ts";
import { RegisterError, UseAfterReleaseError } from "../errors.ts";
import { detach } from "./detach.ts";
import { nativeMmio, type NativeMmio } from "./native.ts";

export interface RegisterIo {
  read8(off: number): number;
  read16(off: number): number;
  read32(off: number): number;
  read64(off: number): bigint;
  write8(off: number, v: number): void;
  write16(off: number, v: number): void;
  write32(off: number, v: number): void;
  write64(off: number, v: bigint): void;
  /** A 32-bit write ordered after every earlier store (ring entries) — the doorbell. */
  doorbell(off: number, v: number): void;
  /** Names the region in errors ("bar0 of 0000:00:03.0"). */
  readonly name?: string;
}

const hex = (n: number) => `0x${n.toString(16)}`;
const U64 = (1n << 64n) - 1n;

/**
 * Why an access at `off` was refused (the slow path once a check failed): a non-number offset is a
 * TypeError; a number that is not an offset of a `bytes`-wide register inside the region is a
 * RegisterError naming the region. Runs no code of `off`.
 */
export function accessError(region: string, size: number, off: unknown, bytes: number): Error {
  if (typeof off !== "number") {
    return new TypeError(`register access to ${region}: offset must be a number, got ${describe(off)}`);
  }
  const where = `${region}+${Number.isInteger(off) && off >= 0 ? hex(off) : describe(off)}`;
  if (!Number.isInteger(off) || off < 0 || off + bytes > size) {
    return new RegisterError(where, `${bytes * 8}-bit access outside the region (size ${hex(size)})`);
  }
  return new RegisterError(where, `${bytes * 8}-bit access is not ${bytes}-byte aligned`);
}

/** Why a `bits`-wide store of `v` was refused: not a number (bigint for 64) -> TypeError, not an
 *  unsigned integer of that width -> RangeError. */
export function valueError(region: string, off: number, v: unknown, bits: 8 | 16 | 32 | 64): Error {
  const max = bits === 64 ? "0xffffffffffffffff" : hex(2 ** bits - 1);
  const kind = bits === 64 ? "a bigint" : "an integer";
  const msg = `register ${region}+${hex(off)}: value must be ${kind} in 0..${max} (a ${bits}-bit store), got ${describe(v)}`;
  return (bits === 64 ? typeof v === "bigint" : typeof v === "number") ? new RangeError(msg) : new TypeError(msg);
}

/** Common bounds/alignment/liveness checks; the hot path is one comparison chain per access. */
abstract class CheckedIo {
  readonly name: string;
  protected size: number;
  protected released = false;
  constructor(size: number, name: string) {
    this.size = size;
    this.name = name;
  }

  /** The slow path once a check failed: the precise error. */
  protected bad(off: unknown, bytes: number): never {
    if (this.released) throw new UseAfterReleaseError(`region ${this.name}`, "unmapped");
    throw accessError(this.name, this.size, off, bytes);
  }

  protected badValue(off: number, v: unknown, bits: 8 | 16 | 32 | 64): never {
    throw valueError(this.name, off, v, bits);
  }

  /** Later accesses throw UseAfterReleaseError; call before the mapping goes away. */
  release(): void {
    this.released = true;
    this.size = 0;
  }
}

/** Device memory at `base` through the native helper. */
export class MmioIo extends CheckedIo implements RegisterIo {
  readonly #n: NativeMmio;
  readonly #base: number;
  constructor(base: number, size: number, name: string, native: NativeMmio) {
    super(size, name);
    this.#base = base;
    this.#n = native;
  }
  read8(off: number): number {
    if (typeof off !== "number" || off >>> 0 !== off || off + 1 > this.size) this.bad(off, 1);
    return this.#n.wd_rd8((this.#base + off) as Pointer);
  }
  read16(off: number): number {
    if (typeof off !== "number" || off >>> 0 !== off || off + 2 > this.size || off & 1) this.bad(off, 2);
    return this.#n.wd_rd16((this.#base + off) as Pointer);
  }
  read32(off: number): number {
    if (typeof off !== "number" || off >>> 0 !== off || off + 4 > this.size || off & 3) this.bad(off, 4);
    return this.#n.wd_rd32((this.#base + off) as Pointer);
  }
  read64(off: number): bigint {
    if (typeof off !== "number" || off >>> 0 !== off || off + 8 > this.size || off & 7) this.bad(off, 8);
    return this.#n.wd_rd64((this.#base + off) as Pointer) as bigint; // a u64 return is always a BigInt
  }
  write8(off: number, v: number): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + 1 > this.size) this.bad(off, 1);
    if (typeof v !== "number" || (v & 0xff) !== v) this.badValue(off, v, 8);
    this.#n.wd_wr8((this.#base + off) as Pointer, v);
  }
  write16(off: number, v: number): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + 2 > this.size || off & 1) this.bad(off, 2);
    if (typeof v !== "number" || (v & 0xffff) !== v) this.badValue(off, v, 16);
    this.#n.wd_wr16((this.#base + off) as Pointer, v);
  }
  write32(off: number, v: number): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + 4 > this.size || off & 3) this.bad(off, 4);
    if (typeof v !== "number" || v >>> 0 !== v) this.badValue(off, v, 32);
    this.#n.wd_wr32((this.#base + off) as Pointer, v);
  }
  write64(off: number, v: bigint): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + 8 > this.size || off & 7) this.bad(off, 8);
    if (typeof v !== "bigint" || v < 0n || v > U64) this.badValue(off, v, 64);
    this.#n.wd_wr64((this.#base + off) as Pointer, v);
  }
  doorbell(off: number, v: number): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + 4 > this.size || off & 3) this.bad(off, 4);
    if (typeof v !== "number" || v >>> 0 !== v) this.badValue(off, v, 32);
    this.#n.wd_db32((this.#base + off) as Pointer, v);
  }
}

/** Device memory at `base` without the native helper (see the file comment for what is weaker). */
export class FfiMmioIo extends CheckedIo implements RegisterIo {
  readonly #base: number;
  #ab: ArrayBuffer;
  #u8: Uint8Array;
  #u16: Uint16Array;
  #u32: Uint32Array;
  #u64: BigUint64Array;
  constructor(base: number, size: number, name: string) {
    super(size, name);
    this.#base = base;
    this.#ab = toArrayBuffer(base as Pointer, 0, size);
    this.#u8 = new Uint8Array(this.#ab);
    this.#u16 = new Uint16Array(this.#ab, 0, size >>> 1);
    this.#u32 = new Uint32Array(this.#ab, 0, size >>> 2);
    this.#u64 = new BigUint64Array(this.#ab, 0, Math.floor(size / 8));
  }
  read8(off: number): number {
    if (typeof off !== "number" || off >>> 0 !== off || off + 1 > this.size) this.bad(off, 1);
    return read.u8(this.#base as Pointer, off);
  }
  read16(off: number): number {
    if (typeof off !== "number" || off >>> 0 !== off || off + 2 > this.size || off & 1) this.bad(off, 2);
    return read.u16(this.#base as Pointer, off);
  }
  read32(off: number): number {
    if (typeof off !== "number" || off >>> 0 !== off || off + 4 > this.size || off & 3) this.bad(off, 4);
    return read.u32(this.#base as Pointer, off);
  }
  read64(off: number): bigint {
    if (typeof off !== "number" || off >>> 0 !== off || off + 8 > this.size || off & 7) this.bad(off, 8);
    return BigInt.asUintN(64, BigInt(read.u64(this.#base as Pointer, off)));
  }
  write8(off: number, v: number): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + 1 > this.size) this.bad(off, 1);
    if (typeof v !== "number" || (v & 0xff) !== v) this.badValue(off, v, 8);
    this.#u8[off] = v;
  }
  write16(off: number, v: number): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + 2 > this.size || off & 1) this.bad(off, 2);
    if (typeof v !== "number" || (v & 0xffff) !== v) this.badValue(off, v, 16);
    this.#u16[off >>> 1] = v;
  }
  write32(off: number, v: number): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + 4 > this.size || off & 3) this.bad(off, 4);
    if (typeof v !== "number" || v >>> 0 !== v) this.badValue(off, v, 32);
    this.#u32[off >>> 2] = v;
  }
  write64(off: number, v: bigint): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + 8 > this.size || off & 7) this.bad(off, 8);
    if (typeof v !== "bigint" || v < 0n || v > U64) this.badValue(off, v, 64);
    this.#u64[off >>> 3] = v;
  }
  doorbell(off: number, v: number): void {
    this.write32(off, v);
  }
  override release(): void {
    super.release();
    // Detach the views so nothing reaches the mapping after the owner unmaps it.
    detach(this.#ab);
  }
}

/** Register access over ordinary memory: an (optionally shared) ArrayBuffer, or a pointer. */
export class RamIo extends CheckedIo implements RegisterIo {
  #ab: ArrayBufferLike;
  #u8: Uint8Array;
  #u16: Uint16Array;
  #u32: Uint32Array;
  #u64: BigUint64Array;
  readonly #owned: boolean;

  /** `buffer` from byteOffset (8-byte aligned) for size bytes. */
  constructor(buffer: ArrayBufferLike, byteOffset: number, size: number, name: string, ownsView = false) {
    super(size, name);
    if (byteOffset % 8 !== 0) throw new RegisterError(name, `RamIo offset ${byteOffset} is not 8-byte aligned`);
    this.#ab = buffer;
    this.#owned = ownsView;
    this.#u8 = new Uint8Array(buffer, byteOffset, size);
    this.#u16 = new Uint16Array(buffer, byteOffset, size >>> 1);
    this.#u32 = new Uint32Array(buffer, byteOffset, size >>> 2);
    this.#u64 = new BigUint64Array(buffer, byteOffset, Math.floor(size / 8));
  }

  /** Over process memory at ptr (a mapped `ram` region); release() detaches the views. */
  static fromPointer(ptr: number, size: number, name: string): RamIo {
    return new RamIo(toArrayBuffer(ptr as Pointer, 0, size), 0, size, name, true);
  }

  read8(off: number): number {
    if (typeof off !== "number" || off >>> 0 !== off || off + 1 > this.size) this.bad(off, 1);
    return Atomics.load(this.#u8, off);
  }
  read16(off: number): number {
    if (typeof off !== "number" || off >>> 0 !== off || off + 2 > this.size || off & 1) this.bad(off, 2);
    return Atomics.load(this.#u16, off >>> 1);
  }
  read32(off: number): number {
    if (typeof off !== "number" || off >>> 0 !== off || off + 4 > this.size || off & 3) this.bad(off, 4);
    return Atomics.load(this.#u32, off >>> 2);
  }
  read64(off: number): bigint {
    if (typeof off !== "number" || off >>> 0 !== off || off + 8 > this.size || off & 7) this.bad(off, 8);
    return Atomics.load(this.#u64, off >>> 3);
  }
  write8(off: number, v: number): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + 1 > this.size) this.bad(off, 1);
    if (typeof v !== "number" || (v & 0xff) !== v) this.badValue(off, v, 8);
    Atomics.store(this.#u8, off, v);
  }
  write16(off: number, v: number): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + 2 > this.size || off & 1) this.bad(off, 2);
    if (typeof v !== "number" || (v & 0xffff) !== v) this.badValue(off, v, 16);
    Atomics.store(this.#u16, off >>> 1, v);
  }
  write32(off: number, v: number): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + 4 > this.size || off & 3) this.bad(off, 4);
    if (typeof v !== "number" || v >>> 0 !== v) this.badValue(off, v, 32);
    Atomics.store(this.#u32, off >>> 2, v);
  }
  write64(off: number, v: bigint): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + 8 > this.size || off & 7) this.bad(off, 8);
    if (typeof v !== "bigint" || v < 0n || v > U64) this.badValue(off, v, 64);
    Atomics.store(this.#u64, off >>> 3, v);
  }
  /** Atomics.store is sequentially consistent, so earlier stores are visible first. */
  doorbell(off: number, v: number): void {
    this.write32(off, v);
  }
  override release(): void {
    super.release();
    if (this.#owned && this.#ab instanceof ArrayBuffer) detach(this.#ab);
  }
}

/**
 * RegisterIo for device memory mapped at ptr: the native helper when it can be built/loaded, the
 * bun:ffi fallback otherwise (`WD_MMIO=ffi` forces it).
 */
export function mmioIo(ptr: number, size: number, name: string): MmioIo | FfiMmioIo {
  const n = nativeMmio();
  return n ? new MmioIo(ptr, size, name, n) : new FfiMmioIo(ptr, size, name);
}
