// A struct's variants, emitted into src/structs.ts after the struct: per case an `<S><Case>Init`
// (the case's fields only, a `variant` naming it, no selector to set) and `<S><Case>Data`; the
// unions `<S>VariantInit` / `<S>VariantData`; `encode<S>Variant` (writes all bytes: the case's
// fields, its selector value, zero elsewhere), `decode<S>Variant` (reads the selector and decodes
// in that case's terms, so a fill's pattern is a pattern and not the source address it lies over)
// and `<s>VariantOf` (which case an entry is). Encoding a fill with a dualcast's `dst2` does not
// type-check: the Init of each case has exactly its own fields.
import { StructureKind } from "ts-morph";
import type { StructFieldModel, StructModel, VariantCaseModel, VariantsModel } from "../model.ts";
import { accessor, at, bitWordDecls, bitsTypeName, dataType, decodeExpr, decodesBytes, elementSize, encodeField, extentCode, initType, le, placeText, usesDma, zeroRange, type EncodeNeeds } from "./fields.ts";
import { gaps, localName } from "./structs.ts";
import type { TsFile } from "./ts.ts";
import { camel, docBlock, docText, hex, memberDoc, pascal, str } from "./util.ts";

const RT = "@warpdrive/runtime";

export function caseTypeName(s: StructModel, c: VariantCaseModel): string {
  return `${s.name}${pascal(c.name)}`;
}
export function variantInitName(s: StructModel): string {
  return `${s.name}VariantInit`;
}
export function variantDataName(s: StructModel): string {
  return `${s.name}VariantData`;
}
export function encodeVariantName(s: StructModel): string {
  return `encode${s.name}Variant`;
}
export function decodeVariantName(s: StructModel): string {
  return `decode${s.name}Variant`;
}
export function variantOfName(s: StructModel): string {
  return `${camel(s.name)}VariantOf`;
}

/** The owner of a field's bit-field helpers: the case for its own fields, the struct for the rest. */
function owner(s: StructModel, c: VariantCaseModel, f: StructFieldModel): string {
  return c.own.includes(f.name) ? caseTypeName(s, c) : s.name;
}

/** Fields a caller gives: named, and not the selector when the selector is the whole field. */
function initFields(v: VariantsModel, c: VariantCaseModel): StructFieldModel[] {
  return c.fields.filter((f) => f.type.kind !== "reserved" && !(f.name === v.selector.field && v.selector.bits === undefined));
}

function selectorText(v: VariantsModel): string {
  return v.selector.bits ? `${v.selector.field}.${v.selector.bits.name}` : v.selector.field;
}

function fieldDoc(f: StructFieldModel): string {
  return `${placeText(f)}.${f.doc ? ` ${f.doc}` : ""}`;
}

/** Declarations of every struct's variants (none for a struct without). */
export function variantDecls(f: TsFile, s: StructModel, needs: EncodeNeeds): void {
  const v = s.variants;
  if (!v) return;
  const sel = v.selector.def;
  for (const c of v.cases) {
    for (const fld of c.fields) {
      if (!c.own.includes(fld.name)) continue;
      if (fld.enumName) f.use("./enums.ts", fld.enumName, true);
      if (fld.bitfields.length > 0) {
        for (const b of fld.bitfields) if (b.enumName) f.use("./enums.ts", b.enumName, true);
        // a case's own word: its table and its object form (the host writes every variant)
        f.add(...bitWordDecls(caseTypeName(s, c), fld, `${s.name}.${c.name}.${fld.name}`, true));
      }
    }
    f.add(caseInit(s, v, c), caseData(s, v, c), caseEncoder(s, v, c, sel, needs));
  }
  const known = `[${v.cases.map((c) => str(c.name)).join(", ")}]`;
  needs.runtime.add("badRequest").add("badVariant");
  f.add(
    `${docBlock(docText(`A ${s.name} in the terms of one of its variants (selected by ${selectorText(v)}): \`variant\` names the case, the other fields are that case's only.`, v.source, `${s.name}.variants`))}\nexport type ${variantInitName(s)} =\n${v.cases.map((c) => `  | ${caseTypeName(s, c)}Init`).join("\n")};`,
    `${docBlock(docText(`A ${s.name} decoded in the terms of its variant.`, v.source, `${s.name}.variants`))}\nexport type ${variantDataName(s)} =\n${v.cases.map((c) => `  | ${caseTypeName(s, c)}Data`).join("\n")};`,
  );
  const dmaUsed = v.cases.some((c) => usesDma(c.fields));
  f.use(RT, "DmaResolver", true);
  f.add({
    kind: StructureKind.Function,
    isExported: true,
    name: encodeVariantName(s),
    docs: [docText(`Writes all ${s.size} bytes of a ${s.name} in the terms of \`init.variant\`: its fields, its ${selectorText(v)} value, zero everywhere else. An unknown variant is a RangeError naming the known ones.`, v.source, `${s.name}.variants`)],
    parameters: [
      { name: "view", type: "DataView" },
      { name: "offset", type: "number" },
      { name: "init", type: variantInitName(s) },
      { name: dmaUsed ? "dma" : "_dma", type: "DmaResolver", hasQuestionToken: true },
    ],
    returnType: "void",
    statements: [
      [
        `if (typeof init !== "object" || init === null || Array.isArray(init)) throw badRequest(${str(`${s.name} variant`)}, init);`,
        "const variant = init.variant;",
        "switch (variant) {",
        ...v.cases.flatMap((c) => [`  case ${str(c.name)}:`, `    return encode${caseTypeName(s, c)}(view, offset, init${usesDma(c.fields) ? ", dma" : ""});`]),
        "  default:",
        `    throw badVariant(${str(s.name)}, variant, ${known});`,
        "}",
      ].join("\n"),
    ],
  });
  const read = selectorRead(sel, v);
  f.add({
    kind: StructureKind.Function,
    isExported: true,
    name: variantOfName(s),
    docs: [docText(`The variant of the ${s.name} at \`offset\` (by its ${selectorText(v)}), or undefined when the value selects none.`, v.source, `${s.name}.variants`)],
    parameters: [
      { name: "view", type: "DataView" },
      { name: "offset", type: "number" },
    ],
    returnType: `${variantDataName(s)}["variant"] | undefined`,
    statements: [[`switch (${read}) {`, ...v.cases.flatMap((c) => [`  case ${hex(c.value)}:`, `    return ${str(c.name)};`]), "  default:", "    return undefined;", "}"].join("\n")],
  });
  if (v.cases.some((c) => c.fields.some(decodesBytes))) f.use(RT, "copyBytes");
  f.add({
    kind: StructureKind.Function,
    isExported: true,
    name: decodeVariantName(s),
    docs: [docText(`Reads the ${s.name} at \`offset\` in the terms of its variant (by its ${selectorText(v)}), or undefined when the value selects none.`, v.source, `${s.name}.variants`)],
    parameters: [
      { name: "view", type: "DataView" },
      { name: "offset", type: "number" },
    ],
    returnType: `${variantDataName(s)} | undefined`,
    statements: [
      [
        `switch (${read}) {`,
        ...v.cases.flatMap((c) => {
          const named = c.fields.filter((x) => x.type.kind !== "reserved");
          return [`  case ${hex(c.value)}:`, `    return {`, `      variant: ${str(c.name)},`, ...named.map((x) => `      ${camel(x.name)}: ${decodeExpr(owner(s, c, x), x, "offset")},`), `    };`];
        }),
        "  default:",
        "    return undefined;",
        "}",
      ].join("\n"),
    ],
  });
}

/** The selector's value as the expression reading it from `view` at `offset`. */
function selectorRead(sel: StructFieldModel, v: VariantsModel): string {
  const word = `view.get${accessor(sel)}(${at("offset", sel.offset)}${le(sel, elementSize(sel))})`;
  const b = v.selector.bits;
  if (!b) return word;
  const shifted = b.lsb === 0 ? word : `(${word} >>> ${b.lsb})`;
  return b.lsb + b.width === elementSize(sel) * 8 ? shifted : `(${shifted} & ${hex(2 ** b.width - 1)})`;
}

function caseInit(s: StructModel, v: VariantsModel, c: VariantCaseModel) {
  const sel = v.selector;
  return {
    kind: StructureKind.Interface as const,
    isExported: true,
    name: `${caseTypeName(s, c)}Init`,
    docs: [docText(`Values to encode a ${s.name} as ${c.name} (${selectorText(v)} = ${hex(c.value)}, set by the encoder); absent fields are written as zero.${c.doc ? ` ${c.doc}` : ""}`, c.source, `${s.name} variant ${c.name}`)],
    properties: [
      { name: "variant", type: str(c.name), docs: [memberDoc(`Selects the ${c.name} layout.`)] },
      ...initFields(v, c).map((fld) => {
        // the selector's word: its other bit fields are the caller's, the selector bits are not
        const type = sel.bits && fld.name === sel.field ? `number | Partial<Omit<${bitsTypeName(s.name, fld)}, ${str(camel(sel.bits.name))}>>` : initType(owner(s, c, fld), fld);
        return { name: camel(fld.name), hasQuestionToken: true, type, docs: [memberDoc(fieldDoc(fld))] };
      }),
    ],
  };
}

function caseData(s: StructModel, v: VariantsModel, c: VariantCaseModel) {
  return {
    kind: StructureKind.Interface as const,
    isExported: true,
    name: `${caseTypeName(s, c)}Data`,
    docs: [docText(`A ${s.name} decoded as ${c.name} (${selectorText(v)} = ${hex(c.value)}).`, c.source, `${s.name} variant ${c.name}`)],
    properties: [
      { name: "variant", type: str(c.name), docs: [memberDoc(`The ${c.name} layout.`)] },
      ...c.fields
        .filter((x) => x.type.kind !== "reserved")
        .map((fld) => ({ name: camel(fld.name), type: dataType(owner(s, c, fld), fld), docs: [memberDoc(fieldDoc(fld))] })),
    ],
  };
}

/**
 * The module-local encoder of one case: every field read once and checked, then every field and
 * gap written in offset order, then the selector (its word read back and its bits set, when it is
 * a bit field; the whole field otherwise).
 */
function caseEncoder(s: StructModel, v: VariantsModel, c: VariantCaseModel, sel: StructFieldModel, needs: EncodeNeeds) {
  const typeName = caseTypeName(s, c);
  const reads: string[] = [];
  const ops: { offset: number; code: string[] }[] = [];
  const local = (n: string) => `(${localName(n)} ?? 0)`;
  const given = initFields(v, c);
  for (const fld of c.fields) {
    if (!given.includes(fld) && fld.type.kind !== "reserved") continue;
    const label = `${s.name}.${c.own.includes(fld.name) ? `${c.name}.` : ""}${fld.name}`;
    const code = encodeField(fld, `init.${camel(fld.name)}`, "offset", label, needs, localName(fld.name), owner(s, c, fld), extentCode(fld, local));
    reads.push(...code.read);
    ops.push({ offset: fld.offset, code: code.write });
  }
  for (const [a, b] of gaps(s.size, c.fields)) {
    if (b - a > 32) needs.runtime.add("zeroBytes");
    ops.push({ offset: a, code: zeroRange("offset", a, b - a) });
  }
  ops.sort((x, y) => x.offset - y.offset);
  const es = elementSize(sel);
  const acc = accessor(sel);
  const place = at("offset", sel.offset);
  const e = le(sel, es);
  let selWrite: string;
  const b = v.selector.bits;
  if (b) {
    const bits = es * 8;
    const keep = 2 ** bits - 1 - (2 ** b.width - 1) * 2 ** b.lsb;
    const set = c.value * 2 ** b.lsb;
    const merged = `(view.get${acc}(${place}${e}) & ${hex(keep)}) | ${hex(set)}`;
    selWrite = `view.set${acc}(${place}, ${bits === 32 ? `(${merged}) >>> 0` : merged}${e}); // ${selectorText(v)} = ${hex(c.value)}`;
  } else {
    selWrite = `view.set${acc}(${place}, ${hex(c.value)}${e}); // ${selectorText(v)}`;
  }
  const dmaUsed = usesDma(c.fields);
  return {
    kind: StructureKind.Function as const,
    name: `encode${typeName}`,
    docs: [docText(`Encodes a ${s.name} as ${c.name} (${selectorText(v)} = ${hex(c.value)}).`, c.source, `${s.name} variant ${c.name}`)],
    parameters: [
      { name: "view", type: "DataView" },
      { name: "offset", type: "number" },
      { name: "init", type: `${typeName}Init` },
      ...(dmaUsed ? [{ name: "dma", type: "DmaResolver | undefined" }] : []),
    ],
    returnType: "void",
    statements: [[...reads, ...ops.flatMap((o) => o.code), selWrite].join("\n")],
  };
}
