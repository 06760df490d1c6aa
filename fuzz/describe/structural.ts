// Structural mutations of valid device descriptions, for the description fuzzer. Where the validator
// fuzzer breaks a file's shape (wrong types, huge numbers, bytes), these keep the file well-formed
// and change what it means, the way a person editing a description does: rename an item (and every
// reference to it, so the file stays consistent), move it (offsets), resize it (widths, sizes,
// depths, counts, bit ranges, types), retarget a reference to another item of the same kind,
// duplicate an item, delete one, or change a setting (access, interrupt kind, ring placement,
// fixed values). Names are drawn from what the generator makes of them too: JavaScript built-ins
// (constructor, valueOf, __proto__), global classes (DataView, Map), and the names the generator
// itself emits (XInit, <Region>Registers, spec, send), so clashes are found where they arise.
import { parse, stringify } from "yaml";
import type { Rng } from "../prng.ts";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const keys = (v: unknown): string[] => (isObj(v) ? Object.keys(v) : []);
const objs = (v: unknown): [string, Obj][] => (isObj(v) ? Object.entries(v).filter((e): e is [string, Obj] => isObj(e[1])) : []);

/** snake_case names that become JavaScript built-ins, members the generator emits, or keywords. */
const SNAKE_NAMES = [
  "constructor", "value_of", "to_string", "has_own_property", "is_prototype_of", "to_locale_string",
  "property_is_enumerable", "prototype", "name", "length", "caller", "arguments", "then", "proto",
  "size", "layout", "encode", "decode", "view", "offset", "fields", "raw", "read", "write", "modify",
  "send", "try_send", "recv", "recv_sync", "flush", "release", "released", "in_flight", "queue",
  "device", "dma", "open", "alloc", "close", "request_queue", "spec", "label", "id", "depth",
  "default", "class", "new", "delete", "await", "import", "this", "zero", "init", "p", "e", "i",
  "object", "symbol", "data_view", "array", "promise", "error", "registers", "offsets", "params",
];
/** PascalCase names: global classes and the generator's own type names. */
const PASCAL_NAMES = [
  "Object", "Array", "Map", "Set", "DataView", "Uint8Array", "Error", "RangeError", "TypeError", "Promise",
  "Symbol", "BigInt", "Number", "String", "Boolean", "Function", "Date", "JSON", "Math", "Proxy", "Reflect",
  "DmaRef", "DmaResolver", "RegisterIo", "Encoder", "IndexRingQueue", "SqCqQueue", "Device", "DeviceSpec",
  "Reg32", "Reg64", "Bar0Registers", "Bar0Offsets", "QueueRegisters", "CmdQueue", "IoQueue", "AdminQueue",
  "QemuEduDevice", "WdDummyDevice", "NvmeDevice", "HzipDevice", "AllTypesDevice", "Descriptor", "DescriptorInit",
  "DescriptorData", "CopyParams", "Spec", "Init", "Data", "Fields", "Layout", "Params",
];
/** UPPER_SNAKE names (constants, enum members). */
const UPPER_NAMES = ["SIZE", "LAYOUT", "NAN", "INFINITY", "PROTOTYPE", "CONSTRUCTOR", "NAME", "LENGTH", "DMA", "SPEC", "A", "B"];

type Kind = "struct" | "enum" | "region" | "register" | "field" | "bitfield" | "member" | "queue" | "command" | "param" | "interrupt" | "constant";

const STYLE: Record<Kind, "snake" | "pascal" | "upper"> = {
  struct: "pascal", enum: "pascal", region: "snake", register: "snake", field: "snake", bitfield: "snake",
  member: "upper", queue: "snake", command: "snake", param: "snake", interrupt: "snake", constant: "upper",
};

/** One named item: the map that holds it and its key. */
interface Item {
  kind: Kind;
  map: Obj;
  name: string;
  /** For struct fields: the struct; for registers: the region; for members: the enum. */
  owner?: string;
  where: string;
}

function items(doc: Obj): Item[] {
  const out: Item[] = [];
  const add = (kind: Kind, map: unknown, where: string, owner?: string) => {
    if (!isObj(map)) return;
    for (const name of Object.keys(map)) out.push({ kind, map, name, owner, where: `${where}.${name}` });
  };
  add("constant", doc.constants, "constants");
  add("enum", doc.enums, "enums");
  for (const [e, v] of objs(doc.enums)) add("member", v.values, `enums.${e}.values`, e);
  add("region", doc.regions, "regions");
  for (const [r, v] of objs(doc.regions)) {
    add("register", v.registers, `regions.${r}.registers`, r);
    for (const [g, reg] of objs(v.registers)) add("bitfield", reg.fields, `regions.${r}.registers.${g}.fields`, g);
  }
  add("struct", doc.structs, "structs");
  for (const [s, v] of objs(doc.structs)) {
    add("field", v.fields, `structs.${s}.fields`, s);
    for (const [f, fld] of objs(v.fields)) add("bitfield", fld.fields, `structs.${s}.fields.${f}.fields`, f);
  }
  add("queue", doc.queues, "queues");
  add("command", doc.commands, "commands");
  for (const [c, v] of objs(doc.commands)) add("param", v.params, `commands.${c}.params`, c);
  add("interrupt", doc.interrupts, "interrupts");
  return out;
}

/** Renames a key in place, keeping its position (order matters to the generator's output). */
function renameKey(obj: Obj, from: string, to: string): void {
  const list = Object.entries(obj);
  for (const k of Object.keys(obj)) delete obj[k];
  for (const [k, v] of list) obj[k === from ? to : k] = v;
}

/** Every queue side that names an entry struct: index-ring queues, sq and cq of sq-cq queues. */
function sides(doc: Obj): { q: string; side: Obj; role: "ring" | "sq" | "cq" }[] {
  const out: { q: string; side: Obj; role: "ring" | "sq" | "cq" }[] = [];
  for (const [q, v] of objs(doc.queues)) {
    if (v.kind === "index-ring") out.push({ q, side: v, role: "ring" });
    for (const role of ["sq", "cq"] as const) if (isObj(v[role])) out.push({ q, side: v[role] as Obj, role });
  }
  return out;
}

/** Every `region.register` reference: [holder, key]. */
function registerRefs(doc: Obj): [Obj, string][] {
  const out: [Obj, string][] = [];
  for (const [, v] of objs(doc.queues)) {
    for (const k of ["producer", "consumer", "doorbell"]) if (typeof v[k] === "string") out.push([v, k]);
    for (const role of ["sq", "cq"]) if (isObj(v[role]) && typeof (v[role] as Obj).doorbell === "string") out.push([v[role] as Obj, "doorbell"]);
  }
  return out;
}

/** Places that name an enum: every field, bit field and param with `enum`. */
function enumRefs(doc: Obj): Obj[] {
  const out: Obj[] = [];
  const visit = (v: Json) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (isObj(v)) {
      if (typeof v.enum === "string") out.push(v);
      for (const x of Object.values(v)) visit(x);
    }
  };
  visit(doc.regions ?? null);
  visit(doc.structs ?? null);
  visit(doc.commands ?? null);
  return out;
}

/** The struct a command fills (its own, or its queue's submission entry). */
function commandStruct(doc: Obj, c: Obj): string | undefined {
  if (typeof c.struct === "string") return c.struct;
  const q = isObj(doc.queues) ? doc.queues[c.queue as string] : undefined;
  if (!isObj(q)) return undefined;
  if (q.kind === "index-ring") return q.entry as string;
  return isObj(q.sq) ? (q.sq.entry as string) : undefined;
}

/** Field-name references into struct `s`: [holder, key] pairs (queue roles, params). */
function fieldRefs(doc: Obj, s: string): [Obj, string][] {
  const out: [Obj, string][] = [];
  for (const { side, role } of sides(doc)) {
    if (side.entry !== s) continue;
    if (role === "ring" && isObj(side.done)) out.push([side.done, "field"]);
    if (role !== "ring") out.push([side, "tag"]);
    if (role === "cq") {
      if (isObj(side.phase)) out.push([side.phase, "field"]);
      if (typeof side.sq_head === "string") out.push([side, "sq_head"]);
    }
  }
  for (const [, c] of objs(doc.commands)) {
    if (commandStruct(doc, c) !== s) continue;
    for (const [, p] of objs(c.params)) if (typeof p.field === "string") out.push([p, "field"]);
  }
  return out;
}

function freshName(rng: Rng, kind: Kind, taken: Set<string>): string {
  const style = STYLE[kind];
  const pool = style === "snake" ? SNAKE_NAMES : style === "pascal" ? PASCAL_NAMES : UPPER_NAMES;
  for (let i = 0; i < 8; i++) {
    const n = rng.chance(0.85) ? rng.pick(pool) : style === "snake" ? `x${rng.int(100)}` : style === "pascal" ? `X${rng.int(100)}` : `X${rng.int(100)}`;
    if (!taken.has(n)) return n;
  }
  return style === "upper" ? `N${rng.int(1e6)}` : style === "pascal" ? `N${rng.int(1e6)}` : `n${rng.int(1e6)}`;
}

/** Renames an item and every reference to it. */
function rename(doc: Obj, it: Item, to: string): void {
  const from = it.name;
  renameKey(it.map, from, to);
  const swap = (holder: Obj, key: string) => {
    if (holder[key] === from) holder[key] = to;
  };
  switch (it.kind) {
    case "struct":
      for (const [, s] of objs(doc.structs)) for (const [, f] of objs(s.fields)) swap(f, "type");
      for (const { side } of sides(doc)) swap(side, "entry");
      for (const [, c] of objs(doc.commands)) {
        swap(c, "struct");
        for (const [, p] of objs(c.params)) swap(p, "type");
      }
      break;
    case "enum":
      for (const holder of enumRefs(doc)) swap(holder, "enum");
      break;
    case "region":
      for (const [h, k] of registerRefs(doc)) if (typeof h[k] === "string" && (h[k] as string).startsWith(`${from}.`)) h[k] = `${to}.${(h[k] as string).slice(from.length + 1)}`;
      for (const { side } of sides(doc)) if (isObj(side.ring)) swap(side.ring, "region");
      break;
    case "register":
      for (const [h, k] of registerRefs(doc)) if (h[k] === `${it.owner}.${from}`) h[k] = `${it.owner}.${to}`;
      break;
    case "field":
      for (const [h, k] of fieldRefs(doc, it.owner!)) swap(h, k);
      for (const [, c] of objs(doc.commands)) {
        if (commandStruct(doc, c) === it.owner && isObj(c.fixed) && from in c.fixed) renameKey(c.fixed, from, to);
      }
      break;
    case "queue":
      for (const [, c] of objs(doc.commands)) swap(c, "queue");
      break;
    case "interrupt":
      for (const [, q] of objs(doc.queues)) swap(q, "interrupt");
      break;
    default:
      break; // members, bit fields, params, commands and constants are not referenced by name
  }
}

type Mutator = (doc: Obj, rng: Rng) => string | null;

/** Numeric settings that size things, with values a person might plausibly try. */
function resizeValue(key: string, v: number, rng: Rng): number {
  switch (key) {
    case "width":
      return rng.pick([8, 16, 32, 64]);
    case "depth":
      return rng.pick([2, 4, 8, 16, 64, 256, 1024, 65536, v * 2, v / 2, v + 1]);
    case "count":
      return rng.pick([1, 2, 3, 4, 8, 64, v + 1, v * 2]);
    case "bit":
      return rng.pick([0, 1, 7, 15, 16, 31, v + 1]);
    case "index":
      return rng.pick([0, 1, 2, 3, 5, v + 1]);
    case "pending":
      return rng.pick([0, 1, 0xff, 0xffff, v + 1]);
    default:
      return Math.max(0, rng.pick([v * 2, Math.floor(v / 2), v + 1, v - 1, v + 4, v + 8, v - 8, 0, 1, 2, 4, 8, 16, 64, 4096]));
  }
}

const TYPES = ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "dma-address"];

/** Every numeric slot under a key, with its key name. */
function numberSlots(doc: Obj, wanted: Set<string>): { holder: Obj; key: string; path: string }[] {
  const out: { holder: Obj; key: string; path: string }[] = [];
  const visit = (v: Json, path: string) => {
    if (!isObj(v)) return;
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === "number" && wanted.has(k)) out.push({ holder: v, key: k, path: `${path}.${k}` });
      else if (isObj(x)) visit(x, path === "" ? k : `${path}.${k}`);
    }
  };
  for (const k of ["regions", "structs", "queues", "commands", "interrupts", "enums"]) visit(doc[k] ?? null, k);
  return out;
}

const MUTATORS: Record<string, Mutator> = {
  rename(doc, rng) {
    const all = items(doc);
    if (all.length === 0) return null;
    const it = rng.pick(all);
    const to = freshName(rng, it.kind, new Set(Object.keys(it.map)));
    rename(doc, it, to);
    return `renamed ${it.where} to ${to}`;
  },
  "rename-to-sibling-style"(doc, rng) {
    // two names that differ only in how the generator spells them (a_b vs ab, irq_1 vs irq1)
    const all = items(doc).filter((i) => STYLE[i.kind] === "snake" && i.name.includes("_"));
    if (all.length === 0) return null;
    const it = rng.pick(all);
    const to = it.name.replace(/_/g, "");
    if (keys(it.map).includes(to)) return null;
    rename(doc, it, to);
    return `renamed ${it.where} to ${to}`;
  },
  move(doc, rng) {
    const slots = numberSlots(doc, new Set(["offset"]));
    if (slots.length === 0) return null;
    const s = rng.pick(slots);
    const v = s.holder[s.key] as number;
    const to = Math.max(0, rng.pick([0, v + 1, v + 2, v + 4, v + 8, v - 4, v - 8, v * 2, v + 0x100, 0x1000]));
    s.holder[s.key] = to;
    return `moved ${s.path} from ${v} to ${to}`;
  },
  "move-between"(doc, rng) {
    // a struct field into another struct, or a register into another region
    const fields = items(doc).filter((i) => i.kind === "field" || i.kind === "register");
    if (fields.length === 0) return null;
    const it = rng.pick(fields);
    const owners = it.kind === "field" ? objs(doc.structs).map(([n, s]) => [n, s.fields] as const) : objs(doc.regions).map(([n, r]) => [n, r.registers] as const);
    const [dest, map] = rng.pick(owners);
    if (!isObj(map) || dest === it.owner || it.name in map) return null;
    map[it.name] = it.map[it.name]!;
    delete it.map[it.name];
    return `moved ${it.where} into ${dest}`;
  },
  resize(doc, rng) {
    const slots = numberSlots(doc, new Set(["size", "width", "depth", "count", "stride", "bit", "index", "pending"]));
    if (slots.length === 0) return null;
    const s = rng.pick(slots);
    const v = s.holder[s.key] as number;
    const to = resizeValue(s.key, v, rng);
    s.holder[s.key] = to;
    return `resized ${s.path} from ${v} to ${to}`;
  },
  "resize-bits"(doc, rng) {
    const bf = items(doc).filter((i) => i.kind === "bitfield");
    if (bf.length === 0) return null;
    const it = rng.pick(bf);
    const f = it.map[it.name];
    if (!isObj(f)) return null;
    const lsb = rng.pick([0, 1, 3, 4, 7, 8, 15, 16, 31, 32, 63]);
    const msb = lsb + rng.pick([0, 0, 1, 3, 7, 15]);
    f.bits = msb === lsb ? lsb : `${msb}:${lsb}`;
    return `${it.where}.bits = ${String(f.bits)}`;
  },
  retype(doc, rng) {
    const fields = items(doc).filter((i) => i.kind === "field" || (i.kind === "param" && isObj(i.map[i.name]) && "type" in (i.map[i.name] as Obj)));
    if (fields.length === 0) return null;
    const it = rng.pick(fields);
    const f = it.map[it.name] as Obj;
    const to = rng.chance(0.8) ? rng.pick(TYPES) : rng.pick(keys(doc.structs).concat(["u32"]));
    const was = f.type;
    f.type = to;
    return `${it.where}.type ${String(was)} -> ${to}`;
  },
  retarget(doc, rng) {
    const options: { what: string; apply: () => boolean }[] = [];
    const structs = keys(doc.structs);
    const regs: string[] = [];
    for (const [r, v] of objs(doc.regions)) for (const g of keys(v.registers)) regs.push(`${r}.${g}`);
    for (const { q, side, role } of sides(doc)) {
      options.push({ what: `queues.${q}${role === "ring" ? "" : `.${role}`}.entry`, apply: () => ((side.entry = rng.pick(structs)), true) });
      const fieldsOf = () => keys(isObj(doc.structs) && isObj(doc.structs[side.entry as string]) ? (doc.structs[side.entry as string] as Obj).fields : undefined);
      if (role !== "ring") options.push({ what: `queues.${q}.${role}.tag`, apply: () => ((side.tag = rng.pick(fieldsOf().concat(["tag"]))), true) });
      if (role === "cq" && isObj(side.phase)) options.push({ what: `queues.${q}.cq.phase.field`, apply: () => (((side.phase as Obj).field = rng.pick(fieldsOf().concat(["status"]))), true) });
      if (role === "ring" && isObj(side.done)) options.push({ what: `queues.${q}.done.field`, apply: () => (((side.done as Obj).field = rng.pick(fieldsOf().concat(["status"]))), true) });
      if (isObj(side.ring) || side.ring === "dma") {
        options.push({
          what: `queues.${q}${role === "ring" ? "" : `.${role}`}.ring`,
          apply: () => {
            const regions = keys(doc.regions);
            side.ring = side.ring === "dma" && regions.length > 0 ? { region: rng.pick(regions), offset: rng.pick([0, 0x100, 0x1000, 0x2000]) } : "dma";
            return true;
          },
        });
      }
    }
    if (regs.length > 0) for (const [h, k] of registerRefs(doc)) options.push({ what: `${k} of a queue`, apply: () => ((h[k] = rng.pick(regs)), true) });
    const enums = keys(doc.enums);
    if (enums.length > 0) for (const h of enumRefs(doc)) options.push({ what: "an enum reference", apply: () => ((h.enum = rng.pick(enums)), true) });
    const queues = keys(doc.queues);
    const irqs = keys(doc.interrupts);
    for (const [c, v] of objs(doc.commands)) {
      if (queues.length > 0 && typeof v.queue === "string") options.push({ what: `commands.${c}.queue`, apply: () => ((v.queue = rng.pick(queues)), true) });
      for (const [p, pv] of objs(v.params)) {
        const s = commandStruct(doc, v);
        const fields = s && isObj(doc.structs) && isObj(doc.structs[s]) ? keys((doc.structs[s] as Obj).fields) : [];
        if (typeof pv.field === "string" && fields.length > 0) options.push({ what: `commands.${c}.params.${p}.field`, apply: () => ((pv.field = rng.pick(fields)), true) });
      }
    }
    if (irqs.length > 0) for (const [q, v] of objs(doc.queues)) options.push({ what: `queues.${q}.interrupt`, apply: () => ((v.interrupt = rng.pick(irqs)), true) });
    if (options.length === 0) return null;
    const o = rng.pick(options);
    return o.apply() ? `retargeted ${o.what}` : null;
  },
  duplicate(doc, rng) {
    const all = items(doc).filter((i) => i.kind !== "member" || rng.chance(0.3));
    if (all.length === 0) return null;
    const it = rng.pick(all);
    const to = freshName(rng, it.kind, new Set(Object.keys(it.map)));
    const copy = structuredClone(it.map[it.name]!);
    // often shifted past the original, so the copy is not a plain overlap
    if (isObj(copy) && typeof copy.offset === "number" && rng.chance(0.6)) copy.offset += rng.pick([4, 8, 16, 0x40, 0x100]);
    if (isObj(copy) && typeof copy.index === "number" && rng.chance(0.6)) copy.index += 1;
    it.map[to] = copy;
    return `duplicated ${it.where} as ${to}`;
  },
  delete(doc, rng) {
    const all = items(doc);
    if (all.length === 0) return null;
    const it = rng.pick(all);
    delete it.map[it.name];
    return `deleted ${it.where}`;
  },
  setting(doc, rng) {
    const options: { what: string; apply: () => void }[] = [];
    for (const [r, v] of objs(doc.regions)) {
      for (const [g, reg] of objs(v.registers)) {
        options.push({ what: `regions.${r}.registers.${g}.access`, apply: () => (reg.access = rng.pick(["ro", "wo", "rw", "w1c", "w1s", "rc"])) });
        if (rng.chance(0.2)) options.push({ what: `regions.${r}.registers.${g}.value`, apply: () => (reg.value = "dma-address") });
      }
    }
    for (const [i, v] of objs(doc.interrupts)) options.push({ what: `interrupts.${i}`, apply: () => ((v.kind = rng.pick(["intx", "msi", "msix"])), (v.index = rng.pick([0, 0, 1, 2]))) });
    for (const [c, v] of objs(doc.commands)) {
      const s = commandStruct(doc, v);
      const fields = s && isObj(doc.structs) && isObj(doc.structs[s]) ? objs((doc.structs[s] as Obj).fields) : [];
      const scalars = fields.filter(([, f]) => typeof f.type === "string" && /^[ui]\d+$/.test(f.type as string) && f.count === undefined);
      if (scalars.length > 0) {
        options.push({
          what: `commands.${c}.fixed`,
          apply: () => {
            const [name] = rng.pick(scalars);
            if (!isObj(v.fixed)) v.fixed = {};
            (v.fixed as Obj)[name] = rng.pick([0, 1, 2, 3, 5, 7, 9, 0x7f, 0x80, 0xff]);
          },
        });
      }
    }
    for (const [s, v] of objs(doc.structs)) {
      options.push({ what: `structs.${s}.packed`, apply: () => (v.packed = !(v.packed === true)) });
      options.push({ what: `structs.${s}.endian`, apply: () => (v.endian = v.endian === "big" ? "little" : "big") });
    }
    for (const [q, v] of objs(doc.queues)) {
      if (v.kind === "sq-cq") options.push({ what: `queues.${q}.instances`, apply: () => (v.instances = rng.pick([0, 1, "0..1", "1..3", "0..63", "1..64", "2..2"])) });
    }
    if (options.length === 0) return null;
    const o = rng.pick(options);
    o.apply();
    return `changed ${o.what}`;
  },
};

const NAMES = Object.keys(MUTATORS);

/** 1 to 3 structural mutations of a valid description, printed back as YAML. */
export function mutateStructure(text: string, rng: Rng): { yaml: string; steps: string[] } {
  const doc = parse(text) as Obj;
  const steps: string[] = [];
  const n = rng.range(1, 3);
  for (let tries = 0; steps.length < n && tries < 20; tries++) {
    const name = rng.pick(NAMES);
    const did = MUTATORS[name]!(doc, rng);
    if (did !== null) steps.push(did);
  }
  return { yaml: stringify(doc), steps };
}
