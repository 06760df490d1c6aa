// Bad device descriptions, one problem each, with where the validator must point. Shared by
// diagnostics.test.ts; `at` is line:column (1-based) of the offending key or value.
export interface BadCase {
  name: string;
  yaml: string;
  code: string;
  at: string;
  path: string;
  /** A piece of the message a person needs (the names involved, the numbers). */
  says: string;
}

const HEAD = "device: t\ntitle: T\nversion: 1.0.0\n";
/** A header (3 lines) and one mmio region `bar0` of 0x100 bytes whose registers start on line 10. */
const REGION = `${HEAD}regions:
  bar0:
    kind: mmio
    index: 0
    size: 0x100
    registers:
`;
/** A header, a 16-byte struct `E` (lines 4-11) and an interrupt `irq`; queues start on line 12. */
const ENTRY = `${HEAD}structs:
  E:
    size: 16
    fields:
      op: { offset: 0, type: u8 }
      tag: { offset: 2, type: u16 }
      status: { offset: 4, type: u32 }
      addr: { offset: 8, type: dma-address, extent: 4096 }
interrupts:
  irq: { index: 0, kind: msi }
`;
/** ENTRY plus region q (ram, with head/tail/bell) and an index ring `cmd`; commands start on line 33. */
const RING = `${ENTRY}regions:
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
    interrupt: irq
`;

/** ENTRY plus doorbell arrays in bar0 and an sq-cq queue `io` (ids 1..7) on lines 23-27. */
const SQCQ = `${ENTRY}regions:
  bar0:
    kind: mmio
    index: 0
    size: 0x2000
    registers:
      sq_tail: { offset: 0x1000, count: 8, stride: 8 }
      cq_head: { offset: 0x1004, count: 8, stride: 8 }
queues:
  io:
    kind: sq-cq
    instances: "1..7"
    sq: { entry: E, depth: 64, ring: dma, doorbell: bar0.sq_tail, tag: tag }
    cq: { entry: E, depth: 64, ring: dma, doorbell: bar0.cq_head, tag: tag, phase: { field: status, bit: 0 } }
`;

export const BAD_CASES: BadCase[] = [
  // ---- schema: shapes, names, types ----
  { name: "top level is a list", yaml: "- device: t\n", code: "wrong-type", at: "1:1", path: "", says: "expected a map, found a list" },
  { name: "missing title", yaml: "device: t\nversion: 1.0.0\n", code: "missing-key", at: "1:1", path: "", says: 'needs "title"' },
  { name: "misspelt top-level key", yaml: `${HEAD}regons: {}\n`, code: "unknown-key", at: "4:1", path: "regons", says: 'did you mean "regions"' },
  { name: "device not kebab-case", yaml: "device: Bad_Name\ntitle: T\nversion: 1.0.0\n", code: "bad-format", at: "1:9", path: "device", says: "kebab-case" },
  { name: "version read as a number", yaml: "device: t\ntitle: T\nversion: 1.0\n", code: "wrong-type", at: "3:10", path: "version", says: "expected a string, found an integer" },
  { name: "register name not snake_case", yaml: `${REGION}      DmaCmd: { offset: 0 }\n`, code: "bad-name", at: "10:7", path: "regions.bar0.registers.DmaCmd", says: "snake_case" },
  { name: "register width 24", yaml: `${REGION}      a: { offset: 0, width: 24 }\n`, code: "bad-value", at: "10:30", path: "regions.bar0.registers.a.width", says: "24 is not one of: 8, 16, 32, 64" },
  { name: "unknown access", yaml: `${REGION}      a: { offset: 0, access: rx }\n`, code: "bad-value", at: "10:31", path: "regions.bar0.registers.a.access", says: '"rx" is not one of: ro, wo, rw' },
  { name: "register without offset", yaml: `${REGION}      a: { width: 32 }\n`, code: "missing-key", at: "10:7", path: "regions.bar0.registers.a", says: 'needs "offset"' },
  { name: "negative offset", yaml: `${REGION}      a: { offset: -4 }\n`, code: "out-of-range", at: "10:20", path: "regions.bar0.registers.a.offset", says: "offset -4 is out of range" },
  { name: "unquoted comma in a flow-map doc", yaml: `${REGION}      a: { offset: 0, doc: Start, then wait. }\n`, code: "unknown-key", at: "10:35", path: "regions.bar0.registers.a.then wait.", says: "put the text in quotes" },
  { name: "ring placement missing its offset", yaml: RING.replace("ring: { region: q, offset: 0x100 }", "ring: { region: q }"), code: "missing-key", at: "28:5", path: "queues.cmd.ring", says: '"ring" needs "offset"' },
  { name: "ring placement neither dma nor a map", yaml: RING.replace("ring: { region: q, offset: 0x100 }", "ring: host"), code: "bad-value", at: "28:11", path: "queues.cmd.ring", says: '"host" must be "dma"' },
  { name: "several keys missing, one message", yaml: `${HEAD}interrupts:\n  irq: { doc: hi }\n`, code: "missing-key", at: "5:3", path: "interrupts.irq", says: '"irq" needs "index" and "kind"' },
  { name: "constant name not UPPER_SNAKE", yaml: `${HEAD}constants:\n  ringDepth: 64\n`, code: "bad-name", at: "5:3", path: "constants.ringDepth", says: "UPPER_SNAKE" },
  { name: "pci vendor id over 16 bits", yaml: `${HEAD}match:\n  pci:\n    - { vendor: 0x12345, device: 1 }\n`, code: "out-of-range", at: "6:17", path: "match.pci[0].vendor", says: "vendor 74565 is out of range: must be <= 65535" },
  { name: "register bits neither a number nor msb:lsb", yaml: `${REGION}      a: { offset: 0, fields: { x: { bits: "high" } } }\n`, code: "bad-format", at: "10:44", path: "regions.bar0.registers.a.fields.x.bits", says: 'bits "high" is not a bit number or an "msb:lsb" range' },

  // ---- registers and bit fields ----
  { name: "bits written lsb:msb", yaml: `${REGION}      a: { offset: 0, fields: { x: { bits: "3:5" } } }\n`, code: "bad-bits", at: "10:44", path: "regions.bar0.registers.a.fields.x.bits", says: 'msb 3 is below lsb 5; write the range as "5:3"' },
  { name: "field wider than its register", yaml: `${REGION}      a: { offset: 0, width: 16, fields: { x: { bits: "16:8" } } }\n`, code: "field-outside-register", at: "10:55", path: "regions.bar0.registers.a.fields.x.bits", says: 'bits 16:8 of "x" do not fit the 16-bit register "a"' },
  { name: "fields overlap", yaml: `${REGION}      a:\n        offset: 0\n        fields:\n          x: { bits: "7:4" }\n          y: { bits: 4 }\n`, code: "field-overlap", at: "14:22", path: "regions.bar0.registers.a.fields.y.bits", says: 'bit 4 of "y" overlaps bits 7:4 of "x"' },
  { name: "registers overlap", yaml: `${REGION}      a: { offset: 0x10, width: 64 }\n      b: { offset: 0x14 }\n`, code: "register-overlap", at: "11:20", path: "regions.bar0.registers.b.offset", says: "registers overlap: b (0x14..0x17) and a (0x10..0x17)" },
  { name: "register array runs into the next register", yaml: `${REGION}      db: { offset: 0x20, count: 4, stride: 8 }\n      x: { offset: 0x38 }\n`, code: "register-overlap", at: "11:20", path: "regions.bar0.registers.x.offset", says: "x (0x38..0x3b) and db[3] (0x38..0x3b)" },
  { name: "register past the region's end", yaml: `${REGION}      a: { offset: 0x100 }\n`, code: "register-outside-region", at: "10:20", path: "regions.bar0.registers.a.offset", says: "past the end of region bar0 (size 0x100)" },
  { name: "register array past the region's end", yaml: `${REGION}      a: { offset: 0x80, count: 33, stride: 4 }\n`, code: "register-outside-region", at: "10:20", path: "regions.bar0.registers.a.offset", says: 'register array "a" (33 x 4 bytes, stride 4) ends at 0x104' },
  { name: "misaligned register", yaml: `${REGION}      a: { offset: 0x6 }\n`, code: "misaligned", at: "10:20", path: "regions.bar0.registers.a.offset", says: "not 4-byte aligned" },
  { name: "reset value wider than the register", yaml: `${REGION}      a: { offset: 0, width: 8, reset: 0x100 }\n`, code: "reset-too-wide", at: "10:40", path: "regions.bar0.registers.a.reset", says: "reset value 0x100" },
  { name: "64-bit reset past 2^64, read exactly", yaml: `${REGION}      a: { offset: 0, width: 64, reset: 0x1ffffffffffffffff }\n`, code: "reset-too-wide", at: "10:41", path: "regions.bar0.registers.a.reset", says: "0x1ffffffffffffffff" },
  { name: "register array stride below its width", yaml: `${REGION}      a: { offset: 0, count: 4, stride: 2 }\n`, code: "array-stride", at: "10:41", path: "regions.bar0.registers.a.stride", says: "elements would overlap" },
  { name: "duplicate region index", yaml: `${REGION}      a: { offset: 0 }\n  bar2:\n    kind: mmio\n    index: 0\n    size: 0x100\n`, code: "duplicate-index", at: "13:12", path: "regions.bar2.index", says: "regions bar0 and bar2 both have index 0" },
  { name: "register names collide in camelCase", yaml: `${REGION}      irq_1st: { offset: 0 }\n      irq1st: { offset: 4 }\n`, code: "name-collision", at: "11:7", path: "regions.bar0.registers.irq1st", says: 'both become irq1st' },

  // ---- enums ----
  { name: "unknown enum", yaml: `${REGION}      a: { offset: 0, fields: { x: { bits: 0, enum: Mode } } }\n`, code: "unknown-enum", at: "10:53", path: "regions.bar0.registers.a.fields.x.enum", says: 'unknown enum "Mode"' },
  { name: "enum too wide for its field", yaml: `${HEAD}enums:\n  Mode:\n    values: { A: 0, B: 4 }\n${REGION.slice(HEAD.length)}      a: { offset: 0, fields: { x: { bits: "1:0", enum: Mode } } }\n`, code: "enum-too-wide", at: "13:57", path: "regions.bar0.registers.a.fields.x.enum", says: "enum Mode has B = 4, which does not fit the 2-bit field" },
  { name: "enum value past its declared width", yaml: `${HEAD}enums:\n  Op:\n    width: 4\n    values:\n      A: 0\n      B: 0x10\n`, code: "enum-value-too-wide", at: "9:10", path: "enums.Op.values.B", says: "Op.B = 16 does not fit the enum's width of 4 bits" },

  // ---- structs ----
  { name: "struct field past the struct's size", yaml: `${HEAD}structs:\n  S:\n    size: 6\n    fields:\n      a: { offset: 4, type: u32 }\n`, code: "struct-field-outside", at: "8:20", path: "structs.S.fields.a.offset", says: 'field "a" (bytes 4..7) ends past the end of the 6-byte struct S' },
  { name: "struct fields overlap", yaml: `${HEAD}structs:\n  S:\n    size: 8\n    fields:\n      a: { offset: 0, type: u32 }\n      b: { offset: 2, type: u16 }\n`, code: "struct-field-overlap", at: "9:20", path: "structs.S.fields.b.offset", says: 'field "b" (bytes 2..3) overlaps field "a" (bytes 0..3)' },
  { name: "array field overlaps the next field", yaml: `${HEAD}structs:\n  S:\n    size: 16\n    fields:\n      name: { offset: 0, type: u8, count: 6 }\n      b: { offset: 4, type: u32 }\n`, code: "struct-field-overlap", at: "9:20", path: "structs.S.fields.b.offset", says: 'overlaps field "name" (bytes 0..5)' },
  { name: "misaligned wide field", yaml: `${HEAD}structs:\n  S:\n    size: 8\n    fields:\n      a: { offset: 2, type: u32 }\n`, code: "misaligned", at: "8:20", path: "structs.S.fields.a.offset", says: "not 4-byte aligned; move it or set packed: true" },
  { name: "unknown field type", yaml: `${HEAD}structs:\n  S:\n    size: 8\n    fields:\n      a: { offset: 0, type: Header }\n`, code: "unknown-struct", at: "8:29", path: "structs.S.fields.a.type", says: 'unknown type "Header"' },
  { name: "structs containing each other", yaml: `${HEAD}structs:\n  A:\n    size: 8\n    fields:\n      b: { offset: 0, type: B }\n  B:\n    size: 8\n    fields:\n      a: { offset: 0, type: A }\n`, code: "struct-cycle", at: "12:29", path: "structs.B.fields.a.type", says: "A -> B -> A" },
  { name: "enum on a dma-address field", yaml: `${HEAD}enums:\n  K: { values: { A: 0 } }\nstructs:\n  S:\n    size: 8\n    fields:\n      a: { offset: 0, type: dma-address, extent: 8, enum: K }\n`, code: "bad-option", at: "10:53", path: "structs.S.fields.a.enum", says: "only integer fields" },
  { name: "reserved field without size", yaml: `${HEAD}structs:\n  S:\n    size: 8\n    fields:\n      _rsvd: { offset: 0, type: reserved }\n`, code: "missing-key", at: "8:33", path: "structs.S.fields._rsvd.type", says: 'needs "size"' },
  { name: "bit field wider than its struct field", yaml: `${HEAD}structs:\n  S:\n    size: 2\n    fields:\n      f: { offset: 0, type: u8, fields: { k: { bits: "8:6" } } }\n`, code: "field-outside-register", at: "8:54", path: "structs.S.fields.f.fields.k.bits", says: 'bits 8:6 of "k" do not fit the 8-bit u8 field "f"' },

  // ---- queues ----
  { name: "a 16-bit doorbell", yaml: RING.replace("bell: { offset: 8 }", "bell: { offset: 8, width: 16 }"), code: "doorbell-width", at: "31:15", path: "queues.cmd.doorbell", says: "q.bell is 16 bits wide; a queue publishes through 32-bit registers only" },
  { name: "depth not a power of two", yaml: RING.replace("depth: 16", "depth: 24"), code: "depth-not-power-of-two", at: "27:12", path: "queues.cmd.depth", says: "depth 24 is not a power of two" },
  { name: "unknown register in a queue", yaml: RING.replace("producer: q.head", "producer: q.haed"), code: "unknown-register", at: "29:15", path: "queues.cmd.producer", says: 'region q has no register "haed"; did you mean "head"?' },
  { name: "unknown region in a queue", yaml: RING.replace("doorbell: q.bell", "doorbell: bar0.bell"), code: "unknown-region", at: "31:15", path: "queues.cmd.doorbell", says: 'unknown region "bar0"' },
  { name: "unknown interrupt", yaml: RING.replace("interrupt: irq", "interrupt: done"), code: "unknown-interrupt", at: "33:16", path: "queues.cmd.interrupt", says: 'unknown interrupt "done"' },
  { name: "unknown entry struct", yaml: RING.replace("entry: E", "entry: Desc"), code: "unknown-struct", at: "26:12", path: "queues.cmd.entry", says: 'unknown struct "Desc"' },
  { name: "done names a missing field", yaml: RING.replace("field: status", "field: state"), code: "unknown-field", at: "32:20", path: "queues.cmd.done.field", says: 'struct E has no field "state"' },
  { name: "ring past the region's end", yaml: RING.replace("offset: 0x100 }", "offset: 0xf80 }"), code: "ring-outside-region", at: "28:32", path: "queues.cmd.ring.offset", says: "ends at 0x1080, past the end of region q" },
  { name: "ring over the registers", yaml: RING.replace("offset: 0x100 }", "offset: 0x0 }"), code: "ring-overlaps-register", at: "28:32", path: "queues.cmd.ring.offset", says: "overlaps registers head, tail, bell" },
  {
    name: "sq-cq doorbell array too short for its ids",
    yaml: SQCQ.replace("count: 8, stride: 8 }\n      cq_head", "count: 4, stride: 8 }\n      cq_head"),
    code: "doorbell-too-short",
    at: "26:53",
    path: "queues.io.sq.doorbell",
    says: "doorbell bar0.sq_tail has 4 elements, but queue id 7 needs element 7",
  },
  {
    name: "sq-cq instances backwards",
    yaml: SQCQ.replace('"1..7"', '"5..2"'),
    code: "bad-instances",
    at: "25:16",
    path: "queues.io.instances",
    says: "first id 5 is above last id 2",
  },

  { name: "phase bit outside its field", yaml: SQCQ.replace("bit: 0 }", "bit: 32 }"), code: "field-outside-register", at: "27:106", path: "queues.io.cq.phase.bit", says: 'phase bit 32 is outside the 32-bit field "status"' },
  { name: "tag field too wide", yaml: SQCQ.replace("ring: dma, doorbell: bar0.sq_tail, tag: tag", "ring: dma, doorbell: bar0.sq_tail, tag: addr"), code: "bad-field-type", at: "26:72", path: "queues.io.sq.tag", says: 'tag field "addr" must be one integer of at most 32 bits' },
  { name: "queue ids claimed twice", yaml: SQCQ + "  io2:\n    kind: sq-cq\n    instances: 7\n    sq: { entry: E, depth: 64, ring: dma, doorbell: bar0.sq_tail, tag: tag }\n    cq: { entry: E, depth: 64, ring: dma, doorbell: bar0.cq_head, tag: tag, phase: { field: status, bit: 0 } }\n", code: "queue-ids-overlap", at: "30:16", path: "queues.io2.instances", says: "queue ids 7..7 of io2 overlap ids 1..7 of io" },

  // ---- commands ----
  { name: "command on an unknown queue", yaml: `${RING}commands:\n  go:\n    queue: cmdq\n`, code: "unknown-queue", at: "36:12", path: "commands.go.queue", says: 'unknown queue "cmdq"; did you mean "cmd"?' },
  { name: "command without queue or struct", yaml: `${RING}commands:\n  go:\n    fixed: { op: 1 }\n`, code: "missing-key", at: "35:3", path: "commands.go", says: 'needs "queue"' },
  { name: "fixed value for a missing field", yaml: `${RING}commands:\n  go:\n    queue: cmd\n    fixed: { opcode: 1 }\n`, code: "unknown-field", at: "37:14", path: "commands.go.fixed.opcode", says: 'struct E has no field "opcode"' },
  { name: "fixed value too wide", yaml: `${RING}commands:\n  go:\n    queue: cmd\n    fixed: { op: 0x100 }\n`, code: "fixed-value-too-wide", at: "37:18", path: "commands.go.fixed.op", says: "fixed value 0x100 does not fit the 8-bit field \"op\"" },
  { name: "overlay params overlap", yaml: `${RING}commands:\n  go:\n    queue: cmd\n    params:\n      a: { offset: 12, type: u32 }\n      b: { offset: 14, type: u16 }\n`, code: "param-overlap", at: "39:7", path: "commands.go.params.b", says: 'param "b" (bytes 14..15) overlaps param "a" (bytes 12..15)' },
  { name: "param names a missing field", yaml: `${RING}commands:\n  go:\n    queue: cmd\n    params:\n      buf: { field: adr }\n`, code: "unknown-field", at: "38:21", path: "commands.go.params.buf.field", says: 'struct E has no field "adr"; did you mean "addr"?' },

  // ---- what validate promises: the package generates, type-checks, loads and passes its layout test ----
  { name: "struct field named like an Object member", yaml: `${HEAD}structs:\n  S:\n    size: 8\n    fields:\n      value_of: { offset: 0, type: u32 }\n`, code: "builtin-name", at: "8:7", path: "structs.S.fields.value_of", says: "becomes valueOf in the generated package, a member every JavaScript object has" },
  { name: "register named constructor", yaml: `${REGION}      constructor: { offset: 0 }\n`, code: "builtin-name", at: "10:7", path: "regions.bar0.registers.constructor", says: "Object.prototype.constructor" },
  { name: "register bit field named like an Object member", yaml: `${REGION}      a: { offset: 0, fields: { has_own_property: { bits: 0 } } }\n`, code: "builtin-name", at: "10:33", path: "regions.bar0.registers.a.fields.has_own_property", says: "becomes hasOwnProperty" },
  { name: "struct bit field whose accessor is toString", yaml: `${HEAD}structs:\n  S:\n    size: 4\n    fields:\n      to: { offset: 0, type: u32, fields: { string: { bits: 0 } } }\n`, code: "builtin-name", at: "8:45", path: "structs.S.fields.to.fields.string", says: "(accessor toString)" },
  { name: "struct named after a JavaScript global", yaml: `${HEAD}structs:\n  DataView:\n    size: 4\n    fields:\n      a: { offset: 0, type: u32 }\n`, code: "reserved-name", at: "5:3", path: "structs.DataView", says: "JavaScript's global DataView" },
  { name: "enum named after a runtime import", yaml: `${HEAD}enums:\n  DmaRef:\n    values: { A: 0 }\n`, code: "reserved-name", at: "5:3", path: "enums.DmaRef", says: "the runtime's DmaRef (the package imports it)" },
  { name: "constant named after a layout-test helper", yaml: `${HEAD}constants:\n  GUARD: 8\n`, code: "reserved-name", at: "5:3", path: "constants.GUARD", says: "the layout self-test's own GUARD" },
  {
    name: "register field type and struct export one name",
    yaml: `${HEAD}structs:\n  CtlFields:\n    size: 4\n    fields:\n      a: { offset: 0, type: u32 }\n${REGION.slice(HEAD.length)}      ctl: { offset: 0, fields: { en: { bits: 0 } } }\n`,
    code: "name-collision",
    at: "15:7",
    path: "regions.bar0.registers.ctl",
    says: 'register "ctl" of region bar0 and struct "CtlFields" both become CtlFields',
  },
  { name: "queue wrapper and struct export one name", yaml: RING.replace("structs:\n  E:", "structs:\n  CmdQueue:\n    size: 4\n    fields:\n      a: { offset: 0, type: u32 }\n  E:"), code: "name-collision", at: "28:3", path: "queues.cmd", says: 'queue "cmd" and struct "CmdQueue" both become CmdQueue' },
  { name: "sq-cq ring placed in a region", yaml: SQCQ.replace("sq: { entry: E, depth: 64, ring: dma,", "sq: { entry: E, depth: 64, ring: { region: bar0, offset: 0 },"), code: "ring-placement-unsupported", at: "26:38", path: "queues.io.sq.ring", says: "write ring: dma" },
  {
    name: "tag field too narrow for the requests in flight",
    yaml: SQCQ.replace("depth: 64, ring: dma, doorbell: bar0.sq_tail, tag: tag", "depth: 512, ring: dma, doorbell: bar0.sq_tail, tag: op").replace("cq: { entry: E, depth: 64", "cq: { entry: E, depth: 512"),
    code: "tag-too-narrow",
    at: "26:73",
    path: "queues.io.sq.tag",
    says: 'tag field "op" has 8 bits, but queue io keeps up to 511 requests in flight (tags 0..510)',
  },
  { name: "phase bit read from the tag field", yaml: SQCQ.replace("phase: { field: status", "phase: { field: tag"), code: "phase-in-field", at: "27:93", path: "queues.io.cq.phase.field", says: "also the tag field of queue io" },
  { name: "done field misaligned in later ring slots", yaml: RING.replace("size: 16", "size: 18"), code: "role-field-misaligned", at: "32:20", path: "queues.cmd.done.field", says: "the 18-byte entry size must be multiples of 4" },
  { name: "read-only doorbell", yaml: RING.replace("bell: { offset: 8 }", "bell: { offset: 8, access: ro }"), code: "register-not-writable", at: "31:15", path: "queues.cmd.doorbell", says: "doorbell q.bell is ro: the host writes it" },
  { name: "write-only consumer index", yaml: RING.replace("tail: { offset: 4 }", "tail: { offset: 4, access: wo }"), code: "register-not-readable", at: "30:15", path: "queues.cmd.consumer", says: "consumer index q.tail is write-only" },
  { name: "producer is the consumer", yaml: RING.replace("consumer: q.tail", "consumer: q.head"), code: "producer-is-consumer", at: "30:15", path: "queues.cmd.consumer", says: "q.head is both the producer and the consumer index of queue cmd" },
  { name: "doorbell is the consumer", yaml: RING.replace("doorbell: q.bell", "doorbell: q.tail"), code: "doorbell-shared", at: "30:15", path: "queues.cmd.consumer", says: "q.tail is both the doorbell and the consumer of queue cmd" },
  { name: "sq and cq ring one doorbell", yaml: SQCQ.replace("doorbell: bar0.cq_head", "doorbell: bar0.sq_tail"), code: "doorbell-shared", at: "27:53", path: "queues.io.cq.doorbell", says: "bar0.sq_tail[1] is both the SQ doorbell and the CQ doorbell of queue io" },
  {
    name: "two queues share a producer register",
    yaml: RING.replace("      bell: { offset: 8 }\n", "      bell: { offset: 8 }\n      tail2: { offset: 12 }\n      bell2: { offset: 16 }\n") + "  cmd2:\n    kind: index-ring\n    entry: E\n    depth: 16\n    ring: dma\n    producer: q.head\n    consumer: q.tail2\n    doorbell: q.bell2\n    done: { field: status, pending: 0 }\n",
    code: "queue-registers-shared",
    at: "41:15",
    path: "queues.cmd2.producer",
    says: "q.head is the producer of queue cmd2 and the producer of queue cmd",
  },
  {
    name: "two index rings overlap in one region",
    yaml: RING.replace("      bell: { offset: 8 }\n", "      bell: { offset: 8 }\n      head2: { offset: 12 }\n      tail2: { offset: 16 }\n") + "  cmd2:\n    kind: index-ring\n    entry: E\n    depth: 16\n    ring: { region: q, offset: 0x180 }\n    producer: q.head2\n    consumer: q.tail2\n    doorbell: q.head2\n    done: { field: status, pending: 0 }\n",
    code: "rings-overlap",
    at: "40:32",
    path: "queues.cmd2.ring.offset",
    says: "ring of queue cmd2 (0x180..0x27f) overlaps the ring of queue cmd (0x100..0x1ff) in region q",
  },
  { name: "fixed value outside the field's enum", yaml: `${HEAD}enums:\n  Op:\n    values: { READ: 1, WRITE: 2 }\nstructs:\n  C:\n    size: 4\n    fields:\n      op: { offset: 0, type: u8, enum: Op }\ncommands:\n  go:\n    struct: C\n    fixed: { op: 3 }\n`, code: "fixed-not-in-enum", at: "15:18", path: "commands.go.fixed.op", says: "fixed value 3 of \"op\" is not a member of enum Op (READ = 1, WRITE = 2)" },
  { name: "struct declared from-device but a command fills it", yaml: `${HEAD}structs:\n  C:\n    size: 4\n    direction: from-device\n    fields:\n      op: { offset: 0, type: u8 }\ncommands:\n  go:\n    struct: C\n`, code: "struct-direction", at: "7:16", path: "structs.C.direction", says: "struct C is declared from-device, but as command go it is written by the host (to-device)" },
  { name: "struct declared from-device inside a struct the host writes", yaml: `${HEAD}structs:\n  C:\n    size: 8\n    fields:\n      inner: { offset: 0, type: I }\n  I:\n    size: 4\n    direction: from-device\n    fields:\n      x: { offset: 0, type: u32 }\ncommands:\n  go:\n    struct: C\n`, code: "struct-direction", at: "11:16", path: "structs.I.direction", says: "it is field inner of struct C, which is written by the host (to-device)" },
  { name: "struct field named like a struct accessor's own member", yaml: `${HEAD}structs:\n  S:\n    size: 8\n    fields:\n      offset: { offset: 0, type: u32 }\n`, code: "builtin-name", at: "8:7", path: "structs.S.fields.offset", says: "StructView.offset" },
  { name: "INTx on a vector other than 0", yaml: `${HEAD}interrupts:\n  irq: { index: 1, kind: intx }\n`, code: "intx-vector", at: "5:17", path: "interrupts.irq.index", says: "INTx, which has only vector 0, not 1" },
];
