// Struct directions (generator/src/struct-use.ts): inferred from the queues and commands that use a
// struct, declared where the use does not tell, and what the emitters leave out for each.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { emitDevice } from "@warpdrive/generator/emit/index";
import { loadDevice, loadDeviceSource } from "@warpdrive/generator/load";
import type { DeviceModel } from "@warpdrive/generator/model";

const ROOT = join(import.meta.dir, "..", "..");

function directions(m: DeviceModel): Record<string, string> {
  return Object.fromEntries(m.structs.map((s) => [s.name, s.direction]));
}

function device(name: string): DeviceModel {
  const r = loadDevice(join(ROOT, "devices", `${name}.yaml`), { root: ROOT });
  if (!r.model) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.model;
}

function source(yaml: string): DeviceModel {
  const r = loadDeviceSource("t.yaml", yaml);
  if (!r.model) throw new Error(r.diagnostics.map((d) => `${d.code}: ${d.message}`).join("\n"));
  return r.model;
}

const HEAD = "device: t\ntitle: T\nversion: 1.0.0\n";

describe("inferred from use", () => {
  test("nvme: the SQ entry is to-device, the CQ entry from-device, identify and log pages as declared, nested ones with their container", () => {
    expect(directions(device("nvme"))).toEqual({
      Sqe: "to-device",
      Cqe: "from-device",
      PowerStateDescriptor: "from-device",
      IdentifyController: "from-device",
      LbaFormat: "from-device",
      IdentifyNamespace: "from-device",
      SmartLog: "from-device",
    });
  });

  test("an index-ring entry is both; a portal descriptor to-device and its completion record from-device", () => {
    expect(directions(device("wd-dummy"))).toEqual({ Descriptor: "both" });
    expect(directions(device("dsa-copy"))).toEqual({ Descriptor: "to-device", CompletionRecord: "from-device" });
  });

  test("a virtq-split request's header is to-device and its footer from-device; a struct nothing uses is both", () => {
    expect(directions(device("virtio-blk"))).toEqual({ BlkReqHeader: "to-device", BlkReqStatus: "from-device", BlkDiscardWriteZeroes: "both" });
  });

  test("hzip declares its SQ entry both (the device writes results back into it)", () => {
    expect(directions(device("hzip"))).toEqual({ Sqe: "both", Cqe: "from-device" });
  });

  test("a struct nothing uses is both, and so is a struct nested in it even when a queue reads it", () => {
    const m = source(`${HEAD}structs:
  R:
    size: 4
    fields:
      tag: { offset: 0, type: u16 }
      word: { offset: 2, type: u16 }
  Table:
    size: 8
    fields:
      rows: { offset: 0, type: R, count: 2 }
  S:
    size: 8
    fields:
      op: { offset: 0, type: u8 }
regions:
  bar0:
    kind: mmio
    index: 0
    size: 0x100
    registers:
      sq: { offset: 0 }
      cq: { offset: 4 }
queues:
  q:
    kind: sq-cq
    instances: 0
    sq: { entry: S, depth: 4, ring: dma, doorbell: bar0.sq, tag: op }
    cq: { entry: R, depth: 4, ring: dma, doorbell: bar0.cq, tag: tag, phase: { field: word, bit: 0 } }
`);
    expect(directions(m)).toEqual({ R: "both", Table: "both", S: "to-device" });
  });
});

describe("what a from-device struct is emitted as", () => {
  const files = emitDevice(device("nvme"), { generatorVersion: "9.9.9" });
  const structs = files.get("src/structs.ts")!;

  test("Data, decode, LAYOUT and getters; no Init, encoder or setters", () => {
    expect(structs).toContain("export interface CqeData {");
    expect(structs).toContain("export class Cqe extends StructView {");
    expect(structs).toContain("static decode(view: DataView, offset: number): CqeData");
    expect(structs).not.toContain("CqeInit");
    const cqe = structs.slice(structs.indexOf("export class Cqe "), structs.indexOf("\n}\n", structs.indexOf("export class Cqe ")));
    expect(cqe).not.toContain("static encode");
    expect(cqe).not.toMatch(/\n  set /);
    expect(structs).not.toContain("IdentifyControllerInit");
    // the host writes Sqe: everything
    expect(structs).toContain("export interface SqeInit {");
    expect(structs).toContain("static encode(view: DataView, offset: number, init: SqeInit");
  });

  test("a bit-field word is its raw number in Data, its fields a table bitsOf reads, no unpack helpers", () => {
    expect(structs).toMatch(/export interface CqeData \{[^}]*status: number;/);
    expect(structs).toContain("export const CqeStatusFields = {");
    expect(structs).not.toContain("unpack");
    expect(structs).not.toContain("_BITS");
  });

  test("generated/nvme/src/structs.ts stays under 2,000 lines", () => {
    expect(structs.split("\n").length).toBeLessThan(2000);
  });
});
