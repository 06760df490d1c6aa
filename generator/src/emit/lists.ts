// Descriptor lists (`list: { of, count, min, max }` on a dma-address): per entry struct a class
// `<Of>List` over the runtime's DmaList, emitted into src/structs.ts (push encodes the next entry,
// in its variant's terms when the struct has variants), and the code a command param taking a list
// runs: the list's class checked, its length within the device's bounds, its address written and
// checked like every DMA address, each buffer its entries name pinned for the request, and its
// length written into the count field.
import { StructureKind } from "ts-morph";
import type { CommandParamModel, DeviceModel, DmaListModel, StructFieldModel } from "../model.ts";
import { accessor, at, elementSize, le, zeroRange, type EncodeNeeds, type FieldCode } from "./fields.ts";
import type { TsFile } from "./ts.ts";
import { docText, hex, str } from "./util.ts";
import { encodeVariantName, variantInitName } from "./variants.ts";

const RT = "@warpdrive/runtime";

export function listClassName(of: string): string {
  return `${of}List`;
}

/** Every list field of the model (struct fields and variants' own fields), in declaration order. */
function listFields(model: DeviceModel): { field: StructFieldModel; list: DmaListModel }[] {
  const out: { field: StructFieldModel; list: DmaListModel }[] = [];
  for (const s of model.structs) {
    for (const f of s.fields) if (f.dma?.list) out.push({ field: f, list: f.dma.list });
    for (const c of s.variants?.cases ?? []) for (const f of c.fields) if (c.own.includes(f.name) && f.dma?.list) out.push({ field: f, list: f.dma.list });
  }
  return out;
}

/** The `<Of>List` classes (none when no field points at a list). */
export function listDecls(f: TsFile, model: DeviceModel): void {
  const byStruct = new Map<string, { field: StructFieldModel; list: DmaListModel }[]>();
  for (const x of listFields(model)) byStruct.set(x.list.of, [...(byStruct.get(x.list.of) ?? []), x]);
  for (const [of, uses] of byStruct) {
    const first = uses[0]!;
    const s = first.list.entry;
    const capacity = Math.max(...uses.map((u) => u.list.max));
    const initType = s.variants ? variantInitName(s) : `${of}Init`;
    const encoder = s.variants ? encodeVariantName(s) : `${of}.encode`;
    f.use(RT, "DmaList");
    f.use(RT, "DmaBuffer", true);
    f.use(RT, "DmaResolver", true);
    f.add({
      kind: StructureKind.Class,
      isExported: true,
      name: listClassName(of),
      docs: [
        docText(
          `A list of ${of} entries (${s.size} bytes each) in memory shared with the device, which one request points at${first.list.doc ? `: ${first.list.doc}` : ""}. ` +
            `push() encodes the next entry${s.variants ? " in its variant's terms" : ""}; the request taking the list checks its length, its address and every buffer its entries name, and keeps those buffers pinned while it is in flight.`,
          first.field.source,
          `list of ${of}`,
        ),
      ],
      properties: [{ name: "entries", isReadonly: true, type: "DmaList", docs: [docText("The entries' memory, and the windows they name.", first.field.source)] }],
      ctors: [
        {
          docs: [docText(`A list in \`buffer\` from \`options.offset\` (default 0) with room for \`options.capacity\` entries (default ${capacity}); \`dma\` is the device's resolver (\`device.dma\`).`, first.field.source)],
          parameters: [
            { name: "buffer", type: "DmaBuffer" },
            { name: "dma", type: "DmaResolver" },
            { name: "options", type: "{ offset?: number; capacity?: number }", initializer: "{}" },
          ],
          statements: [
            `if (typeof options !== "object" || options === null) throw new TypeError(\`${listClassName(of)}: options must be an object, got \${typeof options}\`);`,
            `this.entries = new DmaList(buffer, { entrySize: ${s.size}, capacity: options.capacity ?? ${capacity}, offset: options.offset ?? 0, dma, name: \`${of} list in \${buffer.name}\` });`,
          ],
        },
      ],
      getAccessors: [{ name: "length", returnType: "number", docs: [docText("Entries pushed so far.", first.field.source)], statements: ["return this.entries.length;"] }],
      methods: [
        {
          name: "push",
          docs: [docText("Encodes the next entry and returns its index; a full list is a RangeError, a refused entry leaves the list as it was.", first.field.source)],
          parameters: [{ name: "init", type: initType }],
          returnType: "number",
          statements: [`return this.entries.push(${encoder}, init);`],
        },
        {
          name: "clear",
          docs: [docText("Forgets every entry; the memory is reused by the next push.", first.field.source)],
          returnType: "void",
          statements: ["this.entries.clear();"],
        },
      ],
    });
  }
}

/**
 * Encoder code of a command param that takes a list: read and checked first (class, then length
 * within min..max), then the address (with the list's extent and the field's alignment), a pin per
 * window the entries name, and the count field.
 */
export function listParamCode(p: CommandParamModel, src: string, local: string, label: string, needs: EncodeNeeds, f: TsFile): FieldCode {
  const list = p.field.dma!.list!;
  const count = p.listCount!;
  const cls = f.use("./structs.ts", listClassName(list.of));
  const lbl = str(label);
  const n = `${local}_n`;
  needs.runtime.add("badList").add("badListLength").add("dmaAddress");
  const align = p.field.dma?.align;
  if (align !== undefined && align > 1) needs.runtime.add("dmaMisaligned");
  const fld = p.field;
  const little = fld.endian === "little";
  return {
    read: [
      `const ${local} = ${src};`,
      `if (${local} !== undefined && !(${local} instanceof ${cls})) throw badList(${lbl}, ${local}, ${str(cls)});`,
      `const ${n} = ${local} === undefined ? 0 : ${local}.length;`,
      `if (${local} !== undefined && (${n} < ${list.min} || ${n} > ${list.max})) throw badListLength(${lbl}, ${n}, ${list.min}, ${list.max});`,
    ],
    write: [
      `if (${local} === undefined) {`,
      ...zeroRange("offset", fld.offset, 8).map((x) => `  ${x}`),
      "} else {",
      `  const a = dmaAddress(dma, ${local}.entries.ref(), ${lbl}, ${n} * ${list.entrySize});`,
      ...(align !== undefined && align > 1 ? [`  if (a % ${align} !== 0) throw dmaMisaligned(${lbl}, a, ${align});`] : []),
      `  view.setUint32(${at("offset", fld.offset + (little ? 0 : 4))}, a >>> 0, ${little});`,
      `  view.setUint32(${at("offset", fld.offset + (little ? 4 : 0))}, (a / 0x100000000) >>> 0, ${little});`,
      "  // the device reads the entries while the request runs: their buffers stay pinned until it completes",
      `  const members = ${local}.entries.members;`,
      `  for (let i = 0; i < members.length; i++) dmaAddress(dma, members[i]!, ${lbl});`,
      "}",
      `view.set${accessor(count)}(${at("offset", count.offset)}, ${n}${le(count, elementSize(count))}); // ${count.name}: the list's length`,
    ],
  };
}

/** Doc text of a list param: what it takes and the counts the device accepts. */
export function listParamDoc(p: CommandParamModel): string {
  const list = p.field.dma!.list!;
  return `A ${listClassName(list.of)} of ${list.min}..${list.max} entries; its length goes into ${p.listCount!.name} (offset ${hex(p.listCount!.offset)}).`;
}
