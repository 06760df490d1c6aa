// Register classes that generated code instantiates (svd2rust's habit: the access rule is the type —
// a read-only register has no write method, a write-only one nothing to read).
//
// Field values: `number` for fields up to 32 bits wide, `bigint` for wider ones (only possible in a
// 64-bit register), in every register width. Whole-register values: number for 8/16/32, bigint for 64.
// Writes accept either number or bigint for a field and check that the value fits.
import { DmaError, RegisterError } from "../errors.ts";
import type { DmaRef, DmaResolver } from "./dma.ts";
import type { RegisterIo } from "./io.ts";

export type Access = "ro" | "wo" | "rw" | "w1c" | "w1s" | "rc";
export interface FieldSpec {
  lsb: number;
  width: number;
  access: Access;
}
export type FieldLayout = Record<string, FieldSpec>;
export type FieldValue = number | bigint;

/** A layout compiled once (cached per layout object) into bigint-free masks where possible. */
interface Compiled {
  names: string[];
  specs: FieldSpec[];
  /** Bits that must be written as 0 by modify() unless asked: w1c (1 clears), w1s (1 sets/triggers), wo. */
  modifyZero: bigint;
  /** The same as a uint32 number, for registers up to 32 bits (no BigInt on their paths). */
  modifyZeroN: number;
  /** Field specs by name in a null-prototype object: a property load the JIT caches per call site
   *  (cheaper than a Map lookup), and no inherited key ("toString") can pass for a field. */
  byName: Record<string, FieldSpec | undefined>;
}
const compiledCache = new WeakMap<FieldLayout, Compiled>();
const EMPTY: FieldLayout = Object.freeze({}) as FieldLayout;

function compile(layout: FieldLayout, regWidth: number, where: string): Compiled {
  const hit = compiledCache.get(layout);
  if (hit) return hit;
  const names = Object.keys(layout);
  const specs = names.map((n) => layout[n]!);
  let modifyZero = 0n;
  specs.forEach((f, i) => {
    if (!(f.width >= 1 && f.lsb >= 0 && f.lsb + f.width <= regWidth)) {
      throw new RegisterError(where, `field ${names[i]} (bits ${f.lsb + f.width - 1}:${f.lsb}) does not fit in ${regWidth} bits`);
    }
    if (f.access === "w1c" || f.access === "w1s" || f.access === "wo") {
      modifyZero |= ((1n << BigInt(f.width)) - 1n) << BigInt(f.lsb);
    }
  });
  const modifyZeroN = regWidth <= 32 ? Number(modifyZero) >>> 0 : 0;
  const byName = Object.create(null) as Record<string, FieldSpec | undefined>;
  names.forEach((n, i) => (byName[n] = specs[i]!));
  const c = { names, specs, modifyZero, modifyZeroN, byName };
  compiledCache.set(layout, c);
  return c;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** Shared state and bit arithmetic. V is number (8/16/32) or bigint (64); all math goes via bigint
 *  for fields (exact at every width) and the plain read/write stay on the fast number path. */
abstract class RegBase<F extends object> {
  readonly io: RegisterIo;
  readonly offset: number;
  readonly layout: FieldLayout;
  /** For messages: "dma_cmd" when the generator passes it, else "bar0+0x98". */
  readonly name: string;
  protected readonly dma?: DmaResolver;
  protected readonly c: Compiled;
  protected abstract readonly width: 8 | 16 | 32 | 64;

  constructor(io: RegisterIo, offset: number, layout: FieldLayout | undefined, dma: DmaResolver | undefined, name: string | undefined, width: number) {
    this.io = io;
    this.offset = offset;
    this.layout = layout ?? EMPTY;
    this.dma = dma;
    this.name = name ?? `${io.name ?? "region"}+${hex(offset)}`;
    this.c = compile(this.layout, width, this.name);
  }

  protected spec(name: string): FieldSpec {
    const f = this.c.byName[name];
    if (!f) throw new RegisterError(this.name, `has no field "${name}" (fields: ${this.c.names.join(", ") || "none"})`);
    return f;
  }

  /** Extracts every field from a raw value. */
  protected decode(raw: bigint): F {
    const out: Record<string, FieldValue> = {};
    const { names, specs } = this.c;
    for (let i = 0; i < specs.length; i++) out[names[i]!] = extract(raw, specs[i]!);
    return out as F;
  }

  /** Places the given fields into `base`; other bits keep base's value. */
  protected encode(base: bigint, values: Partial<F>, forWrite: boolean): bigint {
    let v = base;
    for (const key of Object.keys(values)) {
      const val = (values as Record<string, FieldValue | undefined>)[key];
      if (val === undefined) continue;
      const f = this.spec(key);
      if (forWrite && f.access === "ro") throw new RegisterError(this.name, `field ${key} is read-only`);
      const mask = (1n << BigInt(f.width)) - 1n;
      let b: bigint;
      if (typeof val === "bigint") b = val;
      else if (typeof val === "number" && Number.isInteger(val)) b = BigInt(val);
      else if (typeof val === "boolean") b = val ? 1n : 0n;
      else throw new RegisterError(this.name, `field ${key}: ${String(val)} is not an integer`);
      if (b < 0n || b > mask) {
        throw new RegisterError(this.name, `field ${key}: ${val} does not fit in ${f.width} bit${f.width > 1 ? "s" : ""}`);
      }
      v = (v & ~(mask << BigInt(f.lsb))) | (b << BigInt(f.lsb));
    }
    return v;
  }
}

function extract(raw: bigint, f: FieldSpec): FieldValue {
  const v = (raw >> BigInt(f.lsb)) & ((1n << BigInt(f.width)) - 1n);
  return f.width <= 32 ? Number(v) : v;
}

// ---- 8/16/32-bit registers (number values) ----------------------------------------------------

abstract class NumReg<F extends object> extends RegBase<F> {
  protected rd(): number {
    const w = this.width;
    return w === 32 ? this.io.read32(this.offset) : w === 16 ? this.io.read16(this.offset) : this.io.read8(this.offset);
  }
  protected wr(v: number): void {
    const w = this.width;
    // 32-bit first without arithmetic on the bounds (the common register); same rule for all widths:
    // an integer in [-2^(w-1), 2^w - 1]
    if (w === 32) {
      if (!(v >= -0x80000000 && v <= 0xffffffff && Number.isInteger(v))) this.tooWide(v);
      this.io.write32(this.offset, v >>> 0);
      return;
    }
    const max = w === 16 ? 0xffff : 0xff;
    if (!(Number.isInteger(v) && v >= -(max + 1) / 2 && v <= max)) this.tooWide(v);
    if (w === 16) this.io.write16(this.offset, v & 0xffff);
    else this.io.write8(this.offset, v & 0xff);
  }
  private tooWide(v: number): never {
    throw new RegisterError(this.name, `${v} does not fit in ${this.width} bits`);
  }
  protected getField(name: string): number {
    return numField(this.rd() >>> 0, this.spec(name));
  }
  protected fieldsOf(): F {
    const raw = this.rd() >>> 0;
    const out: Record<string, number> = {};
    const { names, specs } = this.c;
    for (let i = 0; i < specs.length; i++) out[names[i]!] = numField(raw, specs[i]!);
    return out as F;
  }
  /** Number-only twin of RegBase.encode for registers up to 32 bits. */
  protected encodeN(base: number, values: Partial<F>): number {
    let v = base >>> 0;
    for (const key in values) {
      const val = (values as Record<string, FieldValue | boolean | undefined>)[key];
      if (val === undefined) continue;
      const f = this.spec(key);
      if (f.access === "ro") throw new RegisterError(this.name, `field ${key} is read-only`);
      const n = typeof val === "number" ? val : typeof val === "bigint" ? Number(val) : typeof val === "boolean" ? +val : NaN;
      const mask = f.width === 32 ? 0xffffffff : 2 ** f.width - 1;
      if (!Number.isInteger(n)) throw new RegisterError(this.name, `field ${key}: ${String(val)} is not an integer`);
      if (n < 0 || n > (f.width === 32 ? 0xffffffff : 2 ** f.width - 1)) {
        throw new RegisterError(this.name, `field ${key}: ${String(val)} does not fit in ${f.width} bit${f.width > 1 ? "s" : ""}`);
      }
      v = ((v & ~(mask << f.lsb)) | (n << f.lsb)) >>> 0;
    }
    return v;
  }
  protected writeFieldsOf(values: Partial<F>): void {
    this.wr(this.encodeN(0, values));
  }
  protected modifyOf(values: Partial<F>): void {
    this.wr(this.encodeN((this.rd() & ~this.c.modifyZeroN) >>> 0, values));
  }
}

/** A field of a register up to 32 bits wide, as an unsigned number. */
function numField(raw: number, f: FieldSpec): number {
  // (1 << width) - 1 for width < 32: a shift, not Math.pow, on every field read
  return f.width === 32 ? raw >>> 0 : (raw >>> f.lsb) & ((1 << f.width) - 1);
}

class RoNum<F extends object> extends NumReg<F> {
  protected readonly width: 8 | 16 | 32 = 32;
  read(): number { return this.rd(); }
  fields(): F { return this.fieldsOf(); }
  get<K extends keyof F & string>(name: K): F[K] { return this.getField(name) as F[K]; }
}
class WoNum<F extends object, W extends object = F> extends NumReg<F> {
  protected readonly width: 8 | 16 | 32 = 32;
  write(v: number): void { this.wr(v); }
  writeFields(values: Partial<W>): void { this.writeFieldsOf(values as unknown as Partial<F>); }
}
class RwNum<F extends object, W extends object = F> extends NumReg<F> {
  protected readonly width: 8 | 16 | 32 = 32;
  read(): number { return this.rd(); }
  fields(): F { return this.fieldsOf(); }
  get<K extends keyof F & string>(name: K): F[K] { return this.getField(name) as F[K]; }
  write(v: number): void { this.wr(v); }
  writeFields(values: Partial<W>): void { this.writeFieldsOf(values as unknown as Partial<F>); }
  /** Read-modify-write; w1c/w1s/wo fields not named are written as 0 so they are not disturbed. */
  modify(values: Partial<W>): void { this.modifyOf(values as unknown as Partial<F>); }
}

type Fields = Record<string, FieldValue>;

// The concrete classes only fix the width; constructor (io, offset, layout?, dma?, name?).
export class RoReg8<F extends object = Fields> extends RoNum<F> {
  protected override readonly width = 8;
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 8); }
}
export class RoReg16<F extends object = Fields> extends RoNum<F> {
  protected override readonly width = 16;
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 16); }
}
export class RoReg32<F extends object = Fields> extends RoNum<F> {
  protected override readonly width = 32;
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 32); }
}
export class WoReg8<F extends object = Fields, W extends object = F> extends WoNum<F, W> {
  protected override readonly width = 8;
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 8); }
}
export class WoReg16<F extends object = Fields, W extends object = F> extends WoNum<F, W> {
  protected override readonly width = 16;
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 16); }
}
export class WoReg32<F extends object = Fields, W extends object = F> extends WoNum<F, W> {
  protected override readonly width = 32;
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 32); }
}
export class RwReg8<F extends object = Fields, W extends object = F> extends RwNum<F, W> {
  protected override readonly width = 8;
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 8); }
}
export class RwReg16<F extends object = Fields, W extends object = F> extends RwNum<F, W> {
  protected override readonly width = 16;
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 16); }
}
export class RwReg32<F extends object = Fields, W extends object = F> extends RwNum<F, W> {
  protected override readonly width = 32;
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 32); }
}

// ---- 64-bit registers (bigint values, one 64-bit access) ---------------------------------------

const U64 = (1n << 64n) - 1n;

abstract class BigReg<F extends object> extends RegBase<F> {
  protected readonly width = 64;
  protected rd(): bigint { return this.io.read64(this.offset); }
  protected wr(v: bigint | number): void {
    const b = typeof v === "bigint" ? v : Number.isInteger(v) ? BigInt(v) : NaN;
    if (typeof b !== "bigint" || b < -(1n << 63n) || b > U64) throw new RegisterError(this.name, `${v} does not fit in 64 bits`);
    this.io.write64(this.offset, b & U64);
  }
}
export class RoReg64<F extends object = Fields> extends BigReg<F> {
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 64); }
  read(): bigint { return this.rd(); }
  fields(): F { return this.decode(this.rd()); }
  get<K extends keyof F & string>(name: K): F[K] { return extract(this.rd(), this.spec(name)) as F[K]; }
}
export class WoReg64<F extends object = Fields, W extends object = F> extends BigReg<F> {
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 64); }
  write(v: bigint): void { this.wr(v); }
  writeFields(values: Partial<W>): void { this.wr(this.encode(0n, values as unknown as Partial<F>, true)); }
}
export class RwReg64<F extends object = Fields, W extends object = F> extends BigReg<F> {
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 64); }
  read(): bigint { return this.rd(); }
  fields(): F { return this.decode(this.rd()); }
  get<K extends keyof F & string>(name: K): F[K] { return extract(this.rd(), this.spec(name)) as F[K]; }
  write(v: bigint): void { this.wr(v); }
  writeFields(values: Partial<W>): void { this.wr(this.encode(0n, values as unknown as Partial<F>, true)); }
  /** Read-modify-write; w1c/w1s/wo fields not named are written as 0 so they are not disturbed. */
  modify(values: Partial<W>): void { this.wr(this.encode(this.rd() & ~this.c.modifyZero, values as unknown as Partial<F>, true)); }
}

// ---- DMA address registers ---------------------------------------------------------------------

/**
 * A 64-bit register holding a bus address. `write(ref)` asks the DmaResolver (the device) for the
 * IOVA of shared memory, so only memory the device may reach can be written here.
 */
export class DmaAddrReg extends RegBase<Fields> {
  protected readonly width = 64;
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 64); }
  protected resolve(ref: DmaRef): number {
    if (!this.dma) {
      throw new DmaError(`register ${this.name} takes a DMA address but was built without a DmaResolver`, {
        field: this.name,
        hint: "construct the register block with the device's `dma` resolver",
      });
    }
    return this.dma.addressOf(ref, this.name);
  }
  /** Writes the bus address of ref (buffer + offset) as one 64-bit store. */
  write(ref: DmaRef): void { this.io.write64(this.offset, BigInt(this.resolve(ref))); }
  /** Writes a raw bus address, bypassing the check (tests, addresses the device owns). */
  writeRaw(iova: bigint): void { this.io.write64(this.offset, iova & U64); }
  read(): bigint { return this.io.read64(this.offset); }
}

/** A 32-bit bus-address register (devices limited to 32-bit DMA); throws when the IOVA does not fit. */
export class DmaAddrReg32 extends DmaAddrReg {
  override write(ref: DmaRef): void {
    const a = this.resolve(ref);
    if (a > 0xffffffff) {
      throw new DmaError(`register ${this.name} holds 32 bits but buffer ${ref.buffer.name} is at IOVA ${hex(a)}`, {
        buffer: ref.buffer.name,
        field: this.name,
        hint: "limit the device's IOVA range to 4 GiB",
      });
    }
    this.io.write32(this.offset, a);
  }
  override writeRaw(iova: bigint): void { this.io.write32(this.offset, Number(iova & 0xffffffffn)); }
  override read(): bigint { return BigInt(this.io.read32(this.offset)); }
}

// ---- arrays ------------------------------------------------------------------------------------

export type RegCtor<R> = new (io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) => R;

/** `count` registers `stride` bytes apart (doorbell arrays, per-queue registers). Elements are made lazily. */
export class RegArray<R> {
  readonly length: number;
  readonly #items: (R | undefined)[];
  constructor(
    readonly io: RegisterIo,
    readonly offset: number,
    count: number,
    readonly stride: number,
    readonly ctor: RegCtor<R>,
    readonly layout?: FieldLayout,
    readonly dma?: DmaResolver,
    readonly name?: string,
  ) {
    this.length = count;
    this.#items = new Array(count);
  }
  at(i: number): R {
    if (!(Number.isInteger(i) && i >= 0 && i < this.length)) {
      throw new RegisterError(this.name ?? `${this.io.name ?? "region"}+${hex(this.offset)}`, `index ${i} out of range 0..${this.length - 1}`);
    }
    let r = this.#items[i];
    if (r === undefined) {
      const n = this.name === undefined ? undefined : `${this.name}[${i}]`;
      r = new this.ctor(this.io, this.offset + i * this.stride, this.layout, this.dma, n);
      this.#items[i] = r;
    }
    return r;
  }
  *[Symbol.iterator](): IterableIterator<R> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}
