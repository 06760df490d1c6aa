// Code generation for one struct field: its TypeScript types and the DataView statements that encode,
// decode and access it at a constant offset. Shared by structs.ts and commands.ts (a command param is
// a struct field or an overlay, which is a synthesized field of the same shape).
import type { FieldModel, ScalarType, StructFieldModel } from "../model.ts";
import { emitExtent, extentSubtracts } from "../extent.ts";
import { StructureKind } from "ts-morph";
import { constStatement, objectLiteral, type Statement } from "./ts.ts";
import { camel, docBlock, docText, hex, memberDoc, pascal } from "./util.ts";

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
    // 64-bit values may be given as a number (a safe integer) or a bigint: no bigint needed per request
    t = isWide(f) && !f.enumName ? "number | bigint" : scalarType(f);
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
  // a bit-field word is its raw value everywhere (Data, accessors, completions); bitsOf reads a field
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
  if (length > 32) return [`zeroBytes(view, ${at(base, start)}, ${length});`];
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

/** What a file's encoders use: runtime helpers (imported from @warpdrive/runtime) and other structs. */
export interface EncodeNeeds {
  runtime: Set<string>;
  structs: Set<string>;
}

export function newNeeds(): EncodeNeeds {
  return { runtime: new Set(), structs: new Set() };
}

/** Statements zeroing [start, start + length): unrolled stores when small, the runtime's zeroBytes else. */
function zeroing(base: string, start: number, length: number, needs: EncodeNeeds): string[] {
  if (length > 32) needs.runtime.add("zeroBytes");
  return length > 32 ? [`zeroBytes(view, ${at(base, start)}, ${length});`] : zeroRange(base, start, length);
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

/** The expression packing a partial bitfield object `src` into the word's value (accessor setters). */
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

/** What a bit range is called in docs: `Bit 3` or `Bits 7:4`. */
export function bitsText(b: FieldModel): string {
  return b.width === 1 ? `Bit ${b.lsb}` : `Bits ${b.lsb + b.width - 1}:${b.lsb}`;
}

/**
 * A bit-field word's declarations, under one name (`SqeFlagsFields`): the exported table of where
 * each field sits (what packBits reads and `bitsOf(word, SqeFlagsFields.fuse)` takes), and, when
 * the host writes the word (`writable`), the interface of the object form an Init accepts.
 */
export function bitWordDecls(owner: string, f: StructFieldModel, what: string, writable: boolean): Statement[] {
  const name = bitsTypeName(owner, f);
  const entries = f.bitfields.map((b) => `${docBlock(memberDoc(`${bitsText(b)}.${b.doc ? ` ${b.doc}` : ""}`))}\n${camel(b.name)}: { lsb: ${b.lsb}, width: ${b.width} },`);
  const table = constStatement(docText(`Where the bit fields of ${what} sit in the word: \`bitsOf(word, ${name}.${camel(f.bitfields[0]!.name)})\` reads one.`, f.source, what), name, `${objectLiteral(entries)} as const`);
  if (!writable) return [table];
  return [
    table,
    {
      kind: StructureKind.Interface,
      isExported: true,
      name,
      docs: [docText(`The bit fields of ${what} as an object (an Init may give the word this way; absent fields are zero).`, f.source, what)],
      properties: f.bitfields.map((b) => ({ name: camel(b.name), type: bitValueType(b), docs: [memberDoc(`${bitsText(b)}.${b.doc ? ` ${b.doc}` : ""}`)] })),
    },
  ];
}

/**
 * A boolean expression true when number `v` is NOT an integer that fits the scalar type: one bitwise
 * round trip, which also refuses NaN, ±Infinity and fractions (and is JIT-friendly: no calls).
 */
function misfits(type: ScalarType, v: string): string {
  switch (type) {
    case "u8": return `(${v} & 0xff) !== ${v}`;
    case "u16": return `(${v} & 0xffff) !== ${v}`;
    case "u32": return `${v} >>> 0 !== ${v}`;
    case "i8": return `(${v} << 24) >> 24 !== ${v}`;
    case "i16": return `(${v} << 16) >> 16 !== ${v}`;
    case "i32": return `(${v} | 0) !== ${v}`;
    default: throw new Error(`misfits: ${type} is 64-bit`);
  }
}

/** The two's complement value of an unsigned `bits`-bit number expression (bits <= 32). */
function signedOf(bits: number, e: string): string {
  return bits === 32 ? `${e} | 0` : `(${e} << ${32 - bits}) >> ${32 - bits}`;
}

function scalarBits(t: ScalarType): { bits: number; signed: boolean } {
  return { bits: Number(t.slice(1)), signed: t.startsWith("i") };
}

/** How an encoder writes one field: `read` runs first for every field (each caller value is read
 *  once into a local and checked), then `write` (the stores) in offset order. */
export interface FieldCode {
  read: string[];
  write: string[];
}

/**
 * Code encoding field `f` from expression `src` (e.g. `init.cid`) at `base + f.offset`: the value when
 * present, zero otherwise, so every byte of the field is written exactly once. `label` names the field
 * in errors ("Sqe.prp1"); `owner` names the bit-layout const; `extent` is the JavaScript expression
 * of a dma-address field's extent over the other fields' locals (undefined: unbounded).
 */
export function encodeField(
  f: StructFieldModel,
  src: string,
  base: string,
  label: string,
  needs: EncodeNeeds,
  local: string,
  owner: string,
  extent?: string,
): FieldCode {
  const off = f.offset;
  const es = elementSize(f);
  const lbl = JSON.stringify(label);
  if (f.type.kind === "reserved") return { read: [], write: zeroing(base, off, f.size, needs) };
  if (f.count > 1) return { read: [`const ${local} = ${src};`], write: encodeArray(f, local, base, label, needs, extent) };
  if (f.type.kind === "struct") {
    needs.structs.add(f.type.struct);
    return {
      read: [`const ${local} = ${src};`],
      write: [
        `if (${local} === undefined) ${block(zeroing(base, off, f.size, needs))}`,
        `else ${f.type.struct}.encode(view, ${at(base, off)}, ${local}, dma);`,
      ],
    };
  }
  if (f.type.kind === "dma-address") {
    needs.runtime.add("dmaAddress");
    return {
      read: [`const ${local} = ${src};`],
      write: [
        `if (${local} === undefined) ${block(zeroRange(base, off, 8))}`,
        `else {`,
        `  const a = dmaAddress(dma, ${local}, ${lbl}${extent !== undefined ? `, ${extent}` : ""});`,
        ...alignCheck(f, lbl, needs).map((s) => `  ${s}`),
        ...writeAddress(f, (k) => at(base, off + k), "a").map((s) => `  ${s}`),
        `}`,
      ],
    };
  }
  if (f.type.kind !== "scalar") throw new Error(`encodeField: ${f.name}`);
  const t = f.type.type;
  const e = le(f, es);
  needs.runtime.add("badInt");
  if (isWide(f)) {
    const signed = t === "i64";
    const ok = signed ? "isI64" : "isU64";
    needs.runtime.add(ok).add("setU64");
    const read = [`const ${local} = ${src};`];
    let word = local;
    if (f.bitfields.length > 0) {
      needs.runtime.add("packBits64");
      word = `${local}_w`;
      const packed = `packBits64(${local}, ${bitsTypeName(owner, f)}, ${lbl})`;
      read.push(`const ${word} = ${local} === undefined || typeof ${local} === "number" || typeof ${local} === "bigint" ? ${local} : ${signed ? `BigInt.asIntN(64, ${packed})` : packed};`);
    }
    read.push(`if (${word} !== undefined && !${ok}(${word})) throw badInt(${lbl}, ${word}, 64, ${signed});`);
    return {
      read,
      write: [`if (${word} === undefined) ${block(zeroRange(base, off, 8))}`, `else setU64(view, ${at(base, off)}, ${word}, ${f.endian === "little"});`],
    };
  }
  const { bits, signed } = scalarBits(t);
  const acc = accessor(f);
  if (f.bitfields.length > 0) {
    needs.runtime.add("packBits");
    const word = `${local}_w`;
    return {
      read: [
        `const ${local} = ${src};`,
        // packBits gives the word's bits as an unsigned number; a signed word takes them as its
        // two's complement value (bit 31 of an i32 is its sign).
        `const ${word} = ${local} === undefined ? 0 : typeof ${local} === "number" ? ${local} : ${signed ? signedOf(bits, `packBits(${local}, ${bitsTypeName(owner, f)}, ${lbl})`) : `packBits(${local}, ${bitsTypeName(owner, f)}, ${lbl})`};`,
        `if (typeof ${word} !== "number" || ${misfits(t, word)}) throw badInt(${lbl}, ${word}, ${bits}, ${signed});`,
      ],
      write: [`view.set${acc}(${at(base, off)}, ${word}${e});`],
    };
  }
  return {
    read: [
      `const ${local} = ${src};`,
      `if (${local} !== undefined && (typeof ${local} !== "number" || ${misfits(t, local)})) throw badInt(${lbl}, ${local}, ${bits}, ${signed});`,
    ],
    write: [`view.set${acc}(${at(base, off)}, ${local} ?? 0${e});`],
  };
}

function block(stmts: string[]): string {
  return stmts.length === 1 ? stmts[0]! : `{\n${stmts.map((s) => `  ${s}`).join("\n")}\n}`;
}

/** An array field: at most `count` elements, each read once and checked; absent elements are zero. */
function encodeArray(f: StructFieldModel, local: string, base: string, label: string, needs: EncodeNeeds, extent?: string): string[] {
  const es = elementSize(f);
  const off = f.offset;
  const lbl = JSON.stringify(label);
  const elem = `${at(base, off)} + i${es === 1 ? "" : ` * ${es}`}`;
  let body: string[];
  if (f.type.kind === "struct") {
    needs.structs.add(f.type.struct);
    needs.runtime.add("zeroBytes");
    body = [`const e = ${local}[i];`, `if (e === undefined) zeroBytes(view, ${elem}, ${es});`, `else ${f.type.struct}.encode(view, ${elem}, e, dma);`];
  } else if (f.type.kind === "dma-address") {
    needs.runtime.add("dmaAddress");
    body = [`const e = ${local}[i];`, `const a = e === undefined ? 0 : dmaAddress(dma, e, ${lbl}${extent !== undefined ? `, ${extent}` : ""});`, ...writeAddress(f, (k) => (k === 0 ? elem : `${elem} + ${k}`), "a")];
  } else if (f.type.kind === "scalar" && isWide(f)) {
    const signed = f.type.type === "i64";
    needs.runtime.add("badInt").add("setU64").add(signed ? "isI64" : "isU64");
    body = [
      `const e = ${local}[i] ?? 0;`,
      `if (!${signed ? "isI64" : "isU64"}(e)) throw badInt(\`${label}[\${i}]\`, e, 64, ${signed});`,
      `setU64(view, ${elem}, e, ${f.endian === "little"});`,
    ];
  } else if (f.type.kind === "scalar") {
    const { bits, signed } = scalarBits(f.type.type);
    needs.runtime.add("badInt");
    body = [
      `const e = ${local}[i] ?? 0;`,
      `if (typeof e !== "number" || ${misfits(f.type.type, "e")}) throw badInt(\`${label}[\${i}]\`, e, ${bits}, ${signed});`,
      `view.set${accessor(f)}(${elem}, e${le(f, es)});`,
    ];
  } else throw new Error(`encodeArray: ${f.name}`);
  needs.runtime.add("badArray").add("zeroBytes");
  return [
    `if (${local} === undefined) zeroBytes(view, ${at(base, off)}, ${f.size});`,
    `else {`,
    `  const n = typeof ${local} === "object" && ${local} !== null ? ${local}.length : undefined;`,
    `  if (typeof n !== "number" || n > ${f.count}) throw badArray(${lbl}, ${local}, ${f.count});`,
    `  for (let i = 0; i < ${f.count}; i++) {`,
    ...(f.type.kind === "scalar" || f.type.kind === "dma-address" || f.type.kind === "struct" ? [`    if (i >= n) { zeroBytes(view, ${elem}, ${es * 1}); continue; }`] : []),
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
  return f.enumName ? `${raw} as ${f.enumName}` : raw;
}

/** Location text for docs: `offset 0x18, 8 bytes` */
export function placeText(f: StructFieldModel): string {
  const arr = f.count > 1 ? `, ${f.count} x ${elementSize(f)}` : "";
  return `Offset ${f.offset} (${hex(f.offset)}), ${f.size} byte${f.size === 1 ? "" : "s"}${arr}`;
}

export { accessor, le };

/**
 * JavaScript for a dma-address field's extent, over the locals of the fields (or params) it names
 * (`local(n)`, undefined for an absent value: it counts as 0) and numbers the model resolved (constants, fixed values) inline.
 * An extent that subtracts could come out negative: dmaAddress refuses that.
 */
export function extentCode(f: StructFieldModel, local: (name: string) => string): string | undefined {
  const e = f.dma?.extent;
  if (e === undefined) return undefined;
  // every extent but a command list param's (which never comes here) has its names resolved
  const names = f.dma!.names!;
  const code = emitExtent(e, (n) => {
    const x = names[n]!;
    return x.kind === "number" ? String(x.value) : local(x.name);
  });
  return extentSubtracts(e) ? `(${code})` : code;
}

/** A dma-address whose device requires an alignment (`align:`): the encoder refuses a misaligned address. */
function alignCheck(f: StructFieldModel, lbl: string, needs: EncodeNeeds): string[] {
  const align = f.dma?.align;
  if (align === undefined || align <= 1) return [];
  needs.runtime.add("dmaMisaligned");
  return [`if (a % ${align} !== 0) throw dmaMisaligned(${lbl}, a, ${align});`];
}
