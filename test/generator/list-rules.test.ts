// The validator's rules for descriptor lists (`list: { of, count, min, max }` on a dma-address) and
// the commands taking one: a good description builds the list in the IR (extent = count x entry
// size, bounds resolved) and a command param whose count comes from the list; each mistake is one
// error at the place it is made (line:column found by searching the text).
import { describe, expect, test } from "bun:test";
import { loadDeviceSource } from "@warpdrive/generator/load";

const GOOD = `device: t
title: T
version: 1.0.0
constants:
  MAX_BATCH: 16
structs:
  Desc:
    size: 64
    fields:
      opcode: { offset: 0, type: u8 }
      src: { offset: 16, type: dma-address, extent: size, direction: to-device }
      size: { offset: 32, type: u32 }
    variants:
      selector: opcode
      cases:
        copy: { value: 3 }
        batch:
          value: 1
          fields:
            list: { offset: 16, type: dma-address, list: { of: Desc, count: count, min: 2, max: MAX_BATCH }, align: 64, direction: to-device }
            count: { offset: 32, type: u32 }
commands:
  batch:
    struct: Desc
    variant: batch
    params:
      list: { field: list }
`;

interface Case {
  name: string;
  from: string;
  to: string;
  code: string;
  at: string;
  path: string;
  says: string;
}

const CASES: Case[] = [
  { name: "list of an unknown struct", from: "of: Desc,", to: "of: Dsc,", code: "unknown-struct", at: "of: |Dsc", path: "structs.Desc.variants.cases.batch.fields.list.list.of", says: 'unknown struct "Dsc"' },
  { name: "count names no field of the case", from: "count: count,", to: "count: size,", code: "bad-list-count", at: "count: |size,", path: "structs.Desc.variants.cases.batch.fields.list.list.count", says: 'no field "size"' },
  { name: "count is not an unsigned integer of at most 32 bits", from: "count: { offset: 32, type: u32 }", to: "count: { offset: 32, type: u64 }", code: "bad-list-count", at: "count: |count,", path: "structs.Desc.variants.cases.batch.fields.list.list.count", says: "only single u8, u16 or u32" },
  { name: "max names no constant", from: "max: MAX_BATCH }", to: "max: MAX_BATCHES }", code: "unknown-constant", at: "max: |MAX_BATCHES", path: "structs.Desc.variants.cases.batch.fields.list.list.max", says: 'unknown constant "MAX_BATCHES"' },
  { name: "min above max", from: "min: 2,", to: "min: 20,", code: "bad-list-bounds", at: "min: |20", path: "structs.Desc.variants.cases.batch.fields.list.list.min", says: "min 20 is above max 16" },
  { name: "a list with an extent too", from: "list: { of: Desc,", to: "extent: 64, list: { of: Desc,", code: "list-extent-conflict", at: "|extent: 64, list", path: "structs.Desc.variants.cases.batch.fields.list.extent", says: "drop extent" },
  { name: "a list on an integer field", from: "size: { offset: 32, type: u32 }", to: "size: { offset: 32, type: u32, list: { of: Desc, count: size, max: 2 } }", code: "bad-option", at: "u32, |list", path: "structs.Desc.fields.size.list", says: "list describes the memory a dma-address points at" },
  { name: "a command also takes the count", from: "      list: { field: list }\n", to: "      list: { field: list }\n      n: { field: count }\n", code: "list-count-taken", at: "      |n: { field: count }", path: "commands.batch.params.n", says: "fills with its length" },
  { name: "a command fixes the count", from: "    variant: batch\n    params:", to: "    variant: batch\n    fixed: { count: 2 }\n    params:", code: "list-count-taken", at: "fixed: { |count: 2", path: "commands.batch.fixed.count", says: "do not fix it" },
];

function position(text: string, marked: string): string {
  const spot = marked.indexOf("|");
  const plain = marked.replace("|", "");
  const at = text.indexOf(plain);
  if (at < 0 || text.indexOf(plain, at + 1) >= 0) throw new Error(`"${plain}" is not found exactly once`);
  const before = text.slice(0, at + spot);
  return `${before.split("\n").length}:${before.length - before.lastIndexOf("\n")}`;
}

describe("descriptor lists in the DSL", () => {
  test("the good description builds the list and a command whose count comes from it", () => {
    const r = loadDeviceSource("t.yaml", GOOD);
    expect(r.diagnostics).toEqual([]);
    const batch = r.model!.structs[0]!.variants!.cases.find((c) => c.name === "batch")!;
    const list = batch.fields.find((f) => f.name === "list")!;
    expect(list.dma).toMatchObject({ direction: "to-device", align: 64, list: { of: "Desc", entrySize: 64, count: "count", min: 2, max: 16 } });
    expect(list.dma!.extent).toMatchObject({ kind: "bin", op: "*", left: { kind: "name", name: "count" }, right: { kind: "num", value: 64 } });
    const p = r.model!.commands[0]!.params[0]!;
    expect([p.name, p.listCount?.name, p.listCount?.offset]).toEqual(["list", "count", 32]);
  });

  for (const c of CASES) {
    test(`${c.name}: ${c.code}`, () => {
      expect(GOOD.split(c.from).length).toBe(2);
      const yaml = GOOD.replace(c.from, c.to);
      const r = loadDeviceSource("t.yaml", yaml);
      expect(r.model).toBeUndefined();
      const errors = r.diagnostics.filter((d) => d.severity === "error");
      expect(errors.map((d) => ({ code: d.code, at: `${d.line}:${d.column}`, path: d.path }))).toEqual([{ code: c.code, at: position(yaml, c.at), path: c.path }]);
      expect(errors[0]!.message).toContain(c.says);
    });
  }
});
