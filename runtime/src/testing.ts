// What every generated package's layout self-test (test/layout.test.ts) runs on: byte-exact entry
// checks with guard bytes, a resolver and a register file that record what they were asked. The
// generated test holds only its data (offsets, expected bytes) and calls these; they live here once,
// type-checked, instead of as text inside every package. Imported as `@warpdrive/runtime/testing`
// (it uses bun:test's expect: test code only).
import { expect } from "bun:test";
import type { RegisterIo } from "./mem/io.ts";
import type { DmaRef, DmaResolver } from "./mem/dma.ts";

/** Guard bytes around every entry: a write outside the entry changes them. */
export const GUARD = 8;
/** What the guards and, before encoding, the entry are filled with. */
export const FILL = 0xa5;

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The entry's expected bytes: the [offset, hex] runs, zero elsewhere. */
function expectedBytes(size: number, want: [number, string][]): Uint8Array {
  const out = new Uint8Array(size);
  for (const [at, hex] of want) for (let i = 0; i < hex.length / 2; i++) out[at + i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Encodes one entry at offset GUARD of a buffer filled with FILL and checks every byte: the expected
 * [offset, hex] runs, zero elsewhere in the entry (an encoder writes every byte), the guards
 * untouched. Returns the view, for decode checks.
 */
export function entry(size: number, encode: (view: DataView, offset: number) => void, want: [number, string][]): DataView {
  const buf = new Uint8Array(size + 2 * GUARD).fill(FILL);
  const view = new DataView(buf.buffer);
  encode(view, GUARD);
  const expected = expectedBytes(size, want);
  const bad: string[] = [];
  for (let i = 0; i < size; i++) {
    const got = buf[GUARD + i]!;
    if (got !== expected[i]) bad.push(`byte ${i}: ${got.toString(16)} (want ${expected[i]!.toString(16)})`);
  }
  expect(bad.slice(0, 8)).toEqual([]);
  expect(toHex(buf.subarray(0, GUARD))).toBe("a5".repeat(GUARD));
  expect(toHex(buf.subarray(GUARD + size))).toBe("a5".repeat(GUARD));
  return view;
}

/** An entry holding the [offset, hex] runs (zero elsewhere) at offset GUARD, guards filled: what a device wrote. */
export function laid(size: number, want: [number, string][]): DataView {
  const buf = new Uint8Array(size + 2 * GUARD).fill(FILL);
  buf.set(expectedBytes(size, want), GUARD);
  return new DataView(buf.buffer);
}

/** Test values are written as plain numbers; this lets them reach enum-typed fields. */
export function init<T>(o: object): T {
  return o as unknown as T;
}

/** A bit-field object given to a register write as the test wrote it (numbers for enum fields). */
export function bits(o: Record<string, number | bigint>): never {
  return o as never;
}

/** A decoded value, compared loosely typed (field access by generated path). */
export function dec(v: unknown): any {
  return v;
}

/** A resolver that hands out one fixed bus address and records which field asked. */
export class RecordingDma implements DmaResolver {
  fields: string[] = [];
  address: number;
  constructor(address: number) {
    this.address = address;
  }
  addressOf(_ref: DmaRef, field: string): number {
    this.fields.push(field);
    return this.address;
  }
}

/** A DmaRef for RecordingDma: never resolved against a real buffer. */
export function testRef(): DmaRef {
  return { buffer: {}, offset: 0, length: 8 } as unknown as DmaRef;
}

/** A RegisterIo that logs "r32 0x24" / "w32 0x24 0x1" and reads back `value`. */
export class RecordingIo implements RegisterIo {
  readonly name = "recording";
  log: string[] = [];
  value = 0n;
  read8(off: number): number { this.log.push(`r8 0x${off.toString(16)}`); return Number(this.value & 0xffn); }
  read16(off: number): number { this.log.push(`r16 0x${off.toString(16)}`); return Number(this.value & 0xffffn); }
  read32(off: number): number { this.log.push(`r32 0x${off.toString(16)}`); return Number(this.value & 0xffffffffn); }
  read64(off: number): bigint { this.log.push(`r64 0x${off.toString(16)}`); return this.value; }
  write8(off: number, v: number): void { this.log.push(`w8 0x${off.toString(16)} 0x${v.toString(16)}`); }
  write16(off: number, v: number): void { this.log.push(`w16 0x${off.toString(16)} 0x${v.toString(16)}`); }
  write32(off: number, v: number): void { this.log.push(`w32 0x${off.toString(16)} 0x${(v >>> 0).toString(16)}`); }
  write64(off: number, v: bigint): void { this.log.push(`w64 0x${off.toString(16)} 0x${v.toString(16)}`); }
  doorbell(off: number, v: number): void { this.log.push(`db 0x${off.toString(16)} 0x${v.toString(16)}`); }
}
