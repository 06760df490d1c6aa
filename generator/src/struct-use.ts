// Which way a struct's bytes travel, from how the description uses it. A submission entry, a
// descriptor, a virtqueue request's header or a command's struct is written by the host
// (to-device); a completion entry, a completion record or a virtqueue request's footer is written
// by the device (from-device); an index-ring entry is both (the host
// writes the request, the device its done field). A struct nested in another travels the way its
// container does. The emitters use the result to leave out what a direction never needs (a
// from-device struct has no encoder), the validator to refuse a declared `direction` that the
// uses contradict. Works on the raw description, so the validator can run it on a file that has
// other problems: anything not well-formed is skipped.
import type { PathSegment } from "./diagnostics.ts";
import { entries, type RawDevice, isObj, isStr } from "./dsl.ts";

export type StructDirection = "to-device" | "from-device" | "both";

/** One place that puts a struct on the wire. */
export interface StructUse {
  struct: string;
  direction: StructDirection;
  /** The using item as a person reads it: `the sq entry of queue admin`. */
  by: string;
  /** Path of the naming key in the YAML. */
  path: PathSegment[];
}


/** The struct a command fills: its own `struct`, or its queue's submission entry (descriptor). */
export function commandStruct(d: RawDevice, c: unknown): string | undefined {
  if (!isObj(c)) return undefined;
  if (isStr(c.struct)) return c.struct;
  if (!isStr(c.queue) || !isObj(d.queues)) return undefined;
  const q: unknown = d.queues[c.queue];
  if (!isObj(q)) return undefined;
  if (q.kind === "index-ring") return isStr(q.entry) ? q.entry : undefined;
  if (q.kind === "sq-cq") return isObj(q.sq) && isStr(q.sq.entry) ? q.sq.entry : undefined;
  if (q.kind === "portal") return isStr(q.descriptor) ? q.descriptor : undefined;
  if (q.kind === "virtq-split") return isStr(q.header) ? q.header : undefined;
  return undefined;
}

/** Every direct use of a struct by a queue or a command, in file order. */
export function structUses(d: RawDevice): StructUse[] {
  const out: StructUse[] = [];
  const use = (struct: unknown, direction: StructDirection, by: string, path: PathSegment[]) => {
    if (isStr(struct)) out.push({ struct, direction, by, path });
  };
  for (const [qname, q] of entries(d.queues)) {
    if (!isObj(q)) continue;
    const base = ["queues", qname];
    if (q.kind === "index-ring") use(q.entry, "both", `the entry of index-ring queue ${qname}`, [...base, "entry"]);
    else if (q.kind === "sq-cq") {
      if (isObj(q.sq)) use(q.sq.entry, "to-device", `the sq entry of queue ${qname}`, [...base, "sq", "entry"]);
      if (isObj(q.cq)) use(q.cq.entry, "from-device", `the cq entry of queue ${qname}`, [...base, "cq", "entry"]);
    } else if (q.kind === "portal") {
      use(q.descriptor, "to-device", `the descriptor of portal queue ${qname}`, [...base, "descriptor"]);
      if (isObj(q.completion)) use(q.completion.record, "from-device", `the completion record of portal queue ${qname}`, [...base, "completion", "record"]);
    } else if (q.kind === "virtq-split") {
      use(q.header, "to-device", `the header of virtq-split queue ${qname}`, [...base, "header"]);
      use(q.footer, "from-device", `the footer of virtq-split queue ${qname}`, [...base, "footer"]);
    }
  }
  for (const [cname, c] of entries(d.commands)) {
    const s = commandStruct(d, c);
    if (s !== undefined) use(s, "to-device", `command ${cname}`, ["commands", cname, isObj(c) && isStr(c.struct) ? "struct" : "queue"]);
  }
  return out;
}

/** Both directions together: a struct that travels both ways needs everything. */
export function combine(a: StructDirection | undefined, b: StructDirection): StructDirection {
  return a === undefined || a === b ? b : "both";
}

/** Whether a use in direction `use` contradicts a declared direction. */
export function contradicts(declared: StructDirection, use: StructDirection): boolean {
  return declared !== "both" && use !== declared;
}

/**
 * Each struct's direction: the declared one, else what its uses and its containers' directions
 * combine to, else `both` (a struct nothing uses may be meant either way: everything is emitted).
 */
export function structDirections(d: RawDevice): Map<string, StructDirection> {
  const structs = new Map(entries(d.structs).filter(([, s]) => isObj(s)));
  const direct = new Map<string, StructDirection>();
  for (const u of structUses(d)) direct.set(u.struct, combine(direct.get(u.struct), u.direction));
  // containers of each struct (a struct-typed field names its struct)
  const containers = new Map<string, string[]>();
  for (const [name, s] of structs) {
    for (const [, f] of entries(s.fields)) {
      if (!isObj(f) || !isStr(f.type) || !structs.has(f.type)) continue;
      const list = containers.get(f.type) ?? [];
      if (!list.includes(name)) list.push(name);
      containers.set(f.type, list);
    }
  }
  const out = new Map<string, StructDirection>();
  const resolve = (name: string, visiting: Set<string>): StructDirection | undefined => {
    const done = out.get(name);
    if (done !== undefined) return done;
    const s = structs.get(name);
    if (isStr(s?.direction)) return s.direction as StructDirection;
    let dir = direct.get(name);
    if (visiting.has(name)) return dir ?? "both"; // a cycle (the validator reports it)
    visiting.add(name);
    // a container nothing decides is both ways (everything is emitted for it), so its fields are too
    for (const c of containers.get(name) ?? []) dir = combine(dir, resolve(c, visiting) ?? "both");
    visiting.delete(name);
    return dir;
  };
  for (const name of structs.keys()) out.set(name, resolve(name, new Set()) ?? "both");
  return out;
}

/** Whether the host writes this struct (it gets Init, an encoder and setters). */
export function hostWrites(direction: StructDirection): boolean {
  return direction !== "from-device";
}
