// The validator's picture of the generated package's names (generator/src/generated-names.ts) must
// be the emitters' own: for every description we have, the module-level names it predicts are
// exactly the names the emitted modules export. If an emitter starts exporting a new kind of name,
// this fails until the validator knows it too (and so can refuse a clash with a line number).
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { emitDevice } from "@warpdrive/generator/emit/index";
import { exportedNames, memberNames, OBJECT_MEMBERS, RESERVED_EXPORTS } from "@warpdrive/generator/generated-names";
import { loadDeviceSource, REPO_ROOT } from "@warpdrive/generator/load";
import { parseDeviceSource } from "@warpdrive/generator/parse";
import type { RawDevice } from "@warpdrive/generator/dsl";

/** Two regions with a register of one name (prefixed types), commands whose params have bit fields. */
const NAMES_DEVICE = `device: names-dev
title: Names
version: 1.0.0
constants:
  DEPTH: 16
enums:
  Op: { values: { READ: 1, WRITE: 2 } }
regions:
  bar0:
    kind: mmio
    index: 0
    size: 0x1000
    registers:
      ctl: { offset: 0, fields: { en: { bits: 0 } } }
      sq_tail: { offset: 0x100, count: 4, stride: 8 }
      cq_head: { offset: 0x104, count: 4, stride: 8 }
  bar2:
    kind: mmio
    index: 2
    size: 0x1000
    registers:
      ctl: { offset: 0, fields: { go: { bits: 1 } } }
      only_here: { offset: 4, fields: { x: { bits: "3:0" }, busy: { bits: 4, access: ro } } }
      all_ro: { offset: 8, fields: { a: { bits: 0, access: ro } } }
structs:
  Sqe:
    size: 16
    fields:
      op: { offset: 0, type: u8, enum: Op }
      flags: { offset: 1, type: u8, fields: { fuse: { bits: "1:0" } } }
      cid: { offset: 2, type: u16 }
      addr: { offset: 8, type: dma-address, extent: 4096, direction: to-device }
  Cqe:
    size: 8
    fields:
      cid: { offset: 0, type: u16 }
      status: { offset: 2, type: u16 }
queues:
  io:
    kind: sq-cq
    instances: "0..3"
    sq: { entry: Sqe, depth: 16, ring: dma, doorbell: bar0.sq_tail, tag: cid }
    cq: { entry: Cqe, depth: 16, ring: dma, doorbell: bar0.cq_head, tag: cid, phase: { field: status, bit: 0 } }
commands:
  read:
    queue: io
    fixed: { op: 1 }
    params:
      flags: { field: flags }
      buf: { field: addr }
      extra: { offset: 4, type: u32, fields: { lo: { bits: "15:0" } } }
`;

function sources(): { file: string; text: string }[] {
  const out = [{ file: "names-dev.yaml", text: NAMES_DEVICE }];
  for (const dir of ["devices", "fuzz/devices"]) {
    for (const f of readdirSync(join(REPO_ROOT, dir)).filter((x) => x.endsWith(".yaml")).sort()) out.push({ file: `${dir}/${f}`, text: readFileSync(join(REPO_ROOT, dir, f), "utf8") });
  }
  return out;
}

/** Names the emitted src/*.ts modules export (index.ts only re-exports them). */
function emittedExports(files: Map<string, string>): string[] {
  const names: string[] = [];
  for (const [path, text] of files) {
    if (!path.startsWith("src/") || path === "src/index.ts") continue;
    for (const m of text.matchAll(/^export (?:declare )?(?:abstract )?(?:const|function|class|interface|type|enum) (\w+)/gm)) names.push(m[1]!);
  }
  return [...new Set(names)].sort();
}

describe("generated names as the validator sees them", () => {
  for (const { file, text } of sources()) {
    test(`${file}: predicted exports are exactly the emitted exports`, () => {
      const r = loadDeviceSource(file, text);
      expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      const parsed = parseDeviceSource(file, new TextEncoder().encode(text));
      if (!parsed.ok) throw new Error("does not parse");
      const predicted = [...new Set(exportedNames(parsed.parsed.data as RawDevice).map((n) => n.name))].sort();
      expect(predicted).toEqual(emittedExports(emitDevice(r.model!)));
    });
  }

  test("the names device really has region-prefixed register types and param bit types", () => {
    const parsed = parseDeviceSource("n.yaml", new TextEncoder().encode(NAMES_DEVICE));
    if (!parsed.ok) throw new Error("does not parse");
    const names = exportedNames(parsed.parsed.data as RawDevice).map((n) => n.name);
    expect(names).toEqual(expect.arrayContaining(["Bar0CtlFields", "Bar2CtlLayout", "OnlyHereFields", "OnlyHereWritableFields", "SqeFlagsFields", "ReadFlagsFields", "ReadExtraFields", "IoQueue", "NamesDevDevice"]));
  });

  test("no description we ship uses a reserved export or an Object member", () => {
    for (const { file, text } of sources()) {
      const parsed = parseDeviceSource(file, new TextEncoder().encode(text));
      if (!parsed.ok) throw new Error(`${file} does not parse`);
      const data = parsed.parsed.data as RawDevice;
      expect({ file, reserved: exportedNames(data).filter((n) => RESERVED_EXPORTS.has(n.name)) }).toEqual({ file, reserved: [] });
      expect({ file, members: memberNames(data).filter((m) => OBJECT_MEMBERS.has(m.as)) }).toEqual({ file, members: [] });
    }
  });

  test("the Object members listed are the ones JavaScript objects really have", () => {
    const real = new Set(Object.getOwnPropertyNames(Object.prototype));
    expect([...OBJECT_MEMBERS].filter((n) => !real.has(n))).toEqual([]);
    expect([...real].filter((n) => !OBJECT_MEMBERS.has(n))).toEqual([]);
  });
});
