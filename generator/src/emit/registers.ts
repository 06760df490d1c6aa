// src/registers.ts: per register with fields an interface `XFields` (the decoded values) and a const
// `XLayout` (bit positions and access, the runtime's FieldLayout); per region a const `XOffsets` and a
// class `XRegisters` holding one runtime register object per register. Access rules are types:
// read-only registers get a class without write methods, write-only ones a class without reads.
import { StructureKind } from "ts-morph";
import type { FieldModel, RegionModel, RegisterModel } from "../model.ts";
import { constStatement, objectLiteral, TsFile } from "./ts.ts";
import { camel, docText, hex, pascal, str, type EmitContext } from "./util.ts";

const RT = "@warpdrive/runtime";

/** TypeScript type of a bit field's value: its enum, a number up to 32 bits, a bigint above. */
export function fieldValueType(f: FieldModel): string {
  if (f.enumName) return f.enumName;
  return f.width > 32 ? "bigint" : "number";
}

/** Names of the generated types for one register; prefixed by region only when names would clash. */
export function registerTypeName(ctx: EmitContext, region: RegionModel, reg: RegisterModel): string {
  const clash = ctx.model.regions.some((r) => r !== region && r.registers.some((x) => x.name === reg.name));
  return clash ? pascal(region.name) + pascal(reg.name) : pascal(reg.name);
}

export function regionClassName(region: RegionModel): string {
  return `${pascal(region.name)}Registers`;
}

/** The runtime class for a register: access decides Ro/Wo/Rw, width the suffix. */
export function registerClass(reg: RegisterModel): string {
  if (reg.dmaAddress && reg.access !== "ro" && reg.access !== "rc") {
    if (reg.width === 64) return "DmaAddrReg";
    if (reg.width === 32) return "DmaAddrReg32";
  }
  const kind = reg.access === "ro" || reg.access === "rc" ? "Ro" : reg.access === "wo" ? "Wo" : "Rw";
  return `${kind}Reg${reg.width}`;
}

export function isReadable(reg: RegisterModel): boolean {
  return reg.access !== "wo";
}
export function isWritable(reg: RegisterModel): boolean {
  return reg.access !== "ro" && reg.access !== "rc";
}

export function registersFile(ctx: EmitContext): TsFile {
  const f = new TsFile();
  const hasEnum = new Set<string>();
  for (const region of ctx.model.regions) {
    for (const reg of region.registers) {
      if (reg.fields.length === 0) continue;
      const name = registerTypeName(ctx, region, reg);
      for (const fld of reg.fields) if (fld.enumName) hasEnum.add(fld.enumName);
      f.add(
        {
          kind: StructureKind.Interface,
          isExported: true,
          name: `${name}Fields`,
          docs: [docText(`Fields of ${region.name}.${reg.name}.`, reg.source, `register ${reg.name}`)],
          properties: reg.fields.map((fld) => ({
            name: camel(fld.name),
            type: fieldValueType(fld),
            docs: [docText(fieldDoc(fld), fld.source, `${reg.name}.${fld.name}`)],
          })),
        },
        ...writableType(reg, name),
        constStatement(
          docText(`Bit positions and access of ${region.name}.${reg.name}'s fields.`, reg.source),
          `${name}Layout`,
          `${objectLiteral(reg.fields.map((fld) => `${camel(fld.name)}: { lsb: ${fld.lsb}, width: ${fld.width}, access: ${str(fld.access)} },`))} as const satisfies FieldLayout`,
        ),
      );
      f.use(RT, "FieldLayout", true);
    }
  }
  for (const e of [...hasEnum].sort()) f.use("./enums.ts", e, true);
  for (const region of ctx.model.regions) {
    f.add(offsets(region), regionClass(ctx, f, region));
  }
  if (ctx.model.regions.length === 0) f.add("export {};");
  return f;
}

function fieldDoc(fld: FieldModel): string {
  const bits = fld.width === 1 ? `Bit ${fld.lsb}` : `Bits ${fld.lsb + fld.width - 1}:${fld.lsb}`;
  return `${bits}, ${fld.access}.${fld.doc ? ` ${fld.doc}` : ""}`;
}

function offsets(region: RegionModel): string {
  return constStatement(
    docText(`Byte offsets of ${region.name}'s registers (the first element of an array).`, region.source),
    `${pascal(region.name)}Offsets`,
    `${objectLiteral(region.registers.map((reg) => `${camel(reg.name)}: ${hex(reg.offset)},`))} as const`,
  );
}

/** Fields a write may not name: read-only ones (ro, rc). */
function readOnlyFields(reg: RegisterModel): FieldModel[] {
  return reg.fields.filter((f) => f.access === "ro" || f.access === "rc");
}

/**
 * For a writable register with read-only fields: `XWritableFields`, the fields writeFields/modify
 * take, so `writeFields({ computing: 1 })` on a read-only bit does not type-check.
 */
function writableType(reg: RegisterModel, name: string) {
  const ro = readOnlyFields(reg);
  if (ro.length === 0 || ro.length === reg.fields.length || reg.access === "ro" || reg.access === "rc") return [];
  return [
    {
      kind: StructureKind.TypeAlias as const,
      isExported: true,
      name: `${name}WritableFields`,
      type: `Omit<${name}Fields, ${ro.map((f) => str(camel(f.name))).join(" | ")}>`,
      docs: [docText(`Fields of ${reg.name} a write may set (${ro.map((f) => f.name).join(", ")} ${ro.length === 1 ? "is" : "are"} read-only).`, reg.source)],
    },
  ];
}

/** `RwReg32<CcFields>` (`, CcWritableFields` when some fields are read-only) or the bare class. */
function registerType(ctx: EmitContext, region: RegionModel, reg: RegisterModel): string {
  const cls = registerClass(reg);
  if (cls.startsWith("DmaAddrReg") || reg.fields.length === 0) return cls;
  const name = registerTypeName(ctx, region, reg);
  return writableType(reg, name).length > 0 ? `${cls}<${name}Fields, ${name}WritableFields>` : `${cls}<${name}Fields>`;
}

function regionClass(ctx: EmitContext, f: TsFile, region: RegionModel) {
  f.use(RT, "RegisterIo", true);
  f.use(RT, "DmaResolver", true);
  const ctor: string[] = [];
  const props = region.registers.map((reg) => {
    const cls = registerClass(reg);
    f.use(RT, cls);
    const type = registerType(ctx, region, reg);
    const layoutArg = reg.fields.length > 0 ? `${registerTypeName(ctx, region, reg)}Layout` : "undefined";
    const label = str(`${region.name}.${reg.name}`);
    let full = type;
    if (reg.count > 1) {
      f.use(RT, "RegArray");
      full = `RegArray<${type}>`;
      ctor.push(`this.${camel(reg.name)} = new RegArray<${type}>(io, ${hex(reg.offset)}, ${reg.count}, ${reg.stride}, ${cls}, ${layoutArg}, dma, ${label});`);
    } else {
      ctor.push(`this.${camel(reg.name)} = new ${type}(io, ${hex(reg.offset)}, ${layoutArg}, dma, ${label});`);
    }
    const arr = reg.count > 1 ? ` ${reg.count} elements, ${reg.stride} bytes apart.` : "";
    const doc = `${hex(reg.offset)}, ${reg.width}-bit, ${reg.access}${reg.dmaAddress ? ", bus address" : ""}.${arr}${reg.doc ? ` ${reg.doc}` : ""}`;
    return {
      name: camel(reg.name),
      isReadonly: true,
      type: full,
      docs: [docText(doc, reg.source, `register ${reg.name}`)],
    };
  });
  return {
    kind: StructureKind.Class as const,
    isExported: true,
    name: regionClassName(region),
    docs: [docText(`${region.name}: ${region.kind} ${region.capability === undefined ? `region ${region.index}` : `region found through PCI capability cfg_type ${region.capability.cfgType}`}, ${hex(region.size)} bytes.${region.doc ? ` ${region.doc}` : ""}`, region.source, `region ${region.name}`)],
    properties: props,
    ctors: [
      {
        docs: [docText(`Register objects over \`io\` (the mapped region); \`dma\` checks bus-address writes.`, region.source)],
        parameters: [
          { name: "io", type: "RegisterIo" },
          { name: "dma", type: "DmaResolver", hasQuestionToken: true },
        ],
        statements: ctor,
      },
    ],
  };
}
