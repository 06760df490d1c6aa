// Per queue, its commands as one discriminated union: `<Queue>Request` is `{ command: "fill" } &
// FillParams | ...`, so a request carries exactly the fields of its own command (a fill with a
// `dst2` does not type-check), `encode<Queue>Request` dispatches on `command`, and
// `<queue>RequestCommand` tells which command an entry was encoded by (the one whose fixed values it
// carries: the opcode and flags), so a decoder can read each entry in its own command's terms.
// Emitted into src/commands.ts, after the commands.
import type { CommandModel, QueueModel, StructFieldModel } from "../model.ts";
import { commandFunctionName, paramsTypeName } from "./commands.ts";
import { elementSize } from "./fields.ts";
import type { TsFile } from "./ts.ts";
import { camel, docBlock, docText, hex, pascal, str, type EmitContext } from "./util.ts";

const RT = "@warpdrive/runtime";

export function requestTypeName(q: QueueModel): string {
  return `${pascal(q.name)}Request`;
}
export function encodeRequestName(q: QueueModel): string {
  return `encode${pascal(q.name)}Request`;
}
export function requestCommandName(q: QueueModel): string {
  return `${camel(q.name)}RequestCommand`;
}

/** Queues that have commands, with them (declaration order). */
export function queuesWithCommands(ctx: EmitContext): { q: QueueModel; commands: CommandModel[] }[] {
  return ctx.model.queues.map((q) => ({ q, commands: ctx.model.commands.filter((c) => c.queue === q.name) })).filter((x) => x.commands.length > 0);
}

/** The read of a fixed field's whole value, as the encoder wrote it. */
function fixedRead(f: StructFieldModel): string {
  const es = elementSize(f);
  const le = es === 1 ? "" : `, ${f.endian === "little"}`;
  if (es === 8) return `view.getBigUint64(offset + ${f.offset}${le})`;
  return `view.getUint${es * 8}(offset + ${f.offset}${le})`;
}

export function addRequestUnions(ctx: EmitContext, f: TsFile): void {
  for (const { q, commands } of queuesWithCommands(ctx)) {
    const s = commands[0]!.structDef;
    f.use(RT, "badCommand");
    f.use(RT, "badRequest");
    const members = commands.map((c) => `  | ({ command: ${str(c.name)} } & ${paramsTypeName(c)})`);
    f.add(
      `${docBlockOf(docText(`One request of queue ${q.name}: the fields of its command and no other. \`command\` selects the layout.`, q.source, `queue ${q.name}`))}export type ${requestTypeName(q)} =\n${members.join("\n")};`,
    );
    const cases = commands.map((c) => `    case ${str(c.name)}:\n      return ${commandFunctionName(c)}(view, offset, r, dma);`);
    f.add(
      `${docBlockOf(docText(`Encodes a ${requestTypeName(q)} with its command's encoder; an unknown command is a RangeError naming the known ones.`, q.source, `queue ${q.name}`))}export function ${encodeRequestName(q)}(view: DataView, offset: number, r: ${requestTypeName(q)}, dma?: DmaResolver): void {\n  if (typeof r !== "object" || r === null || Array.isArray(r)) throw badRequest(${str(`${q.name} request`)}, r);\n  const command = r.command;\n  switch (command) {\n${cases.join("\n")}\n    default:\n      throw badCommand(${str(q.name)}, command, ${JSON.stringify(commands.map((c) => c.name))});\n  }\n}`,
    );
    // recognition: every fixed field of the command holds its fixed value
    const checks = commands
      .filter((c) => c.fixed.length > 0)
      .map((c) => {
        const cond = c.fixed.map((x) => {
          const v = elementSize(x.def) === 8 ? `${hex(x.value)}n` : hex(x.value);
          return `${fixedRead(x.def)} === ${v}`;
        });
        return `  if (${cond.join(" && ")}) return ${str(c.name)};`;
      });
    f.add(
      `${docBlockOf(docText(`The command whose fixed values (opcode, flags) the ${s.name} at \`offset\` carries, or undefined: read the entry in that command's terms.`, q.source, `queue ${q.name}`))}export function ${requestCommandName(q)}(view: DataView, offset: number): ${requestTypeName(q)}["command"] | undefined {\n${checks.join("\n")}${checks.length ? "\n" : ""}  return undefined;\n}`,
    );
  }
}

function docBlockOf(text: string): string {
  return `${docBlock(text)}\n`;
}
