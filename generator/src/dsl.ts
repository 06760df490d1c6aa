// Facts about the DSL shared by the validator and the IR builder: the raw shapes a device file has
// after schema validation, type sizes, bit ranges and the naming rules the emitters apply.
import type { ScalarType } from "./model.ts";

// ---- Raw input, as the YAML reads once the schema has accepted it (defaults not filled yet). ----

export type RawDoc = { doc?: string };
export type RawNumberOrObject<T> = number | (T & RawDoc);

export interface RawBitfield extends RawDoc {
  bits: number | string;
  access?: string;
  enum?: string;
}

export interface RawRegister extends RawDoc {
  offset: number;
  width?: 8 | 16 | 32 | 64;
  access?: string;
  reset?: number;
  value?: "dma-address";
  count?: number;
  stride?: number;
  fields?: Record<string, RawBitfield>;
}

export interface RawRegion extends RawDoc {
  kind: "mmio" | "ram";
  /** Absent for a capability-located region (the schema requires one of the two). */
  index: number;
  capability?: RawDoc & { cfg_type: number; notify_multiplier?: boolean };
  size: number;
  registers?: Record<string, RawRegister>;
}

/** What a dma-address field says about the memory it points at (see generator/src/extent.ts). */
export interface RawDmaExtent {
  extent?: number | string;
  unbounded?: string;
  direction?: "to-device" | "from-device" | "both";
  /** Alignment (bytes, a power of two) the device requires of the address. */
  align?: number;
  /** The address points at a list of entries (generator/src/list-rules.ts). */
  list?: RawDmaList;
}

export interface RawDmaList extends RawDoc {
  /** Struct of one entry. */
  of: string;
  /** Sibling field holding the number of entries. */
  count: string;
  /** Counts the device accepts: numbers or constant names. */
  min?: number | string;
  max: number | string;
}

export interface RawStructField extends RawDoc, RawDmaExtent {
  offset: number;
  type: string;
  count?: number;
  size?: number;
  endian?: "little" | "big";
  enum?: string;
  fields?: Record<string, RawBitfield>;
}

export interface RawStruct extends RawDoc {
  size: number;
  endian?: "little" | "big";
  packed?: boolean;
  direction?: "to-device" | "from-device" | "both";
  fields: Record<string, RawStructField>;
  variants?: RawVariants;
}

/** Layouts of a struct selected by an opcode field (see generator/src/variants.ts). */
export interface RawVariants extends RawDoc {
  /** `field` or `field.bitfield`. */
  selector: string;
  cases: Record<string, RawVariantCase>;
}

export interface RawVariantCase extends RawDoc {
  /** A number, or a member of the selector's enum. */
  value: number | string;
  fields?: Record<string, RawStructField>;
  omit?: string[];
}

export type RawRing = "dma" | { region: string; offset: number };

export interface RawIndexRingQueue extends RawDoc {
  kind: "index-ring";
  entry: string;
  depth: number;
  ring: RawRing;
  producer: string;
  consumer: string;
  doorbell: string;
  done: { field: string; pending: number };
  interrupt?: string;
}

export interface RawRingSide extends RawDoc {
  entry: string;
  depth: number;
  ring: RawRing;
  doorbell: string;
  tag: string;
}

export interface RawSqCqQueue extends RawDoc {
  kind: "sq-cq";
  instances: string | number;
  sq: RawRingSide;
  cq: RawRingSide & { phase: { field: string; bit: number }; sq_head?: string };
  interrupt?: string;
}

/** A work queue fed through a portal, with completion records (see generator/src/portal.ts). */
export interface RawPortalQueue extends RawDoc {
  kind: "portal";
  instances?: string | number;
  descriptor: string;
  depth: number;
  portal: RawDoc & { region: string; offset: number; stride?: number };
  store: "movdir64b" | "enqcmd";
  completion: RawDoc & { record: string; address: string; status: string; pending: number };
  interrupt?: string;
}

/** A virtio split virtqueue (see generator/src/virtio-rules.ts). */
export interface RawVirtqSplitQueue extends RawDoc {
  kind: "virtq-split";
  instances?: string | number;
  size: number;
  header?: string;
  footer?: string;
  segments: number;
  interrupt?: string;
}

/** The top-level `virtio:` block. */
export interface RawVirtio extends RawDoc {
  device_type: number;
  common: string;
  notify: string;
  isr?: string;
  config?: string;
}

export type RawQueue = RawIndexRingQueue | RawSqCqQueue | RawPortalQueue | RawVirtqSplitQueue;

export interface RawParam extends RawDoc, RawDmaExtent {
  field?: string;
  offset?: number;
  type?: string;
  count?: number;
  endian?: "little" | "big";
  enum?: string;
  fields?: Record<string, RawBitfield>;
}

export interface RawCommand extends RawDoc {
  queue?: string;
  struct?: string;
  /** A case of the struct's variants: its selector value is fixed, its fields are params' to name. */
  variant?: string;
  fixed?: Record<string, number>;
  params?: Record<string, RawParam>;
}

/** match.uacce: the UACCE api strings driven and the queue file region of each description region. */
export interface RawUacceMatch extends RawDoc {
  api: string[];
  regions: Record<string, "mmio" | "dus">;
  "dus-address"?: number;
  queues?: Record<string, RawUacceQueue>;
}

/** match.uacce.queues.<name>: an sq-cq queue whose rings live in DUS and whose doorbell is the QM's 64-bit word. */
export interface RawUacceQueue extends RawDoc {
  rings: "dus";
  depth: number;
  doorbell: { format: "qm-v2"; region: string; offset: number };
}

export interface RawDevice extends RawDoc {
  device: string;
  title: string;
  version: string;
  match?: {
    pci?: { vendor: number; device: number; subsystem_vendor?: number; subsystem_device?: number }[];
    uacce?: RawUacceMatch;
  };
  virtio?: RawVirtio;
  constants?: Record<string, RawNumberOrObject<{ value: number }>>;
  enums?: Record<string, RawDoc & { width?: number; values: Record<string, RawNumberOrObject<{ value: number }>> }>;
  regions?: Record<string, RawRegion>;
  structs?: Record<string, RawStruct>;
  queues?: Record<string, RawQueue>;
  commands?: Record<string, RawCommand>;
  interrupts?: Record<string, RawDoc & { index: number; kind: "intx" | "msi" | "msix" }>;
}

// ---- Types and sizes ----

export const SCALAR_BYTES: Record<ScalarType, number> = { u8: 1, u16: 2, u32: 4, u64: 8, i8: 1, i16: 2, i32: 4, i64: 8 };
export const DMA_ADDRESS_BYTES = 8;

/** Type guards for values straight from YAML, before the schema or the semantic checks vouched for them. */
export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
export const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
export const isStr = (v: unknown): v is string => typeof v === "string";

/** A register's width when the description gives none; the validator and the model builder both use it. */
export const DEFAULT_REGISTER_WIDTH = 32;

/** An enum's width: as declared, or the bits its largest value needs (validator and model builder alike). */
export function enumWidth(declared: unknown, largest: bigint | number): number {
  return isInt(declared) ? declared : bitLength(largest);
}

export function isScalarType(t: string): t is ScalarType {
  return Object.hasOwn(SCALAR_BYTES, t);
}

/** Bytes of one element of a built-in type (scalar or dma-address), undefined for reserved and structs. */
export function builtinBytes(t: string): number | undefined {
  if (isScalarType(t)) return SCALAR_BYTES[t];
  if (t === "dma-address") return DMA_ADDRESS_BYTES;
  return undefined;
}

// ---- Bits ----

export interface BitRange {
  msb: number;
  lsb: number;
}

/** `7` or `"6:4"` -> {msb, lsb}; an error message when the text is not a bit range or msb < lsb. */
export function parseBits(bits: number | string): BitRange | { error: string } {
  if (typeof bits === "number") {
    if (!Number.isInteger(bits) || bits < 0) return { error: `bits ${bits} is not a bit number` };
    return { msb: bits, lsb: bits };
  }
  const m = /^\s*([0-9]+)\s*:\s*([0-9]+)\s*$/.exec(bits);
  if (!m) return { error: `bits "${bits}" is not a bit number or "msb:lsb" range` };
  const msb = Number(m[1]);
  const lsb = Number(m[2]);
  if (msb < lsb) return { error: `bits "${bits}": msb ${msb} is below lsb ${lsb}; write the range as "${lsb}:${msb}" (msb first)` };
  return { msb, lsb };
}

/** Bits needed to write `v` (at least 1). */
export function bitLength(v: bigint | number): number {
  let x = BigInt(v);
  if (x < 0n) x = -x;
  let n = 0;
  while (x > 0n) {
    x >>= 1n;
    n++;
  }
  return Math.max(1, n);
}

export function fitsUnsigned(v: bigint | number, width: number): boolean {
  const x = BigInt(v);
  // Compared by bit length, not against 1 << width: a hostile width (2^60) must not build a huge BigInt.
  return x >= 0n && (x === 0n || bitLength(x) <= width);
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

// ---- References ----

/** `bar0.sq_tail` -> region and register. */
export function splitRegisterRef(ref: string): { region: string; register: string } | undefined {
  const m = /^([^.]+)\.([^.]+)$/.exec(ref);
  return m ? { region: m[1]!, register: m[2]! } : undefined;
}

/** `"1..64"` or `3` -> inclusive id range. */
export function parseInstances(v: string | number): { first: number; last: number } | { error: string } {
  if (typeof v === "number") return { first: v, last: v };
  const m = /^([0-9]+)\.\.([0-9]+)$/.exec(v);
  if (!m) return { error: `instances "${v}" is not "first..last"` };
  const first = Number(m[1]);
  const last = Number(m[2]);
  if (first > last) return { error: `instances "${v}": first id ${first} is above last id ${last}` };
  return { first, last };
}

// ---- Names (the emitters' rules, docs/design.md: members camelCase, types PascalCase) ----

/** snake_case or kebab-case -> camelCase; a leading underscore stays (it marks reserved items). */
export function camelCase(name: string): string {
  const lead = name.startsWith("_") ? "_" : "";
  const parts = name.replace(/^_+/, "").split(/[_-]+/).filter((p) => p !== "");
  return lead + parts.map((p, i) => (i === 0 ? p.charAt(0).toLowerCase() + p.slice(1) : p.charAt(0).toUpperCase() + p.slice(1))).join("");
}

/** snake_case, kebab-case or PascalCase -> PascalCase. */
export function pascalCase(name: string): string {
  const c = camelCase(name.replace(/^_+/, ""));
  return c.charAt(0).toUpperCase() + c.slice(1);
}

export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** Entries of an optional map that the schema has accepted, in file order. */
export function entries<T>(m: Record<string, T> | undefined | null): [string, T][];
export function entries(m: unknown): [string, unknown][];
export function entries(m: unknown): [string, unknown][] {
  return m && typeof m === "object" && !Array.isArray(m) ? Object.entries(m) : [];
}
