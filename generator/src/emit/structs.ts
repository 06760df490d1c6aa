// src/structs.ts: per struct an `XInit` (what encode takes, every field optional), an `XData` (what
// decode returns) and a class `X` with SIZE, LAYOUT, static encode/decode and live accessors over a
// DataView. Encoders are straight-line DataView calls at constant offsets: each byte of the entry is
// written exactly once (the value, or zero for absent fields, reserved bytes and gaps), which is the
// zero-fill-then-write the contract asks for without touching memory twice.
import { StructureKind, type ClassDeclarationStructure, type OptionalKind, type GetAccessorDeclarationStructure, type SetAccessorDeclarationStructure, type MethodDeclarationStructure } from "ts-morph";
import type { ConstantModel, StructFieldModel, StructModel } from "../model.ts";
import {
  accessor,
  bitValueType,
  bitsTypeName,
  dataType,
  decodeExpr,
  decodesBytes,
  elementSize,
  bitsConst,
  encodeField,
  extentCode,
  initType,
  isWide,
  le,
  newNeeds,
  packExpr,
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
import { camel, docText, pascal, str, type EmitContext } from "./util.ts";

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

/** Emits interfaces and pack/unpack helpers for one bitfield word. */
export function bitfieldDecls(f: TsFile, owner: string, fld: StructFieldModel, where: string): void {
  for (const b of fld.bitfields) if (b.enumName) f.use("./enums.ts", b.enumName, true);
  const type = bitsTypeName(owner, fld);
  f.add(bitsConst(owner, fld));
  f.add({
    kind: StructureKind.Interface,
    isExported: true,
    name: type,
    docs: [docText(`Bit fields of ${where}.`, fld.source, `${where}`)],
    properties: fld.bitfields.map((b) => ({
      name: camel(b.name),
      type: bitValueType(b),
      docs: [docText(`${b.width === 1 ? `Bit ${b.lsb}` : `Bits ${b.lsb + b.width - 1}:${b.lsb}`}.${b.doc ? ` ${b.doc}` : ""}`, b.source, `${where}.${b.name}`)],
    })),
  });
  const wordType = isWide(fld) ? "bigint" : "number";
  f.add({
    kind: StructureKind.Function,
    name: `unpack${type.replace(/Fields$/, "")}`,
    docs: [docText(`Splits a ${where} word into its bit fields.`, fld.source)],
    parameters: [{ name: "w", type: wordType }],
    returnType: type,
    statements: [
      `return {\n${fld.bitfields.map((b) => `  ${camel(b.name)}: ${unpackExpr(fld, b, "w")},`).join("\n")}\n};`,
    ],
  });
}

export function structsFile(ctx: EmitContext): TsFile {
  const f = new TsFile();
  const needs = newNeeds();
  for (const s of ctx.model.structs) {
    for (const fld of named(s)) {
      if (fld.enumName) f.use("./enums.ts", fld.enumName, true);
      if (fld.bitfields.length > 0) bitfieldDecls(f, s.name, fld, `${s.name}.${fld.name}`);
      if (fld.type.kind === "dma-address") {
        f.use(RT, "DmaRef", true);
      }
    }
    f.use(RT, "DmaResolver", true);
    f.add(initInterface(s), dataInterface(s), layoutConst(s), structClass(s, needs, f, ctx.model.constants));
    variantDecls(f, s, needs, ctx.model.constants); // emit/variants.ts: nothing unless the struct has variants
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
      docs: [docText(fieldDoc(fld), fld.source, `${s.name}.${fld.name}`)],
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
      docs: [docText(fieldDoc(fld), fld.source, `${s.name}.${fld.name}`)],
    })),
  };
}

/**
 * Statements of `X.encode`: the request checked to be an object, every field read once into a local
 * and checked, then every field and every gap written, in offset order.
 */
export function encodeBody(s: StructModel, needs: EncodeNeeds, constants: ConstantModel[]): string[] {
  needs.runtime.add("badRequest");
  const reads: string[] = [`if (typeof init !== "object" || init === null || Array.isArray(init)) throw badRequest(${str(s.name)}, init);`];
  const ops: { offset: number; code: string[] }[] = [];
  const local = (n: string) => `(${localName(n)} ?? 0)`;
  for (const fld of s.fields) {
    const code = encodeField(fld, `init.${camel(fld.name)}`, "offset", `${s.name}.${fld.name}`, needs, localName(fld.name), s.name, extentCode(fld, constants, local));
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

function structClass(s: StructModel, needs: EncodeNeeds, f: TsFile, constants: ConstantModel[]): OptionalKind<ClassDeclarationStructure> & { kind: StructureKind.Class } {
  const getters: OptionalKind<GetAccessorDeclarationStructure>[] = [];
  const setters: OptionalKind<SetAccessorDeclarationStructure>[] = [];
  const methods: OptionalKind<MethodDeclarationStructure>[] = [];
  const V = "this.#view";
  const O = "this.#offset";
  // Structs without bus addresses (directly or nested) never touch the resolver: no unused members.
  const dmaUsed = usesDma(s.fields);
  for (const fld of named(s)) {
    const name = camel(fld.name);
    const doc = [docText(fieldDoc(fld), fld.source, `${s.name}.${fld.name}`)];
    const es = elementSize(fld);
    const here = at(O, fld.offset);
    const label = str(`${s.name}.${fld.name}`);
    if (fld.count > 1) {
      const elem = `${here} + i${es === 1 ? "" : ` * ${es}`}`;
      const check = `if (!(i >= 0 && i < ${fld.count})) throw new RangeError(\`${s.name}.${fld.name}[\${i}] is outside 0..${fld.count - 1}\`);`;
      if (fld.type.kind === "scalar" && fld.type.type === "u8") {
        getters.push({ name, returnType: "Uint8Array", docs: [docText(`${fieldDoc(fld)} A live view of the bytes.`, fld.source, `${s.name}.${fld.name}`)], statements: [`return new Uint8Array(${V}.buffer, ${V}.byteOffset + ${here}, ${fld.count});`] });
      } else if (fld.type.kind === "struct") {
        methods.push({ name: `${name}At`, parameters: [{ name: "i", type: "number" }], returnType: fld.type.struct, docs: doc, statements: [check, `return new ${fld.type.struct}(${V}, ${elem}, this.#dma);`] });
      } else if (fld.type.kind === "dma-address") {
        methods.push({ name: `${name}At`, parameters: [{ name: "i", type: "number" }], returnType: "bigint", docs: doc, statements: [check, `return ${V}.getBigUint64(${elem}${le(fld, 8)});`] });
      } else if (fld.type.kind === "scalar") {
        const t = fld.type.type === "u64" || fld.type.type === "i64" ? "bigint" : (fld.enumName ?? "number");
        methods.push({ name: `${name}At`, parameters: [{ name: "i", type: "number" }], returnType: t, docs: doc, statements: [check, `return ${V}.get${accessor(fld)}(${elem}${le(fld, es)})${fld.enumName ? ` as ${fld.enumName}` : ""};`] });
        methods.push({ name: `set${pascal(fld.name)}At`, parameters: [{ name: "i", type: "number" }, { name: "v", type: t }], returnType: "void", docs: doc, statements: [check, `${V}.set${accessor(fld)}(${elem}, v${le(fld, es)});`] });
      }
      continue;
    }
    if (fld.type.kind === "struct") {
      getters.push({ name, returnType: fld.type.struct, docs: doc, statements: [`return new ${fld.type.struct}(${V}, ${here}, this.#dma);`] });
      continue;
    }
    if (fld.type.kind === "dma-address") {
      getters.push({ name, returnType: "bigint", docs: doc, statements: [`return ${V}.getBigUint64(${here}${le(fld, 8)});`] });
      const little = fld.endian === "little";
      setters.push({
        name,
        parameters: [{ name: "ref", type: "DmaRef" }],
        statements: [
          `const a = dmaAddress(this.#dma, ref, ${label});`,
          `${V}.setUint32(${at(O, fld.offset + (little ? 0 : 4))}, a >>> 0, ${little});`,
          `${V}.setUint32(${at(O, fld.offset + (little ? 4 : 0))}, (a / 0x100000000) >>> 0, ${little});`,
        ],
      });
      needs.runtime.add("dmaAddress");
      continue;
    }
    const t = isWide(fld) ? "bigint" : (fld.enumName ?? "number");
    const acc = accessor(fld);
    getters.push({ name, returnType: t, docs: doc, statements: [`return ${V}.get${acc}(${here}${le(fld, es)})${fld.enumName ? ` as ${fld.enumName}` : ""};`] });
    setters.push({ name, parameters: [{ name: "v", type: t }], statements: [`${V}.set${acc}(${here}, v${le(fld, es)});`] });
    // Bit fields: read-modify-write of the containing word.
    for (const b of fld.bitfields) {
      const bname = camel(`${fld.name}_${b.name}`);
      const bt = bitValueType(b);
      const bdoc = [docText(`${b.width === 1 ? `Bit ${b.lsb}` : `Bits ${b.lsb + b.width - 1}:${b.lsb}`} of ${fld.name}.${b.doc ? ` ${b.doc}` : ""}`, b.source, `${s.name}.${fld.name}.${b.name}`)];
      getters.push({ name: bname, returnType: bt, docs: bdoc, statements: [`const w = ${V}.get${acc}(${here}${le(fld, es)});`, `return ${unpackExpr(fld, b, "w")};`] });
      const obj = `{ ${camel(b.name)}: v }`;
      let merge: string;
      if (isWide(fld)) {
        const mask = ((1n << BigInt(b.width)) - 1n) << BigInt(b.lsb);
        merge = `(w & ~0x${mask.toString(16)}n) | ${packExpr({ ...fld, bitfields: [b] }, "o")}`;
      } else {
        const mask = (2 ** b.width - 1) * 2 ** b.lsb;
        merge = `(w & ~0x${mask.toString(16)}) | ${packExpr({ ...fld, bitfields: [b] }, "o")}`;
      }
      setters.push({
        name: bname,
        parameters: [{ name: "v", type: bt }],
        statements: [`const w = ${V}.get${acc}(${here}${le(fld, es)});`, `const o = ${obj};`, `${V}.set${acc}(${here}, ${isWide(fld) ? `BigInt.asUintN(64, ${merge})` : merge}${le(fld, es)});`],
      });
    }
  }
  if (named(s).some(decodesBytes)) f.use(RT, "copyBytes");
  const decode = [`return {\n${named(s).map((fld) => `  ${camel(fld.name)}: ${decodeExpr(s.name, fld, "offset")},`).join("\n")}\n};`];
  if (needs.runtime.has("dmaAddress")) f.use(RT, "DmaRef", true);
  return {
    kind: StructureKind.Class,
    isExported: true,
    name: s.name,
    docs: [docText(`${s.doc ? `${s.doc}\n\n` : ""}${s.size} bytes, ${s.endian} endian. Accessors read and write the entry in place.`, s.source, `struct ${s.name}`)],
    properties: [
      { name: "SIZE", isStatic: true, isReadonly: true, initializer: String(s.size), docs: [docText(`Bytes in one ${s.name}.`, s.source)] },
      { name: "LAYOUT", isStatic: true, isReadonly: true, initializer: layoutName(s), docs: [docText(`Offsets, sizes and bit positions of ${s.name}'s fields.`, s.source)] },
      { name: "#view", isReadonly: true, type: "DataView", docs: [docText("The memory holding the entry.", s.source)] },
      { name: "#offset", type: "number", docs: [docText("Byte offset of the entry in the view.", s.source)] },
      ...(dmaUsed ? [{ name: "#dma", isReadonly: true, type: "DmaResolver | undefined", docs: [docText("Resolves DmaRefs written through the setters.", s.source)] }] : []),
    ],
    ctors: [
      {
        docs: [docText(`A ${s.name} at byte \`offset\` of \`view\`; \`dma\` resolves bus-address fields.`, s.source)],
        parameters: [
          { name: "view", type: "DataView" },
          { name: "offset", initializer: "0" },
          { name: dmaUsed ? "dma" : "_dma", type: "DmaResolver", hasQuestionToken: true },
        ],
        statements: ["this.#view = view;", "this.#offset = offset;", ...(dmaUsed ? ["this.#dma = dma;"] : [])],
      },
    ],
    methods: [
      {
        name: "encode",
        isStatic: true,
        docs: [docText(`Writes all ${s.size} bytes of a ${s.name} at \`offset\`: the given fields, zero everywhere else.`, s.source)],
        parameters: [
          { name: "view", type: "DataView" },
          { name: "offset", type: "number" },
          { name: "init", type: `${s.name}Init` },
          { name: dmaUsed ? "dma" : "_dma", type: "DmaResolver", hasQuestionToken: true },
        ],
        returnType: "void",
        statements: encodeBody(s, needs, constants),
      },
      {
        name: "decode",
        isStatic: true,
        docs: [docText(`Reads a ${s.name} at \`offset\` into a plain object.`, s.source)],
        parameters: [
          { name: "view", type: "DataView" },
          { name: "offset", type: "number" },
        ],
        returnType: `${s.name}Data`,
        statements: decode,
      },
      {
        name: "moveTo",
        docs: [docText(`Points this accessor at the ${s.name} at \`offset\` of the same view (a queue reuses one accessor for every completion).`, s.source)],
        parameters: [{ name: "offset", type: "number" }],
        returnType: "this",
        statements: ["this.#offset = offset;", "return this;"],
      },
      ...methods,
    ],
    getAccessors: getters,
    setAccessors: setters,
  };
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
  return constStatement(docText(`Offsets, sizes and bit positions of ${s.name}'s fields (${s.name}.LAYOUT).`, s.source), layoutName(s), `${objectLiteral(entries)} as const`, false);
}
