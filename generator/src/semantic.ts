// Semantic rules: what JSON Schema cannot say about a device file. Registers that overlap or fall
// outside their region, bit fields that overlap or do not fit, references to things that do not
// exist, values too wide for where they go, names that collide once the generator converts them.
// Every rule runs on whatever part of the file is well-formed, so one run reports every problem;
// items the schema already rejected are skipped (typeof guards), never trusted.
import type { Diagnostic, PathSegment } from "./diagnostics.ts";
import { formatPath } from "./diagnostics.ts";
import {
  builtinBytes,
  DEFAULT_REGISTER_WIDTH,
  enumWidth,
  camelCase,
  entries,
  fitsUnsigned,
  hex,
  isPowerOfTwo,
  isScalarType,
  parseBits,
  parseInstances,
  pascalCase,
  splitRegisterRef,
  type RawBitfield,
  type RawCommand,
  type RawDevice,
  type RawDmaExtent,
  type RawParam,
  type RawIndexRingQueue,
  type RawPortalQueue,
  type RawQueue,
  type RawRegion,
  type RawRing,
  type RawSqCqQueue,
  type RawStruct,
  type RawStructField,
  isObj,
  isInt,
  isStr,
} from "./dsl.ts";
import { extentNames, parseExtent } from "./extent.ts";
import { exportedNames, memberNames, OBJECT_MEMBERS, RESERVED_EXPORTS, STRUCT_VIEW_MEMBERS } from "./generated-names.ts";
import { checkFixedBits, checkPortalQueue, type PortalRulesHost } from "./portal-rules.ts";
import { checkCommandVariant, checkVariants, type VariantRulesHost } from "./variant-rules.ts";
import { checkDmaList, checkListParam, type ListRulesHost } from "./list-rules.ts";
import { checkVirtio } from "./virtio-rules.ts";
import type { Locator } from "./parse.ts";
import { checkUacceMatch } from "./semantic-uacce.ts";
import { commandStruct, contradicts, structDirections, structUses, type StructDirection } from "./struct-use.ts";


interface EnumInfo {
  width: number;
  max: bigint;
  maxMember: string;
}

/** A struct field resolved enough to check what refers to it. */
interface FieldShape {
  name: string;
  offset: number;
  elemBytes: number;
  count: number;
  kind: "scalar" | "dma-address" | "reserved" | "struct";
}

type Path = PathSegment[];

class Rules {
  readonly out: Diagnostic[] = [];
  readonly enums = new Map<string, EnumInfo>();
  readonly structs = new Map<string, RawStruct>();
  readonly regions = new Map<string, RawRegion>();
  readonly queues = new Map<string, RawQueue>();
  readonly interrupts = new Set<string>();
  private readonly alignMemo = new Map<string, number>();
  /** Structs whose variants have errors: commands naming their cases are not checked against them. */
  private readonly badVariants = new Set<string>();

  constructor(
    private readonly file: string,
    private readonly data: RawDevice,
    private readonly loc: Locator,
  ) {}

  report(path: Path, code: string, message: string, atKey = false, severity: "error" | "warning" = "error"): void {
    const pos = this.loc.position(path, atKey);
    this.out.push({ file: this.file, line: pos.line, column: pos.column, path: formatPath(path), code, message, severity });
  }

  run(): Diagnostic[] {
    const d = this.data;
    if (!isObj(d)) return this.out;
    this.indexTables();
    this.checkFileName();
    this.checkConstants();
    this.checkEnums();
    this.checkRegions();
    this.checkStructs();
    this.checkQueues();
    this.checkDoorbellWidths();
    this.checkCommands();
    this.checkStructDirections();
    this.checkInterrupts();
    checkUacceMatch(this.data, this.regions, (p, c, m, k) => this.report(p, c, m, k));
    checkVirtio(this.portalRulesHost());
    this.checkNames();
    // what `wd validate` must also promise: the package generates, type-checks and works
    this.checkExportedNames();
    this.checkBuiltinMembers();
    this.checkSqCqRingPlacement();
    this.checkTagWidth();
    this.checkPhaseBit();
    this.checkRoleFieldAlignment();
    this.checkQueueRegisterAccess();
    this.checkQueueRegistersDistinct();
    this.checkRingsDistinct();
    this.checkFixedEnumValues();
    this.checkIntxVector();
    return this.out;
  }

  // ---- tables of what references may name ----

  private indexTables(): void {
    for (const [name, e] of entries(this.data.enums)) {
      if (!isObj(e)) continue;
      let max = 0n;
      let maxMember = "";
      for (const [member, v] of entries(e.values)) {
        const n = this.memberValue(["enums", name, "values", member], v);
        if (n !== undefined && (n > max || maxMember === "")) [max, maxMember] = [n, member];
      }
      const width = enumWidth(e.width, max);
      this.enums.set(name, { width, max, maxMember });
    }
    for (const [name, s] of entries(this.data.structs)) if (isObj(s) && isInt(s.size)) this.structs.set(name, s);
    for (const [name, r] of entries(this.data.regions)) if (isObj(r) && isInt(r.size)) this.regions.set(name, r);
    for (const [name, q] of entries(this.data.queues)) if (isObj(q)) this.queues.set(name, q);
    for (const [name, i] of entries(this.data.interrupts)) if (isObj(i)) this.interrupts.add(name);
  }

  /** An enum member's value, exactly (members are a number or { value }). */
  private memberValue(path: Path, v: unknown): bigint | undefined {
    if (isInt(v)) return this.loc.integer(path);
    if (isObj(v) && isInt(v.value)) return this.loc.integer([...path, "value"]);
    return undefined;
  }

  // ---- top level ----

  private checkFileName(): void {
    // devices/<name>.yaml is where the generator looks for devices/<name>/ (hand-written files).
    const m = /(?:^|[\\/])devices[\\/]([^\\/]+)\.ya?ml$/.exec(this.file);
    if (m && isStr(this.data.device) && m[1] !== this.data.device) {
      this.report(["device"], "device-name-mismatch", `device "${this.data.device}" is described in ${m[1]}.yaml; name the file ${this.data.device}.yaml`, false, "warning");
    }
  }

  private checkConstants(): void {
    for (const [name, c] of entries(this.data.constants)) {
      const path: Path = isObj(c) ? ["constants", name, "value"] : ["constants", name];
      const v = isObj(c) ? c.value : c;
      if (isInt(v) && !Number.isSafeInteger(v)) {
        this.report(path, "out-of-range", `constant ${name} is ${this.loc.integer(path) ?? v}: constants must be within ±2^53 (exact in JavaScript numbers)`);
      }
    }
  }

  private checkEnums(): void {
    for (const [name, e] of entries(this.data.enums)) {
      if (!isObj(e)) continue;
      const byValue = new Map<bigint, string>();
      for (const [member, v] of entries(e.values)) {
        const path: Path = isObj(v) ? ["enums", name, "values", member, "value"] : ["enums", name, "values", member];
        const n = this.memberValue(["enums", name, "values", member], v);
        if (n === undefined) continue;
        if (n > BigInt(Number.MAX_SAFE_INTEGER)) {
          this.report(path, "out-of-range", `enum member ${name}.${member} is ${hex(n)}: enum values must be below 2^53`);
          continue;
        }
        if (isInt(e.width) && !fitsUnsigned(n, e.width)) {
          this.report(path, "enum-value-too-wide", `${name}.${member} = ${n} does not fit the enum's width of ${e.width} bits`);
        }
        const twin = byValue.get(n);
        if (twin !== undefined) this.report(path, "duplicate-enum-value", `${name}.${member} has the same value (${n}) as ${twin}`, false, "warning");
        else byValue.set(n, member);
      }
    }
  }

  // ---- bit fields (registers, struct fields, command overlays) ----

  /** Checks an enum reference and that every member fits `width` bits. */
  private checkEnumRef(path: Path, enumName: unknown, width: number, owner: string): void {
    if (!isStr(enumName)) return;
    const info = this.enums.get(enumName);
    if (!info) {
      this.report(path, "unknown-enum", `unknown enum "${enumName}"${this.suggest(enumName, [...this.enums.keys()])}`);
      return;
    }
    if (!fitsUnsigned(info.max, width)) {
      this.report(path, "enum-too-wide", `enum ${enumName} has ${info.maxMember} = ${info.max}, which does not fit the ${width}-bit ${owner}`);
    }
  }

  /**
   * Bit fields inside a container of `width` bits: each range valid and inside, no two overlapping,
   * enums known and fitting.
   */
  private checkBitfields(path: Path, fields: Record<string, RawBitfield> | undefined, width: number, container: string): void {
    const placed: { name: string; msb: number; lsb: number }[] = [];
    for (const [name, f] of entries(fields)) {
      if (!isObj(f) || (!isInt(f.bits) && !isStr(f.bits))) continue;
      const bitsPath = [...path, name, "bits"];
      const r = parseBits(f.bits);
      if ("error" in r) {
        this.report(bitsPath, "bad-bits", r.error);
        continue;
      }
      const text = r.msb === r.lsb ? `bit ${r.lsb}` : `bits ${r.msb}:${r.lsb}`;
      if (r.msb >= width) {
        this.report(bitsPath, "field-outside-register", `${text} of "${name}" ${r.msb === r.lsb ? "does" : "do"} not fit the ${width}-bit ${container} (highest bit is ${width - 1})`);
        continue;
      }
      for (const other of placed) {
        if (r.lsb <= other.msb && other.lsb <= r.msb) {
          const o = other.msb === other.lsb ? `bit ${other.lsb}` : `bits ${other.msb}:${other.lsb}`;
          this.report(bitsPath, "field-overlap", `${text} of "${name}" overlap${r.msb === r.lsb ? "s" : ""} ${o} of "${other.name}"`);
        }
      }
      placed.push({ name, msb: r.msb, lsb: r.lsb });
      this.checkEnumRef([...path, name, "enum"], f.enum, r.msb - r.lsb + 1, `field "${name}"`);
    }
  }

  // ---- regions and registers ----

  private checkRegions(): void {
    const byIndex = new Map<number, string>();
    for (const [rname, region] of entries(this.data.regions)) {
      if (!isObj(region)) continue;
      if (isInt(region.index)) {
        const other = byIndex.get(region.index);
        if (other !== undefined) this.report(["regions", rname, "index"], "duplicate-index", `regions ${other} and ${rname} both have index ${region.index}`);
        else byIndex.set(region.index, rname);
      }
      // a capability-located region is a window of a BAR, sized by its structure, not the BAR
      if (region.kind === "mmio" && region.capability === undefined && isInt(region.size) && !isPowerOfTwo(region.size)) {
        this.report(["regions", rname, "size"], "region-size", `mmio region ${rname} is ${hex(region.size)} bytes; PCI BARs are a power of two in size`, false, "warning");
      }
      this.checkRegisters(rname, region);
    }
  }

  private checkRegisters(rname: string, region: RawRegion): void {
    const size = isInt(region.size) ? region.size : undefined;
    const spans: { start: number; end: number; reg: string; label: string; order: number }[] = [];
    let order = 0;
    for (const [name, reg] of entries(region.registers)) {
      order++;
      const base: Path = ["regions", rname, "registers", name];
      if (!isObj(reg) || !isInt(reg.offset)) continue;
      const width = reg.width ?? DEFAULT_REGISTER_WIDTH;
      if (![8, 16, 32, 64].includes(width)) continue;
      const bytes = width / 8;
      const count = isInt(reg.count) ? reg.count : 1;
      const stride = isInt(reg.stride) ? reg.stride : bytes;
      if (reg.offset % bytes !== 0) {
        this.report([...base, "offset"], "misaligned", `${width}-bit register "${name}" at ${hex(reg.offset)} is not ${bytes}-byte aligned`);
      }
      if (count > 1 && stride < bytes) {
        this.report([...base, "stride"], "array-stride", `stride ${stride} of "${name}" is less than its ${bytes}-byte width: elements would overlap`);
      } else if (count > 1 && stride % bytes !== 0) {
        this.report([...base, "stride"], "misaligned", `stride ${stride} of "${name}" is not a multiple of its ${bytes}-byte width: elements would be misaligned`);
      }
      if (count === 1 && reg.stride !== undefined) {
        this.report([...base, "stride"], "stride-without-count", `"${name}" has a stride but no count; a register array needs count > 1`, false, "warning");
      }
      const end = reg.offset + (count - 1) * stride + bytes;
      if (size !== undefined && end > size) {
        const what = count > 1 ? `register array "${name}" (${count} x ${bytes} bytes, stride ${stride}) ends at ${hex(end)}` : `register "${name}" ends at ${hex(end)}`;
        this.report([...base, "offset"], "register-outside-region", `${what}, past the end of region ${rname} (size ${hex(size)})`);
      }
      if (count <= 65536) {
        for (let i = 0; i < count; i++) {
          const start = reg.offset + i * stride;
          spans.push({ start, end: start + bytes, reg: name, label: count > 1 ? `${name}[${i}]` : name, order });
        }
      }
      if (reg.reset !== undefined && isInt(reg.reset)) {
        const reset = this.loc.integer([...base, "reset"]);
        if (reset !== undefined && !fitsUnsigned(reset, width)) {
          this.report([...base, "reset"], "reset-too-wide", `reset value ${hex(reset)} of "${name}" does not fit its ${width} bits`);
        }
      }
      if (reg.value === "dma-address") {
        if (width !== 32 && width !== 64) this.report([...base, "width"], "bad-dma-register", `dma-address register "${name}" must be 32 or 64 bits wide, not ${width}`);
        if (reg.fields !== undefined) this.report([...base, "fields"], "bad-dma-register", `dma-address register "${name}" holds one address and cannot have fields`, true);
      }
      this.checkBitfields([...base, "fields"], reg.fields, width, `register "${name}"`);
    }
    // Sweep the byte ranges in address order: anything starting before the furthest end so far overlaps.
    spans.sort((a, b) => a.start - b.start || a.order - b.order);
    const reported = new Set<string>();
    let reach: (typeof spans)[number] | undefined;
    for (const s of spans) {
      if (reach && s.start < reach.end && reach.reg !== s.reg) {
        const [first, second] = reach.order < s.order ? [reach, s] : [s, reach];
        const key = `${first.reg}\u0000${second.reg}`;
        if (!reported.has(key)) {
          reported.add(key);
          this.report(
            ["regions", rname, "registers", second.reg, "offset"],
            "register-overlap",
            `registers overlap: ${second.label} (${hex(second.start)}..${hex(second.end - 1)}) and ${first.label} (${hex(first.start)}..${hex(first.end - 1)})`,
          );
        }
      }
      if (!reach || s.end > reach.end) reach = s;
    }
  }

  // ---- structs ----

  /** Shape of a struct field, or undefined when it is malformed (reported elsewhere). */
  fieldShape(name: string, f: RawStructField | RawParam): FieldShape | undefined {
    if (!isObj(f) || !isInt(f.offset) || !isStr(f.type)) return undefined;
    const count = isInt(f.count) ? f.count : 1;
    const builtin = builtinBytes(f.type);
    if (builtin !== undefined) return { name, offset: f.offset, elemBytes: builtin, count, kind: isScalarType(f.type) ? "scalar" : "dma-address" };
    if (f.type === "reserved") {
      const size = (f as { size?: unknown }).size;
      return isInt(size) ? { name, offset: f.offset, elemBytes: size, count: 1, kind: "reserved" } : undefined;
    }
    const nested = this.structs.get(f.type);
    return nested ? { name, offset: f.offset, elemBytes: nested.size, count, kind: "struct" } : undefined;
  }

  /** Natural alignment of a struct: that of its most aligned field (1 when packed). Cycles count as 1. */
  private structAlign(name: string, visiting = new Set<string>()): number {
    const memo = this.alignMemo.get(name);
    if (memo !== undefined) return memo;
    const s = this.structs.get(name);
    if (!s || s.packed === true || visiting.has(name)) return 1;
    visiting.add(name);
    let align = 1;
    for (const [, f] of entries(s.fields)) {
      if (!isObj(f) || !isStr(f.type)) continue;
      const b = builtinBytes(f.type);
      if (b !== undefined) align = Math.max(align, b);
      else if (this.structs.has(f.type)) align = Math.max(align, this.structAlign(f.type, visiting));
    }
    visiting.delete(name);
    this.alignMemo.set(name, align);
    return align;
  }

  private checkStructs(): void {
    for (const [sname, s] of entries(this.data.structs)) {
      if (!isObj(s)) continue;
      const placed: FieldShape[] = [];
      for (const [fname, f] of entries(s.fields)) {
        const base: Path = ["structs", sname, "fields", fname];
        if (!isObj(f) || !isStr(f.type)) continue;
        this.checkFieldOptions(base, fname, f);
        const shape = this.fieldShape(fname, f);
        if (!shape) continue;
        this.checkPlacement(base, shape, isInt(s.size) ? s.size : undefined, s.packed === true, `${s.size}-byte struct ${sname}`, f.type);
        if (shape.kind === "dma-address") this.checkDmaExtent(base, fname, f, (n) => this.extentFieldName(s, n));
        if (shape.kind === "dma-address") checkDmaList(this.listRulesHost(), base, fname, f, s);
        for (const other of placed) {
          if (overlaps(shape, other)) {
            this.report([...base, "offset"], "struct-field-overlap", `field "${fname}" (${span(shape)}) overlaps field "${other.name}" (${span(other)})`);
          }
        }
        placed.push(shape);
      }
      if (s.variants !== undefined && !checkVariants(this.variantRulesHost(), sname, s)) this.badVariants.add(sname);
    }
    this.checkStructCycles();
  }

  /** Options that only some types take; enum and bit fields checked against the type's width. */
  private checkFieldOptions(base: Path, fname: string, f: RawStructField | RawParam): void {
    const t = f.type as string;
    const bytes = builtinBytes(t);
    const isScalar = isScalarType(t);
    if (t === "reserved") {
      if ((f as RawStructField).size === undefined) this.report([...base, "type"], "missing-key", `reserved field "${fname}" needs "size" (bytes)`);
      if (f.count !== undefined) this.report([...base, "count"], "bad-option", `reserved field "${fname}" takes size, not count`, true);
    } else if ((f as RawStructField).size !== undefined) {
      this.report([...base, "size"], "bad-option", `"size" is only for reserved fields; use count for an array of ${t}`, true);
    }
    if (bytes === undefined && t !== "reserved" && !this.structs.has(t)) {
      this.report([...base, "type"], "unknown-struct", `unknown type "${t}": not a built-in type or a struct${this.suggest(t, [...this.structs.keys()])}`);
    }
    if (f.enum !== undefined) {
      if (!isScalar) this.report([...base, "enum"], "bad-option", `only integer fields (u8..u64, i8..i64) take an enum, not ${t}`, true);
      else this.checkEnumRef([...base, "enum"], f.enum, bytes! * 8, `${t} field "${fname}"`);
    }
    if (f.fields !== undefined) {
      if (!isScalar || (isInt(f.count) && f.count > 1)) {
        this.report([...base, "fields"], "bad-option", `only a single integer field (u8..u64) can hold bit fields, not ${t}${isInt(f.count) && f.count > 1 ? ` x ${f.count}` : ""}`, true);
      } else this.checkBitfields([...base, "fields"], f.fields, bytes! * 8, `${t} field "${fname}"`);
    }
    if (f.endian !== undefined && bytes === undefined) {
      this.report([...base, "endian"], "bad-option", `endian applies to integer and dma-address fields, not ${t}`, true);
    }
    for (const k of ["extent", "unbounded", "direction", "align", "list"] as const) {
      if (f[k] !== undefined && t !== "dma-address") this.report([...base, k], "bad-option", `${k} describes the memory a dma-address points at; "${fname}" is ${t}`, true);
    }
    this.checkDmaAlign(base, fname, f);
  }

  // ---- DMA extents ----

  /**
   * A dma-address states how many bytes the device moves there (`extent`) or why it cannot
   * (`unbounded`, a warning: nothing checks that field's range). `name(n)` says whether a name in
   * the expression is something the encoder knows: undefined when it is, else why not.
   */
  private checkDmaExtent(base: Path, fname: string, f: RawDmaExtent, name: (n: string) => string | undefined, inherited = false): void {
    if (f.extent !== undefined && f.unbounded !== undefined) {
      this.report([...base, "unbounded"], "dma-extent-conflict", `dma-address "${fname}" has both extent and unbounded; keep one`, true);
      return;
    }
    if (f.unbounded !== undefined) {
      if (!inherited) this.report([...base, "unbounded"], "dma-unbounded", `dma-address "${fname}" has no extent (${f.unbounded}): the SDK cannot check how far the device reaches from it`, true, "warning");
      return;
    }
    if (f.extent === undefined && f.list !== undefined) return; // a list states its extent (list-rules.ts)
    if (f.extent === undefined) {
      if (inherited) return; // reported at the struct field
      this.report(base, "dma-extent-missing", `dma-address "${fname}" needs an extent (the bytes the device moves there: a number, a field or an expression) or unbounded: "<why not>"`, true);
      return;
    }
    if (!isInt(f.extent) && !isStr(f.extent)) return; // the schema reported it
    const e = parseExtent(f.extent);
    if ("error" in e) {
      this.report([...base, "extent"], "bad-extent", `extent of "${fname}": ${e.error} (column ${e.column + 1} of "${f.extent}")`);
      return;
    }
    for (const n of extentNames(e)) {
      const why = /^[A-Z]/.test(n.name) ? (isObj(this.data.constants) && this.data.constants[n.name] !== undefined ? undefined : `unknown constant "${n.name}"${this.suggest(n.name, Object.keys(this.data.constants ?? {}))}`) : name(n.name);
      if (why !== undefined) this.report([...base, "extent"], "bad-extent", `extent of "${fname}": ${why}`);
    }
  }

  /** A struct field an extent may name: one unsigned integer of at most 32 bits, without bit fields. */
  private extentFieldName(s: RawStruct, n: string): string | undefined {
    const raw = isObj(s.fields) ? s.fields[n] : undefined;
    if (!isObj(raw)) return `no field "${n}"${this.suggest(n, Object.keys(s.fields ?? {}))}`;
    if (!["u8", "u16", "u32"].includes(raw.type) || (raw.count ?? 1) !== 1 || raw.fields !== undefined) {
      return `field "${n}" is ${raw.type}${raw.fields !== undefined ? " with bit fields" : ""}; an extent can use only single u8, u16 or u32 fields`;
    }
    return undefined;
  }

  /** Inside the struct and naturally aligned (unless packed). */
  private checkPlacement(base: Path, shape: FieldShape, structSize: number | undefined, packed: boolean, structLabel: string, type: string): void {
    const end = shape.offset + shape.elemBytes * shape.count;
    if (structSize !== undefined && end > structSize) {
      this.report([...base, "offset"], "struct-field-outside", `field "${shape.name}" (${span(shape)}) ends past the end of the ${structLabel}`);
    }
    if (packed) return;
    const align = shape.kind === "struct" ? this.structAlign(type) : shape.kind === "reserved" ? 1 : shape.elemBytes;
    if (shape.offset % align !== 0) {
      this.report([...base, "offset"], "misaligned", `${type} field "${shape.name}" at offset ${shape.offset} is not ${align}-byte aligned; move it or set packed: true on the struct`);
    }
  }

  private checkStructCycles(): void {
    const state = new Map<string, "visiting" | "done">();
    const stack: string[] = [];
    const visit = (name: string) => {
      state.set(name, "visiting");
      stack.push(name);
      const s = this.structs.get(name)!;
      for (const [fname, f] of entries(s.fields)) {
        if (!isObj(f) || !isStr(f.type) || !this.structs.has(f.type)) continue;
        const st = state.get(f.type);
        if (st === "visiting") {
          const cycle = [...stack.slice(stack.indexOf(f.type)), f.type].join(" -> ");
          this.report(["structs", name, "fields", fname, "type"], "struct-cycle", `structs contain each other: ${cycle}; a struct cannot contain itself`);
        } else if (st === undefined) visit(f.type);
      }
      stack.pop();
      state.set(name, "done");
    };
    for (const name of this.structs.keys()) if (!state.has(name)) visit(name);
  }

  // ---- queues ----

  /** The struct a queue or command side names, reporting it when unknown. */
  private structRef(path: Path, name: unknown): RawStruct | undefined {
    if (!isStr(name)) return undefined;
    const s = this.structs.get(name);
    if (!s && (!isObj(this.data.structs) || !Object.hasOwn(this.data.structs, name))) {
      this.report(path, "unknown-struct", `unknown struct "${name}"${this.suggest(name, [...this.structs.keys()])}`);
    }
    return s;
  }

  /** A register named `region.register`, reporting unknown regions and registers. */
  /**
   * Registers a queue publishes through (index-ring producer and doorbell, sq-cq doorbells) are
   * written with the ordered doorbell store, which the runtime has for 32-bit registers only (a
   * native fence + store on device memory): other widths would be published unordered on arm64.
   */
  private checkDoorbellWidths(): void {
    for (const [qname, q] of entries(this.data.queues)) {
      if (!isObj(q)) continue;
      const refs: [Path, unknown][] =
        q.kind === "index-ring" ? [[["queues", qname, "producer"], q.producer], [["queues", qname, "doorbell"], q.doorbell]]
        : q.kind === "sq-cq" ? [[["queues", qname, "sq", "doorbell"], isObj(q.sq) ? q.sq.doorbell : undefined], [["queues", qname, "cq", "doorbell"], isObj(q.cq) ? q.cq.doorbell : undefined]]
        : [];
      for (const [path, ref] of refs) {
        if (!isStr(ref)) continue;
        const parts = splitRegisterRef(ref);
        const reg = parts && isObj(this.regions.get(parts.region)?.registers) ? this.regions.get(parts.region)!.registers![parts.register] : undefined;
        if (isObj(reg) && isInt(reg.width) && reg.width !== 32) {
          this.report(path, "doorbell-width", `${ref} is ${reg.width} bits wide; a queue publishes through 32-bit registers only (the runtime's ordered doorbell store is 32-bit)`);
        }
      }
    }
  }

  private registerRef(path: Path, ref: unknown): { region: RawRegion; count: number; name: string } | undefined {
    if (!isStr(ref)) return undefined;
    const parts = splitRegisterRef(ref);
    if (!parts) return undefined;
    const region = this.regions.get(parts.region);
    if (!region) {
      this.report(path, "unknown-region", `unknown region "${parts.region}" in ${ref}${this.suggest(parts.region, [...this.regions.keys()])}`);
      return undefined;
    }
    const reg = isObj(region.registers) ? region.registers[parts.register] : undefined;
    if (!isObj(reg)) {
      this.report(path, "unknown-register", `region ${parts.region} has no register "${parts.register}"${this.suggest(parts.register, Object.keys(region.registers ?? {}))}`);
      return undefined;
    }
    return { region, count: isInt(reg.count) ? reg.count : 1, name: ref };
  }

  /** A field of an entry struct used by a queue (tag, phase, done): present, a single integer of at most 32 bits. */
  private entryField(path: Path, struct: RawStruct | undefined, structName: unknown, field: unknown, role: string): FieldShape | undefined {
    if (!struct || !isStr(field)) return undefined;
    const raw = isObj(struct.fields) ? struct.fields[field] : undefined;
    if (!isObj(raw)) {
      this.report(path, "unknown-field", `struct ${String(structName)} has no field "${field}"${this.suggest(field, Object.keys(struct.fields ?? {}))}`);
      return undefined;
    }
    const shape = this.fieldShape(field, raw);
    if (!shape) return undefined;
    if (shape.kind !== "scalar" || shape.count !== 1 || shape.elemBytes > 4) {
      this.report(path, "bad-field-type", `${role} field "${field}" must be one integer of at most 32 bits (u8, u16 or u32), not ${raw.type}${shape.count > 1 ? ` x ${shape.count}` : ""}`);
      return undefined;
    }
    return shape;
  }

  private checkRing(path: Path, ring: RawRing | undefined, depth: unknown, entry: RawStruct | undefined): void {
    if (isInt(depth) && !isPowerOfTwo(depth)) {
      this.report(path.slice(0, -1).concat("depth"), "depth-not-power-of-two", `depth ${depth} is not a power of two (ring indices wrap by masking)`);
    }
    if (!isObj(ring) || !isStr(ring.region)) return;
    const region = this.regions.get(ring.region);
    if (!region) {
      this.report([...path, "region"], "unknown-region", `unknown region "${ring.region}"${this.suggest(ring.region, [...this.regions.keys()])}`);
      return;
    }
    if (!entry || !isInt(depth) || !isInt(ring.offset)) return;
    const start = ring.offset;
    const end = start + depth * entry.size;
    if (end > region.size) {
      this.report([...path, "offset"], "ring-outside-region", `ring of ${depth} x ${entry.size}-byte entries at ${hex(start)} ends at ${hex(end)}, past the end of region ${ring.region} (size ${hex(region.size)})`);
    }
    const hit: string[] = [];
    for (const [rname, reg] of entries(region.registers)) {
      if (!isObj(reg) || !isInt(reg.offset)) continue;
      const bytes = (reg.width ?? DEFAULT_REGISTER_WIDTH) / 8;
      const count = isInt(reg.count) ? reg.count : 1;
      const stride = isInt(reg.stride) ? reg.stride : bytes;
      const rEnd = reg.offset + (count - 1) * stride + bytes;
      if (reg.offset < end && start < rEnd) hit.push(rname);
    }
    if (hit.length > 0) {
      const what = hit.length === 1 ? `register ${hit[0]}` : `registers ${hit.join(", ")}`;
      this.report([...path, "offset"], "ring-overlaps-register", `ring ${hex(start)}..${hex(end - 1)} overlaps ${what} of region ${ring.region}`);
    }
  }

  private checkInterruptRef(path: Path, name: unknown): void {
    if (isStr(name) && !this.interrupts.has(name)) {
      this.report(path, "unknown-interrupt", `unknown interrupt "${name}"${this.suggest(name, [...this.interrupts])}`);
    }
  }

  private checkQueues(): void {
    const idRanges: { name: string; first: number; last: number }[] = [];
    const portalIds: { name: string; first: number; last: number }[] = [];
    for (const [qname, q] of entries(this.data.queues)) {
      if (!isObj(q)) continue;
      const base: Path = ["queues", qname];
      this.checkInterruptRef([...base, "interrupt"], q.interrupt);
      if (q.kind === "index-ring") {
        const entry = this.structRef([...base, "entry"], q.entry);
        this.checkRing([...base, "ring"], q.ring, q.depth, entry);
        for (const role of ["producer", "consumer", "doorbell"] as const) this.registerRef([...base, role], q[role]);
        if (isObj(q.done)) {
          const shape = this.entryField([...base, "done", "field"], entry, q.entry, q.done.field, "done");
          if (shape && isInt(q.done.pending)) {
            const pending = this.loc.integer([...base, "done", "pending"]);
            if (pending !== undefined && !fitsUnsigned(pending, shape.elemBytes * 8)) {
              this.report([...base, "done", "pending"], "value-too-wide", `pending value ${pending} does not fit the ${shape.elemBytes * 8}-bit field "${shape.name}"`);
            }
          }
        }
      } else if (q.kind === "portal") {
        this.checkPortalQueue(base, q, portalIds); // work-queue numbers: their own id space
      } else if (q.kind === "sq-cq") {
        let ids: { first: number; last: number } | undefined;
        if (q.instances !== undefined && (isStr(q.instances) || isInt(q.instances))) {
          const r = parseInstances(q.instances);
          if ("error" in r) this.report([...base, "instances"], "bad-instances", r.error);
          else {
            ids = r;
            for (const other of idRanges) {
              if (r.first <= other.last && other.first <= r.last) {
                this.report([...base, "instances"], "queue-ids-overlap", `queue ids ${r.first}..${r.last} of ${qname} overlap ids ${other.first}..${other.last} of ${other.name}`);
              }
            }
            idRanges.push({ name: qname, ...r });
          }
        }
        for (const side of ["sq", "cq"] as const) {
          const s = q[side];
          if (!isObj(s)) continue;
          const sp: Path = [...base, side];
          const entry = this.structRef([...sp, "entry"], s.entry);
          this.checkRing([...sp, "ring"], s.ring, s.depth, entry);
          const bell = this.registerRef([...sp, "doorbell"], s.doorbell);
          if (bell && ids) this.checkDoorbellArray([...sp, "doorbell"], bell, ids);
          this.entryField([...sp, "tag"], entry, s.entry, s.tag, "tag");
          if (side === "cq" && isObj(q.cq)) {
            const cq = q.cq;
            if (isObj(cq.phase)) {
              const shape = this.entryField([...sp, "phase", "field"], entry, s.entry, cq.phase.field, "phase");
              if (shape && isInt(cq.phase.bit) && cq.phase.bit >= shape.elemBytes * 8) {
                this.report([...sp, "phase", "bit"], "field-outside-register", `phase bit ${cq.phase.bit} is outside the ${shape.elemBytes * 8}-bit field "${shape.name}"`);
              }
            }
            if (cq.sq_head !== undefined) this.entryField([...sp, "sq_head"], entry, s.entry, cq.sq_head, "sq_head");
          }
        }
      }
    }
  }

  /** A doorbell serving several queue ids is a register array indexed by the id. */
  private checkDoorbellArray(path: Path, bell: { count: number; name: string }, ids: { first: number; last: number }): void {
    if (bell.count > 1 && ids.last >= bell.count) {
      this.report(path, "doorbell-too-short", `doorbell ${bell.name} has ${bell.count} elements, but queue id ${ids.last} needs element ${ids.last}`);
    } else if (bell.count === 1 && ids.first !== ids.last) {
      this.report(path, "doorbell-not-array", `doorbell ${bell.name} is one register, but queue ids ${ids.first}..${ids.last} each need their own; make it a register array (count, stride)`);
    }
  }

  // ---- commands ----

  /** The struct a command fills: its own `struct`, or its queue's (submission) entry. */
  commandStruct(c: RawCommand): string | undefined {
    return commandStruct(this.data, c);
  }

  /** A declared struct direction must hold for every use: a command's struct is written by the host, a completion by the device. */
  private checkStructDirections(): void {
    const declared = new Map<string, StructDirection>();
    for (const [sname, s] of this.structs) if (isStr(s.direction)) declared.set(sname, s.direction as StructDirection);
    if (declared.size === 0) return;
    const flow = (d: StructDirection) => (d === "to-device" ? "written by the host (to-device)" : d === "from-device" ? "written by the device (from-device)" : "written by both");
    for (const u of structUses(this.data)) {
      const d = declared.get(u.struct);
      if (d !== undefined && contradicts(d, u.direction)) {
        this.report(["structs", u.struct, "direction"], "struct-direction", `struct ${u.struct} is declared ${d}, but as ${u.by} it is ${flow(u.direction)}; change its direction (or remove it: it is inferred)`);
      }
    }
    // a struct nested in another travels with it
    const directions = structDirections(this.data);
    for (const [sname, s] of this.structs) {
      const outer = directions.get(sname)!;
      for (const [fname, f] of entries(s.fields)) {
        if (!isObj(f) || !isStr(f.type)) continue;
        const d = declared.get(f.type);
        if (d !== undefined && contradicts(d, outer)) {
          this.report(["structs", f.type, "direction"], "struct-direction", `struct ${f.type} is declared ${d}, but it is field ${fname} of struct ${sname}, which is ${flow(outer)}; change one of the directions`);
        }
      }
    }
  }

  private checkCommands(): void {
    for (const [cname, c] of entries(this.data.commands)) {
      if (!isObj(c)) continue;
      const base: Path = ["commands", cname];
      if (c.queue === undefined && c.struct === undefined) {
        this.report(base, "missing-key", `command "${cname}" needs "queue" (to fill that queue's entries) or "struct"`, true);
        continue;
      }
      if (isStr(c.queue) && !this.queues.has(c.queue)) {
        this.report([...base, "queue"], "unknown-queue", `unknown queue "${c.queue}"${this.suggest(c.queue, [...this.queues.keys()])}`);
      }
      if (isStr(c.queue) && isStr(c.struct)) {
        const viaQueue = this.commandStruct({ queue: c.queue });
        if (viaQueue !== undefined && viaQueue !== c.struct) {
          this.report([...base, "struct"], "struct-mismatch", `struct ${c.struct} is not the entry of queue ${c.queue} (${viaQueue}); name only one of them`);
        }
      }
      const sname = this.commandStruct(c);
      let struct = isStr(c.struct) ? this.structRef([...base, "struct"], c.struct) : sname ? this.structs.get(sname) : undefined;
      if (!struct || !sname) continue;
      const written: { shape: FieldShape; what: string }[] = [];
      if (c.variant !== undefined) {
        // a command naming a case sees the case's fields; the case sets the selector
        const v = checkCommandVariant(this.variantRulesHost(), cname, c as RawCommand, struct, sname, !this.badVariants.has(sname));
        if (!v) continue;
        struct = v.view;
        if (v.selector) written.push({ shape: v.selector, what: `the selector of variant "${String(c.variant)}"` });
      }
      const fixedWords = new Map<string, string>(); // field -> how the first fixed entry on it wrote it
      for (const [fname, value] of entries(c.fixed)) {
        const path: Path = [...base, "fixed", fname];
        if (fname.includes(".") || fixedWords.has(fname)) {
          const shape = this.checkFixedBits(path, fname, value, struct, sname, fixedWords);
          if (shape) written.push({ shape, what: `fixed field "${shape.name}"` });
          continue;
        }
        fixedWords.set(fname, "whole");
        const raw = isObj(struct.fields) ? struct.fields[fname] : undefined;
        if (!isObj(raw)) {
          this.report(path, "unknown-field", `struct ${sname} has no field "${fname}"${this.suggest(fname, Object.keys(struct.fields ?? {}))}`, true);
          continue;
        }
        const shape = this.fieldShape(fname, raw);
        if (!shape) continue;
        if (shape.kind !== "scalar" || shape.count !== 1) {
          this.report(path, "bad-field-type", `fixed values go into integer fields; "${fname}" is ${raw.type}${shape.count > 1 ? ` x ${shape.count}` : ""}`, true);
          continue;
        }
        const v = this.loc.integer(path);
        if (isInt(value) && v !== undefined && !fitsUnsigned(v, shape.elemBytes * 8)) {
          this.report(path, "fixed-value-too-wide", `fixed value ${hex(v)} does not fit the ${shape.elemBytes * 8}-bit field "${fname}"`);
        }
        written.push({ shape, what: `fixed field "${fname}"` });
      }
      for (const [pname, p] of entries(c.params)) {
        if (!isObj(p)) continue;
        const path: Path = [...base, "params", pname];
        const shape = this.checkParam(path, pname, p as RawParam, struct, sname);
        if (isStr(p.field) && isObj(struct.fields)) checkListParam(this.listRulesHost(), cname, pname, c as RawCommand, struct.fields[p.field], p.extent !== undefined || p.unbounded !== undefined);
        if (!shape) continue;
        for (const w of written) {
          if (overlaps(shape, w.shape)) {
            this.report(path, "param-overlap", `param "${pname}" (${span(shape)}) overlaps ${w.what} (${span(w.shape)})`, true);
          }
        }
        written.push({ shape, what: `param "${pname}"` });
      }
    }
  }

  /** A param is a struct field as it is ({ field }) or an overlay ({ offset, type }). */
  private checkParam(path: Path, pname: string, p: RawParam, struct: RawStruct, sname: string): FieldShape | undefined {
    const overlayKeys = (["offset", "type", "count", "endian", "enum", "fields"] as const).filter((k) => p[k] !== undefined);
    if (p.field !== undefined) {
      if (overlayKeys.length > 0) {
        this.report([...path, overlayKeys[0]!], "bad-param", `param "${pname}" names a field; ${overlayKeys.join(", ")} belong to overlays ({ offset, type }) only`, true);
      }
      if (!isStr(p.field)) return undefined;
      const raw = isObj(struct.fields) ? struct.fields[p.field] : undefined;
      if (!isObj(raw)) {
        this.report([...path, "field"], "unknown-field", `struct ${sname} has no field "${p.field}"${this.suggest(p.field, Object.keys(struct.fields ?? {}))}`);
        return undefined;
      }
      if (raw.type === "reserved") {
        this.report([...path, "field"], "bad-field-type", `param "${pname}" names reserved field "${p.field}"`);
        return undefined;
      }
      for (const k of ["extent", "unbounded", "direction", "align"] as const) {
        if (p[k] !== undefined && raw.type !== "dma-address") this.report([...path, k], "bad-option", `${k} describes the memory a dma-address points at; field "${p.field}" is ${raw.type}`, true);
      }
      if (raw.type === "dma-address") {
        // The param's own extent, or the field's, read in the command's terms (params, fixed values).
        const own = p.extent !== undefined || p.unbounded !== undefined;
        const src: RawDmaExtent = own ? p : raw;
        const command = path.slice(0, 2) as Path;
        const c = (this.data.commands ?? {})[String(command[1])] as RawCommand;
        this.checkDmaExtent(own ? path : [...path, "field"], pname, own ? p : { ...src, direction: raw.direction }, (n) => this.extentParamName(c, struct, sname, n, own), !own);
      }
      return this.fieldShape(pname, raw);
    }
    if (p.offset === undefined || p.type === undefined) {
      const missing = p.offset === undefined && p.type === undefined ? "field (a struct field) or offset and type (an overlay)" : p.offset === undefined ? "offset" : "type";
      this.report(path, "missing-key", `param "${pname}" needs ${missing}`, true);
      return undefined;
    }
    if (!isInt(p.offset) || !isStr(p.type)) return undefined;
    this.checkFieldOptions(path, pname, p);
    if (p.type === "dma-address") {
      const c = (this.data.commands ?? {})[String(path[1])] as RawCommand;
      this.checkDmaExtent(path, pname, p, (n) => this.extentParamName(c, struct, sname, n, true));
    }
    const shape = this.fieldShape(pname, p);
    if (shape) this.checkPlacement(path, shape, struct.size, struct.packed === true, `${struct.size}-byte struct ${sname}`, p.type);
    return shape;
  }

  /**
   * A name in a command's extent: its own extent names params; one inherited from the struct names
   * struct fields, which the command must take as params or fix.
   */
  private extentParamName(c: RawCommand, struct: RawStruct, sname: string, n: string, own: boolean): string | undefined {
    const params = isObj(c?.params) ? c.params : {};
    if (own) {
      const p = params[n];
      if (!isObj(p)) return `no param "${n}"${this.suggest(n, Object.keys(params))}`;
      const target = isStr(p.field) && isObj(struct.fields) ? struct.fields[p.field] : undefined;
      const type = p.field !== undefined ? (isObj(target) ? target.type : undefined) : p.type;
      const hasBits = p.field !== undefined ? isObj(target) && target.fields !== undefined : p.fields !== undefined;
      if (!isStr(type) || !["u8", "u16", "u32"].includes(type) || hasBits || (p.count ?? 1) !== 1) return `param "${n}" is ${String(type)}; an extent can use only single u8, u16 or u32 values`;
      return undefined;
    }
    const why = this.extentFieldName(struct, n);
    if (why !== undefined) return `${why} (extent inherited from ${sname})`;
    const taken = Object.values(params).some((p) => isObj(p) && p.field === n);
    const fixed = isObj(c?.fixed) && c.fixed[n] !== undefined;
    if (!taken && !fixed) return `the extent inherited from ${sname} uses field "${n}", which this command neither fixes nor takes as a param: give the param its own extent`;
    return undefined;
  }

  // ---- interrupts ----

  // ---- portal queues, DMA alignment, fixed bit fields (generator/src/portal-rules.ts) ----

  private checkPortalQueue(base: Path, q: RawPortalQueue, idRanges: { name: string; first: number; last: number }[]): void {
    checkPortalQueue(this.portalRulesHost(), base, q, idRanges);
  }

  private checkDmaAlign(base: Path, fname: string, f: RawDmaExtent): void {
    if (isInt(f.align) && !isPowerOfTwo(f.align)) this.report([...base, "align"], "bad-align", `align ${f.align} of "${fname}" is not a power of two`);
  }

  private checkFixedBits(path: Path, key: string, value: unknown, struct: RawStruct, sname: string, words: Map<string, string>): FieldShape | undefined {
    return checkFixedBits(this.portalRulesHost(), path, key, value, struct, sname, words);
  }

  private listRulesHost(): ListRulesHost {
    return {
      data: this.data,
      report: (p, c, m, k) => this.report(p, c, m, k),
      extentFieldName: (st, n) => this.extentFieldName(st, n),
      suggest: (w, c) => this.suggest(w, c),
    };
  }

  private variantRulesHost(): VariantRulesHost {
    return {
      data: this.data,
      report: (p, c, m, k, sev) => this.report(p, c, m, k, sev),
      fieldShape: (n, f) => this.fieldShape(n, f),
      checkFieldOptions: (b, n, f) => this.checkFieldOptions(b, n, f),
      checkPlacement: (b, sh, size, packed, label, type) => this.checkPlacement(b, sh, size, packed, label, type),
      checkDmaExtent: (b, n, f, name) => this.checkDmaExtent(b, n, f, name),
      checkDmaList: (b, n, f, owner) => checkDmaList(this.listRulesHost(), b, n, f, owner),
      extentFieldName: (st, n) => this.extentFieldName(st, n),
      integer: (p) => this.loc.integer(p),
      errorCount: () => this.out.filter((d) => d.severity === "error").length,
      suggest: (w, c) => this.suggest(w, c),
    };
  }

  private portalRulesHost(): PortalRulesHost {
    return {
      data: this.data,
      regions: this.regions,
      report: (p, c, m, k, sev) => this.report(p, c, m, k, sev),
      structRef: (p, n) => this.structRef(p, n),
      entryField: (p, st, sn, f, r) => this.entryField(p, st, sn, f, r),
      fieldShape: (n, f) => this.fieldShape(n, f),
      interruptRef: (p, n) => this.checkInterruptRef(p, n),
      integer: (p) => this.loc.integer(p),
      suggest: (w, c) => this.suggest(w, c),
    };
  }

  private checkInterrupts(): void {
    const byIndex = new Map<number, string>();
    for (const [name, irq] of entries(this.data.interrupts)) {
      if (!isObj(irq) || !isInt(irq.index)) continue;
      const other = byIndex.get(irq.index);
      if (other !== undefined) this.report(["interrupts", name, "index"], "duplicate-index", `interrupts ${other} and ${name} both use vector ${irq.index}`);
      else byIndex.set(irq.index, name);
    }
  }

  // ---- names as the generator writes them ----

  /** Names distinct in YAML that the generator would turn into the same identifier. */
  private collide(scope: string, items: { name: string; as: string; path: Path }[]): void {
    const seen = new Map<string, string>();
    for (const it of items) {
      const prior = seen.get(it.as);
      if (prior !== undefined && prior !== it.name) {
        this.report(it.path, "name-collision", `${scope} "${it.name}" and "${prior}" both become ${it.as} in generated code; rename one`, true);
      } else seen.set(it.as, it.name);
    }
  }

  private checkNames(): void {
    const d = this.data;
    // module-level names (types, classes, functions) are checkExportedNames'; these are members
    const members = (section: string, m: Record<string, unknown> | undefined, conv = camelCase) =>
      entries(m).map(([name]) => ({ name, as: conv(name), path: [section, name] as Path }));
    this.collide("region", members("regions", d.regions));
    this.collide("queue", members("queues", d.queues));
    this.collide("interrupt", members("interrupts", d.interrupts));
    this.collide("command", members("commands", d.commands, pascalCase));

    for (const [rname, r] of entries(d.regions)) {
      if (!isObj(r)) continue;
      const regs = entries(r.registers);
      this.collide("register", regs.map(([name]) => ({ name, as: camelCase(name), path: ["regions", rname, "registers", name] })));
      for (const [gname, g] of regs) {
        if (!isObj(g)) continue;
        this.collide("field", entries(g.fields).map(([name]) => ({ name, as: camelCase(name), path: ["regions", rname, "registers", gname, "fields", name] })));
      }
    }
    for (const [sname, s] of entries(d.structs)) {
      if (!isObj(s)) continue;
      // Struct classes get an accessor per field and one per bit field (`flags_fuse` -> flagsFuse).
      const accessors: { name: string; as: string; path: Path }[] = [];
      for (const [fname, f] of entries(s.fields)) {
        accessors.push({ name: fname, as: camelCase(fname), path: ["structs", sname, "fields", fname] });
        if (!isObj(f)) continue;
        const bits = entries(f.fields);
        this.collide("bit field", bits.map(([b]) => ({ name: b, as: camelCase(b), path: ["structs", sname, "fields", fname, "fields", b] })));
        for (const [b] of bits) accessors.push({ name: `${fname}.${b}`, as: camelCase(`${fname}_${b}`), path: ["structs", sname, "fields", fname, "fields", b] });
      }
      this.collide("struct field", accessors);
    }
    for (const [cname, c] of entries(d.commands)) {
      if (!isObj(c)) continue;
      this.collide("param", entries(c.params).map(([name]) => ({ name, as: camelCase(name), path: ["commands", cname, "params", name] })));
    }
  }

  // ---- names the generated package cannot take ----

  /**
   * Module-level names of the package (src/index.ts re-exports every module, so two modules
   * exporting one name do not compile), and names that would shadow a JavaScript or TypeScript
   * global, a runtime import, or a helper of the generated layout test.
   */
  private checkExportedNames(): void {
    const names = exportedNames(this.data).map((n, order) => ({ ...n, order, pos: this.loc.position(n.path, n.path.length > 0) }));
    names.sort((a, b) => a.pos.line - b.pos.line || a.pos.column - b.pos.column || a.order - b.order);
    const first = new Map<string, (typeof names)[number]>();
    const said = new Set<string>();
    for (const n of names) {
      const why = RESERVED_EXPORTS.get(n.name);
      if (why !== undefined && !said.has(`${n.item}\u0000${n.name}`)) {
        said.add(`${n.item}\u0000${n.name}`);
        this.report(n.path, "reserved-name", `${n.item} becomes ${n.name} in the generated package, which is ${why}; rename it`, n.path.length > 0);
      }
      const prior = first.get(n.name);
      if (prior === undefined) first.set(n.name, n);
      else if (prior.item !== n.item && !said.has(`${prior.item}\u0000${n.item}`)) {
        said.add(`${prior.item}\u0000${n.item}`);
        this.report(n.path, "name-collision", `${n.item} and ${prior.item} both become ${n.name} in the generated package; rename one`, n.path.length > 0);
      }
    }
  }

  /** Properties named like Object.prototype's members (constructor, valueOf, toString...). */
  private checkBuiltinMembers(): void {
    for (const m of memberNames(this.data)) {
      if (OBJECT_MEMBERS.has(m.as)) {
        this.report(m.path, "builtin-name", `${m.item} becomes ${m.as} in the generated package, a member every JavaScript object has (Object.prototype.${m.as}); rename it`, true);
      } else if (m.path[0] === "structs" && m.path.length === 4 && STRUCT_VIEW_MEMBERS.has(m.as)) {
        this.report(m.path, "builtin-name", `${m.item} becomes the accessor ${m.as}, which every struct class has already (the runtime's StructView.${m.as}); rename it`, true);
      }
    }
  }

  // ---- queues as the runtime's engines run them ----

  private sqCqQueues(): [string, RawSqCqQueue][] {
    return entries(this.data.queues).filter((e): e is [string, RawSqCqQueue] => isObj(e[1]) && e[1].kind === "sq-cq");
  }

  private indexRingQueues(): [string, RawIndexRingQueue][] {
    return entries(this.data.queues).filter((e): e is [string, RawIndexRingQueue] => isObj(e[1]) && e[1].kind === "index-ring");
  }

  /** A field of a struct, by names, when both resolve (problems are reported by the reference rules). */
  private fieldOf(structName: unknown, field: unknown): (FieldShape & { type: string }) | undefined {
    if (!isStr(structName) || !isStr(field)) return undefined;
    const s = this.structs.get(structName);
    const raw = s && isObj(s.fields) ? s.fields[field] : undefined;
    if (!isObj(raw) || !isStr(raw.type)) return undefined;
    const shape = this.fieldShape(field, raw);
    return shape ? { ...shape, type: raw.type } : undefined;
  }

  /** A register reference resolved to its place, or undefined (unknown ones are reported elsewhere). */
  private regAt(ref: unknown): { ref: string; region: string; offset: number; bytes: number; count: number; stride: number; access: string } | undefined {
    if (!isStr(ref)) return undefined;
    const parts = splitRegisterRef(ref);
    const region = parts ? this.regions.get(parts.region) : undefined;
    const reg = region && isObj(region.registers) ? region.registers[parts!.register] : undefined;
    if (!parts || !isObj(reg) || !isInt(reg.offset)) return undefined;
    const bytes = (isInt(reg.width) ? reg.width : 32) / 8;
    const count = isInt(reg.count) ? reg.count : 1;
    return { ref, region: parts.region, offset: reg.offset, bytes, count, stride: isInt(reg.stride) ? reg.stride : bytes, access: isStr(reg.access) ? reg.access : "rw" };
  }

  /** The sq-cq engine allocates both rings in DMA memory; a ring placed in a region would be ignored. */
  private checkSqCqRingPlacement(): void {
    for (const [qname, q] of this.sqCqQueues()) {
      for (const side of ["sq", "cq"] as const) {
        const s = q[side];
        if (isObj(s) && isObj(s.ring)) {
          this.report(["queues", qname, side, "ring"], "ring-placement-unsupported", `an sq-cq queue's rings live in DMA memory the runtime allocates (tell the device their address); ring: { region, offset } is only for index-ring queues: write ring: dma`);
        }
      }
    }
  }

  /** Tags go from 0 to min(sq depth, cq depth) - 2 (the engine keeps one slot free): the tag field must hold them. */
  private checkTagWidth(): void {
    for (const [qname, q] of this.sqCqQueues()) {
      if (!isObj(q.sq) || !isObj(q.cq) || !isInt(q.sq.depth) || !isInt(q.cq.depth)) continue;
      const inFlight = Math.min(q.sq.depth, q.cq.depth) - 1;
      if (inFlight < 1) continue;
      for (const side of ["sq", "cq"] as const) {
        const s = q[side];
        const tag = this.fieldOf(s.entry, s.tag);
        if (!tag || tag.kind !== "scalar" || tag.count !== 1) continue;
        const bits = tag.elemBytes * 8;
        if (!fitsUnsigned(inFlight - 1, bits)) {
          this.report(["queues", qname, side, "tag"], "tag-too-narrow", `tag field "${s.tag}" has ${bits} bits, but queue ${qname} keeps up to ${inFlight} requests in flight (tags 0..${inFlight - 1}); widen the field or make the rings shallower`);
        }
      }
    }
  }

  /**
   * A new completion is told by its phase bit alone, so the phase word may not be the tag or the SQ
   * head (struct fields cannot overlap, so sharing a field is the only way the bit lands in them).
   */
  private checkPhaseBit(): void {
    for (const [qname, q] of this.sqCqQueues()) {
      const cq = q.cq;
      if (!isObj(cq) || !isObj(cq.phase) || !isStr(cq.phase.field)) continue;
      for (const [role, name] of [["tag", cq.tag], ["sq_head", cq.sq_head]] as const) {
        if (name !== cq.phase.field) continue;
        this.report(["queues", qname, "cq", "phase", "field"], "phase-in-field", `the phase bit is read from "${name}", which is also the ${role} field of queue ${qname}; the phase bit needs a field of its own (the completion's status word)`);
      }
    }
  }

  /** The engines read the done and phase words with typed arrays over the ring: both aligned in every slot. */
  private checkRoleFieldAlignment(): void {
    const check = (path: Path, role: string, entry: unknown, field: unknown) => {
      const f = this.fieldOf(entry, field);
      const s = isStr(entry) ? this.structs.get(entry) : undefined;
      if (!f || !s || f.kind !== "scalar" || f.elemBytes > 4) return;
      if (f.offset % f.elemBytes !== 0 || s.size % f.elemBytes !== 0) {
        this.report(path, "role-field-misaligned", `${role} field "${String(field)}" (${f.type} at offset ${f.offset}) must be ${f.elemBytes}-byte aligned in every slot of the ring, so its offset and the ${s.size}-byte entry size must be multiples of ${f.elemBytes}`);
      }
    };
    for (const [qname, q] of this.indexRingQueues()) if (isObj(q.done)) check(["queues", qname, "done", "field"], "done", q.entry, q.done.field);
    for (const [qname, q] of this.sqCqQueues()) if (isObj(q.cq) && isObj(q.cq.phase)) check(["queues", qname, "cq", "phase", "field"], "phase", q.cq.entry, q.cq.phase.field);
  }

  /** The host writes doorbells and the producer index, and reads the consumer index. */
  private checkQueueRegisterAccess(): void {
    const roles: { path: Path; ref: unknown; what: string; writes: boolean }[] = [];
    for (const [qname, q] of this.indexRingQueues()) {
      roles.push({ path: ["queues", qname, "producer"], ref: q.producer, what: "producer index", writes: true });
      roles.push({ path: ["queues", qname, "doorbell"], ref: q.doorbell, what: "doorbell", writes: true });
      roles.push({ path: ["queues", qname, "consumer"], ref: q.consumer, what: "consumer index", writes: false });
    }
    for (const [qname, q] of this.sqCqQueues()) {
      for (const side of ["sq", "cq"] as const) if (isObj(q[side])) roles.push({ path: ["queues", qname, side, "doorbell"], ref: q[side].doorbell, what: `${side.toUpperCase()} doorbell`, writes: true });
    }
    for (const r of roles) {
      const reg = this.regAt(r.ref);
      if (!reg) continue;
      if (r.writes && (reg.access === "ro" || reg.access === "rc")) {
        this.report(r.path, "register-not-writable", `${r.what} ${reg.ref} is ${reg.access}: the host writes it`);
      } else if (!r.writes && reg.access === "wo") {
        this.report(r.path, "register-not-readable", `${r.what} ${reg.ref} is write-only: the host reads it`);
      }
    }
  }

  /**
   * Every register element a queue touches is its own: producer and consumer differ, the two
   * doorbells of a queue id differ, and no two queues (or ids) share one. An index ring may ring its
   * producer register itself (doorbell = producer), the only sharing the engine expects.
   */
  private checkQueueRegistersDistinct(): void {
    type Use = { queue: string; role: string; ref: string; id: number; sqcq: boolean };
    const used = new Map<string, Use>();
    const said = new Set<string>();
    const claim = (path: Path, queue: string, role: string, ref: unknown, ids: number[], sqcq: boolean) => {
      const reg = this.regAt(ref);
      if (!reg) return;
      for (const id of ids) {
        const at = reg.offset + (reg.count > 1 ? id * reg.stride : 0);
        const key = `${reg.region}:${at}`;
        const prior = used.get(key);
        if (!prior) {
          used.set(key, { queue, role, ref: reg.ref, id, sqcq });
          continue;
        }
        if (prior.queue === queue && prior.role === "producer" && role === "doorbell") continue;
        // two sq-cq queues claiming one id is queue-ids-overlap, reported once there
        if (prior.queue !== queue && prior.id === id && prior.role === role && prior.sqcq && sqcq) continue;
        const pair = `${prior.queue}.${prior.role}\u0000${queue}.${role}`;
        if (said.has(pair)) return;
        said.add(pair);
        const which = reg.count > 1 ? `${reg.ref}[${id}]` : reg.ref;
        if (prior.queue !== queue || prior.id !== id) {
          const other = prior.queue === queue ? `queue id ${prior.id}` : `queue ${prior.queue}`;
          this.report(path, "queue-registers-shared", `${which} is the ${role} of queue ${queue}${ids.length > 1 ? ` (id ${id})` : ""} and the ${prior.role} of ${other}; queues cannot share registers`);
        } else if (prior.role === "producer" && role === "consumer") {
          this.report(path, "producer-is-consumer", `${which} is both the producer and the consumer index of queue ${queue}; the host advances one and the device the other`);
        } else {
          this.report(path, "doorbell-shared", `${which} is both the ${prior.role} and the ${role} of queue ${queue}; each needs its own register`);
        }
        return;
      }
    };
    for (const [qname, q] of entries(this.data.queues)) {
      if (!isObj(q)) continue;
      if (q.kind === "index-ring") {
        for (const role of ["producer", "doorbell", "consumer"] as const) claim(["queues", qname, role], qname, role, q[role], [0], false);
      } else if (q.kind === "sq-cq") {
        const r = isStr(q.instances) || isInt(q.instances) ? parseInstances(q.instances) : undefined;
        if (!r || "error" in r || r.last - r.first > 65535) continue;
        const ids = Array.from({ length: r.last - r.first + 1 }, (_, i) => r.first + i);
        for (const side of ["sq", "cq"] as const) if (isObj(q[side])) claim(["queues", qname, side, "doorbell"], qname, `${side.toUpperCase()} doorbell`, q[side].doorbell, ids, true);
      }
    }
  }

  /** Two index rings placed in one region may not overlap. */
  private checkRingsDistinct(): void {
    const placed: { queue: string; region: string; start: number; end: number }[] = [];
    for (const [qname, q] of this.indexRingQueues()) {
      const ring = q.ring;
      const entry = isStr(q.entry) ? this.structs.get(q.entry) : undefined;
      if (!isObj(ring) || !isStr(ring.region) || !isInt(ring.offset) || !entry || !isInt(q.depth)) continue;
      const mine = { queue: qname, region: ring.region, start: ring.offset, end: ring.offset + q.depth * entry.size };
      for (const o of placed) {
        if (o.region === mine.region && mine.start < o.end && o.start < mine.end) {
          this.report(["queues", qname, "ring", "offset"], "rings-overlap", `ring of queue ${qname} (${hex(mine.start)}..${hex(mine.end - 1)}) overlaps the ring of queue ${o.queue} (${hex(o.start)}..${hex(o.end - 1)}) in region ${mine.region}`);
        }
      }
      placed.push(mine);
    }
  }

  // ---- commands and interrupts ----

  /** A fixed value written into an enum-typed field must be one of the enum's members. */
  private checkFixedEnumValues(): void {
    for (const [cname, c] of entries(this.data.commands)) {
      if (!isObj(c)) continue;
      const sname = this.commandStruct(c);
      const struct = sname ? this.structs.get(sname) : undefined;
      if (!struct || !isObj(struct.fields)) continue;
      for (const [fname, value] of entries(c.fixed)) {
        const f = struct.fields[fname];
        if (!isObj(f) || !isStr(f.enum) || !isInt(value)) continue;
        const e = isObj(this.data.enums) ? this.data.enums[f.enum] : undefined;
        if (!isObj(e)) continue;
        const members = entries(e.values).map(([m, v]) => [m, this.memberValue(["enums", f.enum!, "values", m], v)] as const);
        const v = this.loc.integer(["commands", cname, "fixed", fname]);
        if (v === undefined || members.some(([, x]) => x === v)) continue;
        const list = members.map(([m, x]) => `${m} = ${x}`).join(", ");
        this.report(["commands", cname, "fixed", fname], "fixed-not-in-enum", `fixed value ${v} of "${fname}" is not a member of enum ${f.enum} (${list})`);
      }
    }
  }

  /** A PCI function has one legacy interrupt line: INTx is vector 0. */
  private checkIntxVector(): void {
    for (const [name, irq] of entries(this.data.interrupts)) {
      if (isObj(irq) && irq.kind === "intx" && isInt(irq.index) && irq.index !== 0) {
        this.report(["interrupts", name, "index"], "intx-vector", `interrupt ${name} is INTx, which has only vector 0, not ${irq.index}; use msi or msix for more vectors`);
      }
    }
  }

  private suggest(word: string, candidates: string[]): string {
    const lower = word.toLowerCase();
    const hit = candidates.find((c) => c.toLowerCase() === lower) ?? candidates.find((c) => near(c.toLowerCase(), lower));
    return hit !== undefined ? `; did you mean "${hit}"?` : "";
  }
}

/** One edit apart (insert, delete, substitute or swap): enough for typos without a full distance. */
function near(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  if (a.slice(i + 1) === b.slice(i + 1) || a.slice(i + 1) === b.slice(i) || a.slice(i) === b.slice(i + 1)) return true;
  return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
}

function overlaps(a: FieldShape, b: FieldShape): boolean {
  const aEnd = a.offset + a.elemBytes * a.count;
  const bEnd = b.offset + b.elemBytes * b.count;
  return a.offset < bEnd && b.offset < aEnd;
}

function span(s: FieldShape): string {
  const end = s.offset + s.elemBytes * s.count - 1;
  return end === s.offset ? `byte ${s.offset}` : `bytes ${s.offset}..${end}`;
}

/** Every semantic problem of a device file whose data the schema has looked at. */
export function semanticDiagnostics(file: string, data: unknown, locator: Locator): Diagnostic[] {
  return new Rules(file, data as RawDevice, locator).run();
}
