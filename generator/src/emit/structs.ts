// src/structs.ts: per struct an `XData` (what decode returns) and a class `X` with SIZE, LAYOUT,
// static decode and live getters over a DataView. A struct the host writes (direction to-device or
// both, generator/src/struct-use.ts) also gets an `XInit` (what encode takes, every field optional),
// static encode and setters; a from-device struct (a completion, an identify page) has none of them.
// Encoders are straight-line DataView calls at constant offsets: each byte of the entry is written
// exactly once (the value, or zero for absent fields, reserved bytes and gaps), which is the
// zero-fill-then-write the contract asks for without touching memory twice.
import { StructureKind } from "ts-morph";
import type { StructFieldModel, StructModel } from "../model.ts";
import {
  accessor,
  bitValueType,
  bitWordDecls,
  bitsText,
  dataType,
  decodeExpr,
  decodesBytes,
  elementSize,
  encodeField,
  extentCode,
  initType,
  isWide,
  le,
  newNeeds,
  placeText,
  unpackExpr,
  zeroRange,
  at,
  usesDma,
  type EncodeNeeds,
} from "./fields.ts";
import { constStatement, objectLiteral, TsFile } from "./ts.ts";
import { variantDecls } from "./variants.ts";
import { listDecls } from "./lists.ts";
import { hostWrites } from "../struct-use.ts";
import { camel, docBlock, docText, memberDoc, pascal, str, type EmitContext } from "./util.ts";

const RT = "@warpdrive/runtime";

const RESERVED_LOCALS = new Set([
  "view", "offset", "init", "dma", "i", "e", "a", "n", "p", "w",
  // runtime helpers the encoders call
  "badArray", "badInt", "badRequest", "dmaAddress", "isI64", "isU64", "packBits", "packBits64", "setU64", "zeroBytes",
  // JavaScript reserved words that a snake_case field could be named
  "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else",
  "enum", "export", "extends", "false", "finally", "for", "function", "if", "import", "in", "instanceof",
  "new", "null", "return", "super", "switch", "this", "throw", "true", "try", "typeof", "var", "void",
  "while", "with", "yield", "let", "static", "implements", "interface", "package", "private",
  "protected", "public", "await",
]);

/** A local variable name for a field that cannot clash with the encoder's own names. */
export function localName(field: string): string {
  const c = camel(field);
  return RESERVED_LOCALS.has(c) ? `${c}_` : c;
}

export function named(s: StructModel): StructFieldModel[] {
  return s.fields.filter((f) => f.type.kind !== "reserved");
}

/** Byte ranges [start, end) not covered by any field (the validator may allow gaps). */
export function gaps(size: number, covered: { offset: number; size: number }[]): [number, number][] {
  const sorted = [...covered].sort((a, b) => a.offset - b.offset);
  const out: [number, number][] = [];
  let p = 0;
  for (const c of sorted) {
    if (c.offset > p) out.push([p, c.offset]);
    p = Math.max(p, c.offset + c.size);
  }
  if (p < size) out.push([p, size]);
  return out;
}

export function structsFile(ctx: EmitContext): TsFile {
  const f = new TsFile();
  const needs = newNeeds();
  for (const s of ctx.model.structs) {
    const writes = hostWrites(s.direction);
    for (const fld of named(s)) {
      if (fld.enumName) f.use("./enums.ts", fld.enumName, true);
      if (fld.bitfields.length > 0) {
        for (const b of fld.bitfields) if (b.enumName) f.use("./enums.ts", b.enumName, true);
        f.add(...bitWordDecls(s.name, fld, `${s.name}.${fld.name}`, writes));
      }
      if (fld.type.kind === "dma-address" && writes) f.use(RT, "DmaRef", true);
    }
    if (writes) f.add(initInterface(s));
    f.add(dataInterface(s), layoutConst(s), structClass(s, needs, f));
    variantDecls(f, s, needs); // emit/variants.ts: nothing unless the struct has variants
  }
  listDecls(f, ctx.model); // emit/lists.ts: nothing unless a field points at a list
  for (const name of [...needs.runtime].sort()) f.use(RT, name);
  if (ctx.model.structs.length === 0) f.add("export {};");
  return f;
}

function fieldDoc(fld: StructFieldModel): string {
  const endian = fld.endian !== "little" && elementSize(fld) > 1 ? ", big endian" : "";
  return `${placeText(fld)}${endian}.${fld.doc ? ` ${fld.doc}` : ""}`;
}

function initInterface(s: StructModel) {
  return {
    kind: StructureKind.Interface as const,
    isExported: true,
    name: `${s.name}Init`,
    docs: [docText(`Values to encode into a ${s.name}; absent fields are written as zero.`, s.source, `struct ${s.name}`)],
    properties: named(s).map((fld) => ({
      name: camel(fld.name),
      hasQuestionToken: true,
      type: initType(s.name, fld),
      docs: [memberDoc(fieldDoc(fld))],
    })),
  };
}

function dataInterface(s: StructModel) {
  return {
    kind: StructureKind.Interface as const,
    isExported: true,
    name: `${s.name}Data`,
    docs: [docText(`A decoded ${s.name} (a copy; bus addresses and 64-bit values as bigint).`, s.source, `struct ${s.name}`)],
    properties: named(s).map((fld) => ({
      name: camel(fld.name),
      type: dataType(s.name, fld),
      docs: [memberDoc(fieldDoc(fld))],
    })),
  };
}

/**
 * Statements of `X.encode`: the request checked to be an object, every field read once into a local
 * and checked, then every field and every gap written, in offset order.
 */
export function encodeBody(s: StructModel, needs: EncodeNeeds): string[] {
  needs.runtime.add("badRequest");
  const reads: string[] = [`if (typeof init !== "object" || init === null || Array.isArray(init)) throw badRequest(${str(s.name)}, init);`];
  const ops: { offset: number; code: string[] }[] = [];
  const local = (n: string) => `(${localName(n)} ?? 0)`;
  for (const fld of s.fields) {
    const code = encodeField(fld, `init.${camel(fld.name)}`, "offset", `${s.name}.${fld.name}`, needs, localName(fld.name), s.name, extentCode(fld, local));
    reads.push(...code.read);
    ops.push({ offset: fld.offset, code: code.write });
  }
  for (const [a, b] of gaps(s.size, s.fields)) {
    if (b - a > 32) needs.runtime.add("zeroBytes");
    ops.push({ offset: a, code: zeroRange("offset", a, b - a) });
  }
  ops.sort((x, y) => x.offset - y.offset);
  // One statement: ts-morph would put blank lines around every multi-line if/else otherwise.
  return [[...reads, ...ops.flatMap((o) => o.code)].join("\n")];
}

/** One class member as text: its one-line doc (if any) and its code, indented one level. */
function member(doc: string | undefined, code: string[]): string {
  return [...(doc === undefined ? [] : [docBlock(memberDoc(doc))]), ...code].map((l) => (l === "" ? l : `  ${l}`)).join("\n");
}

/** A method over several lines: the signature, the body indented, the closing brace. */
function method(signature: string, body: string[]): string[] {
  return [`${signature} {`, ...body.flatMap((l) => l.split("\n")).map((l) => (l === "" ? l : `  ${l}`)), "}"];
}

/**
 * The struct class, as text: one line per getter and setter reads as the table of fields it is
 * (ts-morph would spread each over four). It extends the runtime's StructView (view, offset,
 * resolver, moveTo), so only the fields are here.
 */
function structClass(s: StructModel, needs: EncodeNeeds, f: TsFile): string {
  const members: string[] = [];
  const V = "this.view";
  const O = "this.offset";
  const writes = hostWrites(s.direction);
  f.use(RT, "StructView");
  members.push(member(`Bytes in one ${s.name}.`, [`static readonly SIZE = ${s.size};`]));
  members.push(member(`Offsets, sizes and bit positions of ${s.name}'s fields.`, [`static readonly LAYOUT = ${layoutName(s)};`]));
  if (writes) {
    f.use(RT, "DmaResolver", true);
    members.push(member(`Writes all ${s.size} bytes of a ${s.name} at \`offset\`: the given fields, zero everywhere else.`, method(`static encode(view: DataView, offset: number, init: ${s.name}Init, ${usesDma(s.fields) ? "dma" : "_dma"}?: DmaResolver): void`, encodeBody(s, needs))));
  }
  if (named(s).some(decodesBytes)) f.use(RT, "copyBytes");
  members.push(member(`Reads a ${s.name} at \`offset\` into a plain object (a copy).`, method(`static decode(view: DataView, offset: number): ${s.name}Data`, [`return {\n${named(s).map((fld) => `  ${camel(fld.name)}: ${decodeExpr(s.name, fld, "offset")},`).join("\n")}\n};`])));
  for (const fld of named(s)) {
    const name = camel(fld.name);
    const doc = fieldDoc(fld);
    const es = elementSize(fld);
    const here = at(O, fld.offset);
    const label = str(`${s.name}.${fld.name}`);
    if (fld.count > 1) {
      const elem = `${here} + i${es === 1 ? "" : ` * ${es}`}`;
      const check = `if (!(i >= 0 && i < ${fld.count})) throw new RangeError(\`${s.name}.${fld.name}[\${i}] is outside 0..${fld.count - 1}\`);`;
      if (fld.type.kind === "scalar" && fld.type.type === "u8") {
        members.push(member(`${doc} A live view of the bytes.`, [`get ${name}(): Uint8Array { return new Uint8Array(${V}.buffer, ${V}.byteOffset + ${here}, ${fld.count}); }`]));
      } else if (fld.type.kind === "struct") {
        members.push(member(doc, method(`${name}At(i: number): ${fld.type.struct}`, [check, `return new ${fld.type.struct}(${V}, ${elem}, this.dma);`])));
      } else if (fld.type.kind === "dma-address") {
        members.push(member(doc, method(`${name}At(i: number): bigint`, [check, `return ${V}.getBigUint64(${elem}${le(fld, 8)});`])));
      } else if (fld.type.kind === "scalar") {
        const t = isWide(fld) ? "bigint" : (fld.enumName ?? "number");
        members.push(member(doc, method(`${name}At(i: number): ${t}`, [check, `return ${V}.get${accessor(fld)}(${elem}${le(fld, es)})${fld.enumName ? ` as ${fld.enumName}` : ""};`])));
        if (writes) members.push(member(undefined, method(`set${pascal(fld.name)}At(i: number, v: ${t}): void`, [check, `${V}.set${accessor(fld)}(${elem}, v${le(fld, es)});`])));
      }
      continue;
    }
    if (fld.type.kind === "struct") {
      members.push(member(doc, [`get ${name}(): ${fld.type.struct} { return new ${fld.type.struct}(${V}, ${here}, this.dma); }`]));
      continue;
    }
    if (fld.type.kind === "dma-address") {
      const code = [`get ${name}(): bigint { return ${V}.getBigUint64(${here}${le(fld, 8)}); }`];
      if (writes) {
        const little = fld.endian === "little";
        needs.runtime.add("dmaAddress");
        f.use(RT, "DmaRef", true);
        code.push(
          ...method(`set ${name}(ref: DmaRef)`, [
            `const a = dmaAddress(this.dma, ref, ${label});`,
            `${V}.setUint32(${at(O, fld.offset + (little ? 0 : 4))}, a >>> 0, ${little});`,
            `${V}.setUint32(${at(O, fld.offset + (little ? 4 : 0))}, (a / 0x100000000) >>> 0, ${little});`,
          ]),
        );
      }
      members.push(member(doc, code));
      continue;
    }
    const t = isWide(fld) ? "bigint" : (fld.enumName ?? "number");
    const acc = accessor(fld);
    const read = `${V}.get${acc}(${here}${le(fld, es)})`;
    const code = [`get ${name}(): ${t} { return ${read}${fld.enumName ? ` as ${fld.enumName}` : ""}; }`];
    if (writes) code.push(`set ${name}(v: ${t}) { ${V}.set${acc}(${here}, v${le(fld, es)}); }`);
    members.push(member(doc, code));
    // Bit fields: read the word, or read-modify-write it (no object made per call).
    for (const b of fld.bitfields) {
      const bname = camel(`${fld.name}_${b.name}`);
      const bt = bitValueType(b);
      const bcode = [`get ${bname}(): ${bt} { return ${unpackExpr(fld, b, read)}; }`];
      if (writes) {
        let merged: string;
        if (isWide(fld)) {
          const width = (1n << BigInt(b.width)) - 1n;
          const v = b.width > 32 ? "v" : "BigInt(v)";
          merged = `BigInt.asUintN(64, (${read} & ~0x${(width << BigInt(b.lsb)).toString(16)}n) | ((${v} & 0x${width.toString(16)}n)${b.lsb === 0 ? "" : ` << ${b.lsb}n`}))`;
        } else {
          const width = 2 ** b.width - 1;
          const value = b.width >= 32 ? "v" : `(v & 0x${width.toString(16)})`;
          merged = `(${read} & ~0x${(width * 2 ** b.lsb).toString(16)}) | ${b.lsb === 0 ? value : `(${value} << ${b.lsb})`}`;
        }
        bcode.push(`set ${bname}(v: ${bt}) { ${V}.set${acc}(${here}, ${merged}${le(fld, es)}); }`);
      }
      members.push(member(`${bitsText(b)} of ${fld.name}.${b.doc ? ` ${b.doc}` : ""}`, bcode));
    }
  }
  const what = writes ? "Accessors read and write the entry in place." : "Written by the device: getters read the entry in place.";
  const doc = docText(`${s.doc ? `${s.doc}\n\n` : ""}${s.size} bytes, ${s.endian} endian. ${what}`, s.source, `struct ${s.name}`);
  return `${docBlock(doc)}\nexport class ${s.name} extends StructView {\n${members.join("\n\n")}\n}`;
}

/**
 * The LAYOUT table lives in a module const: written as a class property initializer, ts-morph would
 * indent the object literal one level too deep. The underscore keeps it apart from every generated
 * PascalCase name.
 */
function layoutName(s: StructModel): string {
  return `${s.name}_LAYOUT`;
}

function layoutConst(s: StructModel): string {
  const entries = named(s).map((fld) => {
    const type = fld.type.kind === "scalar" ? fld.type.type : fld.type.kind === "struct" ? fld.type.struct : fld.type.kind;
    const bits = fld.bitfields.length > 0 ? `, bits: { ${fld.bitfields.map((b) => `${camel(b.name)}: { lsb: ${b.lsb}, width: ${b.width} }`).join(", ")} }` : "";
    return `${camel(fld.name)}: { offset: ${fld.offset}, size: ${fld.size}, count: ${fld.count}, type: ${str(type)}${bits} },`;
  });
  return constStatement(`Offsets, sizes and bit positions of ${s.name}'s fields (${s.name}.LAYOUT).`, layoutName(s), `${objectLiteral(entries)} as const`, false);
}
