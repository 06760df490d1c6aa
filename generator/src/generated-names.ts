// The names a description puts into its generated package, computed from the description itself so
// the validator can refuse a name before the emitters (or tsc) trip over it: the module-level names
// every module exports (re-exported together by src/index.ts), and the property names items become.
// The emitters' naming scheme is in emit/index.ts's header; test/generator/generated-names.test.ts
// holds this module to it by comparing with what the emitters really export for every device.
import type { PathSegment } from "./diagnostics.ts";
import { camelCase, entries, isScalarType, pascalCase, type RawDevice, isObj } from "./dsl.ts";
import { hostWrites, structDirections } from "./struct-use.ts";


/** One exported name and the item of the description it comes from. */
export interface ExportedName {
  name: string;
  /** The item, as a person reads it: `struct "Sqe"`, `register "cc" of region bar0`. */
  item: string;
  /** Path of the item's key in the YAML. */
  path: PathSegment[];
}

/** Exported names of src/*.ts, in a fixed order (constants, enums, regions, structs, commands, queues, device, spec, version). */
export function exportedNames(d: RawDevice): ExportedName[] {
  const out: ExportedName[] = [];
  const add = (name: string, item: string, path: PathSegment[]) => out.push({ name, item, path });
  for (const [name] of entries(d.constants)) add(name, `constant "${name}"`, ["constants", name]);
  for (const [name] of entries(d.enums)) add(name, `enum "${name}"`, ["enums", name]);
  const regions = entries(d.regions).filter(([, r]) => isObj(r));
  for (const [rname, r] of regions) {
    const item = `region "${rname}"`;
    add(`${pascalCase(rname)}Registers`, item, ["regions", rname]);
    add(`${pascalCase(rname)}Offsets`, item, ["regions", rname]);
    for (const [gname, g] of entries(r.registers)) {
      if (!isObj(g) || entries(g.fields).length === 0) continue;
      // prefixed by the region only when another region has a register of the same name
      const clash = regions.some(([other, o]) => other !== rname && isObj(o.registers) && Object.hasOwn(o.registers, gname));
      const t = clash ? pascalCase(rname) + pascalCase(gname) : pascalCase(gname);
      const gItem = `register "${gname}" of region ${rname}`;
      add(`${t}Fields`, gItem, ["regions", rname, "registers", gname]);
      add(`${t}Layout`, gItem, ["regions", rname, "registers", gname]);
      // a writable register with some (not all) read-only fields also gets the type writes take
      const regAccess = typeof g.access === "string" ? g.access : "rw";
      const fieldAccess = entries(g.fields).map(([, f]) => (isObj(f) && typeof f.access === "string" ? f.access : regAccess));
      const readOnly = fieldAccess.filter((a) => a === "ro" || a === "rc").length;
      if (regAccess !== "ro" && regAccess !== "rc" && readOnly > 0 && readOnly < fieldAccess.length) add(`${t}WritableFields`, gItem, ["regions", rname, "registers", gname]);
    }
  }
  const directions = structDirections(d);
  for (const [sname, s] of entries(d.structs)) {
    const item = `struct "${sname}"`;
    // a struct only the device writes has no Init (struct-use.ts)
    const suffixes = hostWrites(directions.get(sname) ?? "both") ? ["", "Init", "Data"] : ["", "Data"];
    for (const suffix of suffixes) add(sname + suffix, item, ["structs", sname]);
    if (!isObj(s)) continue;
    for (const [fname, f] of entries(s.fields)) {
      if (!isObj(f) || typeof f.type !== "string" || !isScalarType(f.type) || entries(f.fields).length === 0) continue;
      add(`${pascalCase(sname)}${pascalCase(fname)}Fields`, `bit fields of ${sname}.${fname}`, ["structs", sname, "fields", fname]);
    }
    // variants (emit/variants.ts): per case its Init and Data, the case's own bit-field words, the unions and functions
    if (!isObj(s.variants)) continue;
    const vpath = ["structs", sname, "variants"];
    for (const [cname, c] of entries(s.variants.cases)) {
      const cpath = [...vpath, "cases", cname];
      const t = `${pascalCase(sname)}${pascalCase(cname)}`;
      for (const suffix of ["Init", "Data"]) add(t + suffix, `variant "${cname}" of struct ${sname}`, cpath);
      if (!isObj(c)) continue;
      for (const [fname, f] of entries(c.fields)) {
        if (!isObj(f) || typeof f.type !== "string" || !isScalarType(f.type) || entries(f.fields).length === 0) continue;
        add(`${t}${pascalCase(fname)}Fields`, `bit fields of ${sname}.${cname}.${fname}`, [...cpath, "fields", fname]);
      }
    }
    const vItem = `the variants of struct ${sname}`;
    for (const n of [`${sname}VariantInit`, `${sname}VariantData`, `encode${sname}Variant`, `decode${sname}Variant`, `${camelCase(sname)}VariantOf`]) add(n, vItem, vpath);
  }
  // descriptor lists (emit/lists.ts): one class per entry struct a list field names
  const listed = new Set<string>();
  for (const [sname, s] of entries(d.structs)) {
    if (!isObj(s)) continue;
    const fields: [string[], unknown][] = entries(s.fields).map(([n, f]) => [["structs", sname, "fields", n], f]);
    if (isObj(s.variants)) for (const [cname, c] of entries(s.variants.cases)) if (isObj(c)) fields.push(...entries(c.fields).map(([n, f]): [string[], unknown] => [["structs", sname, "variants", "cases", cname, "fields", n], f]));
    for (const [path, f] of fields) {
      if (!isObj(f) || !isObj(f.list) || typeof f.list.of !== "string" || listed.has(f.list.of)) continue;
      listed.add(f.list.of);
      add(`${f.list.of}List`, `the list of ${f.list.of} at ${String(path[path.length - 1])}`, [...path, "list"]);
    }
  }
  for (const [cname, c] of entries(d.commands)) {
    const item = `command "${cname}"`;
    add(`${pascalCase(cname)}Params`, item, ["commands", cname]);
    add(`encode${pascalCase(cname)}`, item, ["commands", cname]);
    if (!isObj(c)) continue;
    for (const [pname, p] of entries(c.params)) {
      if (!isObj(p) || !paramHasBits(d, c, p)) continue;
      add(`${pascalCase(cname)}${pascalCase(pname)}Fields`, `bit fields of param ${cname}.${pname}`, ["commands", cname, "params", pname]);
    }
  }
  for (const [qname] of entries(d.queues)) add(`${pascalCase(qname)}Queue`, `queue "${qname}"`, ["queues", qname]);
  // a queue with commands: its request union, the union's encoder and the command recogniser (emit/requests.ts)
  for (const [qname] of entries(d.queues)) {
    if (!entries(d.commands).some(([, c]) => isObj(c) && c.queue === qname)) continue;
    const item = `queue "${qname}"`;
    add(`${pascalCase(qname)}Request`, item, ["queues", qname]);
    add(`encode${pascalCase(qname)}Request`, item, ["queues", qname]);
    add(`${camelCase(qname)}RequestCommand`, item, ["queues", qname]);
  }
  if (typeof d.device === "string") add(`${pascalCase(d.device)}Device`, `device "${d.device}"`, ["device"]);
  add("spec", "the device spec", []);
  add("GENERATED_WITH", "the package's version record (src/version.ts)", []);
  return out;
}

/** A param with bit fields: an overlay with `fields`, or a struct field that has them. */
function paramHasBits(d: RawDevice, c: Record<string, unknown>, p: Record<string, unknown>): boolean {
  if (typeof p.field !== "string") return entries(p.fields).length > 0 && typeof p.type === "string" && isScalarType(p.type);
  let sname = typeof c.struct === "string" ? c.struct : undefined;
  if (sname === undefined && typeof c.queue === "string" && isObj(d.queues)) {
    const q = d.queues[c.queue] as unknown;
    if (isObj(q)) sname = q.kind === "index-ring" ? (q.entry as string) : q.kind === "portal" ? (q.descriptor as string) : isObj(q.sq) ? (q.sq.entry as string) : undefined;
  }
  const s = sname !== undefined && isObj(d.structs) ? (d.structs[sname] as unknown) : undefined;
  // a command naming a variant may take the case's own fields
  const own = typeof c.variant === "string" && isObj(s) && isObj(s.variants) && isObj(s.variants.cases) && isObj(s.variants.cases[c.variant]) ? (s.variants.cases[c.variant] as Record<string, unknown>).fields : undefined;
  const f = isObj(own) && isObj(own[p.field]) ? own[p.field] : isObj(s) && isObj(s.fields) ? s.fields[p.field] : undefined;
  return isObj(f) && typeof f.type === "string" && isScalarType(f.type) && entries(f.fields).length > 0;
}

/**
 * Names a generated module-level declaration may not take: JavaScript's and TypeScript's global
 * values and types the generated code uses or that a reader expects to mean the built-in (a struct
 * `DataView` would shadow the DataView every encoder calls), what the modules import from
 * @warpdrive/runtime, and the generated layout test's own helpers.
 */
export const RESERVED_EXPORTS: ReadonlyMap<string, string> = new Map([
  ...[
    "Object", "Function", "Array", "Number", "Boolean", "String", "Symbol", "BigInt", "Math", "JSON", "Date", "RegExp",
    "Error", "AggregateError", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError", "SuppressedError",
    "Promise", "Proxy", "Reflect", "Map", "Set", "WeakMap", "WeakSet", "WeakRef", "FinalizationRegistry", "Iterator",
    "ArrayBuffer", "SharedArrayBuffer", "DataView", "Atomics", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array",
    "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
    "Intl", "NaN", "Infinity", "URL", "TextEncoder", "TextDecoder", "Buffer", "Bun", "Worker", "Disposable", "AsyncDisposable",
    "DisposableStack", "AsyncDisposableStack",
  ].map((n) => [n, `JavaScript's global ${n}`] as const),
  ...[
    "Partial", "Required", "Readonly", "Record", "Pick", "Omit", "Exclude", "Extract", "NonNullable", "Parameters",
    "ConstructorParameters", "ReturnType", "InstanceType", "Awaited", "ArrayLike", "PromiseLike", "Iterable",
    "IterableIterator", "ReadonlyArray", "PropertyKey", "ThisType", "NoInfer", "Uppercase", "Lowercase", "Capitalize",
    "Uncapitalize", "TemplateStringsArray",
  ].map((n) => [n, `TypeScript's built-in type ${n}`] as const),
  ...[
    "Device", "DeviceOptions", "DeviceSpec", "DmaBuffer", "DmaRef", "DmaResolver", "Encoder", "FieldLayout", "IndexRingQueue",
    "QueueOptions", "RegArray", "RegisterIo", "SqCqQueue", "DmaAddrReg", "DmaAddrReg32", "copyBytes",
    ...["Ro", "Wo", "Rw"].flatMap((k) => [8, 16, 32, 64].map((w) => `${k}Reg${w}`)),
  ].map((n) => [n, `the runtime's ${n} (the package imports it)`] as const),
  ...["GUARD", "FILL", "RecordingDma", "RecordingIo"].map((n) => [n, `the layout self-test's own ${n}`] as const),
]);

/** Members every JavaScript object has (Object.prototype): a property of that name breaks or shadows them. */
export const OBJECT_MEMBERS: ReadonlySet<string> = new Set([
  "constructor", "__proto__", "valueOf", "toString", "toLocaleString", "hasOwnProperty", "isPrototypeOf",
  "propertyIsEnumerable", "__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__",
]);

/** Members every generated struct class inherits from the runtime's StructView: a field getter of that name would replace them. */
export const STRUCT_VIEW_MEMBERS: ReadonlySet<string> = new Set(["view", "offset", "dma", "moveTo"]);

/** One property name an item becomes (accessor, interface property, class member, method). */
export interface MemberName {
  /** The name in the YAML. */
  name: string;
  /** As the generated code spells it. */
  as: string;
  item: string;
  path: PathSegment[];
}

/** Property names of the package: fields, bit fields, registers, regions, params, commands. */
export function memberNames(d: RawDevice): MemberName[] {
  const out: MemberName[] = [];
  const add = (name: string, item: string, path: PathSegment[]) => out.push({ name, as: camelCase(name), item, path });
  const bits = (fields: unknown, owner: string, path: PathSegment[]) => {
    for (const [b] of entries(fields)) add(b, `bit field "${b}" of ${owner}`, [...path, "fields", b]);
  };
  for (const [rname, r] of entries(d.regions)) {
    add(rname, `region "${rname}"`, ["regions", rname]);
    if (!isObj(r)) continue;
    for (const [gname, g] of entries(r.registers)) {
      const path = ["regions", rname, "registers", gname];
      add(gname, `register "${gname}"`, path);
      if (isObj(g)) bits(g.fields, `register ${gname}`, path);
    }
  }
  for (const [sname, s] of entries(d.structs)) {
    if (!isObj(s)) continue;
    for (const [fname, f] of entries(s.fields)) {
      const path = ["structs", sname, "fields", fname];
      add(fname, `field "${fname}" of struct ${sname}`, path);
      if (!isObj(f)) continue;
      bits(f.fields, `${sname}.${fname}`, path);
      // the struct class also has an accessor per bit field: flags.fuse -> flagsFuse
      for (const [b] of entries(f.fields)) add(`${fname}_${b}`, `bit field "${b}" of ${sname}.${fname} (accessor ${camelCase(`${fname}_${b}`)})`, [...path, "fields", b]);
    }
  }
  for (const [cname, c] of entries(d.commands)) {
    add(cname, `command "${cname}"`, ["commands", cname]);
    if (!isObj(c)) continue;
    for (const [pname, p] of entries(c.params)) {
      const path = ["commands", cname, "params", pname];
      add(pname, `param "${pname}" of command ${cname}`, path);
      if (isObj(p)) bits(p.fields, `${cname}.${pname}`, path);
    }
  }
  return out;
}
