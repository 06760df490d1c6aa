// The validator's rules for portal queues, completion records, DMA alignment and commands fixing
// bit fields: a good description builds the expected IR; each mistake is one error at the place
// it is made (line:column found by searching the text, independently of the validator).
import { describe, expect, test } from "bun:test";
import { loadDeviceSource } from "@warpdrive/generator/load";

const GOOD = `device: t
title: T
version: 1.0.0
regions:
  portals: { kind: mmio, index: 2, size: 0x8000 }
structs:
  Desc:
    size: 64
    fields:
      op_flags:
        offset: 0
        type: u32
        fields:
          crav: { bits: 2 }
          opcode: { bits: "31:24" }
      completion: { offset: 8, type: dma-address, extent: 32, align: 32, direction: from-device }
      src: { offset: 16, type: dma-address, extent: size, direction: to-device }
      size: { offset: 24, type: u32 }
      _rsvd: { offset: 28, type: reserved, size: 36 }
  Rec:
    size: 32
    fields:
      status: { offset: 0, type: u8 }
      _rsvd: { offset: 1, type: reserved, size: 31 }
interrupts:
  irq: { index: 0, kind: msix }
queues:
  wq:
    kind: portal
    instances: "0..1"
    descriptor: Desc
    depth: 16
    portal: { region: portals, offset: 0x0, stride: 0x4000 }
    store: movdir64b
    completion: { record: Rec, address: completion, status: status, pending: 0 }
    interrupt: irq
commands:
  copy:
    queue: wq
    fixed: { op_flags.opcode: 3, op_flags.crav: 1 }
    params:
      src: { field: src }
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
  { name: "descriptor not one store", from: "    size: 64\n", to: "    size: 128\n", code: "portal-descriptor-size", at: "descriptor: |Desc", path: "queues.wq.descriptor", says: "writes exactly 64" },
  { name: "unknown portal region", from: "region: portals,", to: "region: portal,", code: "unknown-region", at: "region: |portal,", path: "queues.wq.portal.region", says: 'unknown region "portal"' },
  { name: "portal in ram", from: "kind: mmio", to: "kind: ram", code: "portal-region-kind", at: "region: |portals", path: "queues.wq.portal.region", says: "not mmio" },
  { name: "portal offset not 64-byte aligned", from: "offset: 0x0,", to: "offset: 0x20,", code: "portal-misaligned", at: "offset: |0x20,", path: "queues.wq.portal.offset", says: "0x20 is not 64-byte aligned" },
  { name: "several queues without a stride", from: ", stride: 0x4000 }", to: " }", code: "portal-stride-missing", at: "portal: |{ region", path: "queues.wq.portal", says: "queue ids 0..1 each need their own portal" },
  { name: "queues sharing a portal", from: "stride: 0x4000", to: "stride: 0", code: "portal-stride-small", at: "stride: |0 }", path: "queues.wq.portal.stride", says: "queues would share a portal" },
  { name: "last portal past the region", from: "size: 0x8000", to: "size: 0x4000", code: "portal-outside-region", at: "offset: |0x0,", path: "queues.wq.portal.offset", says: "queue 1 ends at 0x4040" },
  { name: "unknown record struct", from: "record: Rec,", to: "record: Recc,", code: "unknown-struct", at: "record: |Recc", path: "queues.wq.completion.record", says: 'unknown struct "Recc"' },
  { name: "unknown status field", from: "status: status,", to: "status: state,", code: "unknown-field", at: "status: |state", path: "queues.wq.completion.status", says: 'struct Rec has no field "state"' },
  { name: "pending too wide for the status", from: "pending: 0 }", to: "pending: 256 }", code: "value-too-wide", at: "pending: |256", path: "queues.wq.completion.pending", says: "256 does not fit the 8-bit field" },
  { name: "unknown address field", from: "address: completion,", to: "address: compl,", code: "unknown-field", at: "address: |compl,", path: "queues.wq.completion.address", says: 'struct Desc has no field "compl"' },
  { name: "address field not a dma-address", from: "address: completion,", to: "address: size,", code: "bad-field-type", at: "address: |size,", path: "queues.wq.completion.address", says: "must be one dma-address, not u32" },
  { name: "record extent differs from the record", from: "extent: 32, align: 32", to: "extent: 16, align: 32", code: "completion-extent-mismatch", at: "address: |completion", path: "queues.wq.completion.address", says: "make its extent 32" },
  { name: "record address read by the device", from: "align: 32, direction: from-device", to: "align: 32, direction: to-device", code: "completion-direction", at: "address: |completion", path: "queues.wq.completion.address", says: "the device writes the completion record" },
  {
    name: "records do not fit their alignment",
    from: "  Rec:\n    size: 32\n    fields:\n      status: { offset: 0, type: u8 }\n      _rsvd: { offset: 1, type: reserved, size: 31 }",
    to: "  Rec:\n    size: 24\n    fields:\n      status: { offset: 0, type: u8 }\n      _rsvd: { offset: 1, type: reserved, size: 23 }",
    also: ["extent: 32, align: 32", "extent: 24, align: 32"],
    code: "completion-align",
    at: "address: |completion",
    path: "queues.wq.completion.address",
    says: "24-byte records must divide it",
  },
  { name: "align not a power of two", from: "align: 32", to: "align: 24", code: "bad-align", at: "align: |24", path: "structs.Desc.fields.completion.align", says: "align 24" },
  { name: "align on an integer field", from: "size: { offset: 24, type: u32 }", to: "size: { offset: 24, type: u32, align: 4 }", code: "bad-option", at: "u32, |align: 4", path: "structs.Desc.fields.size.align", says: "align describes the memory a dma-address points at" },
  { name: "fixed bit field unknown", from: "op_flags.opcode: 3", to: "op_flags.opcod: 3", code: "unknown-field", at: "{ |op_flags.opcod", path: "commands.copy.fixed.op_flags.opcod", says: 'has no bit field "opcod"' },
  { name: "fixed bit value too wide", from: "op_flags.crav: 1", to: "op_flags.crav: 2", code: "fixed-value-too-wide", at: "op_flags.crav: |2", path: "commands.copy.fixed.op_flags.crav", says: "does not fit the 1-bit field" },
  { name: "field fixed whole and by bits", from: "fixed: { op_flags.opcode: 3, op_flags.crav: 1 }", to: "fixed: { op_flags: 0, op_flags.opcode: 3 }", code: "fixed-overlap", at: "0, |op_flags.opcode", path: "commands.copy.fixed.op_flags.opcode", says: "fixed both whole and by bit field" },
  { name: "fixed bits of an unknown field", from: "op_flags.crav: 1", to: "nope.bit: 1", code: "unknown-field", at: "3, |nope.bit", path: "commands.copy.fixed.nope.bit", says: 'has no field "nope"' },
  { name: "param over a word with fixed bits", from: "      size: { field: size }\n", to: "      size: { field: size }\n      flags: { field: op_flags }\n", code: "param-overlap", at: "      |flags: { field: op_flags }", path: "commands.copy.params.flags", says: 'overlaps fixed field "op_flags"' },
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

describe("portal queues in the DSL", () => {
  test("the good description builds the portal queue and folds fixed bits into one word", () => {
    const r = loadDeviceSource("t.yaml", GOOD);
    expect(r.diagnostics).toEqual([]);
    const q = r.model!.queues[0]!;
    expect(q).toMatchObject({
      kind: "portal",
      name: "wq",
      instances: { first: 0, last: 1 },
      descriptor: "Desc",
      depth: 16,
      portal: { region: "portals", offset: 0, stride: 0x4000 },
      store: "movdir64b",
      completion: { record: "Rec", address: "completion", status: "status", pending: 0, align: 32 },
      interrupt: "irq",
    });
    // opcode 3 in bits 31:24, crav in bit 2: one value for the word
    expect(r.model!.commands[0]!.fixed.map(({ field, value }) => ({ field, value }))).toEqual([{ field: "op_flags", value: 0x03000004 }]);
    expect(r.model!.structs[0]!.fields.find((f) => f.name === "completion")!.dma).toEqual({ extent: { kind: "num", value: 32 }, names: {}, direction: "from-device", align: 32 });
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

  test("the schema refuses a store the DSL does not know, at its value", () => {
    const yaml = GOOD.replace("store: movdir64b", "store: movdiri");
    const errors = loadDeviceSource("t.yaml", yaml).diagnostics.filter((d) => d.severity === "error");
    expect(errors.length).toBe(1);
    expect(`${errors[0]!.line}:${errors[0]!.column}`).toBe(position(yaml, "store: |movdiri"));
    expect(errors[0]!.message).toContain("enqcmd");
  });
});
