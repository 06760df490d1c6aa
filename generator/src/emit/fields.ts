// Code generation for one struct field: its TypeScript types and the DataView statements that encode,
// decode and access it at a constant offset. Shared by structs.ts and commands.ts (a command param is
// a struct field or an overlay, which is a synthesized field of the same shape).
import type { FieldModel, ScalarType, StructFieldModel } from "../model.ts";
import { camel, hex, pascal } from "./util.ts";

/** Whether encoding these fields needs the DmaResolver (bus addresses, or nested structs that may). */
export function usesDma(fields: StructFieldModel[]): boolean {
  return fields.some((f) => f.type.kind === "dma-address" || f.type.kind === "struct");
}

/** Byte size of one element. */
export function elementSize(f: StructFieldModel): number {
  return f.size / f.count;
}

const ACCESSOR: Record<ScalarType, string> = {
  u8: "Uint8",
  u16: "Uint16",
  u32: "Uint32",
  u64: "BigUint64",
  i8: "Int8",
  i16: "Int16",
  i32: "Int32",
  i64: "BigInt64",
};

export function isWide(f: StructFieldModel): boolean {
  return f.type.kind === "dma-address" || (f.type.kind === "scalar" && (f.type.type === "u64" || f.type.type === "i64"));
}

/** `o` or `o + 12`: offsets are constants folded into each call. */
export function at(base: string, off: number): string {
  return off === 0 ? base : `${base} + ${off}`;
}

/** The endianness argument of a DataView call (nothing for single bytes). */
function le(f: StructFieldModel, bytes: number): string {
  return bytes === 1 ? "" : `, ${f.endian === "little"}`;
}

/** Name of the bitfield interface of a scalar word: `SqeFlagsFields`, `CreateIoCqCqFlagsFields`. */
export function bitsTypeName(owner: string, f: StructFieldModel): string {
  return `${pascal(owner)}${pascal(f.name)}Fields`;
}

export function bitValueType(b: FieldModel): string {
  if (b.enumName) return b.enumName;
  return b.width > 32 ? "bigint" : "number";
}

/** Scalar element type: enum, number, or bigint for 64-bit types. */
function scalarType(f: StructFieldModel): string {
  if (f.type.kind === "dma-address") return "bigint";
  if (f.type.kind !== "scalar") throw new Error(`not a scalar: ${f.name}`);
  if (f.type.type === "u64" || f.type.type === "i64") return "bigint";
  return f.enumName ?? "number";
}

/** The type a caller passes in an Init/Params object. */
export function initType(owner: string, f: StructFieldModel): string {
  let t: string;
  if (f.type.kind === "struct") t = `${f.type.struct}Init`;
  else if (f.type.kind === "dma-address") t = "DmaRef";
  else {
    t = scalarType(f);
    if (f.bitfields.length > 0) t = `${t} | Partial<${bitsTypeName(owner, f)}>`;
  }
  return f.count > 1 ? `ArrayLike<${t.includes("|") ? `(${t})` : t}>` : t;
}

/** The type a decoded Data object carries. */
export function dataType(owner: string, f: StructFieldModel): string {
  if (f.count > 1) {
    if (f.type.kind === "scalar" && f.type.type === "u8") return "Uint8Array";
    if (f.type.kind === "struct") return `${f.type.struct}Data[]`;
    return `${scalarType(f)}[]`;
  }
  if (f.type.kind === "struct") return `${f.type.struct}Data`;
  if (f.bitfields.length > 0) return bitsTypeName(owner, f);
  return scalarType(f);
}

function accessor(f: StructFieldModel): string {
  if (f.type.kind === "dma-address") return "BigUint64";
  if (f.type.kind !== "scalar") throw new Error(`not a scalar: ${f.name}`);
  return ACCESSOR[f.type.type];
}

/**
 * Statements zeroing [start, start + length) of `view` at `base`: unrolled constant-offset stores for
 * small ranges (reserved bytes, absent fields), the module's `zero` loop for large ones.
 */
export function zeroRange(base: string, start: number, length: number): string[] {
  if (length > 32) return [`zero(view, ${at(base, start)}, ${length});`];
  // Naturally aligned stores (relative to the entry, which rings keep aligned): the widest of
  // 4/2/1 bytes that is aligned at p and fits.
  const out: string[] = [];
  let p = start;
  const end = start + length;
  while (p < end) {
    const left = end - p;
    if (left >= 4 && p % 4 === 0) {
      out.push(`view.setUint32(${at(base, p)}, 0);`);
      p += 4;
    } else if (left >= 2 && p % 2 === 0) {
      out.push(`view.setUint16(${at(base, p)}, 0);`);
      p += 2;
    } else {
      out.push(`view.setUint8(${at(base, p)}, 0);`);
      p += 1;
    }
  }
  return out;
}

/** Module-private helpers a file with encoders needs (emitted once per file). */
export const HELPERS = {
  zero: [
    "/** Zeroes a byte range too large to unroll (reserved areas, absent arrays). */",
    "function zero(view: DataView, offset: number, length: number): void {",
    "  let i = 0;",
    "  for (; i + 4 <= length; i += 4) view.setUint32(offset + i, 0);",
    "  for (; i < length; i++) view.setUint8(offset + i, 0);",
    "}",
  ].join("\n"),
  addr: [
    "/** The bus address of shared memory, checked by the device's DmaResolver. */",
    "function addr(dma: DmaResolver | undefined, ref: DmaRef, field: string): number {",
    "  if (dma === undefined) throw new TypeError(`${field} takes a DmaRef: pass the device's DmaResolver (dev.dma)`);",
    "  return dma.addressOf(ref, field);",
    "}",
  ].join("\n"),
  tooLong: [
    "/** An array longer than its field would spill into the next field. */",
    "function tooLong(field: string, length: number, count: number): never {",
    "  throw new RangeError(`${field} holds ${count} elements, got ${length}`);",
    "}",
  ].join("\n"),
};

export interface EncodeNeeds {
  zero: boolean;
  addr: boolean;
  tooLong: boolean;
  structs: Set<string>;
}

export function newNeeds(): EncodeNeeds {
  return { zero: false, addr: false, tooLong: false, structs: new Set() };
}

/**
 * Statements writing a 64-bit address number as two 32-bit stores in the field's byte order (no BigInt
 * on the hot path). `place(k)` is the offset expression of byte k of the field.
 */
function writeAddress(f: StructFieldModel, place: (k: number) => string, a: string): string[] {
  const lo = `${a} >>> 0`;
  const hi = `(${a} / 0x100000000) >>> 0`;
  const little = f.endian === "little";
  return [
    `view.setUint32(${place(0)}, ${little ? lo : hi}, ${little});`,
    `view.setUint32(${place(4)}, ${little ? hi : lo}, ${little});`,
  ];
}

/** The expression packing a partial bitfield object `src` into the word's value. */
export function packExpr(f: StructFieldModel, src: string): string {
  const wide = isWide(f);
  const parts = f.bitfields.map((b) => {
    const name = `${src}.${camel(b.name)}`;
    if (wide) {
      const mask = (1n << BigInt(b.width)) - 1n;
      const v = b.width > 32 ? `(${name} ?? 0n)` : `BigInt(${name} ?? 0)`;
      return b.lsb === 0 ? `(${v} & 0x${mask.toString(16)}n)` : `((${v} & 0x${mask.toString(16)}n) << ${b.lsb}n)`;
    }
    const mask = b.width >= 32 ? "" : ` & ${hex(2 ** b.width - 1)}`;
    const v = `(${name} ?? 0)${mask}`;
    return b.lsb === 0 ? `(${v})` : `((${v}) << ${b.lsb})`;
  });
  if (wide) return `BigInt.asUintN(64, ${parts.join(" | ")})`;
  return parts.join(" | ");
}

/** The expression unpacking bitfield `b` from word value `w`. */
export function unpackExpr(f: StructFieldModel, b: FieldModel, w: string): string {
  const cast = b.enumName ? ` as ${b.enumName}` : "";
  if (isWide(f)) {
    const mask = (1n << BigInt(b.width)) - 1n;
    const e = b.lsb === 0 ? `(${w} & 0x${mask.toString(16)}n)` : `((${w} >> ${b.lsb}n) & 0x${mask.toString(16)}n)`;
    return b.width > 32 ? e : `Number(${e})${cast}`;
  }
  const bits = elementSize(f) * 8;
  if (b.lsb + b.width === bits && bits === 32) return `(${w} >>> ${b.lsb})${cast}`;
  const shifted = b.lsb === 0 ? w : `(${w} >>> ${b.lsb})`;
  return `(${shifted} & ${hex(2 ** b.width - 1)})${cast}`;
}

/**
 * Statements encoding field `f` from expression `src` (e.g. `init.cid`) at `base + f.offset`: the
 * value when present, zero otherwise, so every byte of the field is written exactly once.
 * `label` names the field in DMA errors ("Sqe.prp1").
 */
export function encodeField(
  f: StructFieldModel,
  src: string,
  base: string,
  label: string,
  needs: EncodeNeeds,
  local: string,
): string[] {
  const off = f.offset;
  const es = elementSize(f);
  if (f.type.kind === "reserved") return zeroRange(base, off, f.size);
  if (f.count > 1) return encodeArray(f, src, base, label, needs, local);
  if (f.type.kind === "struct") {
    needs.structs.add(f.type.struct);
    if (f.size > 32) needs.zero = true;
    return [
      `const ${local} = ${src};`,
      `if (${local} === undefined) ${block(zeroRange(base, off, f.size))}`,
      `else ${f.type.struct}.encode(view, ${at(base, off)}, ${local}, dma);`,
    ];
  }
  if (f.type.kind === "dma-address") {
    needs.addr = true;
    return [
      `const ${local} = ${src};`,
      `if (${local} === undefined) ${block(zeroRange(base, off, 8))}`,
      `else {`,
      `  const a = addr(dma, ${local}, ${JSON.stringify(label)});`,
      ...writeAddress(f, (k) => at(base, off + k), "a").map((s) => `  ${s}`),
      `}`,
    ];
  }
  const acc = accessor(f);
  const e = le(f, es);
  if (isWide(f)) {
    const value = f.bitfields.length > 0 ? `typeof ${local} === "bigint" ? ${local} : ${packExpr(f, local)}` : local;
    return [
      `const ${local} = ${src};`,
      `if (${local} === undefined) ${block(zeroRange(base, off, 8))}`,
      `else view.set${acc}(${at(base, off)}, ${value}${e});`,
    ];
  }
  if (f.bitfields.length > 0) {
    return [
      `const ${local} = ${src};`,
      `view.set${acc}(${at(base, off)}, ${local} === undefined ? 0 : typeof ${local} === "number" ? ${local} : ${packExpr(f, local)}${e});`,
    ];
  }
  return [`view.set${acc}(${at(base, off)}, ${src} ?? 0${e});`];
}

function block(stmts: string[]): string {
  return stmts.length === 1 ? stmts[0]! : `{\n${stmts.map((s) => `  ${s}`).join("\n")}\n}`;
}

function encodeArray(f: StructFieldModel, src: string, base: string, label: string, needs: EncodeNeeds, local: string): string[] {
  const es = elementSize(f);
  const off = f.offset;
  const elem = `${at(base, off)} + i${es === 1 ? "" : ` * ${es}`}`;
  let body: string[];
  if (f.type.kind === "struct") {
    needs.structs.add(f.type.struct);
    needs.zero = true;
    body = [
      `const e = ${local}[i];`,
      `if (e === undefined) zero(view, ${elem}, ${es});`,
      `else ${f.type.struct}.encode(view, ${elem}, e, dma);`,
    ];
  } else if (f.type.kind === "dma-address") {
    needs.addr = true;
    body = [
      `const e = ${local}[i];`,
      `const a = e === undefined ? 0 : addr(dma, e, ${JSON.stringify(label)});`,
      ...writeAddress(f, (k) => (k === 0 ? elem : `${elem} + ${k}`), "a"),
    ];
  } else {
    const zero = isWide(f) ? "0n" : "0";
    const v = f.bitfields.length > 0 ? `typeof e === "object" ? ${packExpr(f, "e")} : e` : "e";
    body = [
      `const e = ${local}[i] ?? ${zero};`,
      `view.set${accessor(f)}(${elem}, ${v}${le(f, es)});`,
    ];
  }
  needs.zero = true;
  needs.tooLong = true;
  return [
    `const ${local} = ${src};`,
    `if (${local} === undefined) zero(view, ${at(base, off)}, ${f.size});`,
    `else {`,
    `  if (${local}.length > ${f.count}) tooLong(${JSON.stringify(label)}, ${local}.length, ${f.count});`,
    `  for (let i = 0; i < ${f.count}; i++) {`,
    ...body.map((s) => `    ${s}`),
    `  }`,
    `}`,
  ];
}

/** The expression decoding field `f` (not reserved) at `base + f.offset`. */
/** True when decodeExpr uses the runtime's `copyBytes` for this field (u8 arrays). */
export function decodesBytes(f: StructFieldModel): boolean {
  return f.count > 1 && f.type.kind === "scalar" && f.type.type === "u8";
}

export function decodeExpr(owner: string, f: StructFieldModel, base: string): string {
  const es = elementSize(f);
  if (f.count > 1) {
    const elem = `${at(base, f.offset)} + i${es === 1 ? "" : ` * ${es}`}`;
    if (decodesBytes(f)) {
      return `copyBytes(view, ${at(base, f.offset)}, ${f.count})`;
    }
    if (f.type.kind === "struct") return `Array.from({ length: ${f.count} }, (_, i) => ${f.type.struct}.decode(view, ${elem}))`;
    const one = `view.get${accessor(f)}(${elem}${le(f, es)})`;
    return `Array.from({ length: ${f.count} }, (_, i) => ${one}${f.enumName ? ` as ${f.enumName}` : ""})`;
  }
  if (f.type.kind === "struct") return `${f.type.struct}.decode(view, ${at(base, f.offset)})`;
  const raw = `view.get${accessor(f)}(${at(base, f.offset)}${le(f, es)})`;
  if (f.bitfields.length > 0) return `unpack${pascal(owner)}${pascal(f.name)}(${raw})`;
  return f.enumName ? `${raw} as ${f.enumName}` : raw;
}

/** Location text for docs: `offset 0x18, 8 bytes` */
export function placeText(f: StructFieldModel): string {
  const arr = f.count > 1 ? `, ${f.count} x ${elementSize(f)}` : "";
  return `Offset ${f.offset} (${hex(f.offset)}), ${f.size} byte${f.size === 1 ? "" : "s"}${arr}`;
}

export { accessor, le };
