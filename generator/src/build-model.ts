// YAML data -> DeviceModel (generator/src/model.ts). Runs only on files the validator accepted, so
// it resolves without re-checking: references exist, bit ranges parse, sizes add up. Defaults are
// filled here and nowhere else (width 32, access rw, endian little, count 1, stride = width), so the
// emitters never guess. Collections keep the YAML's declaration order, except registers (by offset),
// fields and bit fields (by lsb) and struct fields (by offset), as model.ts documents.
// Every reference is resolved here too (a queue's entry struct, a doorbell's register, an extent's
// names...), so the emitters follow links and never look anything up.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { PathSegment } from "./diagnostics.ts";
import { foldFixed } from "./portal-rules.ts";
import {
  builtinBytes,
  DEFAULT_REGISTER_WIDTH,
  enumWidth,
  entries,
  isScalarType,
  parseBits,
  parseInstances,
  splitRegisterRef,
  type RawBitfield,
  type RawCommand,
  type RawDevice,
  type RawParam,
  type RawPortalQueue,
  type RawRing,
  type RawStructField,
  type RawDmaExtent,
  type RawUacceMatch,
  type RawStruct,
  type RawVirtio,
  type RawVirtqSplitQueue,
} from "./dsl.ts";
import type {
  Access,
  CommandModel,
  CommandParamModel,
  PortalQueueModel,
  VirtioModel,
  ConstantModel,
  DeviceModel,
  Endian,
  EnumModel,
  FieldModel,
  InterruptModel,
  QueueModel,
  RegionModel,
  RegisterModel,
  RegisterRef,
  RingPlacement,
  SourcePos,
  StructFieldModel,
  DmaFieldModel,
  ExtentName,
  StructFieldType,
  StructModel,
  UacceMatch,
  VariantsModel,
} from "./model.ts";
import type { ParsedFile } from "./parse.ts";
import { extentNames, parseExtent, type ExtentExpr } from "./extent.ts";
import { caseFields, caseStruct, caseValue, splitSelector } from "./variants.ts";
import { commandStruct, structDirections } from "./struct-use.ts";

/** What every queue kind carries: name, interrupt (resolved), doc, source. */
type QueueCommon = { name: string; interrupt?: string; interruptDef?: InterruptModel; doc?: string; source: SourcePos };

const byNumber = <T>(key: (t: T) => number) => (a: T, b: T) => key(a) - key(b);

class ModelBuilder {
  private readonly data: RawDevice;
  private readonly directions: Map<string, StructModel["direction"]>;
  /** Structs built so far: a struct is built the first time anything names it (nesting, a queue). */
  private readonly built = new Map<string, StructModel>();
  private interruptModels: InterruptModel[] = [];
  private regionModels: RegionModel[] = [];

  constructor(private readonly parsed: ParsedFile) {
    this.data = parsed.data as RawDevice;
    this.directions = structDirections(this.data);
  }

  /** Where an item came from: the position of its key (`cc:`), which is where a reader looks. */
  private source(path: PathSegment[]): SourcePos {
    const pos = this.parsed.locator.position(path, path.length > 0);
    return { file: this.parsed.file, line: pos.line, column: pos.column };
  }

  private exact(path: PathSegment[], fallback: number): number | bigint {
    const v = this.parsed.locator.integer(path);
    if (v === undefined) return fallback;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }

  build(handFiles: string[]): DeviceModel {
    const d = this.data;
    // what queues and commands point at is built first
    this.interruptModels = this.interrupts();
    this.regionModels = this.regions();
    const structs = entries(d.structs).map(([name]) => this.struct(name));
    return {
      name: d.device,
      title: d.title,
      version: d.version,
      ...(d.doc !== undefined && { doc: d.doc }),
      sourceHash: createHash("sha256").update(this.parsed.bytes).digest("hex"),
      source: this.source([]),
      match: {
        pci: (d.match?.pci ?? []).map((m) => ({
          vendor: m.vendor,
          device: m.device,
          ...(m.subsystem_vendor !== undefined && { subsystemVendor: m.subsystem_vendor }),
          ...(m.subsystem_device !== undefined && { subsystemDevice: m.subsystem_device }),
        })),
        ...(d.match?.uacce !== undefined && { uacce: this.uacce(d.match.uacce) }),
      },
      constants: this.constants(),
      enums: this.enums(),
      regions: this.regionModels,
      structs,
      queues: this.queues(),
      commands: this.commands(),
      interrupts: this.interruptModels,
      ...(d.virtio !== undefined && { virtio: this.virtio(d.virtio) }),
      handFiles,
    };
  }

  private virtio(v: RawVirtio): VirtioModel {
    return {
      deviceType: v.device_type,
      common: v.common,
      notify: v.notify,
      ...(v.isr !== undefined && { isr: v.isr }),
      ...(v.config !== undefined && { config: v.config }),
      ...(v.doc !== undefined && { doc: v.doc }),
      source: this.source(["virtio"]),
    };
  }

  private uacce(u: RawUacceMatch): UacceMatch {
    const order = entries(this.data.regions).map(([name]) => name);
    const queueOrder = entries(this.data.queues).map(([name]) => name);
    return {
      api: [...u.api],
      // in the order of the description's regions, so the spec does not depend on the map's order
      regions: entries(u.regions)
        .map(([region, qfr]) => ({ region, qfr, index: this.region(region).index }))
        .sort((a, b) => order.indexOf(a.region) - order.indexOf(b.region)),
      dusAddress: u["dus-address"] ?? 0,
      queues: entries(u.queues)
        .map(([queue, q]) => ({
          queue,
          rings: q.rings,
          depth: q.depth,
          doorbell: { format: q.doorbell.format, region: q.doorbell.region, index: this.region(q.doorbell.region).index, offset: q.doorbell.offset },
          source: this.source(["match", "uacce", "queues", queue]),
        }))
        .sort((a, b) => queueOrder.indexOf(a.queue) - queueOrder.indexOf(b.queue)),
      source: this.source(["match", "uacce"]),
    };
  }

  private constants(): ConstantModel[] {
    return entries(this.data.constants).map(([name, c]) => {
      const obj = typeof c === "object" ? c : undefined;
      return {
        name,
        value: obj ? obj.value : (c as number),
        ...(obj?.doc !== undefined && { doc: obj.doc }),
        source: this.source(["constants", name]),
      };
    });
  }

  private enums(): EnumModel[] {
    return entries(this.data.enums).map(([name, e]) => {
      const members = entries(e.values).map(([member, v]) => {
        const obj = typeof v === "object" ? v : undefined;
        return {
          name: member,
          value: obj ? obj.value : (v as number),
          ...(obj?.doc !== undefined && { doc: obj.doc }),
          source: this.source(["enums", name, "values", member]),
        };
      });
      const max = members.reduce((m, x) => Math.max(m, x.value), 0);
      return {
        name,
        width: enumWidth(e.width, max),
        ...(e.doc !== undefined && { doc: e.doc }),
        members,
        source: this.source(["enums", name]),
      };
    });
  }

  private bitfields(path: PathSegment[], fields: Record<string, RawBitfield> | undefined, access: Access): FieldModel[] {
    return entries(fields)
      .map(([name, f]) => {
        const r = parseBits(f.bits) as { msb: number; lsb: number };
        return {
          name,
          lsb: r.lsb,
          width: r.msb - r.lsb + 1,
          access: (f.access as Access | undefined) ?? access,
          ...(f.enum !== undefined && { enumName: f.enum }),
          ...(f.doc !== undefined && { doc: f.doc }),
          source: this.source([...path, name]),
        };
      })
      .sort(byNumber((f) => f.lsb));
  }

  private regions(): RegionModel[] {
    return entries(this.data.regions).map(([rname, r]) => {
      const registers: RegisterModel[] = entries(r.registers)
        .map(([name, reg]) => {
          const path = ["regions", rname, "registers", name];
          const width = reg.width ?? DEFAULT_REGISTER_WIDTH;
          const access = (reg.access as Access | undefined) ?? "rw";
          const count = reg.count ?? 1;
          return {
            name,
            offset: reg.offset,
            width,
            access,
            ...(reg.reset !== undefined && { reset: this.exact([...path, "reset"], reg.reset) }),
            dmaAddress: reg.value === "dma-address",
            count,
            // A plain register has no stride; an array defaults to back-to-back elements.
            stride: count > 1 ? (reg.stride ?? width / 8) : 0,
            fields: this.bitfields([...path, "fields"], reg.fields, access),
            ...(reg.doc !== undefined && { doc: reg.doc }),
            source: this.source(path),
          };
        })
        .sort(byNumber((x) => x.offset));
      return {
        name: rname,
        kind: r.kind,
        index: r.capability === undefined ? r.index : -1,
        ...(r.capability !== undefined && { capability: { cfgType: r.capability.cfg_type, multiplier: r.capability.notify_multiplier === true } }),
        size: r.size,
        ...(r.doc !== undefined && { doc: r.doc }),
        registers,
        source: this.source(["regions", rname]),
      };
    });
  }

  /** A struct field or a command overlay, resolved. */
  private structField(path: PathSegment[], name: string, f: RawStructField | RawParam, structEndian: Endian): StructFieldModel {
    const t = f.type as string;
    let type: StructFieldType;
    let elem: number;
    let count = f.count ?? 1;
    if (isScalarType(t)) [type, elem] = [{ kind: "scalar", type: t }, builtinBytes(t)!];
    else if (t === "dma-address") [type, elem] = [{ kind: "dma-address" }, builtinBytes(t)!];
    else if (t === "reserved") [type, elem, count] = [{ kind: "reserved" }, (f as RawStructField).size!, 1];
    else [type, elem] = [{ kind: "struct", struct: t, def: this.struct(t) }, this.struct(t).size];
    return {
      name,
      offset: f.offset!,
      size: elem * count,
      type,
      count,
      endian: f.endian ?? structEndian,
      ...(f.enum !== undefined && { enumName: f.enum }),
      ...(t === "dma-address" && { dma: this.dma(f) }),
      bitfields: this.bitfields([...path, "fields"], f.fields, "rw"),
      ...(f.doc !== undefined && { doc: f.doc }),
      source: this.source(path),
    };
  }

  /** What a dma-address says about its memory; a list's extent is its count field times the entry size. */
  private dma(f: RawDmaExtent): DmaFieldModel {
    const l = f.list;
    if (l === undefined) return this.inStructTerms(dmaModel(f));
    const entry = this.struct(l.of);
    const limit = (v: number | string | undefined, fallback: number) => (v === undefined ? fallback : typeof v === "number" ? v : this.constantValue(v));
    const list = { of: l.of, entry, entrySize: entry.size, count: l.count, min: limit(l.min, 1), max: limit(l.max, 0), ...(l.doc !== undefined && { doc: l.doc }) };
    return { ...this.inStructTerms(dmaModel({ ...f, extent: `${l.count} * ${entry.size}` })), list };
  }

  /** An extent's names as a struct's encoder sees them: constants by value, other names are the
   *  struct's fields (the validator checked they are). */
  private inStructTerms(dma: DmaFieldModel): DmaFieldModel {
    if (dma.extent === undefined) return dma;
    return { ...dma, names: this.resolveNames(dma.extent, (n) => ({ kind: "read", name: n })) };
  }

  private resolveNames(e: ExtentExpr, other: (name: string) => ExtentName): Record<string, ExtentName> {
    const names: Record<string, ExtentName> = {};
    for (const { name } of extentNames(e)) names[name] = this.isConstant(name) ? { kind: "number", value: this.constantValue(name) } : other(name);
    return names;
  }

  private isConstant(name: string): boolean {
    return this.data.constants !== undefined && Object.hasOwn(this.data.constants, name);
  }

  private constantValue(name: string): number {
    const c = this.data.constants![name]!;
    return typeof c === "number" ? c : c.value;
  }

  /**
   * The struct named `sname`, built once. It is registered before its fields are built: a struct
   * may point at a list of itself (a DSA batch descriptor), so the model can hold that cycle; a
   * struct cannot contain itself (the validator refuses it).
   */
  private struct(sname: string): StructModel {
    const done = this.built.get(sname);
    if (done !== undefined) return done;
    const s = this.data.structs![sname]!;
    const endian = s.endian ?? "little";
    const model: StructModel = {
      name: sname,
      size: s.size,
      endian,
      packed: s.packed ?? false,
      direction: this.directions.get(sname)!,
      fields: [],
      ...(s.doc !== undefined && { doc: s.doc }),
      source: this.source(["structs", sname]),
    };
    this.built.set(sname, model);
    model.fields = entries(s.fields)
      .map(([fname, f]) => this.structField(["structs", sname, "fields", fname], fname, f, endian))
      .sort(byNumber((f) => f.offset));
    if (s.variants !== undefined) model.variants = this.variants(sname, s);
    return model;
  }

  private field(struct: StructModel, name: string): StructFieldModel {
    return struct.fields.find((f) => f.name === name)!;
  }

  private region(name: string): RegionModel {
    return this.regionModels.find((r) => r.name === name)!;
  }

  private interrupt(name: string | undefined): { interrupt: string; interruptDef: InterruptModel } | Record<string, never> {
    return name === undefined ? {} : { interrupt: name, interruptDef: this.interruptModels.find((i) => i.name === name)! };
  }

  /** A struct's variants: each case's fields resolved (the struct's it keeps, then its own, by offset). */
  private variants(sname: string, s: RawStruct): VariantsModel {
    const v = s.variants!;
    const endian = s.endian ?? "little";
    const sel = splitSelector(v.selector);
    const selField = this.structField(["structs", sname, "fields", sel.field], sel.field, s.fields[sel.field]!, endian);
    const bits = sel.bits === undefined ? undefined : selField.bitfields.find((b) => b.name === sel.bits);
    return {
      selector: { field: sel.field, def: selField, ...(bits !== undefined && { bits }) },
      cases: entries(v.cases).map(([cname, c]) => {
        const path = ["structs", sname, "variants", "cases", cname];
        const fields = caseFields(this.data, s, c);
        const own = entries(c.fields).map(([n]) => n);
        return {
          name: cname,
          value: caseValue(this.data, s, c)!,
          fields: entries(fields)
            .map(([fname, f]) => this.structField(own.includes(fname) ? [...path, "fields", fname] : ["structs", sname, "fields", fname], fname, f, endian))
            .sort(byNumber((f) => f.offset)),
          own,
          ...(c.doc !== undefined && { doc: c.doc }),
          source: this.source(path),
        };
      }),
      ...(v.doc !== undefined && { doc: v.doc }),
      source: this.source(["structs", sname, "variants"]),
    };
  }

  private ring(r: RawRing): RingPlacement {
    return r === "dma" ? { kind: "dma" } : { kind: "region", region: r.region, offset: r.offset };
  }

  private regRef(ref: string): RegisterRef {
    const { region, register } = splitRegisterRef(ref)!;
    return { region, register, def: this.region(region).registers.find((r) => r.name === register)! };
  }

  private queues(): QueueModel[] {
    return entries(this.data.queues).map(([name, q]): QueueModel => {
      const common: QueueCommon = {
        name,
        ...this.interrupt(q.interrupt),
        ...(q.doc !== undefined && { doc: q.doc }),
        source: this.source(["queues", name]),
      };
      if (q.kind === "index-ring") {
        const entry = this.struct(q.entry);
        return {
          kind: "index-ring",
          entry: q.entry,
          entryDef: entry,
          depth: q.depth,
          ring: this.ring(q.ring),
          producer: this.regRef(q.producer),
          consumer: this.regRef(q.consumer),
          doorbell: this.regRef(q.doorbell),
          done: { field: q.done.field, def: this.field(entry, q.done.field), pending: q.done.pending },
          ...common,
        };
      }
      if (q.kind === "portal") return this.portalQueue(q, common);
      if (q.kind === "virtq-split") return this.virtqQueue(q, common);
      const ids = parseInstances(q.instances) as { first: number; last: number };
      const sq = this.struct(q.sq.entry);
      const cq = this.struct(q.cq.entry);
      return {
        kind: "sq-cq",
        instances: { first: ids.first, last: ids.last },
        sq: { entry: q.sq.entry, entryDef: sq, depth: q.sq.depth, ring: this.ring(q.sq.ring), doorbell: this.regRef(q.sq.doorbell), tag: q.sq.tag, tagDef: this.field(sq, q.sq.tag) },
        cq: {
          entry: q.cq.entry,
          entryDef: cq,
          depth: q.cq.depth,
          ring: this.ring(q.cq.ring),
          doorbell: this.regRef(q.cq.doorbell),
          tag: q.cq.tag,
          tagDef: this.field(cq, q.cq.tag),
          phase: { field: q.cq.phase.field, def: this.field(cq, q.cq.phase.field), bit: q.cq.phase.bit },
          ...(q.cq.sq_head !== undefined && { sqHead: q.cq.sq_head, sqHeadDef: this.field(cq, q.cq.sq_head) }),
        },
        ...common,
      };
    });
  }

  private commandStruct(c: RawCommand): string {
    return commandStruct(this.data, c)!;
  }

  private virtqQueue(q: RawVirtqSplitQueue, common: QueueCommon): QueueModel {
    return {
      kind: "virtq-split",
      instances: q.instances === undefined ? { first: 0, last: 0 } : (parseInstances(q.instances) as { first: number; last: number }),
      size: q.size,
      ...(q.header !== undefined && { header: q.header, headerDef: this.struct(q.header) }),
      ...(q.footer !== undefined && { footer: q.footer, footerDef: this.struct(q.footer) }),
      segments: q.segments,
      ...common,
    };
  }

  private portalQueue(q: RawPortalQueue, common: QueueCommon): PortalQueueModel {
    const ids = q.instances === undefined ? { first: 0, last: 0 } : (parseInstances(q.instances) as { first: number; last: number });
    const address = this.data.structs![q.descriptor]!.fields[q.completion.address]!;
    const descriptor = this.struct(q.descriptor);
    const record = this.struct(q.completion.record);
    return {
      kind: "portal",
      instances: ids,
      descriptor: q.descriptor,
      descriptorDef: descriptor,
      depth: q.depth,
      portal: { region: q.portal.region, offset: q.portal.offset, stride: q.portal.stride ?? 0 },
      store: q.store,
      completion: {
        record: q.completion.record,
        recordDef: record,
        address: q.completion.address,
        addressDef: this.field(descriptor, q.completion.address),
        status: q.completion.status,
        statusDef: this.field(record, q.completion.status),
        pending: q.completion.pending,
        align: address.align ?? 1,
      },
      ...common,
    };
  }

  private commands(): CommandModel[] {
    return entries(this.data.commands).map(([cname, c]) => {
      const sname = this.commandStruct(c);
      const whole = this.data.structs![sname]!;
      // A command naming a case sees the case's fields, and the case's selector value is fixed.
      const struct = c.variant !== undefined ? caseStruct(this.data, whole, c.variant)! : whole;
      const fixedRaw = c.variant !== undefined ? { ...c.fixed, [whole.variants!.selector]: caseValue(this.data, whole, whole.variants!.cases[c.variant]!)! } : c.fixed;
      const endian = struct.endian ?? "little";
      const fieldOffset = (f: string) => struct.fields[f]!.offset;
      const structDef = this.struct(sname);
      // a fixed field is the struct's (the selector, an opcode) or, for a command naming a case, the case's own
      const caseFields = c.variant !== undefined ? structDef.variants!.cases.find((x) => x.name === c.variant)!.fields : [];
      const fixedField = (name: string) => (structDef.fields.find((x) => x.name === name) ?? caseFields.find((x) => x.name === name))!;
      const fixed = foldFixed(fixedRaw, struct)
        .sort(byNumber((f) => fieldOffset(f.field)))
        .map((f) => ({ field: f.field, def: fixedField(f.field), value: f.value }));
      const paramNames = entries(c.params).map(([pname, p]) => ({ pname, fromField: p.field }));
      // An extent the param states names params; one inherited from the struct names struct fields,
      // which are the params that write them or fixed values.
      const inCommandTerms = (dma: DmaFieldModel, own: boolean): DmaFieldModel => {
        // a list param's count is the list's length (emit/lists.ts): nothing reads its extent's names
        if (dma.extent === undefined || dma.list !== undefined) {
          const { names: _structTerms, ...rest } = dma;
          return rest;
        }
        return {
          ...dma,
          names: this.resolveNames(dma.extent, (n): ExtentName => {
            const byParam = paramNames.find((q) => (own ? q.pname === n : q.fromField === n));
            if (byParam !== undefined) return { kind: "read", name: byParam.pname };
            return { kind: "number", value: fixed.find((x) => x.field === n)!.value };
          }),
        };
      };
      const params: CommandParamModel[] = entries(c.params).map(([pname, p]) => {
        const path = ["commands", cname, "params", pname];
        const fromField = p.field;
        let field = fromField !== undefined
          ? this.structField(this.fieldPath(sname, c.variant, fromField), fromField, struct.fields[fromField]!, endian)
          : this.structField(path, pname, p, endian);
        // A param's own extent replaces the struct field's; an inherited one names struct fields,
        // which emitters map to the params and fixed values that write them.
        if (fromField !== undefined && field.dma !== undefined && (p.extent !== undefined || p.unbounded !== undefined || p.direction !== undefined)) {
          const own = dmaModel(p);
          field = { ...field, dma: { ...(p.extent !== undefined || p.unbounded !== undefined ? own : field.dma), direction: own.direction ?? field.dma.direction } };
        }
        const statesExtent = fromField === undefined || p.extent !== undefined || p.unbounded !== undefined;
        if (field.dma !== undefined) field = { ...field, dma: inCommandTerms(field.dma, statesExtent) };
        const list = field.dma?.list;
        return {
          name: pname,
          field,
          ...(list !== undefined && { listCount: this.structField(this.fieldPath(sname, c.variant, list.count), list.count, struct.fields[list.count]!, endian) }),
          ...(fromField !== undefined && { fromField }),
          ...(fromField !== undefined && (p.extent !== undefined || p.unbounded !== undefined) && { extentOwn: true }),
          ...(p.doc !== undefined && { doc: p.doc }),
          source: this.source(path),
        };
      });
      return {
        name: cname,
        struct: sname,
        structDef,
        ...(c.queue !== undefined && { queue: c.queue }),
        ...(c.variant !== undefined && { variant: c.variant }),
        // `field.bits` entries fold into one value per field (generator/src/portal-rules.ts)
        fixed,
        params,
        ...(c.doc !== undefined && { doc: c.doc }),
        source: this.source(["commands", cname]),
      };
    });
  }

  /** Where a field a command names is declared: the struct, or the case of its variants. */
  private fieldPath(sname: string, variant: string | undefined, field: string): PathSegment[] {
    const own = variant !== undefined ? this.data.structs![sname]!.variants!.cases[variant]!.fields : undefined;
    return own !== undefined && Object.hasOwn(own, field) ? ["structs", sname, "variants", "cases", variant!, "fields", field] : ["structs", sname, "fields", field];
  }

  private interrupts(): InterruptModel[] {
    return entries(this.data.interrupts).map(([name, i]) => ({
      name,
      index: i.index,
      kind: i.kind,
      ...(i.doc !== undefined && { doc: i.doc }),
      source: this.source(["interrupts", name]),
    }));
  }
}

/** The extent, unbounded reason and direction of a dma-address field or param (validated). */
function dmaModel(f: RawDmaExtent): DmaFieldModel {
  const extent = f.extent === undefined ? undefined : parseExtent(f.extent);
  if (extent !== undefined && "error" in extent) throw new Error(`extent ${f.extent}: ${extent.error}`);
  return {
    ...(extent !== undefined && { extent }),
    ...(f.unbounded !== undefined && { unbounded: f.unbounded }),
    ...(f.direction !== undefined && { direction: f.direction }),
    ...(f.align !== undefined && f.align > 1 && { align: f.align }),
  };
}

/**
 * Hand-written files beside a device file: the `*.ts` files directly in devices/<name>/, sorted,
 * so the package (and its hash) does not depend on the file system's order.
 */
export function findHandFiles(yamlPath: string, device: string): string[] {
  const dir = join(dirname(yamlPath), device);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  // Only the TypeScript files beside the description are package code (behaviour, sim model).
  // Subfolders hold what does not ship in the package, e.g. wd-dummy's kernel module in mdev/.
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith(".") && e.name.endsWith(".ts"))
    .map((e) => e.name)
    .sort();
}

/** The IR of a validated file. `handFiles` come from the caller (found next to the file on disk). */
export function buildModel(parsed: ParsedFile, handFiles: string[] = []): DeviceModel {
  return new ModelBuilder(parsed).build(handFiles);
}
