// src/commands.ts: per command an interface `XParams` and `encodeX(view, offset, p, dma?)`, which
// writes a whole entry of the command's struct: fixed values (the opcode...), the params, and zero
// in every other byte, each byte once.
import { StructureKind } from "ts-morph";
import type { CommandModel, StructFieldModel } from "../model.ts";
import { bitWordDecls, encodeField, extentCode, initType, newNeeds, placeText, zeroRange, at, elementSize, isWide, usesDma } from "./fields.ts";
import { gaps, localName } from "./structs.ts";
import { addRequestUnions } from "./requests.ts";
import { listClassName, listParamCode, listParamDoc } from "./lists.ts";
import { TsFile } from "./ts.ts";
import { camel, docText, hex, memberDoc, pascal, type EmitContext } from "./util.ts";

const RT = "@warpdrive/runtime";

export function commandFunctionName(c: CommandModel): string {
  return `encode${pascal(c.name)}`;
}
export function paramsTypeName(c: CommandModel): string {
  return `${pascal(c.name)}Params`;
}

/** The field as the param sees it: named after the param (types, locals). */
function paramField(p: CommandModel["params"][number]): StructFieldModel {
  return { ...p.field, name: p.name };
}

export function commandsFile(ctx: EmitContext): TsFile {
  const f = new TsFile();
  const needs = newNeeds();
  for (const c of ctx.model.commands) {
    for (const p of c.params) {
      const fld = paramField(p);
      if (fld.enumName) f.use("./enums.ts", fld.enumName, true);
      if (fld.type.kind === "dma-address") f.use(RT, "DmaRef", true);
      if (fld.type.kind === "struct") f.use("./structs.ts", fld.type.struct);
      if (fld.bitfields.length > 0) {
        for (const b of fld.bitfields) if (b.enumName) f.use("./enums.ts", b.enumName, true);
        f.add(...bitWordDecls(c.name, { ...fld, source: p.source }, `${c.name}'s ${p.name}`, true));
      }
    }
    f.use(RT, "DmaResolver", true);
    f.add(paramsInterface(c, f), encodeFunction(c, needs, f));
  }
  addRequestUnions(ctx, f); // per queue: its commands as one discriminated union (requests.ts)
  for (const name of [...needs.runtime].sort()) f.use(RT, name);
  if (ctx.model.commands.length === 0) f.add("export {};");
  return f;
}

function paramsInterface(c: CommandModel, f: TsFile) {
  return {
    kind: StructureKind.Interface as const,
    isExported: true,
    name: paramsTypeName(c),
    docs: [docText(`Parameters of ${c.name}${c.doc ? `: ${c.doc}` : "."}`, c.source, `command ${c.name}`)],
    properties: c.params.map((p) => {
      const fld = paramField(p);
      const from = p.fromField ? ` ${c.struct}.${p.fromField}.` : "";
      const doc = `${placeText(fld)}.${from}${p.doc ?? p.field.doc ? ` ${p.doc ?? p.field.doc}` : ""}${p.listCount ? ` ${listParamDoc(p)}` : ""}`;
      // a list param takes the generated list class (emit/lists.ts), not a bare address
      const type = p.listCount ? f.use("./structs.ts", listClassName(p.field.dma!.list!.of)) : initType(c.name, fld);
      return { name: camel(p.name), hasQuestionToken: true, type, docs: [memberDoc(doc)] };
    }),
  };
}

function overlaps(a: { offset: number; size: number }, b: { offset: number; size: number }): boolean {
  return a.offset < b.offset + b.size && b.offset < a.offset + a.size;
}

/** The statement writing a fixed value into a struct field (raw, whatever the field's type). */
function fixedWrite(fld: StructFieldModel, value: number): string {
  const es = elementSize(fld);
  const endian = es === 1 ? "" : `, ${fld.endian === "little"}`;
  if (isWide(fld)) return `view.set${fld.type.kind === "scalar" && fld.type.type === "i64" ? "BigInt64" : "BigUint64"}(${at("offset", fld.offset)}, ${hex(value)}n${endian});`;
  const acc = fld.type.kind === "scalar" ? { u8: "Uint8", u16: "Uint16", u32: "Uint32", i8: "Int8", i16: "Int16", i32: "Int32" }[fld.type.type as "u8"] : "Uint8";
  return `view.set${acc}(${at("offset", fld.offset)}, ${hex(value)}${endian}); // ${fld.name}`;
}

function encodeFunction(c: CommandModel, needs: ReturnType<typeof newNeeds>, f: TsFile) {
  const s = c.structDef;
  const covered = [...c.fixed.map((x) => x.def), ...c.params.flatMap((p) => (p.listCount ? [p.field, p.listCount] : [p.field]))];
  const writes: string[] = [];
  for (const [a, b] of gaps(s.size, covered)) {
    if (b - a > 32) needs.runtime.add("zeroBytes");
    writes.push(...zeroRange("offset", a, b - a));
  }
  for (const x of c.fixed) writes.push(fixedWrite(x.def, x.value));
  needs.runtime.add("badRequest");
  const reads: string[] = [`if (typeof p !== "object" || p === null || Array.isArray(p)) throw badRequest(${JSON.stringify(c.name)}, p);`];
  // the model resolved an extent's names to params (read from their locals) or numbers
  const local = (param: string) => `(${localName(param)} ?? 0)`;
  for (const p of c.params) {
    const fld = paramField(p);
    const label = p.fromField ? `${c.struct}.${p.fromField}` : `${c.name}.${p.name}`;
    const code = p.listCount
      ? listParamCode(p, `p.${camel(p.name)}`, localName(p.name), label, needs, f)
      : encodeField(fld, `p.${camel(p.name)}`, "offset", label, needs, localName(p.name), c.name, extentCode(fld, local));
    reads.push(...code.read);
    // A param laid over a fixed value only replaces it when given.
    if (c.fixed.some((x) => overlaps(x.def, p.field))) {
      writes.push(`if (${localName(p.name)} !== undefined) {`, ...code.write.map((l) => `  ${l}`), "}");
    } else writes.push(...code.write);
  }
  const lines = [...reads, ...writes];
  const fixedDoc = c.fixed.map((x) => `${x.field} = ${hex(x.value)}`).join(", ");
  return {
    kind: StructureKind.Function as const,
    isExported: true,
    name: commandFunctionName(c),
    docs: [
      docText(
        `Encodes ${c.name} as a ${c.struct} at \`offset\`${fixedDoc ? ` (${fixedDoc})` : ""}; bytes no param covers are zero.${c.doc ? ` ${c.doc}` : ""}`,
        c.source,
        `command ${c.name}`,
      ),
    ],
    parameters: [
      { name: "view", type: "DataView" },
      { name: "offset", type: "number" },
      { name: "p", type: paramsTypeName(c) },
      { name: usesDma(c.params.map((p) => p.field)) ? "dma" : "_dma", type: "DmaResolver", hasQuestionToken: true },
    ],
    returnType: "void",
    statements: [lines.join("\n")],
  };
}
