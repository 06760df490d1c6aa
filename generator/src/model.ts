// The resolved device model (IR): what the validator produces and the emitters consume.
// Everything here is already checked: references resolved, defaults filled in, numbers in range,
// collections sorted in the order the emitters must keep (declaration order of the YAML file).
// References arrive resolved: next to a name the YAML used (`entry: "Sqe"`) sits the item it names
// (`entryDef`), so emitters read links and never look a name up or meet an unknown one.
// Each item carries `source`, the place in the YAML it came from, so generated code can say
// "@generated from devices/nvme.yaml:120 (register cc)".
import type { ExtentExpr } from "./extent.ts";

export interface SourcePos {
  /** Path of the YAML file as given to the generator, relative to the repo root when inside it. */
  file: string;
  line: number;
  column: number;
}

export type Access = "ro" | "wo" | "rw" | "w1c" | "w1s" | "rc";
export type ScalarType = "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64";
export type Endian = "little" | "big";

export interface DeviceModel {
  /** kebab-case device name, e.g. "qemu-edu". */
  name: string;
  title: string;
  version: string;
  doc?: string;
  /** sha256 (hex) of the YAML source bytes. */
  sourceHash: string;
  source: SourcePos;
  match: { pci: PciMatch[]; uacce?: UacceMatch };
  constants: ConstantModel[];
  enums: EnumModel[];
  regions: RegionModel[];
  structs: StructModel[];
  queues: QueueModel[];
  commands: CommandModel[];
  interrupts: InterruptModel[];
  /** The virtio transport, when the device is a virtio PCI device. */
  virtio?: VirtioModel;
  /** Hand-written files found in devices/<name>/ (paths relative to that folder, sorted). */
  handFiles: string[];
}

/** How the device runs on UACCE: api strings, and each region's queue file region (in region order). */
export interface UacceMatch {
  api: string[];
  regions: { region: string; qfr: "mmio" | "dus"; index: number }[];
  /** Device address of DUS byte 0 (no SVA). */
  dusAddress: number;
  /** sq-cq queues whose rings the device keeps in DUS (in the order of the description's queues). */
  queues: UacceQueueMatch[];
  source: SourcePos;
}

/** An sq-cq queue on UACCE: SQ at DUS 0, CQ after it, `depth` entries each; the QM v2 doorbell word. */
export interface UacceQueueMatch {
  queue: string;
  rings: "dus";
  depth: number;
  /** `index` is the doorbell region's BAR index. */
  doorbell: { format: "qm-v2"; region: string; index: number; offset: number };
  source: SourcePos;
}

export interface PciMatch {
  vendor: number;
  device: number;
  subsystemVendor?: number;
  subsystemDevice?: number;
}

export interface ConstantModel {
  name: string;
  value: number;
  doc?: string;
  source: SourcePos;
}

export interface EnumModel {
  name: string;
  /** Bits needed to hold every value. */
  width: number;
  doc?: string;
  members: { name: string; value: number; doc?: string; source: SourcePos }[];
  source: SourcePos;
}

export interface RegionModel {
  name: string;
  kind: "mmio" | "ram";
  /** BAR / region index; -1 for a region located through a PCI capability. */
  index: number;
  /** Where a capability-located region is found (virtio_pci_cap layout). */
  capability?: { cfgType: number; multiplier: boolean };
  size: number;
  doc?: string;
  /** Sorted by offset. */
  registers: RegisterModel[];
  source: SourcePos;
}

export interface FieldModel {
  name: string;
  /** Least significant bit. */
  lsb: number;
  /** Width in bits. */
  width: number;
  access: Access;
  enumName?: string;
  doc?: string;
  source: SourcePos;
}

export interface RegisterModel {
  name: string;
  offset: number;
  width: 8 | 16 | 32 | 64;
  access: Access;
  reset?: number | bigint;
  /** The register holds a bus (DMA) address. */
  dmaAddress: boolean;
  /** Register array: `count` elements `stride` bytes apart; count 1 means a plain register. */
  count: number;
  stride: number;
  /** Sorted by lsb. */
  fields: FieldModel[];
  doc?: string;
  source: SourcePos;
}

export type StructFieldType =
  | { kind: "scalar"; type: ScalarType }
  | { kind: "dma-address" }
  | { kind: "reserved" }
  | { kind: "struct"; struct: string; def: StructModel };

/** What a name in an extent stands for: a number known when generating (a constant, or a command's
 *  fixed value), or the value of a field (a struct's encoder) or param (a command's) read at run time. */
export type ExtentName = { kind: "number"; value: number } | { kind: "read"; name: string };

/** What a dma-address field says about the memory the device moves there. */
export interface DmaFieldModel {
  /** Bytes the device moves at the address; names are fields of the struct, or params of a command. */
  extent?: ExtentExpr;
  /** Every name `extent` uses, resolved in the terms of whoever encodes the field: a struct's fields,
   *  or a command's params and fixed values. Absent on a command's list param, whose count is the
   *  list's length. */
  names?: Record<string, ExtentName>;
  /** Why no extent can be stated (the description says so; nothing checks the range). */
  unbounded?: string;
  direction?: "to-device" | "from-device" | "both";
  /** Alignment the device requires of the address (bytes, a power of two; absent: none). */
  align?: number;
  /** The address points at a list of entries; `extent` is then `count * entrySize`. */
  list?: DmaListModel;
}

/** A list of entries one descriptor points at (a batch): a generated `<Of>List` class fills it. */
export interface DmaListModel {
  /** Struct of one entry. */
  of: string;
  entry: StructModel;
  entrySize: number;
  /** Sibling field the number of entries goes into. */
  count: string;
  /** Counts the device accepts, inclusive. */
  min: number;
  max: number;
  doc?: string;
}

export interface StructFieldModel {
  name: string;
  offset: number;
  /** Total bytes the field occupies (element size x count). */
  size: number;
  type: StructFieldType;
  /** Fixed array: number of elements; 1 for a single value. */
  count: number;
  endian: Endian;
  enumName?: string;
  /** dma-address fields only. */
  dma?: DmaFieldModel;
  /** Bitfields inside a scalar field, sorted by lsb. */
  bitfields: FieldModel[];
  doc?: string;
  source: SourcePos;
}

export interface StructModel {
  name: string;
  size: number;
  endian: Endian;
  packed: boolean;
  /** Declared, or inferred from the queues and commands that use it (generator/src/struct-use.ts). */
  direction: "to-device" | "from-device" | "both";
  /** Sorted by offset. */
  fields: StructFieldModel[];
  /** Layouts selected by an opcode field, when the struct has them. */
  variants?: VariantsModel;
  doc?: string;
  source: SourcePos;
}

/** A struct's variants: which field selects the case, and each case's layout. */
export interface VariantsModel {
  /** The selecting field (a single integer of at most 32 bits) and, when the selector is one of its
   *  bit fields, that bit field. */
  selector: { field: string; def: StructFieldModel; bits?: FieldModel };
  /** In declaration order. */
  cases: VariantCaseModel[];
  doc?: string;
  source: SourcePos;
}

export interface VariantCaseModel {
  name: string;
  /** The selector's value for this case. */
  value: number;
  /** The case's fields, sorted by offset: the struct's fields it keeps and its own. */
  fields: StructFieldModel[];
  /** Names of the fields that are the case's own (not the struct's). */
  own: string[];
  doc?: string;
  source: SourcePos;
}

/** A register named by region: `{ region: "bar0", register: "sq_tail" }`. */
export interface RegisterRef {
  region: string;
  register: string;
  def: RegisterModel;
}

export type RingPlacement = { kind: "region"; region: string; offset: number } | { kind: "dma" };

export interface IndexRingQueueModel {
  kind: "index-ring";
  name: string;
  entry: string;
  entryDef: StructModel;
  depth: number;
  ring: RingPlacement;
  producer: RegisterRef;
  consumer: RegisterRef;
  doorbell: RegisterRef;
  /** The entry field the device writes when done, and the value meaning "not done yet". */
  done: { field: string; def: StructFieldModel; pending: number };
  interrupt?: string;
  interruptDef?: InterruptModel;
  doc?: string;
  source: SourcePos;
}

export interface RingSideModel {
  entry: string;
  entryDef: StructModel;
  depth: number;
  ring: RingPlacement;
  doorbell: RegisterRef;
  /** Entry field carrying the command identifier. */
  tag: string;
  tagDef: StructFieldModel;
}

export interface SqCqQueueModel {
  kind: "sq-cq";
  name: string;
  /** Queue ids covered, inclusive. */
  instances: { first: number; last: number };
  sq: RingSideModel;
  cq: RingSideModel & {
    phase: { field: string; def: StructFieldModel; bit: number };
    /** CQ entry field reporting the SQ head, if the device reports it. */
    sqHead?: string;
    sqHeadDef?: StructFieldModel;
  };
  interrupt?: string;
  interruptDef?: InterruptModel;
  doc?: string;
  source: SourcePos;
}

/**
 * A work queue fed through a portal: one descriptor per store, no ring, no doorbell; the device
 * writes a completion record at the address the descriptor carries.
 */
export interface PortalQueueModel {
  kind: "portal";
  name: string;
  instances: { first: number; last: number };
  descriptor: string;
  descriptorDef: StructModel;
  depth: number;
  portal: { region: string; offset: number; stride: number };
  store: "movdir64b" | "enqcmd";
  completion: {
    /** The record's struct. */
    record: string;
    recordDef: StructModel;
    /** Descriptor field (dma-address) carrying the record's address; its `align` is the record's alignment. */
    address: string;
    addressDef: StructFieldModel;
    /** Record field the device writes last, and its value meaning "not done yet". */
    status: string;
    statusDef: StructFieldModel;
    pending: number;
    /** Alignment of the record (the address field's align, at least 1). */
    align: number;
  };
  interrupt?: string;
  interruptDef?: InterruptModel;
  doc?: string;
  source: SourcePos;
}

/** A virtio split virtqueue: chains of [header] + data buffers + [footer], set up through the virtio transport. */
export interface VirtqSplitQueueModel {
  kind: "virtq-split";
  name: string;
  instances: { first: number; last: number };
  size: number;
  header?: string;
  headerDef?: StructModel;
  footer?: string;
  footerDef?: StructModel;
  segments: number;
  interrupt?: string;
  interruptDef?: InterruptModel;
  doc?: string;
  source: SourcePos;
}

/** The virtio block: device type and the regions of the transport's structures. */
export interface VirtioModel {
  deviceType: number;
  common: string;
  notify: string;
  isr?: string;
  config?: string;
  doc?: string;
  source: SourcePos;
}

export type QueueModel = IndexRingQueueModel | SqCqQueueModel | PortalQueueModel | VirtqSplitQueueModel;

export interface CommandParamModel {
  name: string;
  /** The struct field (or overlay) the param writes. Overlays are synthesized fields. */
  field: StructFieldModel;
  /** Set when the param names a struct field as it is. */
  fromField?: string;
  /** A dma-address param that states its own extent (in param names); otherwise the field's extent
   *  applies, in struct field names. */
  extentOwn?: boolean;
  /** A list param (its field has `dma.list`): the field the list's length goes into. */
  listCount?: StructFieldModel;
  doc?: string;
  source: SourcePos;
}

export interface CommandModel {
  name: string;
  struct: string;
  structDef: StructModel;
  /** The case of the struct's variants the command encodes (its fields are the params' fields). */
  variant?: string;
  queue?: string;
  /** Field name -> value written before the params. Sorted by field offset. */
  fixed: { field: string; def: StructFieldModel; value: number }[];
  params: CommandParamModel[];
  doc?: string;
  source: SourcePos;
}

export interface InterruptModel {
  name: string;
  index: number;
  kind: "intx" | "msi" | "msix";
  doc?: string;
  source: SourcePos;
}
