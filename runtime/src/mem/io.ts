// RegisterIo: width-exact access to a region's registers, and its three implementations:
//   MmioIo     device memory (a mapped BAR) through the native helper: every access is one opaque FFI
//              call doing one volatile load/store of the exact width. Never Atomics (trap 2).
//   FfiMmioIo  fallback when no C compiler is there: reads are bun:ffi `read.u*` calls (native calls
//              the JIT cannot hoist, exact width); writes are typed-array stores (one mov of the exact
//              width; a BigUint64Array store is one 64-bit store). Weaker: the doorbell has no store
//              fence, which is fine on x86 (TSO keeps stores in order, BARs are mapped uncached) but not
//              on weakly ordered CPUs, and ~4x slower on reads. Used only when native is unavailable.
//   RamIo      ordinary memory (sim register files, `ram` regions): Atomics, which are correct and
//              cheap on RAM and never hoisted.
// All three check bounds and alignment on every access: a stray offset into device memory is a
// SIGSEGV or a write into some other register, so it must be an error naming the region instead.
import { read, toArrayBuffer, type Pointer } from "bun:ffi";
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
  protected bad(off: number, bytes: number): never {
    if (this.released) throw new UseAfterReleaseError(`region ${this.name}`, "unmapped");
    const where = `${this.name}+${typeof off === "number" && Number.isInteger(off) ? hex(off) : String(off)}`;
    if (!Number.isInteger(off) || off < 0 || off + bytes > this.size) {
      throw new RegisterError(where, `${bytes * 8}-bit access outside the region (size ${hex(this.size)})`);
    }
    throw new RegisterError(where, `${bytes * 8}-bit access is not ${bytes}-byte aligned`);
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
    if (!(off >= 0 && off + 1 <= this.size)) this.bad(off, 1);
    return this.#n.wd_rd8((this.#base + off) as Pointer);
  }
  read16(off: number): number {
    if (!(off >= 0 && off + 2 <= this.size) || off & 1) this.bad(off, 2);
    return this.#n.wd_rd16((this.#base + off) as Pointer);
  }
  read32(off: number): number {
    if (!(off >= 0 && off + 4 <= this.size) || off & 3) this.bad(off, 4);
    return this.#n.wd_rd32((this.#base + off) as Pointer);
  }
  read64(off: number): bigint {
    if (!(off >= 0 && off + 8 <= this.size) || off & 7) this.bad(off, 8);
    return this.#n.wd_rd64((this.#base + off) as Pointer) as bigint; // a u64 return is always a BigInt
  }
  write8(off: number, v: number): void {
    if (!(off >= 0 && off + 1 <= this.size)) this.bad(off, 1);
    this.#n.wd_wr8((this.#base + off) as Pointer, v & 0xff);
  }
  write16(off: number, v: number): void {
    if (!(off >= 0 && off + 2 <= this.size) || off & 1) this.bad(off, 2);
    this.#n.wd_wr16((this.#base + off) as Pointer, v & 0xffff);
  }
  write32(off: number, v: number): void {
    if (!(off >= 0 && off + 4 <= this.size) || off & 3) this.bad(off, 4);
    this.#n.wd_wr32((this.#base + off) as Pointer, v >>> 0);
  }
  write64(off: number, v: bigint): void {
    if (!(off >= 0 && off + 8 <= this.size) || off & 7) this.bad(off, 8);
    this.#n.wd_wr64((this.#base + off) as Pointer, v & U64);
  }
  doorbell(off: number, v: number): void {
    if (!(off >= 0 && off + 4 <= this.size) || off & 3) this.bad(off, 4);
    this.#n.wd_db32((this.#base + off) as Pointer, v >>> 0);
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
    if (!(off >= 0 && off + 1 <= this.size)) this.bad(off, 1);
    return read.u8(this.#base as Pointer, off);
  }
  read16(off: number): number {
    if (!(off >= 0 && off + 2 <= this.size) || off & 1) this.bad(off, 2);
    return read.u16(this.#base as Pointer, off);
  }
  read32(off: number): number {
    if (!(off >= 0 && off + 4 <= this.size) || off & 3) this.bad(off, 4);
    return read.u32(this.#base as Pointer, off);
  }
  read64(off: number): bigint {
    if (!(off >= 0 && off + 8 <= this.size) || off & 7) this.bad(off, 8);
    return BigInt.asUintN(64, BigInt(read.u64(this.#base as Pointer, off)));
  }
  write8(off: number, v: number): void {
    if (!(off >= 0 && off + 1 <= this.size)) this.bad(off, 1);
    this.#u8[off] = v;
  }
  write16(off: number, v: number): void {
    if (!(off >= 0 && off + 2 <= this.size) || off & 1) this.bad(off, 2);
    this.#u16[off >>> 1] = v;
  }
  write32(off: number, v: number): void {
    if (!(off >= 0 && off + 4 <= this.size) || off & 3) this.bad(off, 4);
    this.#u32[off >>> 2] = v;
  }
  write64(off: number, v: bigint): void {
    if (!(off >= 0 && off + 8 <= this.size) || off & 7) this.bad(off, 8);
    this.#u64[off >>> 3] = v & U64;
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
    if (!(off >= 0 && off + 1 <= this.size)) this.bad(off, 1);
    return Atomics.load(this.#u8, off);
  }
  read16(off: number): number {
    if (!(off >= 0 && off + 2 <= this.size) || off & 1) this.bad(off, 2);
    return Atomics.load(this.#u16, off >>> 1);
  }
  read32(off: number): number {
    if (!(off >= 0 && off + 4 <= this.size) || off & 3) this.bad(off, 4);
    return Atomics.load(this.#u32, off >>> 2);
  }
  read64(off: number): bigint {
    if (!(off >= 0 && off + 8 <= this.size) || off & 7) this.bad(off, 8);
    return Atomics.load(this.#u64, off >>> 3);
  }
  write8(off: number, v: number): void {
    if (!(off >= 0 && off + 1 <= this.size)) this.bad(off, 1);
    Atomics.store(this.#u8, off, v);
  }
  write16(off: number, v: number): void {
    if (!(off >= 0 && off + 2 <= this.size) || off & 1) this.bad(off, 2);
    Atomics.store(this.#u16, off >>> 1, v);
  }
  write32(off: number, v: number): void {
    if (!(off >= 0 && off + 4 <= this.size) || off & 3) this.bad(off, 4);
    Atomics.store(this.#u32, off >>> 2, v);
  }
  write64(off: number, v: bigint): void {
    if (!(off >= 0 && off + 8 <= this.size) || off & 7) this.bad(off, 8);
    Atomics.store(this.#u64, off >>> 3, v & U64);
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
