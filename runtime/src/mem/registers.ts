// Register classes that generated code instantiates (svd2rust's habit: the access rule is the type —
// a read-only register has no write method, a write-only one nothing to read).
//
// Field values: `number` for fields up to 32 bits wide, `bigint` for wider ones (only possible in a
// 64-bit register), in every register width. Whole-register values: number for 8/16/32, bigint for 64.
// Every public method checks its arguments before touching the device (callers are untrusted):
//   - a value of the wrong type (a string, a bigint for a 32-bit register, true for 1) -> TypeError;
//     a number that is not an unsigned integer of the width (1.5, -1, 2^32) -> RangeError; both
//     name the register, its region and device, and the field;
//   - an unknown or read-only field -> RegisterError;
//   - each value is read from the caller's object once, checked, and the checked copy is written;
//     the whole new value is built before the one store, so a refusal writes nothing, and modify()
//     reads the register (which may clear read-to-clear bits) only after the fields passed.
// The checks are typeof and compares; nothing allocates on the 8/16/32-bit paths.
import { describe } from "../args.ts";
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

  /** The register, its region and device, for errors: "queue.head (queue of sim:wd-dummy/1)".
   *  Built only when an error is thrown. */
  protected get where(): string {
    const region = this.io.name;
    return region === undefined || this.name.startsWith(region) ? this.name : `${this.name} (${region})`;
  }

  protected spec(name: unknown): FieldSpec {
    if (typeof name !== "string") throw new TypeError(`register ${this.where}: field name must be a string, got ${describe(name)}`);
    const f = this.c.byName[name];
    if (!f) throw new RegisterError(this.where, `has no field ${JSON.stringify(name)} (fields: ${this.c.names.join(", ") || "none"})`);
    return f;
  }

  /** `values` must be an object of field values (not null, not an array). */
  protected fieldValues(values: unknown): Record<string, unknown> {
    if (typeof values !== "object" || values === null || isArray(values)) {
      throw new TypeError(`register ${this.where}: field values must be an object such as { field: value }, got ${describe(values)}`);
    }
    return values as Record<string, unknown>;
  }

  /** A field value that failed its check: TypeError for the wrong type, RangeError otherwise. */
  protected badField(key: string, f: FieldSpec, val: unknown): never {
    const wide = f.width > 32;
    const msg = `register ${this.where}: field ${key} must be ${wide ? "a bigint" : "an integer"} in 0..${hexMax(f.width)} (${f.width} bit${f.width > 1 ? "s" : ""}), got ${describe(val)}`;
    throw (wide ? typeof val === "bigint" : typeof val === "number") ? new RangeError(msg) : new TypeError(msg);
  }

  /** Extracts every field from a raw value. */
  protected decode(raw: bigint): F {
    const out: Record<string, FieldValue> = {};
    const { names, specs } = this.c;
    for (let i = 0; i < specs.length; i++) out[names[i]!] = extract(raw, specs[i]!);
    return out as F;
  }

  /** The bits `values` sets and the mask of the fields it names (bigint path, any width). Each value
   *  is read once; fields up to 32 bits take numbers, wider ones bigints. */
  protected encode(values: unknown): { set: bigint; mask: bigint } {
    const vals = this.fieldValues(values);
    let set = 0n;
    let mask = 0n;
    for (const key in vals) {
      const val = vals[key];
      if (val === undefined) continue;
      const f = this.spec(key);
      if (f.access === "ro") throw new RegisterError(this.where, `field ${key} is read-only`);
      const m = (1n << BigInt(f.width)) - 1n;
      let b: bigint;
      if (f.width > 32) {
        if (typeof val !== "bigint" || val < 0n || val > m) this.badField(key, f, val);
        b = val;
      } else {
        if (typeof val !== "number" || !(Number.isInteger(val) && val >= 0 && val <= 2 ** f.width - 1)) this.badField(key, f, val);
        b = BigInt(val);
      }
      set = (set & ~(m << BigInt(f.lsb))) | (b << BigInt(f.lsb));
      mask |= m << BigInt(f.lsb);
    }
    return { set, mask };
  }
}

/** Array.isArray throws on a revoked Proxy: that is not an array either. */
function isArray(v: object): boolean {
  try {
    return Array.isArray(v);
  } catch {
    return false;
  }
}

const hexMax = (bits: number) => (bits >= 64 ? "0xffffffffffffffff" : hex(2 ** bits - 1));

function extract(raw: bigint, f: FieldSpec): FieldValue {
  const v = (raw >> BigInt(f.lsb)) & ((1n << BigInt(f.width)) - 1n);
  return f.width <= 32 ? Number(v) : v;
}

// ---- 8/16/32-bit registers (number values) ----------------------------------------------------

abstract class NumReg<F extends object> extends RegBase<F> {
  // What encodeN built (set bits, mask of the named fields): fields, not a returned object, so a
  // writeFields/modify allocates nothing.
  #set = 0;
  #mask = 0;

  protected rd(): number {
    const w = this.width;
    return w === 32 ? this.io.read32(this.offset) : w === 16 ? this.io.read16(this.offset) : this.io.read8(this.offset);
  }
  /** An unchecked store of a value known to fit (built by encodeN, or checked by write). */
  protected store(v: number): void {
    const w = this.width;
    if (w === 32) this.io.write32(this.offset, v);
    else if (w === 16) this.io.write16(this.offset, v);
    else this.io.write8(this.offset, v);
  }
  /** write(v): a number, an integer in 0..2^width-1, or nothing is written. */
  protected wr(v: unknown): void {
    const w = this.width;
    // 32-bit first without arithmetic on the bounds (the common register)
    if (typeof v !== "number" || !(v >= 0 && v <= (w === 32 ? 0xffffffff : w === 16 ? 0xffff : 0xff) && Number.isInteger(v))) this.badValue(v);
    this.store(v + 0); // -0 -> 0
  }
  private badValue(v: unknown): never {
    const msg = `register ${this.where}: value must be an integer in 0..${hexMax(this.width)} (${this.width} bits), got ${describe(v)}`;
    throw typeof v === "number" ? new RangeError(msg) : new TypeError(msg);
  }
  protected getField(name: unknown): number {
    const f = this.spec(name); // before the read: an unknown name reads nothing (rc registers)
    return numField(this.rd() >>> 0, f);
  }
  protected fieldsOf(): F {
    const raw = this.rd() >>> 0;
    const out: Record<string, number> = {};
    const { names, specs } = this.c;
    for (let i = 0; i < specs.length; i++) out[names[i]!] = numField(raw, specs[i]!);
    return out as F;
  }
  /** Number-only twin of RegBase.encode for registers up to 32 bits; result in #set/#mask. */
  protected encodeN(values: unknown): void {
    const vals = this.fieldValues(values);
    let set = 0;
    let mask = 0;
    for (const key in vals) {
      const val = vals[key]; // read once: a getter runs once, the checked copy is what is stored
      if (val === undefined) continue;
      const f = this.spec(key);
      if (f.access === "ro") throw new RegisterError(this.where, `field ${key} is read-only`);
      const m = f.width === 32 ? 0xffffffff : 2 ** f.width - 1;
      if (typeof val !== "number" || !(val >= 0 && val <= m && Number.isInteger(val))) this.badField(key, f, val);
      set = ((set & ~(m << f.lsb)) | (val << f.lsb)) >>> 0;
      mask = (mask | (m << f.lsb)) >>> 0;
    }
    this.#set = set;
    this.#mask = mask;
  }
  protected writeFieldsOf(values: unknown): void {
    this.encodeN(values);
    this.store(this.#set);
  }
  protected modifyOf(values: unknown): void {
    this.encodeN(values); // all fields checked before the register is read
    this.store(((this.rd() & ~this.c.modifyZeroN & ~this.#mask) | this.#set) >>> 0);
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
  /** write(v): a bigint in 0..2^64-1 (a number, even 5, is a TypeError: 64-bit values are BigInt). */
  protected wr(v: unknown): void {
    if (typeof v !== "bigint" || v < 0n || v > U64) {
      const msg = `register ${this.where}: value must be a bigint in 0..0xffffffffffffffff (64 bits), got ${describe(v)}`;
      throw typeof v === "bigint" ? new RangeError(msg) : new TypeError(msg);
    }
    this.io.write64(this.offset, v);
  }
  protected getField(name: unknown): FieldValue {
    const f = this.spec(name);
    return extract(this.rd(), f);
  }
  protected writeFieldsOf(values: unknown): void {
    this.io.write64(this.offset, this.encode(values).set);
  }
  protected modifyOf(values: unknown): void {
    const { set, mask } = this.encode(values); // all fields checked before the register is read
    this.io.write64(this.offset, (this.rd() & ~this.c.modifyZero & ~mask & U64) | set);
  }
}
export class RoReg64<F extends object = Fields> extends BigReg<F> {
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 64); }
  read(): bigint { return this.rd(); }
  fields(): F { return this.decode(this.rd()); }
  get<K extends keyof F & string>(name: K): F[K] { return this.getField(name) as F[K]; }
}
export class WoReg64<F extends object = Fields, W extends object = F> extends BigReg<F> {
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 64); }
  write(v: bigint): void { this.wr(v); }
  writeFields(values: Partial<W>): void { this.writeFieldsOf(values); }
}
export class RwReg64<F extends object = Fields, W extends object = F> extends BigReg<F> {
  constructor(io: RegisterIo, offset: number, layout?: FieldLayout, dma?: DmaResolver, name?: string) { super(io, offset, layout, dma, name, 64); }
  read(): bigint { return this.rd(); }
  fields(): F { return this.decode(this.rd()); }
  get<K extends keyof F & string>(name: K): F[K] { return this.getField(name) as F[K]; }
  write(v: bigint): void { this.wr(v); }
  writeFields(values: Partial<W>): void { this.writeFieldsOf(values); }
  /** Read-modify-write; w1c/w1s/wo fields not named are written as 0 so they are not disturbed. */
  modify(values: Partial<W>): void { this.modifyOf(values); }
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
  /** Writes a raw bus address, bypassing the sharing check (tests, addresses the device owns); a
   *  bigint in 0..2^64-1. */
  writeRaw(iova: bigint): void { this.io.write64(this.offset, this.rawAddress(iova, U64)); }
  protected rawAddress(iova: unknown, max: bigint): bigint {
    if (typeof iova !== "bigint" || iova < 0n || iova > max) {
      const msg = `register ${this.where}: address must be a bigint in 0..0x${max.toString(16)}, got ${describe(iova)}`;
      throw typeof iova === "bigint" ? new RangeError(msg) : new TypeError(msg);
    }
    return iova;
  }
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
  override writeRaw(iova: bigint): void { this.io.write32(this.offset, Number(this.rawAddress(iova, 0xffffffffn))); }
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
    if (typeof i !== "number" || !(Number.isInteger(i) && i >= 0 && i < this.length)) {
      const name = this.name ?? `${this.io.name ?? "region"}+${hex(this.offset)}`;
      const where = this.io.name === undefined || name.startsWith(this.io.name) ? name : `${name} (${this.io.name})`;
      const msg = `register ${where}: index must be an integer in 0..${this.length - 1}, got ${describe(i)}`;
      throw typeof i === "number" ? new RangeError(msg) : new TypeError(msg);
    }
    i += 0; // -0 -> 0: the cache slot and the name "[0]"
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
