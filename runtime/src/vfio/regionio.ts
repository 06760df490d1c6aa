// RegisterIo through pread/pwrite on the device fd: for regions VFIO does not let us mmap (config
// space, I/O port BARs, sparse BARs). Each access is one system call of exactly the given width, which
// vfio-pci turns into one access of that width on the device.
import { UseAfterReleaseError, VfioError } from "../errors.ts";
import { accessError, valueError, type RegisterIo } from "../mem/io.ts";
import type { Sys } from "../sys/libc.ts";

export class PreadIo implements RegisterIo {
  readonly name: string;
  #size: number;
  readonly #sys: Sys;
  readonly #fd: number;
  readonly #base: number;
  readonly #buf = new Uint8Array(8);
  readonly #dv = new DataView(this.#buf.buffer);
  readonly #views = [1, 2, 4, 8].map((n) => this.#buf.subarray(0, n));

  /** `base` is the region's offset within the device fd (from REGION_INFO). */
  constructor(sys: Sys, fd: number, base: number, size: number, name: string) {
    this.#sys = sys;
    this.#fd = fd;
    this.#base = base;
    this.#size = size;
    this.name = name;
  }

  #check(off: number, n: number): void {
    if (typeof off === "number" && off >>> 0 === off && off + n <= this.#size && off % n === 0) return;
    if (this.#size === 0) throw new UseAfterReleaseError(`region ${this.name}`, "closed");
    throw accessError(this.name, this.#size, off, n);
  }

  /** Offset first, then the value: a refused store makes no system call. */
  #checkValue(off: number, v: unknown, bits: 8 | 16 | 32 | 64): void {
    this.#check(off, bits / 8);
    const ok = bits === 64
      ? typeof v === "bigint" && v >= 0n && v <= 0xffffffffffffffffn
      : typeof v === "number" && v >>> 0 === v && v <= 2 ** bits - 1;
    if (!ok) throw valueError(this.name, off, v, bits);
  }

  #view(n: number): Uint8Array {
    return this.#views[n === 1 ? 0 : n === 2 ? 1 : n === 4 ? 2 : 3]!;
  }

  #read(off: number, n: number): void {
    this.#check(off, n);
    const got = this.#sys.pread(this.#fd, this.#view(n), this.#base + off, this.name);
    if (got !== n) throw new VfioError("pread", this.name, undefined, `read ${got} of ${n} bytes at offset 0x${off.toString(16)}`);
  }

  #write(off: number, n: number): void {
    this.#check(off, n);
    const put = this.#sys.pwrite(this.#fd, this.#view(n), this.#base + off, this.name);
    if (put !== n) throw new VfioError("pwrite", this.name, undefined, `wrote ${put} of ${n} bytes at offset 0x${off.toString(16)}`);
  }

  read8(off: number): number {
    this.#read(off, 1);
    return this.#dv.getUint8(0);
  }
  read16(off: number): number {
    this.#read(off, 2);
    return this.#dv.getUint16(0, true);
  }
  read32(off: number): number {
    this.#read(off, 4);
    return this.#dv.getUint32(0, true);
  }
  read64(off: number): bigint {
    this.#read(off, 8);
    return this.#dv.getBigUint64(0, true);
  }
  write8(off: number, v: number): void {
    this.#checkValue(off, v, 8);
    this.#dv.setUint8(0, v);
    this.#write(off, 1);
  }
  write16(off: number, v: number): void {
    this.#checkValue(off, v, 16);
    this.#dv.setUint16(0, v, true);
    this.#write(off, 2);
  }
  write32(off: number, v: number): void {
    this.#checkValue(off, v, 32);
    this.#dv.setUint32(0, v, true);
    this.#write(off, 4);
  }
  write64(off: number, v: bigint): void {
    this.#checkValue(off, v, 64);
    this.#dv.setBigUint64(0, v, true);
    this.#write(off, 8);
  }
  /** A system call is a full barrier: earlier stores are visible before the device sees this write. */
  doorbell(off: number, v: number): void {
    this.write32(off, v);
  }
  release(): void {
    this.#size = 0;
  }
}

/**
 * A region VFIO lets us mmap only in parts (sparse-mmap capability: e.g. a BAR holding the MSI-X
 * table on kernels without MSIX_MAPPABLE). Accesses inside a mapped area go to its MmioIo (no system
 * call: the doorbells), everything else through pread/pwrite.
 */
export class SparseIo implements RegisterIo {
  readonly name: string;
  readonly #areas: { start: number; end: number; io: RegisterIo & { release(): void } }[];
  readonly #slow: PreadIo;

  constructor(areas: { offset: number; size: number; io: RegisterIo & { release(): void } }[], slow: PreadIo, name: string) {
    this.#areas = areas.map((a) => ({ start: a.offset, end: a.offset + a.size, io: a.io })).sort((a, b) => a.start - b.start);
    this.#slow = slow;
    this.name = name;
  }

  /** The mapped area holding [off, off+n), or undefined. A non-number offset is refused here, before
   *  it is compared: an object's valueOf could pick one area and then address another. */
  #at(off: number, n: number): { start: number; io: RegisterIo } | undefined {
    if (typeof off !== "number") throw accessError(this.name, Infinity, off, n);
    const a = this.#areas;
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      if (off >= x.start && off + n <= x.end) return x;
    }
    return undefined;
  }

  read8(off: number): number {
    const a = this.#at(off, 1);
    return a ? a.io.read8(off - a.start) : this.#slow.read8(off);
  }
  read16(off: number): number {
    const a = this.#at(off, 2);
    return a ? a.io.read16(off - a.start) : this.#slow.read16(off);
  }
  read32(off: number): number {
    const a = this.#at(off, 4);
    return a ? a.io.read32(off - a.start) : this.#slow.read32(off);
  }
  read64(off: number): bigint {
    const a = this.#at(off, 8);
    return a ? a.io.read64(off - a.start) : this.#slow.read64(off);
  }
  write8(off: number, v: number): void {
    const a = this.#at(off, 1);
    if (a) a.io.write8(off - a.start, v);
    else this.#slow.write8(off, v);
  }
  write16(off: number, v: number): void {
    const a = this.#at(off, 2);
    if (a) a.io.write16(off - a.start, v);
    else this.#slow.write16(off, v);
  }
  write32(off: number, v: number): void {
    const a = this.#at(off, 4);
    if (a) a.io.write32(off - a.start, v);
    else this.#slow.write32(off, v);
  }
  write64(off: number, v: bigint): void {
    const a = this.#at(off, 8);
    if (a) a.io.write64(off - a.start, v);
    else this.#slow.write64(off, v);
  }
  doorbell(off: number, v: number): void {
    const a = this.#at(off, 4);
    if (a) a.io.doorbell(off - a.start, v);
    else this.#slow.doorbell(off, v);
  }
  release(): void {
    for (const a of this.#areas) a.io.release();
    this.#slow.release();
  }
}
