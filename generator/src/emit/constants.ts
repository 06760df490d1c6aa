// src/constants.ts: one `export const NAME = value;` per description constant, in YAML order.
import { constStatement, TsFile } from "./ts.ts";
import { docText, num, type EmitContext } from "./util.ts";

export function constantsFile(ctx: EmitContext): TsFile {
  const f = new TsFile();
  for (const c of ctx.model.constants) {
    f.add(constStatement(docText(c.doc, c.source, `constant ${c.name}`), c.name, num(c.value)));
  }
  if (ctx.model.constants.length === 0) f.add("export {};");
  return f;
}
