// Hand-built IR (generator/src/model.ts) for emitter tests, so they do not depend on the YAML loader.
// Builders fill the defaults the validator would; `line` numbers are arbitrary but stable.
import type {

  Access,
  CommandModel,
  DeviceModel,
  FieldModel,
  InterruptModel,
  RegionModel,
  RegisterModel,
  RegisterRef,
  ScalarType,
  StructFieldModel,
  StructFieldType,
  StructModel,
} from "@warpdrive/generator/model";

let line = 1;
export const at = (file: string) => ({ file, line: line++, column: 3 });
const F = "test/fixtures/ir.yaml";

export function bits(name: string, lsb: number, width = 1, extra: Partial<FieldModel> = {}): FieldModel {
  return { name, lsb, width, access: "rw", source: at(F), ...extra };
}

export function reg(name: string, offset: number, width: 8 | 16 | 32 | 64, access: Access, extra: Partial<RegisterModel> = {}): RegisterModel {
  const fields = (extra.fields ?? []).map((f) => ({ ...f, access: f.access === "rw" ? access : f.access }));
  return { name, offset, width, access, dmaAddress: false, count: 1, stride: 0, source: at(F), ...extra, fields };
}

const SIZES: Record<ScalarType, number> = { u8: 1, u16: 2, u32: 4, u64: 8, i8: 1, i16: 2, i32: 4, i64: 8 };

export function field(name: string, offset: number, type: ScalarType | "dma-address" | { reserved: number } | { struct: StructModel }, extra: Partial<StructFieldModel> = {}): StructFieldModel {
  let t: StructFieldType;
  let size: number;
  if (typeof type === "string" && type === "dma-address") {
    t = { kind: "dma-address" };
    size = 8;
  } else if (typeof type === "string") {
    t = { kind: "scalar", type };
    size = SIZES[type];
  } else if ("reserved" in type) {
    t = { kind: "reserved" };
    size = type.reserved;
  } else {
    t = { kind: "struct", struct: type.struct.name, def: type.struct };
    size = type.struct.size;
  }
  const count = extra.count ?? 1;
  return { name, offset, size: t.kind === "reserved" ? size : size * count, type: t, count, endian: "little", bitfields: [], source: at(F), ...extra };
}

export function struct(name: string, size: number, fields: StructFieldModel[], extra: Partial<StructModel> = {}): StructModel {
  return { name, size, endian: "little", packed: false, direction: "both", fields, source: at(F), ...extra };
}

export function device(name: string, extra: Partial<DeviceModel> = {}): DeviceModel {
  return {
    name,
    title: `${name} test device`,
    version: "1.2.3",
    sourceHash: "0".repeat(64),
    source: { file: `devices/${name}.yaml`, line: 1, column: 1 },
    match: { pci: [{ vendor: 0x1234, device: 0x5678 }] },
    constants: [],
    enums: [],
    regions: [],
    structs: [],
    queues: [],
    commands: [],
    interrupts: [],
    handFiles: [],
    ...extra,
  };
}

/** devices/qemu-edu.yaml as the validator would resolve it. */
export function qemuEdu(): DeviceModel {
  const file = "devices/qemu-edu.yaml";
  const s = (l: number) => ({ file, line: l, column: 3 });
  const r = (name: string, offset: number, width: 32 | 64, access: Access, l: number, fields: FieldModel[] = [], doc?: string): RegisterModel => ({
    name, offset, width, access, dmaAddress: false, count: 1, stride: 0, fields, doc, source: s(l),
  });
  const b = (name: string, lsb: number, width: number, access: Access, l: number, extra: Partial<FieldModel> = {}): FieldModel => ({ name, lsb, width, access, source: s(l), ...extra });
  return {
    name: "qemu-edu",
    title: "QEMU educational PCI device",
    version: "1.0.0",
    doc: "A teaching device from QEMU.",
    sourceHash: "ab".repeat(32),
    source: s(1),
    match: { pci: [{ vendor: 0x1234, device: 0x11e8 }] },
    constants: [
      { name: "DMA_BUFFER_OFFSET", value: 0x40000, doc: "Device address of the on-board DMA buffer.", source: s(18) },
      { name: "DMA_BUFFER_SIZE", value: 4096, doc: "Size of the on-board DMA buffer in bytes.", source: s(19) },
    ],
    enums: [
      {
        name: "DmaDirection", width: 1, doc: "Which way a DMA transfer moves data.", source: s(26),
        members: [
          { name: "TO_DEVICE", value: 0, doc: "From host RAM into the on-board buffer.", source: s(29) },
          { name: "FROM_DEVICE", value: 1, doc: "From the on-board buffer into host RAM.", source: s(30) },
        ],
      },
    ],
    regions: [
      {
        name: "bar0", kind: "mmio", index: 0, size: 0x100000, doc: "BAR0.", source: s(33),
        registers: [
          r("id", 0x00, 32, "ro", 39, [b("magic", 0, 8, "ro", 46, { doc: "Always 0xed." }), b("minor", 16, 8, "ro", 47), b("major", 24, 8, "ro", 48)], "Identification."),
          r("liveness", 0x04, 32, "rw", 49),
          r("status", 0x20, 32, "rw", 61, [b("computing", 0, 1, "ro", 67), b("irq_on_factorial", 7, 1, "rw", 68)]),
          r("irq_status", 0x24, 32, "ro", 69, [b("factorial", 0, 1, "ro", 75), b("dma", 8, 1, "ro", 76)]),
          r("irq_raise", 0x60, 32, "wo", 77),
          r("dma_src", 0x80, 64, "rw", 89),
          r("dma_cmd", 0x98, 64, "rw", 107, [b("start", 0, 1, "rw", 113), b("direction", 1, 1, "rw", 114, { enumName: "DmaDirection" }), b("irq", 2, 1, "rw", 115)]),
        ],
      },
    ],
    structs: [],
    queues: [],
    commands: [],
    interrupts: [{ name: "irq", index: 0, kind: "msi", doc: "Raised for completions.", source: s(118) }],
    handFiles: [],
  };
}

export type { CommandModel };

/** A device exercising every struct feature: bitfields, enums, dma addresses, arrays, nesting, big endian. */
export function structsDevice(): DeviceModel {
  line = 1; // fixtures must be identical on every call (determinism tests)
  const fuse = bits("fuse", 0, 2, { enumName: "Fuse" });
  const psdt = bits("psdt", 6, 2);
  const sqe = struct("Sqe", 64, [
    field("opcode", 0, "u8", { doc: "Command opcode." }),
    field("flags", 1, "u8", { bitfields: [fuse, psdt] }),
    field("cid", 2, "u16"),
    field("nsid", 4, "u32"),
    field("_rsvd8", 8, { reserved: 8 }),
    field("mptr", 16, "dma-address"),
    field("prp1", 24, "dma-address"),
    field("prp2", 32, "u64"),
    field("cdw10", 40, "u32"),
    field("cdw11", 44, "u32"),
    field("cdw12", 48, "u32"),
    field("cdw13", 52, "u32"),
    field("cdw14", 56, "u32"),
    field("cdw15", 60, "u32"),
  ]);
  const cqe = struct("Cqe", 16, [
    field("dw0", 0, "u32"),
    field("dw1", 4, "u32"),
    field("sqhd", 8, "u16"),
    field("sqid", 10, "u16"),
    field("cid", 12, "u16"),
    field("status", 14, "u16", { bitfields: [bits("p", 0), bits("sc", 1, 8), bits("sct", 9, 3), bits("dnr", 15)] }),
  ]);
  const inner = struct("Inner", 8, [field("a", 0, "u16"), field("b", 2, "i16"), field("c", 4, "u32", { endian: "big" })]);
  const kitchen = struct(
    "Kitchen",
    160,
    [
      field("magic", 0, "u32"),
      field("kind", 4, "u8", { enumName: "Fuse" }),
      field("sn", 5, "u8", { count: 3 }),
      field("words", 8, "u16", { count: 4 }),
      field("big", 16, "u64"),
      field("signed", 24, "i32"),
      field("wide", 32, "u64", { bitfields: [bits("lo", 0, 12), bits("hi", 12, 52)] }),
      field("inner", 40, { struct: inner }),
      field("inners", 48, { struct: inner }, { count: 2 }),
      field("addrs", 64, "dma-address", { count: 2 }),
      field("top", 80, "u32", { bitfields: [bits("t", 31), bits("all", 0, 31)] }),
      // a gap 84..88 the encoder must zero
      field("_pad", 88, { reserved: 40 }),
      field("tail", 128, "u8", { count: 32 }),
    ],
    { endian: "big" },
  );
  // endianness per field: kitchen is big endian, fields inherit it
  for (const f of kitchen.fields) f.endian = "big";
  return device("structs-dev", {
    enums: [
      {
        name: "Fuse", width: 2, source: at(F),
        members: [
          { name: "NORMAL", value: 0, source: at(F) },
          { name: "FIRST", value: 1, source: at(F) },
          { name: "SECOND", value: 2, source: at(F) },
        ],
      },
    ],
    structs: [sqe, cqe, inner, kitchen],
  });
}

/** Queues of both kinds, register arrays, a dma-address register, and commands (fixed, overlays, bit fields). */
export function queuesDevice(): DeviceModel {
  const base = structsDevice();
  const sqe = base.structs.find((s) => s.name === "Sqe")!;
  const cqe = base.structs.find((s) => s.name === "Cqe")!;
  const desc = struct("Descriptor", 32, [
    field("src", 0, "dma-address"),
    field("dst", 8, "dma-address"),
    field("size", 16, "u32"),
    field("status", 20, "u32", { enumName: "DescStatus" }),
    field("cookie", 24, "u32"),
    field("_rsvd", 28, { reserved: 4 }),
  ]);
  const overlay = (name: string, offset: number, type: ScalarType, extra: Partial<StructFieldModel> = {}) => field(name, offset, type, extra);
  const param = (name: string, f: StructFieldModel, fromField?: string) => ({ name, field: f, fromField, source: at(F) });
  const fieldOf = (n: string) => sqe.fields.find((f) => f.name === n)!;
  const fix = (n: string, value: number) => ({ field: n, def: fieldOf(n), value });
  const commands: CommandModel[] = [
    {
      name: "identify", struct: "Sqe", structDef: sqe, queue: "admin", doc: "Identify */ data.", source: at(F),
      fixed: [fix("opcode", 6)],
      params: [
        param("nsid", fieldOf("nsid"), "nsid"),
        param("buffer", fieldOf("prp1"), "prp1"),
        param("cns", overlay("cns", 40, "u8", { enumName: "Fuse" })),
        param("cntid", overlay("cntid", 42, "u16")),
      ],
    },
    {
      name: "create_io_cq", struct: "Sqe", structDef: sqe, queue: "admin", source: at(F),
      fixed: [fix("opcode", 5)],
      params: [
        param("buffer", fieldOf("prp1"), "prp1"),
        param("qid", overlay("qid", 40, "u16")),
        param("cq_flags", overlay("cq_flags", 44, "u16", { bitfields: [bits("pc", 0), bits("ien", 1)] })),
      ],
    },
    {
      name: "get_features", struct: "Sqe", structDef: sqe, queue: "admin", source: at(F),
      fixed: [fix("opcode", 0x0a), fix("cdw10", 7)],
      params: [param("fid", overlay("fid", 40, "u8"))],
    },
    { name: "flush", struct: "Sqe", structDef: sqe, queue: "io", source: at(F), fixed: [fix("opcode", 0)], params: [param("nsid", fieldOf("nsid"), "nsid")] },
    { name: "raw", struct: "Sqe", structDef: sqe, source: at(F), fixed: [], params: [param("slba", overlay("slba", 40, "u64"))] },
  ];
  const sqTail = reg("sq_tail", 0x1000, 32, "wo", { count: 5, stride: 8, fields: [bits("sqt", 0, 16)] });
  const cqHead = reg("cq_head", 0x1004, 32, "wo", { count: 5, stride: 8 });
  // built in the order `at` numbered them before the links existed, so the golden files' lines hold
  const constants = [{ name: "NEG", value: -1, source: at(F) }, { name: "BIG", value: 0xffffffff, doc: "All ones.", source: at(F) }];
  const enums = [
    ...base.enums,
    { name: "DescStatus", width: 2, source: at(F), members: [{ name: "PENDING", value: 0, source: at(F) }, { name: "DONE", value: 1, source: at(F) }] },
  ];
  const regions: RegionModel[] = [
    {
      name: "bar0", kind: "mmio", index: 0, size: 0x2000, source: at(F),
      registers: [
        reg("cap", 0, 64, "ro", { fields: [bits("mqes", 0, 12), bits("cba", 12, 52)] }),
        reg("cc", 0x14, 32, "rw", { fields: [bits("en", 0), bits("css", 4, 3, { enumName: "Fuse" }), bits("nssro", 8, 1, { access: "w1c" }), bits("all", 31)] }),
        reg("intmc", 0x10, 32, "w1c"),
        reg("asq", 0x28, 64, "rw", { dmaAddress: true }),
        reg("low_addr", 0x30, 32, "rw", { dmaAddress: true }),
        reg("b8", 0x38, 8, "rw", { fields: [bits("x", 7)] }),
        reg("b16", 0x3a, 16, "rc"),
        sqTail,
        cqHead,
      ],
    },
    {
      name: "queue", kind: "ram", index: 1, size: 0x1000, source: at(F),
      registers: [reg("head", 0, 32, "rw"), reg("tail", 4, 32, "ro"), reg("doorbell", 8, 32, "wo")],
    },
  ];
  // the links the model builder resolves, made by hand
  const ref = (region: string, register: string): RegisterRef => ({ region, register, def: regions.find((r) => r.name === region)!.registers.find((r) => r.name === register)! });
  const irq = (name: string) => ({ interrupt: name, interruptDef: undefined as unknown as InterruptModel }); // linked below
  const of = (s: StructModel, n: string) => s.fields.find((f) => f.name === n)!;
  const dev = device("queues-dev", {
    constants,
    enums,
    regions,
    structs: [sqe, cqe, desc],
    queues: [
      {
        kind: "sq-cq", name: "admin", instances: { first: 0, last: 0 }, source: at(F),
        sq: { entry: "Sqe", entryDef: sqe, depth: 32, ring: { kind: "dma" }, doorbell: ref("bar0", "sq_tail"), tag: "cid", tagDef: of(sqe, "cid") },
        cq: {
          entry: "Cqe", entryDef: cqe, depth: 32, ring: { kind: "dma" }, doorbell: ref("bar0", "cq_head"), tag: "cid", tagDef: of(cqe, "cid"),
          phase: { field: "status", def: of(cqe, "status"), bit: 0 }, sqHead: "sqhd", sqHeadDef: of(cqe, "sqhd"),
        },
        ...irq("admin"),
      },
      {
        kind: "sq-cq", name: "io", instances: { first: 1, last: 4 }, source: at(F), doc: "I/O queues.",
        sq: { entry: "Sqe", entryDef: sqe, depth: 256, ring: { kind: "dma" }, doorbell: ref("bar0", "sq_tail"), tag: "cid", tagDef: of(sqe, "cid") },
        cq: {
          entry: "Cqe", entryDef: cqe, depth: 256, ring: { kind: "dma" }, doorbell: ref("bar0", "cq_head"), tag: "cid", tagDef: of(cqe, "cid"),
          phase: { field: "status", def: of(cqe, "status"), bit: 0 },
        },
      },
      {
        kind: "index-ring", name: "cmd", entry: "Descriptor", entryDef: desc, depth: 64, ring: { kind: "region", region: "queue", offset: 0x100 }, source: at(F),
        producer: ref("queue", "head"), consumer: ref("queue", "tail"), doorbell: ref("queue", "doorbell"),
        done: { field: "status", def: of(desc, "status"), pending: 0 }, ...irq("done"),
      },
    ],
    commands,
    handFiles: ["model.ts"],
  });
  dev.interrupts = [
    { name: "admin", index: 0, kind: "msix", source: at(F) },
    { name: "io", index: 1, kind: "msix", source: at(F) },
    { name: "done", index: 2, kind: "msix", source: at(F) },
  ];
  for (const q of dev.queues) if (q.interrupt !== undefined) q.interruptDef = dev.interrupts.find((i) => i.name === q.interrupt)!;
  return dev;
}

/** Everything at once: the golden IR fixture (test/fixtures/golden/kitchen.expected). */
export function kitchenDevice(): DeviceModel {
  const q = queuesDevice();
  const s = structsDevice();
  return {
    ...q,
    name: "kitchen",
    title: "Kitchen sink */ test device",
    doc: "Every feature of the DSL in one device.\nA second line | with a pipe.",
    source: { file: "test/fixtures/golden/kitchen.yaml", line: 1, column: 1 },
    structs: [...q.structs, ...s.structs.filter((x) => x.name === "Inner" || x.name === "Kitchen")],
  };
}

