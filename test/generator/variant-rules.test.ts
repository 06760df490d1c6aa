// The validator's rules for struct variants and commands naming a case: a good description builds
// the expected IR (each case's fields, the selector folded into the command's fixed word); each
// mistake is one error at the place it is made (line:column found by searching the text,
// independently of the validator).
import { describe, expect, test } from "bun:test";
import { loadDeviceSource } from "@warpdrive/generator/load";

const GOOD = `device: t
title: T
version: 1.0.0
enums:
  Op:
    width: 8
    values: { MOVE: 3, FILL: 4, BATCH: 1 }
structs:
  Desc:
    size: 64
    fields:
      op_flags:
        offset: 0
        type: u32
        fields:
          crav: { bits: 2 }
          opcode: { bits: "31:24", enum: Op }
      src: { offset: 16, type: dma-address, extent: size, direction: to-device }
      dst: { offset: 24, type: dma-address, extent: size, direction: from-device }
      size: { offset: 32, type: u32 }
    variants:
      selector: op_flags.opcode
      cases:
        move: { value: MOVE }
        fill:
          value: 4
          fields:
            pattern: { offset: 16, type: u64 }
        batch:
          value: BATCH
          omit: [dst]
          fields:
            list: { offset: 16, type: dma-address, extent: count * 64, align: 64, direction: to-device }
            count: { offset: 32, type: u32 }
commands:
  fill:
    struct: Desc
    variant: fill
    fixed: { op_flags.crav: 1 }
    params:
      pattern: { field: pattern }
      dst: { field: dst }
      size: { field: size }
`;

interface Case {
  name: string;
  /** Text of GOOD replaced (exactly once) to make the mistake. */
  from: string;
  to: string;
  /** A second edit, when the mistake needs two places changed. */
  also?: [string, string];
  code: string;
  /** Where the error must point: a piece of the bad text with `|` at the spot. */
  at: string;
  path: string;
  says: string;
}

const CASES: Case[] = [
  { name: "selector names no field", from: "selector: op_flags.opcode", to: "selector: opflags.opcode", code: "unknown-field", at: "selector: |opflags", path: "structs.Desc.variants.selector", says: 'has no field "opflags"' },
  { name: "selector names no bit field", from: "selector: op_flags.opcode", to: "selector: op_flags.op", code: "unknown-field", at: "selector: |op_flags.op", path: "structs.Desc.variants.selector", says: 'has no bit field "op"' },
  { name: "selector is not an integer", from: "selector: op_flags.opcode", to: "selector: src", code: "bad-field-type", at: "selector: |src", path: "structs.Desc.variants.selector", says: "at most 32 bits" },
  { name: "value too wide for the selector bits", from: "value: 4\n", to: "value: 256\n", code: "variant-value-too-wide", at: "value: |256", path: "structs.Desc.variants.cases.fill.value", says: "does not fit the 8-bit selector" },
  { name: "two cases with one value", from: "value: 4\n", to: "value: 3\n", code: "duplicate-variant-value", at: "value: |3\n", path: "structs.Desc.variants.cases.fill.value", says: 'cases "move" and "fill" both select' },
  { name: "value names no enum member", from: "move: { value: MOVE }", to: "move: { value: MOVEE }", code: "unknown-enum-member", at: "value: |MOVEE", path: "structs.Desc.variants.cases.move.value", says: 'enum Op has no member "MOVEE"' },
  { name: "own field lies over the selector", from: "pattern: { offset: 16, type: u64 }", to: "pattern: { offset: 0, type: u64 }", code: "variant-over-selector", at: "pattern: { offset: |0", path: "structs.Desc.variants.cases.fill.fields.pattern.offset", says: 'lies over the selector field "op_flags"' },
  { name: "own field outside the struct", from: "pattern: { offset: 16, type: u64 }", to: "pattern: { offset: 64, type: u64 }", code: "struct-field-outside", at: "pattern: { offset: |64", path: "structs.Desc.variants.cases.fill.fields.pattern.offset", says: "ends past the end" },
  { name: "own field misaligned", from: "pattern: { offset: 16, type: u64 }", to: "pattern: { offset: 20, type: u64 }", code: "misaligned", at: "pattern: { offset: |20", path: "structs.Desc.variants.cases.fill.fields.pattern.offset", says: "not 8-byte aligned" },
  { name: "own fields overlap each other", from: "count: { offset: 32, type: u32 }", to: "count: { offset: 20, type: u32 }", code: "struct-field-overlap", at: "count: { offset: |20", path: "structs.Desc.variants.cases.batch.fields.count.offset", says: 'overlaps its field "list"' },
  { name: "own field named like a kept struct field", from: "pattern: { offset: 16, type: u64 }", to: "size: { offset: 40, type: u64 }", code: "duplicate-field", at: "            |size: { offset: 40", path: "structs.Desc.variants.cases.fill.fields.size", says: "keeps Desc's field of that name" },
  { name: "omit names no field", from: "omit: [dst]", to: "omit: [dst, dest]", code: "unknown-field", at: "omit: [dst, |dest]", path: "structs.Desc.variants.cases.batch.omit[1]", says: 'omits "dest"' },
  { name: "omit the selector", from: "omit: [dst]", to: "omit: [dst, op_flags]", code: "variant-selector-omitted", at: "omit: [dst, |op_flags]", path: "structs.Desc.variants.cases.batch.omit[1]", says: "cannot omit the selector" },
  { name: "a kept field's extent lost", from: "omit: [dst]", to: "omit: []", code: "variant-extent-lost", at: "        |batch:", path: "structs.Desc.variants.cases.batch", says: 'keeps field "dst", whose extent uses "size"' },
  { name: "own extent names no field of the case", from: "extent: count * 64", to: "extent: size * 64", code: "bad-extent", at: "extent: |size * 64", path: "structs.Desc.variants.cases.batch.fields.list.extent", says: 'no field "size"' },
  { name: "command names no case", from: "variant: fill", to: "variant: fil", code: "unknown-variant", at: "variant: |fil", path: "commands.fill.variant", says: 'has no variant "fil"' },
  { name: "command fixes the selector the case sets", from: "fixed: { op_flags.crav: 1 }", to: "fixed: { op_flags.crav: 1, op_flags.opcode: 4 }", code: "variant-fixes-selector", at: "1, |op_flags.opcode", path: "commands.fill.fixed.op_flags.opcode", says: "already sets op_flags.opcode" },
  { name: "command takes a field the case replaced", from: "pattern: { field: pattern }", to: "pattern: { field: src }", code: "unknown-field", at: "field: |src }", path: "commands.fill.params.pattern.field", says: 'has no field "src"' },
  { name: "command param over the selector word", from: "      size: { field: size }\n", to: "      size: { field: size }\n      word: { offset: 0, type: u32 }\n", also: ["fixed: { op_flags.crav: 1 }", "fixed: {}"], code: "param-overlap", at: "      |word: { offset: 0", path: "commands.fill.params.word", says: 'the selector of variant "fill"' },
];

function position(text: string, marked: string): string {
  const spot = marked.indexOf("|");
  const plain = marked.replace("|", "");
  const at = text.indexOf(plain);
  if (at < 0 || text.indexOf(plain, at + 1) >= 0) throw new Error(`"${plain}" is not found exactly once`);
  const before = text.slice(0, at + spot);
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return `${line}:${column}`;
}

describe("struct variants in the DSL", () => {
  test("the good description builds each case's fields and folds the case's selector into the command's word", () => {
    const r = loadDeviceSource("t.yaml", GOOD);
    expect(r.diagnostics).toEqual([]);
    const v = r.model!.structs[0]!.variants!;
    expect(v.selector.field).toBe("op_flags");
    expect(v.selector.bits).toMatchObject({ name: "opcode", lsb: 24, width: 8 });
    expect(v.cases.map((c) => [c.name, c.value, c.fields.map((f) => f.name), c.own])).toEqual([
      ["move", 3, ["op_flags", "src", "dst", "size"], []],
      ["fill", 4, ["op_flags", "pattern", "dst", "size"], ["pattern"]],
      ["batch", 1, ["op_flags", "list", "count"], ["list", "count"]],
    ]);
    const fill = r.model!.commands[0]!;
    expect(fill.variant).toBe("fill");
    // opcode 4 in bits 31:24 (the case's), crav in bit 2 (the command's): one value for the word
    expect(fill.fixed.map(({ field, value }) => ({ field, value }))).toEqual([{ field: "op_flags", value: 0x04000004 }]);
    expect(fill.params.map((p) => [p.name, p.field.offset, p.field.type.kind])).toEqual([["pattern", 16, "scalar"], ["dst", 24, "dma-address"], ["size", 32, "scalar"]]);
    // a field's source is where it is declared: the case's own fields in the case
    expect(fill.params[0]!.field.source.line).toBe(GOOD.split("\n").findIndex((l) => l.includes("pattern: { offset: 16")) + 1);
  });

  for (const c of CASES) {
    test(`${c.name}: ${c.code}`, () => {
      expect(GOOD.split(c.from).length).toBe(2); // the edit applies exactly once
      let yaml = GOOD.replace(c.from, c.to);
      if (c.also) {
        expect(yaml.split(c.also[0]).length).toBe(2);
        yaml = yaml.replace(c.also[0], c.also[1]);
      }
      const r = loadDeviceSource("t.yaml", yaml);
      expect(r.model).toBeUndefined();
      const errors = r.diagnostics.filter((d) => d.severity === "error");
      expect(errors.map((d) => ({ code: d.code, at: `${d.line}:${d.column}`, path: d.path }))).toEqual([{ code: c.code, at: position(yaml, c.at), path: c.path }]);
      expect(errors[0]!.message).toContain(c.says);
    });
  }

  test("a command naming a variant of a struct without variants", () => {
    const yaml = GOOD.replace("variant: fill\n", "variant: fill\n").replace("struct: Desc\n    variant: fill", "struct: Plain\n    variant: fill").replace("structs:\n", "structs:\n  Plain:\n    size: 64\n    fields:\n      pattern: { offset: 16, type: u64 }\n      dst: { offset: 24, type: dma-address, extent: 8 }\n      size: { offset: 32, type: u32 }\n      op_flags: { offset: 0, type: u32 }\n");
    const errors = loadDeviceSource("t.yaml", yaml).diagnostics.filter((d) => d.severity === "error");
    expect(errors.map((d) => [d.code, `${d.line}:${d.column}`])).toEqual([["no-variants", position(yaml, "variant: |fill")]]);
  });

  test("the schema refuses a case without a value and a selector that is not a name", () => {
    const noValue = GOOD.replace("move: { value: MOVE }", "move: { omit: [dst] }");
    const e1 = loadDeviceSource("t.yaml", noValue).diagnostics.filter((d) => d.severity === "error");
    expect(e1.length).toBe(1);
    expect(e1[0]!.message).toContain("value");
    const badSel = GOOD.replace("selector: op_flags.opcode", "selector: op_flags.opcode.x");
    const e2 = loadDeviceSource("t.yaml", badSel).diagnostics.filter((d) => d.severity === "error");
    expect(e2.map((d) => `${d.line}:${d.column}`)).toEqual([position(badSel, "selector: |op_flags.opcode.x")]);
  });

  test("two cases that become one type name", () => {
    const yaml = GOOD.replace("        move: { value: MOVE }\n", "        move: { value: MOVE }\n        move2: { value: 9 }\n        move_2: { value: 10 }\n");
    const errors = loadDeviceSource("t.yaml", yaml).diagnostics.filter((d) => d.severity === "error");
    expect(errors.map((d) => d.code)).toContain("name-collision");
    expect(errors.find((d) => d.code === "name-collision")!.message).toContain("DescMove2");
  });
});
