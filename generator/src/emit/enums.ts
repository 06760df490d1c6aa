// src/enums.ts: each enum is a frozen object of its members plus a type of the same name that is
// the union of the member values, so enum-typed fields reject out-of-range numbers at compile time.
import { StructureKind } from "ts-morph";
import type { EnumModel } from "../model.ts";
import { constStatement, objectLiteral, TsFile } from "./ts.ts";
import { docBlock, docText, num, type EmitContext } from "./util.ts";

export function enumsFile(ctx: EmitContext): TsFile {
  const f = new TsFile();
  for (const e of ctx.model.enums) {
    const doc = docText(e.doc, e.source, `enum ${e.name}`);
    f.add(
      constStatement(doc, e.name, `${objectLiteral(members(e))} as const`),
      {
        kind: StructureKind.TypeAlias,
        isExported: true,
        name: e.name,
        docs: [doc],
        type: `(typeof ${e.name})[keyof typeof ${e.name}]`,
      },
    );
  }
  if (ctx.model.enums.length === 0) f.add("export {};");
  return f;
}

function members(e: EnumModel): string[] {
  return e.members.map((m) => `${docBlock(docText(m.doc, m.source, `${e.name}.${m.name}`))}\n${m.name}: ${num(m.value)},`);
}
