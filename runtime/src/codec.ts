// What generated encoders share, once, here instead of in every package: the checks they make on
// request fields and the errors they throw, the DMA address lookup, zeroing and bit-field packing. A field value is read
// once by the encoder into a local and checked with an inline `typeof` + range test; only a value
// that fails reaches these helpers, which build the precise error (slow path, never on success).
//
// Errors made here carry the REQUEST_ERROR mark, so a queue can add its own name to the message when
// it refuses the request (queue.cancel) without touching errors a caller's getter may have thrown.
import { DmaError } from "./errors.ts";
import { describe, type DmaRef, type DmaResolver } from "./mem/dma.ts";

/** Marks an error as ours (built for a refused request field), so a queue may prefix its label. */
export const REQUEST_ERROR = Symbol("warpdrive.requestError");

function mark<E extends Error>(e: E): E {
  (e as unknown as Record<symbol, boolean>)[REQUEST_ERROR] = true;
  return e;
}

/** An integer field of `bits` bits got `value`: the TypeError or RangeError that says why. */
export function badInt(field: string, value: unknown, bits: number, signed: boolean): Error {
  const lo = signed ? -(2 ** (bits - 1)) : 0;
  const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  const range = bits > 53 ? `${signed ? "-2^63" : "0"}..${signed ? "2^63-1" : "2^64-1"}` : `${lo}..${hi}`;
  if (typeof value === "bigint") {
    if (bits < 64) return mark(new TypeError(`${field}: a ${bits}-bit field takes a number, got the bigint ${value}n`));
    return mark(new RangeError(`${field}: ${value}n is outside ${range}`));
  }
  if (typeof value !== "number") return mark(new TypeError(`${field}: expected an integer (${range}), got ${describe(value)}`));
  if (!Number.isInteger(value)) return mark(new RangeError(`${field}: ${value} is not an integer`));
  if (bits > 53 && Math.abs(value) > Number.MAX_SAFE_INTEGER) {
    return mark(new RangeError(`${field}: ${value} is beyond 2^53 and cannot be exact as a number: pass a bigint`));
  }
  return mark(new RangeError(`${field}: ${value} is outside ${range}`));
}

/** A request object that is not an object (`send(42)`, `send(undefined)`). */
export function badRequest(what: string, value: unknown): Error {
  return mark(new TypeError(`${what}: expected a request object, got ${describe(value)}`));
}

/** A request whose `command` is none of its queue's commands. */
export function badCommand(queue: string, command: unknown, known: readonly string[]): Error {
  return mark(new RangeError(`${queue} request: command ${describe(command)} is not one of ${known.join(", ")}`));
}

/** A struct-variant request whose `variant` is none of the struct's cases. */
export function badVariant(struct: string, variant: unknown, known: readonly string[]): Error {
  return mark(new RangeError(`${struct}: variant ${describe(variant)} is not one of ${known.join(", ")}`));
}

/** A list param given something other than the generated list class it takes. */
export function badList(field: string, value: unknown, type: string): Error {
  return mark(new TypeError(`${field}: expected a ${type}, got ${describe(value)}`));
}

/** A list with fewer or more entries than the device accepts. */
export function badListLength(field: string, length: number, min: number, max: number): Error {
  return mark(new RangeError(`${field}: the list holds ${length} entries; the device takes ${min}..${max}`));
}

/** A bit-field word given as neither a number nor an object of its fields. */
export function badWord(field: string, value: unknown): Error {
  return mark(new TypeError(`${field}: expected a number or an object of its bit fields, got ${describe(value)}`));
}

/** An array field given something without a length, or a too-long one. */
export function badArray(field: string, value: unknown, count: number): Error {
  if (typeof value !== "object" || value === null || typeof (value as { length?: unknown }).length !== "number") {
    return mark(new TypeError(`${field}: expected an array of at most ${count} elements, got ${describe(value)}`));
  }
  return mark(new RangeError(`${field} holds ${count} elements, got ${(value as { length: number }).length}`));
}

/** A computed extent (bytes the device moves) that is negative or not an integer. */
export function badExtent(field: string, extent: number, expr: string): Error {
  return mark(new DmaError(`${field}: its extent ${expr} = ${extent} is not a byte count`, { field }));
}

/** True for errors made by the helpers above, and for DmaErrors (both are about the request). */
export function isRequestError(e: unknown): e is Error {
  return e instanceof DmaError || (e instanceof Error && (e as unknown as Record<symbol, boolean>)[REQUEST_ERROR] === true);
}

/**
 * The bus address of `ref` for a dma-address field, checked by `dma` (a Device's resolver, or the
 * queue a request is being encoded into, which also pins the buffer); `extent` is the number of bytes
 * the device moves there, checked against the window.
 */
export function dmaAddress(dma: DmaResolver | undefined, ref: DmaRef, field: string, extent?: number): number {
  if (dma === undefined) throw mark(new TypeError(`${field} takes a DmaRef: pass the device's DmaResolver (dev.dma)`));
  if (extent !== undefined && !(Number.isSafeInteger(extent) && extent >= 0)) throw mark(new DmaError(`${field}: its extent ${extent} is not a byte count`, { field }));
  return dma.addressOf(ref, field, extent);
}

/** A dma-address the device requires aligned (`align:` in the description) got a misaligned one. */
export function dmaMisaligned(field: string, iova: number, align: number): DmaError {
  return mark(new DmaError(`${field}: the device requires a ${align}-byte aligned address, got 0x${iova.toString(16)} (offset ${iova % align} past a boundary)`, { field }));
}

/** Zeroes [offset, offset + length) of `view` (reserved areas, absent arrays). */
export function zeroBytes(view: DataView, offset: number, length: number): void {
  let i = 0;
  for (; i + 4 <= length; i += 4) view.setUint32(offset + i, 0);
  for (; i < length; i++) view.setUint8(offset + i, 0);
}

/** Where a bit field sits in its word (a struct LAYOUT's `bits` entries). */
export interface BitLayout {
  readonly lsb: number;
  readonly width: number;
}

/** Bit `lsb` of a word of up to 32 bits: 0 or 1. */
export function bitOf(word: number, lsb: number): number {
  return (word >>> lsb) & 1;
}

/**
 * Bit field `f` of a word of up to 32 bits, as an unsigned number: `bitsOf(cqe.status,
 * CqeStatusFields.sc)`. Generated packages describe each bit-field word's fields as such a table.
 */
export function bitsOf(word: number, f: BitLayout): number {
  return f.width >= 32 ? word >>> 0 : (word >>> f.lsb) & (2 ** f.width - 1);
}

/** Bit field `f` of a 64-bit word (a decoded u64 or dma-address), as a bigint. */
export function bitsOf64(word: bigint, f: BitLayout): bigint {
  return (word >> BigInt(f.lsb)) & ((1n << BigInt(f.width)) - 1n);
}

/**
 * Packs a bit-field word given as an object of its fields (`{ fuse: 0, psdt: 1 }`) into a number:
 * each field read once, absent ones zero, every value checked against its width (never masked).
 * Unknown keys are refused: a misspelt field must not silently become zero.
 */
export function packBits(value: unknown, bits: Readonly<Record<string, BitLayout>>, field: string): number {
  if (typeof value !== "object" || value === null) throw badWord(field, value);
  let w = 0;
  for (const k in bits) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    const b = bits[k]!;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 2 ** b.width - 1) throw badInt(`${field}.${k}`, v, b.width, false);
    w += v * 2 ** b.lsb;
  }
  for (const k of Object.keys(value)) if (!(k in bits)) throw mark(new TypeError(`${field}: no bit field "${k}" (fields: ${Object.keys(bits).join(", ")})`));
  return w;
}

/** packBits for a 64-bit word: fields wider than 32 bits may be bigints. */
export function packBits64(value: unknown, bits: Readonly<Record<string, BitLayout>>, field: string): bigint {
  if (typeof value !== "object" || value === null) throw badWord(field, value);
  let w = 0n;
  for (const k in bits) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    const b = bits[k]!;
    const max = (1n << BigInt(b.width)) - 1n;
    let n: bigint;
    if (typeof v === "bigint") n = v;
    else if (typeof v === "number" && Number.isSafeInteger(v)) n = BigInt(v);
    else throw badInt(`${field}.${k}`, v, b.width, false);
    if (n < 0n || n > max) throw badInt(`${field}.${k}`, v, b.width, false);
    w |= n << BigInt(b.lsb);
  }
  for (const k of Object.keys(value)) if (!(k in bits)) throw mark(new TypeError(`${field}: no bit field "${k}" (fields: ${Object.keys(bits).join(", ")})`));
  return w;
}

/**
 * Writes a 64-bit field given as a number (a safe integer, checked by the caller) or a bigint,
 * without making a bigint from a number: two 32-bit stores in the field's byte order.
 */
export function setU64(view: DataView, offset: number, v: number | bigint, little: boolean): void {
  if (typeof v === "bigint") {
    view.setBigUint64(offset, BigInt.asUintN(64, v), little);
    return;
  }
  const lo = v >>> 0;
  const hi = Math.floor(v / 0x100000000) >>> 0;
  view.setUint32(offset + (little ? 0 : 4), lo, little);
  view.setUint32(offset + (little ? 4 : 0), hi, little);
}

/** A 64-bit field's value is a bigint in range, or a non-negative safe integer (signed: any safe integer). */
export function isU64(v: unknown): boolean {
  return typeof v === "bigint" ? BigInt.asUintN(64, v) === v : typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}
export function isI64(v: unknown): boolean {
  return typeof v === "bigint" ? BigInt.asIntN(64, v) === v : typeof v === "number" && Number.isSafeInteger(v);
}
