// Decoder fuzzer: every generated struct `decode` (and the live accessors of the struct classes, and
// every readable register's `fields()`) of every device, fed random bytes. Two properties:
// 1. nothing throws, except our typed errors (WarpDriveError and its kinds);
// 2. what comes back is what the bytes say: an oracle written here from the generator's model (not
//    from the emitted code) reads every field at its offset, width, sign and byte order and the two
//    must agree, and a decoder given a view too short for the struct must refuse it rather than
//    return bytes from outside the view.
// Devices: the committed packages of devices/*.yaml, plus fuzz/devices/all-types.yaml (every field
// type of the language) generated at start into fuzz/.cache/ (git-ignored).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { emitDevice } from "@warpdrive/generator/emit/index";
import { camel, pascal } from "@warpdrive/generator/emit/util";
import { loadDevice, REPO_ROOT } from "@warpdrive/generator/load";
import type { DeviceModel, FieldModel, StructFieldModel, StructModel } from "@warpdrive/generator/model";
import { WarpDriveError } from "@warpdrive/runtime/errors";
import type { RegisterIo } from "@warpdrive/runtime/mem/index";
import { Rng } from "../prng.ts";

type StructClass = {
  SIZE: number;
  decode(view: DataView, offset: number): Record<string, unknown>;
  new (view: DataView, offset?: number): Record<string, unknown>;
};

export interface DecoderDevice {
  name: string;
  model: DeviceModel;
  structs: Map<string, StructClass>;
  /** `<Region>Registers` classes by region name. */
  registers: Map<string, new (io: RegisterIo) => Record<string, unknown>>;
}

const CACHE = join(REPO_ROOT, "fuzz", ".cache", "gen");
const EXTRA = [join(REPO_ROOT, "fuzz", "devices", "all-types.yaml")];

/** Loads every device's model and its generated structs/registers modules. */
export async function loadDecoderDevices(): Promise<DecoderDevice[]> {
  const out: DecoderDevice[] = [];
  const yamls = readdirSync(join(REPO_ROOT, "devices")).filter((f) => f.endsWith(".yaml")).sort().map((f) => join(REPO_ROOT, "devices", f));
  for (const file of [...yamls, ...EXTRA]) {
    const r = loadDevice(file);
    if (!r.model) throw new Error(`decoder fuzzer: ${file} does not load: ${r.diagnostics.map((d) => d.message).join("; ")}`);
    let dir = join(REPO_ROOT, "generated", r.model.name);
    if (EXTRA.includes(file)) {
      // generated afresh each run: the point is to test what the generator emits today
      dir = join(CACHE, r.model.name);
      rmSync(dir, { recursive: true, force: true });
      for (const [rel, text] of emitDevice(r.model)) {
        mkdirSync(dirname(join(dir, rel)), { recursive: true });
        writeFileSync(join(dir, rel), text);
      }
    }
    const structsMod = (await import(join(dir, "src", "structs.ts"))) as Record<string, unknown>;
    const regsMod = (await import(join(dir, "src", "registers.ts"))) as Record<string, unknown>;
    const structs = new Map<string, StructClass>();
    for (const s of r.model.structs) structs.set(s.name, structsMod[pascal(s.name)] as StructClass);
    const registers = new Map<string, new (io: RegisterIo) => Record<string, unknown>>();
    for (const reg of r.model.regions) {
      const cls = regsMod[`${pascal(reg.name)}Registers`];
      if (typeof cls === "function") registers.set(reg.name, cls as new (io: RegisterIo) => Record<string, unknown>);
    }
    out.push({ name: r.model.name, model: r.model, structs, registers });
  }
  return out;
}

// ---- the oracle ----

const SCALAR_BYTES: Record<string, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, u64: 8, i64: 8 };

function readRaw(bytes: Uint8Array, at: number, size: number, little: boolean): bigint {
  let v = 0n;
  for (let k = 0; k < size; k++) v |= BigInt(bytes[at + (little ? k : size - 1 - k)]!) << BigInt(8 * k);
  return v;
}

function elementType(f: StructFieldModel): string {
  return f.type.kind === "scalar" ? f.type.type : f.type.kind === "dma-address" ? "u64" : f.type.kind;
}

/** One element as decode returns it: number up to 32 bits, bigint for 64-bit and dma addresses. */
function scalarValue(bytes: Uint8Array, at: number, type: string, little: boolean): number | bigint {
  const size = SCALAR_BYTES[type]!;
  const raw = readRaw(bytes, at, size, little);
  const signed = type.startsWith("i");
  const v = signed ? BigInt.asIntN(size * 8, raw) : raw;
  return size === 8 ? v : Number(v);
}

function expectedStruct(model: DeviceModel, s: StructModel, bytes: Uint8Array, base: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of s.fields) {
    if (f.type.kind === "reserved") continue;
    const little = f.endian === "little";
    const es = f.size / f.count;
    const one = (at: number): unknown => {
      if (f.type.kind === "struct") return expectedStruct(model, f.type.def, bytes, at);
      return scalarValue(bytes, at, elementType(f), little);
    };
    let v: unknown;
    if (f.count > 1) {
      const xs = Array.from({ length: f.count }, (_, i) => one(base + f.offset + i * es));
      v = elementType(f) === "u8" ? new Uint8Array(xs as number[]) : xs;
    } else {
      // a bit-field word decodes to its raw value (the fields are read with bitsOf or the getters)
      v = one(base + f.offset);
    }
    out[camel(f.name)] = v;
  }
  return out;
}

/** Bytes from the start of `s` up to the end of its last named (non-reserved) byte. */
function extent(model: DeviceModel, s: StructModel): number {
  let end = 0;
  for (const f of s.fields) {
    if (f.type.kind === "reserved") continue;
    const es = f.size / f.count;
    let last = es;
    if (f.type.kind === "struct") last = extent(model, f.type.def);
    end = Math.max(end, f.offset + (f.count - 1) * es + last);
  }
  return end;
}

function bitfields(raw: bigint, fields: FieldModel[]): Record<string, number | bigint> {
  const o: Record<string, number | bigint> = {};
  for (const b of fields) {
    const v = (raw >> BigInt(b.lsb)) & ((1n << BigInt(b.width)) - 1n);
    o[camel(b.name)] = b.width > 32 ? v : Number(v);
  }
  return o;
}

/** Deep equality that tells number from bigint and checks typed-array contents. */
export function sameValue(a: unknown, b: unknown, path = ""): string | null {
  if (typeof a !== typeof b) return `${path}: ${typeof a} ${show(a)} where ${typeof b} ${show(b)} was expected`;
  if (typeof a === "number" || typeof a === "bigint") return Object.is(a, b) ? null : `${path}: ${show(a)}, expected ${show(b)}`;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return `${path}: Uint8Array expected on both sides`;
    return a.length === b.length && a.every((x, i) => x === b[i]) ? null : `${path}: bytes [${a}] expected [${b}]`;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return `${path}: array shape differs`;
    for (let i = 0; i < a.length; i++) {
      const d = sameValue(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a !== null && typeof a === "object" && b !== null && typeof b === "object") {
    const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
    if (ka.join() !== kb.join()) return `${path}: keys {${ka}} expected {${kb}}`;
    for (const k of ka) {
      const d = sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return null;
  }
  return Object.is(a, b) ? null : `${path}: ${show(a)}, expected ${show(b)}`;
}

function show(v: unknown): string {
  return typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? `Uint8Array[${v}]` : JSON.stringify(v) ?? String(v);
}

// ---- one input ----

export type DecoderInput =
  | { kind: "struct"; device: string; struct: string; base64: string; offset: number; viewStart: number; viewLength: number }
  | { kind: "register"; device: string; region: string; register: string; index: number; value: string };

/** Builds input `rng` asks for: a struct and a buffer around it, or a register and a value. */
export function decoderInput(devices: DecoderDevice[], rng: Rng): DecoderInput {
  const dev = rng.pick(devices);
  const regs = dev.model.regions.flatMap((r) => r.registers.filter((x) => x.fields.length > 0 && x.access !== "wo").map((x) => [r, x] as const));
  if (dev.model.structs.length === 0 || (regs.length > 0 && rng.chance(0.15))) {
    const [r, x] = rng.pick(regs);
    const v = rng.pick([0n, (1n << BigInt(x.width)) - 1n, readRaw(rng.bytes(8), 0, x.width / 8, true), 1n << BigInt(rng.int(x.width))]);
    return { kind: "register", device: dev.name, region: r.name, register: x.name, index: rng.int(x.count), value: v.toString() };
  }
  const s = rng.pick(dev.model.structs);
  const extra = rng.pick([0, 0, 1, 3, 8, 64]);
  const before = rng.pick([0, 0, 1, 5, 16]);
  const total = before + s.size + extra;
  const fill = rng.int(5);
  const bytes = fill === 0 ? new Uint8Array(total).fill(0xff) : fill === 1 ? new Uint8Array(total).fill(0x80) : rng.bytes(total);
  const offset = rng.int(extra + 1);
  // Mostly views that hold the struct; sometimes one cut short (misuse that must be refused).
  const short = rng.chance(0.1) && s.size > 1;
  const viewLength = short ? offset + rng.int(s.size) : total - before;
  return { kind: "struct", device: dev.name, struct: s.name, base64: Buffer.from(bytes).toString("base64"), offset, viewStart: before, viewLength };
}

/** Runs one input; a string says what went wrong, null is a pass. */
export function checkDecoder(devices: DecoderDevice[], input: DecoderInput): string | null {
  const dev = devices.find((d) => d.name === input.device);
  if (dev === undefined) return null; // a saved case for a device that no longer exists
  if (input.kind === "register") return checkRegister(dev, input);
  const s = dev.model.structs.find((x) => x.name === input.struct);
  const cls = dev.structs.get(input.struct);
  if (s === undefined || cls === undefined) return null;
  const all = new Uint8Array(Buffer.from(input.base64, "base64"));
  const view = new DataView(all.buffer, input.viewStart, input.viewLength);
  // decode reads named fields only: a view may end inside trailing reserved bytes
  const fits = input.offset + extent(dev.model, s) <= input.viewLength;
  let got: Record<string, unknown>;
  try {
    got = cls.decode(view, input.offset);
  } catch (e) {
    if (e instanceof WarpDriveError) return null;
    // DataView's own RangeError on a short view is the refusal we want (no bytes from outside)
    if (!fits && e instanceof RangeError) return null;
    return `${dev.name} ${s.name}.decode threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
  if (!fits) return `${dev.name} ${s.name}.decode accepted a ${input.viewLength}-byte view at offset ${input.offset} for a ${s.size}-byte struct (read outside the view)`;
  const want = expectedStruct(dev.model, s, all, input.viewStart + input.offset);
  const d = sameValue(got, want);
  if (d) return `${dev.name} ${s.name}.decode disagrees with the layout: ${d}`;
  // the live accessors read the same bytes in place
  try {
    const live = new cls(view, input.offset);
    for (const f of s.fields) {
      // scalars only: arrays and nested structs have accessors of their own shapes
      if (f.type.kind === "reserved" || f.type.kind === "struct" || f.count > 1) continue;
      const name = camel(f.name);
      const dl = sameValue(live[name], want[name], `${s.name}#${name}`);
      if (dl) return `${dev.name} accessor disagrees: ${dl}`;
      if (f.bitfields.length === 0) continue;
      // each bit field's getter reads its bits of the same word
      const bits = bitfields(readRaw(all, input.viewStart + input.offset + f.offset, f.size, f.endian === "little"), f.bitfields);
      for (const b of f.bitfields) {
        const bn = camel(`${f.name}_${b.name}`);
        const db = sameValue(live[bn], bits[camel(b.name)], `${s.name}#${bn}`);
        if (db) return `${dev.name} bit-field accessor disagrees: ${db}`;
      }
    }
  } catch (e) {
    if (e instanceof WarpDriveError) return null;
    return `${dev.name} ${s.name} accessors threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
  return null;
}

/** A RegisterIo whose every read returns `value` (the register under test). */
function constantIo(value: bigint): RegisterIo {
  const n = (w: number) => Number(BigInt.asUintN(w, value));
  const refuse = () => {
    throw new Error("decoder fuzzer: a decode wrote to the register");
  };
  return {
    read8: () => n(8), read16: () => n(16), read32: () => n(32), read64: () => BigInt.asUintN(64, value),
    write8: refuse, write16: refuse, write32: refuse, write64: refuse, doorbell: refuse,
  } as unknown as RegisterIo;
}

function checkRegister(dev: DecoderDevice, input: Extract<DecoderInput, { kind: "register" }>): string | null {
  const cls = dev.registers.get(input.region);
  const reg = dev.model.regions.find((r) => r.name === input.region)?.registers.find((x) => x.name === input.register);
  if (cls === undefined || reg === undefined) return null;
  const value = BigInt(input.value);
  try {
    const regs = new cls(constantIo(value));
    let r = regs[camel(reg.name)] as { fields?: () => Record<string, unknown>; at?: (i: number) => unknown };
    if (reg.count > 1) r = r.at!(input.index) as typeof r;
    if (typeof r.fields !== "function") return null; // write-only classes have nothing to decode
    const got = r.fields();
    const d = sameValue(got, bitfields(BigInt.asUintN(reg.width, value), reg.fields));
    return d ? `${dev.name} ${input.region}.${reg.name}.fields() disagrees: ${d}` : null;
  } catch (e) {
    if (e instanceof WarpDriveError) return null;
    return `${dev.name} ${input.region}.${reg.name}.fields() threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
}
