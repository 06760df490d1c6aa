// The IR (generator/src/model.ts) built from YAML: resolved, defaults filled, sorted, with sources.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findHandFiles } from "@warpdrive/generator/build-model";
import { loadDevice, loadDeviceSource } from "@warpdrive/generator/load";
import type { DeviceModel, SqCqQueueModel } from "@warpdrive/generator/model";

const ROOT = join(import.meta.dir, "..", "..");

function load(name: string): { model: DeviceModel; text: string } {
  const path = join(ROOT, "devices", `${name}.yaml`);
  const r = loadDevice(path, { root: ROOT });
  if (!r.model) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return { model: r.model, text: readFileSync(path, "utf8") };
}

/** 1-based line of the first line of `text` that starts with `prefix` (after indentation as given). */
function lineOf(text: string, prefix: string): number {
  const i = text.split("\n").findIndex((l) => l.startsWith(prefix));
  if (i < 0) throw new Error(`no line starts with ${JSON.stringify(prefix)}`);
  return i + 1;
}

describe("qemu-edu", () => {
  const { model, text } = load("qemu-edu");
  const file = "devices/qemu-edu.yaml";

  test("identity, hash and source", () => {
    expect(model.name).toBe("qemu-edu");
    expect(model.title).toBe("QEMU educational PCI device");
    expect(model.version).toBe("1.0.0");
    expect(model.doc).toStartWith("A teaching device from QEMU");
    expect(model.sourceHash).toBe(createHash("sha256").update(readFileSync(join(ROOT, file))).digest("hex"));
    expect(model.source).toEqual({ file, line: lineOf(text, "device:"), column: 1 });
    expect(model.match).toEqual({ pci: [{ vendor: 0x1234, device: 0x11e8 }] });
  });

  test("constants and enums keep file order, with docs and widths", () => {
    expect(model.constants.map((c) => [c.name, c.value])).toEqual([
      ["DMA_BUFFER_OFFSET", 0x40000],
      ["DMA_BUFFER_SIZE", 4096],
      ["DMA_ADDRESS_BITS", 28],
      ["IRQ_FACTORIAL", 1],
      ["IRQ_DMA", 0x100],
    ]);
    expect(model.constants[0]!.doc).toBe("Device address of the on-board DMA buffer.");
    expect(model.constants[0]!.source).toEqual({ file, line: lineOf(text, "  DMA_BUFFER_OFFSET:"), column: 3 });
    expect(model.enums).toHaveLength(1);
    const dir = model.enums[0]!;
    expect(dir.name).toBe("DmaDirection");
    expect(dir.width).toBe(1);
    expect(dir.members.map((m) => [m.name, m.value, m.doc])).toEqual([
      ["TO_DEVICE", 0, "From host RAM into the on-board buffer."],
      ["FROM_DEVICE", 1, "From the on-board buffer into host RAM."],
    ]);
  });

  test("bar0: registers sorted by offset, defaults filled", () => {
    expect(model.regions).toHaveLength(1);
    const bar0 = model.regions[0]!;
    expect([bar0.name, bar0.kind, bar0.index, bar0.size]).toEqual(["bar0", "mmio", 0, 0x100000]);
    expect(bar0.registers.map((r) => [r.name, r.offset, r.width, r.access])).toEqual([
      ["id", 0x00, 32, "ro"],
      ["liveness", 0x04, 32, "rw"],
      ["factorial", 0x08, 32, "rw"],
      ["status", 0x20, 32, "rw"],
      ["irq_status", 0x24, 32, "ro"],
      ["irq_raise", 0x60, 32, "wo"],
      ["irq_ack", 0x64, 32, "wo"],
      ["dma_src", 0x80, 64, "rw"],
      ["dma_dst", 0x88, 64, "rw"],
      ["dma_count", 0x90, 64, "rw"],
      ["dma_cmd", 0x98, 64, "rw"],
    ]);
    for (const r of bar0.registers) {
      expect([r.count, r.stride, r.dmaAddress]).toEqual([1, 0, false]);
      expect(r.source).toEqual({ file, line: lineOf(text, `      ${r.name}:`), column: 7 });
    }
  });

  test("fields: bit ranges resolved, access inherited or overridden, enums named", () => {
    const reg = (name: string) => model.regions[0]!.registers.find((r) => r.name === name)!;
    expect(reg("id").reset).toBe(0x010000ed);
    expect(reg("liveness").reset).toBeUndefined();
    expect(reg("id").fields.map((f) => [f.name, f.lsb, f.width, f.access])).toEqual([
      ["magic", 0, 8, "ro"],
      ["minor", 16, 8, "ro"],
      ["major", 24, 8, "ro"],
    ]);
    expect(reg("status").fields.map((f) => [f.name, f.lsb, f.width, f.access])).toEqual([
      ["computing", 0, 1, "ro"],
      ["irq_on_factorial", 7, 1, "rw"],
    ]);
    const cmd = reg("dma_cmd").fields;
    expect(cmd.map((f) => [f.name, f.lsb, f.width, f.enumName])).toEqual([
      ["start", 0, 1, undefined],
      ["direction", 1, 1, "DmaDirection"],
      ["irq", 2, 1, undefined],
    ]);
    expect(cmd[2]!.doc).toBe("Raise IRQ_DMA when the transfer is done.");
    expect(reg("liveness").fields).toEqual([]);
  });

  test("interrupts, empty sections and hand-written files", () => {
    expect(model.interrupts.map((i) => [i.name, i.index, i.kind])).toEqual([["irq", 0, "msi"]]);
    expect(model.structs).toEqual([]);
    expect(model.queues).toEqual([]);
    expect(model.commands).toEqual([]);
    let expected: string[] = [];
    try {
      // the driver package's TypeScript (its package.json is not a hand file of the description)
      expected = readdirSync(join(ROOT, "devices", "qemu-edu"), { withFileTypes: true })
        .filter((e) => e.isFile() && e.name.endsWith(".ts"))
        .map((e) => e.name)
        .sort();
    } catch {
      // no hand-written folder: none expected
    }
    expect(model.handFiles).toEqual(expected);
  });

  test("source.file is relative to the repository root, whatever the path given", () => {
    const viaAbsolute = loadDevice(join(ROOT, "devices", "qemu-edu.yaml")).model!;
    expect(viaAbsolute.source.file).toBe(file);
    expect(viaAbsolute.regions[0]!.registers[0]!.source.file).toBe(file);
  });

  test("loading twice gives the same model (no hidden state, stable order)", () => {
    expect(load("qemu-edu").model).toEqual(model);
  });
});

describe("nvme", () => {
  const { model } = load("nvme");

  test("doorbell arrays, dma-address registers", () => {
    const bar0 = model.regions.find((r) => r.name === "bar0")!;
    const sqTail = bar0.registers.find((r) => r.name === "sq_tail")!;
    expect([sqTail.offset, sqTail.count, sqTail.stride, sqTail.access]).toEqual([0x1000, 65, 8, "wo"]);
    const asq = bar0.registers.find((r) => r.name === "asq")!;
    expect([asq.width, asq.dmaAddress]).toEqual([64, true]);
    const offsets = bar0.registers.map((r) => r.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });

  test("sq-cq queues resolved", () => {
    const admin = model.queues.find((q) => q.name === "admin") as SqCqQueueModel;
    expect(admin.kind).toBe("sq-cq");
    expect(admin.instances).toEqual({ first: 0, last: 0 });
    expect(admin.sq).toMatchObject({ entry: "Sqe", ring: { kind: "dma" }, doorbell: { region: "bar0", register: "sq_tail" }, tag: "cid" });
    expect(admin.cq).toMatchObject({ entry: "Cqe", doorbell: { region: "bar0", register: "cq_head" }, phase: { field: "status", bit: 0 }, sqHead: "sqhd" });
    expect(admin.interrupt).toBe("admin");
  });

  test("structs: sizes, nested struct arrays, bit fields", () => {
    const sqe = model.structs.find((s) => s.name === "Sqe")!;
    expect([sqe.size, sqe.endian, sqe.packed]).toEqual([64, "little", false]);
    expect(sqe.fields.find((f) => f.name === "prp1")!.type).toEqual({ kind: "dma-address" });
    const ctrl = model.structs.find((s) => s.name === "IdentifyController")!;
    const psd = ctrl.fields.find((f) => f.name === "psd")!;
    expect([psd.offset, psd.count, psd.size, psd.type.kind]).toEqual([2048, 32, 1024, "struct"]);
    // the nested struct arrives as the model's own struct, not a name to look up
    expect(psd.type.kind === "struct" && psd.type.def).toBe(model.structs.find((s) => s.name === "PowerStateDescriptor")!);
    const cqe = model.structs.find((s) => s.name === "Cqe")!;
    const status = cqe.fields.find((f) => f.name === "status")!;
    expect(status.bitfields.map((b) => [b.name, b.lsb, b.width])).toEqual([
      ["p", 0, 1],
      ["sc", 1, 8],
      ["sct", 9, 3],
      ["crd", 12, 2],
      ["m", 14, 1],
      ["dnr", 15, 1],
    ]);
  });

  test("commands: struct from the queue, fixed values, field params and overlays", () => {
    const identify = model.commands.find((c) => c.name === "identify")!;
    expect([identify.struct, identify.queue]).toEqual(["Sqe", "admin"]);
    expect(identify.fixed.map(({ field, value }) => ({ field, value }))).toEqual([{ field: "opcode", value: 6 }]);
    expect(identify.structDef).toBe(model.structs.find((s) => s.name === "Sqe")!);
    expect(identify.fixed[0]!.def).toBe(identify.structDef.fields.find((f) => f.name === "opcode")!);
    const nsid = identify.params.find((p) => p.name === "nsid")!;
    expect(nsid.fromField).toBe("nsid");
    expect([nsid.field.offset, nsid.field.size]).toEqual([4, 4]);
    const cns = identify.params.find((p) => p.name === "cns")!;
    expect(cns.fromField).toBeUndefined();
    expect([cns.field.name, cns.field.offset, cns.field.size, cns.field.type, cns.field.enumName]).toEqual(["cns", 40, 1, { kind: "scalar", type: "u8" }, "IdentifyCns"]);
  });
});

describe("defaults and exact values", () => {
  const yaml = `device: t
title: T
version: 1.0.0
constants:
  PLAIN: 7
regions:
  bar0:
    kind: mmio
    index: 0
    size: 0x100
    registers:
      b: { offset: 0x10, width: 64, reset: 0xffffffffffffffff }
      a: { offset: 0x0, count: 4 }
      c: { offset: 0x20, fields: { hi: { bits: "31:16" }, lo: { bits: "15:0", access: ro } } }
structs:
  S:
    size: 8
    endian: big
    fields:
      y: { offset: 4, type: u32, endian: little }
      x: { offset: 0, type: u16 }
      _pad: { offset: 2, type: reserved, size: 2 }
enums:
  Wide:
    values: { A: 0, B: 0x80 }
`;
  const r = loadDeviceSource("t.yaml", yaml);
  const model = r.model!;

  test("no diagnostics", () => {
    expect(r.diagnostics).toEqual([]);
  });

  test("registers: width 32, access rw, array stride = width, 64-bit reset exact as bigint", () => {
    const regs = model.regions[0]!.registers;
    expect(regs.map((x) => x.name)).toEqual(["a", "b", "c"]);
    expect(regs[0]).toMatchObject({ width: 32, access: "rw", count: 4, stride: 4 });
    expect(regs[1]!.reset).toBe(0xffffffffffffffffn);
    expect(regs[2]!.fields.map((f) => [f.name, f.lsb, f.width, f.access])).toEqual([
      ["lo", 0, 16, "ro"],
      ["hi", 16, 16, "rw"],
    ]);
  });

  test("structs: fields by offset, endian inherited or overridden, reserved sized", () => {
    const s = model.structs[0]!;
    expect(s.fields.map((f) => [f.name, f.offset, f.size, f.endian, f.type.kind])).toEqual([
      ["x", 0, 2, "big", "scalar"],
      ["_pad", 2, 2, "big", "reserved"],
      ["y", 4, 4, "little", "scalar"],
    ]);
  });

  test("shorthand constants and enum members; enum width from the largest value", () => {
    expect(model.constants.map((c) => [c.name, c.value, c.doc])).toEqual([["PLAIN", 7, undefined]]);
    expect(model.enums[0]!.width).toBe(8);
    expect(model.enums[0]!.members.map((m) => m.value)).toEqual([0, 0x80]);
  });
});

describe("hand-written files", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "wd-hand-"));
    mkdirSync(join(dir, "dev", "sub"), { recursive: true });
    writeFileSync(join(dir, "dev.yaml"), "");
    for (const f of ["model.ts", "behavior.ts", "sub/z.ts", "sub/a.ts", ".hidden", "notes.txt", "Kbuild"]) writeFileSync(join(dir, "dev", f), "");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("the .ts files next to the YAML, sorted; hidden files, other files and subfolders stay out", () => {
    expect(findHandFiles(join(dir, "dev.yaml"), "dev")).toEqual(["behavior.ts", "model.ts"]);
  });

  test("none when the folder does not exist", () => {
    expect(findHandFiles(join(dir, "other.yaml"), "other")).toEqual([]);
  });
});

describe("references arrive resolved (emitters follow links, never look names up)", () => {
  test("queues, doorbells, interrupts and entry fields are the model's own objects", () => {
    const { model } = load("nvme");
    const struct = (n: string) => model.structs.find((s) => s.name === n)!;
    const io = model.queues.find((q) => q.name === "io") as SqCqQueueModel;
    expect(io.sq.entryDef).toBe(struct(io.sq.entry));
    expect(io.cq.entryDef).toBe(struct(io.cq.entry));
    expect(io.sq.tagDef).toBe(struct(io.sq.entry).fields.find((f) => f.name === io.sq.tag)!);
    expect(io.cq.phase.def).toBe(struct(io.cq.entry).fields.find((f) => f.name === io.cq.phase.field)!);
    const bar = model.regions.find((r) => r.name === io.sq.doorbell.region)!;
    expect(io.sq.doorbell.def).toBe(bar.registers.find((r) => r.name === io.sq.doorbell.register)!);
    expect(io.interruptDef).toBe(model.interrupts.find((i) => i.name === io.interrupt)!);
  });

  test("extent names: a struct's are its fields; a command's are its params, fixed values or constants", () => {
    const yaml = `device: t
title: T
version: 1.0.0
constants:
  PAGE: 4096
structs:
  E:
    size: 16
    fields:
      op: { offset: 0, type: u8 }
      status: { offset: 2, type: u16 }
      pages: { offset: 4, type: u32 }
      addr: { offset: 8, type: dma-address, extent: pages * PAGE, direction: to-device }
regions:
  q:
    kind: ram
    index: 0
    size: 0x1000
    registers:
      head: { offset: 0 }
      tail: { offset: 4 }
      bell: { offset: 8 }
queues:
  cmd:
    kind: index-ring
    entry: E
    depth: 16
    ring: { region: q, offset: 0x100 }
    producer: q.head
    consumer: q.tail
    doorbell: q.bell
    done: { field: status, pending: 0 }
commands:
  one_page:
    queue: cmd
    fixed: { op: 1, pages: 1 }
    params:
      buffer: { field: addr }
  some_pages:
    queue: cmd
    fixed: { op: 2 }
    params:
      buffer: { field: addr }
      count: { field: pages }
`;
    const r = loadDeviceSource("t.yaml", yaml);
    expect(r.diagnostics.filter((d) => d.severity === "error").map((d) => d.message)).toEqual([]);
    const m = r.model!;
    expect(m.structs[0]!.fields.find((f) => f.name === "addr")!.dma!.names).toEqual({ pages: { kind: "read", name: "pages" }, PAGE: { kind: "number", value: 4096 } });
    const buffer = (c: string) => m.commands.find((x) => x.name === c)!.params.find((p) => p.name === "buffer")!.field.dma!.names;
    // the struct's `pages` is a fixed value in one command and the param `count` in the other
    expect(buffer("one_page")).toEqual({ pages: { kind: "number", value: 1 }, PAGE: { kind: "number", value: 4096 } });
    expect(buffer("some_pages")).toEqual({ pages: { kind: "read", name: "count" }, PAGE: { kind: "number", value: 4096 } });
  });
});
