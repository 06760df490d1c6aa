// Mutations of real device descriptions, for the validator fuzzer. Two layers:
// - tree mutations on the parsed document (delete a key, wrong type, huge or negative numbers,
//   unicode or clashing names, a struct made to contain itself, references swapped), printed back
//   as YAML, so they reach the deep rules (layout, queues, commands) rather than dying in the parser;
// - text mutations on the YAML bytes (duplicated keys, byte flips, truncation, control bytes, aliases,
//   deep nesting), which exercise the parser's own guards.
// Each mutator returns a short description of what it did, saved with a failing case.
import { parse, stringify } from "yaml";
import type { Rng } from "./prng.ts";

type Json = null | boolean | number | bigint | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const WRONG_VALUES: Json[] = [
  null, true, false, 0, 1, 3, 7, 64, 1.5, -0.5, "", "x", "7:0", "0:7", "99:0", "a.b", "bar0.nope", "dma", "1..0", "0..70000",
  [], [1, 2], {}, { a: 1 }, { offset: 0 }, { bits: "3:1" },
];
const HUGE: Json[] = [
  2 ** 31, 2 ** 32, 2 ** 32 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 1e308, Number.POSITIVE_INFINITY, Number.NaN,
  2n ** 64n, 2n ** 64n - 1n, 2n ** 100n, 0xffff_ffff_ffff_ffffn,
];
const NEGATIVE: Json[] = [-1, -2, -8, -(2 ** 31), -(2 ** 53), -1e308, Number.NEGATIVE_INFINITY, -0, -(2n ** 64n)];
const UNICODE_NAMES = [
  "ñame", "名前", "régistre", "x\u200by", "a\u0301", "\u202eevil", "emoji_😀", "Ωmega", "ß", "İi", "ﬁeld",
  "bar0", "BAR0", "Bar_0", "bar_0", "__proto__", "constructor", "prototype", "toString", "hasOwnProperty",
  "class", "default", "new", "x".repeat(300), "a-b", "1abc", "_", "",
];

/** Every (parent, key) slot in the tree, depth-first. */
function slots(root: Json): { parent: Obj | Json[]; key: string | number; path: string }[] {
  const out: { parent: Obj | Json[]; key: string | number; path: string }[] = [];
  const walk = (v: Json, path: string) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        out.push({ parent: v, key: i, path: `${path}[${i}]` });
        walk(x, `${path}[${i}]`);
      });
    } else if (v !== null && typeof v === "object") {
      for (const k of Object.keys(v)) {
        out.push({ parent: v, key: k, path: path === "" ? k : `${path}.${k}` });
        walk(v[k]!, path === "" ? k : `${path}.${k}`);
      }
    }
  };
  walk(root, "");
  return out;
}

function isObj(v: Json | undefined): v is Obj {
  return v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);
}

/** Slots whose value is a number (most layout rules hang off numbers). */
function numberSlots(root: Json) {
  return slots(root).filter((s) => typeof (s.parent as Obj)[s.key as string] === "number" || typeof (s.parent as Json[])[s.key as number] === "number");
}

function get(s: { parent: Obj | Json[]; key: string | number }): Json {
  return (s.parent as Record<string | number, Json>)[s.key]!;
}
function set(s: { parent: Obj | Json[]; key: string | number }, v: Json): void {
  (s.parent as Record<string | number, Json>)[s.key] = v;
}

/** Renames key `from` of `obj` to `to`, keeping its position (YAML order matters to diagnostics). */
function renameKey(obj: Obj, from: string, to: string): void {
  const entries = Object.entries(obj);
  for (const k of Object.keys(obj)) delete obj[k];
  for (const [k, v] of entries) obj[k === from ? to : k] = v;
}

type TreeMutator = (doc: Obj, rng: Rng) => string | null;

const TREE: Record<string, TreeMutator> = {
  "delete-key": (doc, rng) => {
    const s = slots(doc).filter((x) => typeof x.key === "string");
    if (s.length === 0) return null;
    const t = rng.pick(s);
    delete (t.parent as Obj)[t.key as string];
    return `deleted ${t.path}`;
  },
  "wrong-type": (doc, rng) => {
    const t = rng.pick(slots(doc));
    const v = structuredClone(rng.pick(WRONG_VALUES));
    set(t, v);
    return `${t.path} = ${JSON.stringify(v)}`;
  },
  "huge-number": (doc, rng) => {
    const s = numberSlots(doc);
    if (s.length === 0) return null;
    const t = rng.pick(s);
    const v = rng.pick(HUGE);
    set(t, v);
    return `${t.path} = ${String(v)}`;
  },
  "negative-number": (doc, rng) => {
    const s = numberSlots(doc);
    if (s.length === 0) return null;
    const t = rng.pick(s);
    const v = rng.pick(NEGATIVE);
    set(t, v);
    return `${t.path} = ${String(v)}`;
  },
  "off-by-one": (doc, rng) => {
    const s = numberSlots(doc);
    if (s.length === 0) return null;
    const t = rng.pick(s);
    const v = (get(t) as number) + rng.pick([-1, 1, -4, 4, -8, 8, 0x1000]);
    set(t, v);
    return `${t.path} = ${v}`;
  },
  "unicode-name": (doc, rng) => {
    // rename a key of a named collection (regions, registers, fields, structs, enums, queues...)
    const s = slots(doc).filter((x) => typeof x.key === "string" && isObj(get(x)) && x.path.includes("."));
    if (s.length === 0) return null;
    const t = rng.pick(s);
    const to = rng.pick(UNICODE_NAMES);
    if (to in (t.parent as Obj)) return null;
    renameKey(t.parent as Obj, t.key as string, to);
    return `renamed ${t.path} to ${JSON.stringify(to)}`;
  },
  "unicode-value": (doc, rng) => {
    const s = slots(doc).filter((x) => typeof get(x) === "string");
    if (s.length === 0) return null;
    const t = rng.pick(s);
    const v = rng.pick(UNICODE_NAMES);
    set(t, v);
    return `${t.path} = ${JSON.stringify(v)}`;
  },
  "struct-cycle": (doc, rng) => {
    // make a struct contain itself, directly or through another struct
    const structs = doc.structs;
    if (!isObj(structs)) return null;
    const names = Object.keys(structs);
    if (names.length === 0) return null;
    const a = rng.pick(names);
    const b = rng.pick(names);
    const add = (from: string, to: string) => {
      const st = structs[from];
      if (!isObj(st)) return;
      if (!isObj(st.fields)) st.fields = {};
      const size = typeof st.size === "number" ? st.size : 64;
      (st.fields as Obj)[`cyc_${to.toLowerCase()}`] = { offset: rng.pick([0, size, Math.max(0, size - 8)]), type: to };
    };
    add(a, b);
    if (a !== b) add(b, a);
    return `struct cycle ${a} <-> ${b}`;
  },
  "swap-reference": (doc, rng) => {
    // point a name reference (entry, type, enum, register, interrupt) at another existing name
    const s = slots(doc).filter((x) => typeof get(x) === "string" && /^(entry|type|enum|interrupt|producer|consumer|doorbell|struct|queue|field|tag|sq_head)$/.test(String(x.key)));
    const names = slots(doc).filter((x) => typeof x.key === "string").map((x) => x.key as string);
    if (s.length === 0 || names.length === 0) return null;
    const t = rng.pick(s);
    const v = rng.pick(names);
    set(t, v);
    return `${t.path} = ${JSON.stringify(v)}`;
  },
  "copy-subtree": (doc, rng) => {
    // a subtree copied somewhere else: shapes valid in one place, wrong in another
    const all = slots(doc);
    const from = rng.pick(all);
    const to = rng.pick(all);
    set(to, structuredClone(get(from)));
    return `${to.path} = copy of ${from.path}`;
  },
  "duplicate-entry": (doc, rng) => {
    // the same entry under a second name (overlapping registers, fields, clashing ids)
    const s = slots(doc).filter((x) => typeof x.key === "string" && isObj(get(x)) && x.path.includes("."));
    if (s.length === 0) return null;
    const t = rng.pick(s);
    const name = `${t.key as string}_${rng.pick(["copy", "Copy", "2"])}`;
    (t.parent as Obj)[name] = structuredClone(get(t));
    return `duplicated ${t.path} as ${name}`;
  },
  "empty-collection": (doc, rng) => {
    const s = slots(doc).filter((x) => isObj(get(x)) || Array.isArray(get(x)));
    if (s.length === 0) return null;
    const t = rng.pick(s);
    set(t, Array.isArray(get(t)) ? [] : {});
    return `${t.path} emptied`;
  },
};

type TextMutator = (text: Uint8Array, rng: Rng) => { bytes: Uint8Array; what: string } | null;

const enc = new TextEncoder();
const dec = new TextDecoder();

function lines(b: Uint8Array): string[] {
  return dec.decode(b).split("\n");
}

const TEXT: Record<string, TextMutator> = {
  "duplicate-key-line": (b, rng) => {
    const ls = lines(b);
    const keyed = ls.map((l, i) => [l, i] as const).filter(([l]) => /^\s*[\w-]+:/.test(l));
    if (keyed.length === 0) return null;
    const [l, i] = rng.pick(keyed);
    ls.splice(i + 1, 0, l.replace(/:.*/, ": 1"));
    return { bytes: enc.encode(ls.join("\n")), what: `duplicated key line ${i + 1}` };
  },
  "byte-flip": (b, rng) => {
    const out = b.slice();
    const n = rng.range(1, 8);
    for (let k = 0; k < n; k++) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return { bytes: out, what: `${n} bit flips` };
  },
  "byte-set": (b, rng) => {
    const out = b.slice();
    const at = rng.int(out.length);
    const v = rng.pick([0, 0x09, 0x0d, 0x1b, 0x7f, 0x80, 0xc3, 0xe2, 0xef, 0xff, 0x22, 0x27, 0x3a, 0x7b, 0x5b, 0x26, 0x2a, 0x21, 0x7c, 0x3e]);
    out[at] = v;
    return { bytes: out, what: `byte ${at} = 0x${v.toString(16)}` };
  },
  truncate: (b, rng) => {
    const at = rng.int(b.length);
    return { bytes: b.slice(0, at), what: `truncated at ${at}` };
  },
  "delete-lines": (b, rng) => {
    const ls = lines(b);
    const at = rng.int(ls.length);
    const n = rng.range(1, 6);
    ls.splice(at, n);
    return { bytes: enc.encode(ls.join("\n")), what: `deleted lines ${at + 1}..${at + n}` };
  },
  "swap-lines": (b, rng) => {
    const ls = lines(b);
    const i = rng.int(ls.length), j = rng.int(ls.length);
    [ls[i], ls[j]] = [ls[j]!, ls[i]!];
    return { bytes: enc.encode(ls.join("\n")), what: `swapped lines ${i + 1} and ${j + 1}` };
  },
  "indent-shift": (b, rng) => {
    const ls = lines(b);
    const i = rng.int(ls.length);
    ls[i] = rng.chance(0.5) ? `  ${ls[i]}` : ls[i]!.replace(/^ {1,2}/, "");
    return { bytes: enc.encode(ls.join("\n")), what: `re-indented line ${i + 1}` };
  },
  "yaml-features": (b, rng) => {
    const extra = rng.pick([
      "\nx_anchor: &a [1, 2, 3]\nx_alias: *a\n",
      "\nbomb0: &b0 [x, x, x, x, x, x, x, x, x, x]\nbomb1: &b1 [*b0, *b0, *b0, *b0, *b0, *b0, *b0, *b0, *b0, *b0]\nbomb2: &b2 [*b1, *b1, *b1, *b1, *b1, *b1, *b1, *b1, *b1, *b1]\nbomb3: [*b2, *b2, *b2, *b2, *b2, *b2, *b2, *b2, *b2, *b2]\n",
      "\n<<: { device: merged }\n",
      "\n---\ndevice: second\n",
      "\nbinary: !!binary aGVsbG8=\n",
      "\ntagged: !custom { a: 1 }\n",
      "\ncyclic: &c [*c]\n",
      `\ndeep: ${"[".repeat(200)}${"]".repeat(200)}\n`,
      `\ndeep2: ${"{a: ".repeat(70)}1${"}".repeat(70)}\n`,
      "\n? [complex, key]\n: value\n",
      "\n\ufeffbom: 1\n",
      "\nnul: \"\\0\"\n",
      "\ntab:\t1\n",
      `\nlong: "${"x".repeat(100_000)}"\n`,
    ]);
    const at = rng.chance(0.5) ? b.length : 0;
    const out = at === 0 ? new Uint8Array([...enc.encode(extra.trimStart() + "\n"), ...b]) : new Uint8Array([...b, ...enc.encode(extra)]);
    return { bytes: out, what: `added ${JSON.stringify(extra.slice(0, 40))}${at === 0 ? " at the start" : ""}` };
  },
};

export interface Mutant {
  bytes: Uint8Array;
  /** What was done, in order. */
  steps: string[];
}

/** One mutant of `source` (YAML text): 1-3 tree mutations, then maybe text mutations. */
export function mutate(source: string, rng: Rng): Mutant {
  const steps: string[] = [];
  let bytes: Uint8Array;
  if (rng.chance(0.8)) {
    const doc = parse(source) as Obj;
    const n = rng.range(1, 3);
    const names = Object.keys(TREE);
    for (let k = 0; k < n; k++) {
      const name = rng.pick(names);
      const what = TREE[name]!(doc, rng);
      if (what !== null) steps.push(`${name}: ${what}`);
    }
    bytes = enc.encode(stringify(doc, { lineWidth: 0 }));
  } else {
    bytes = enc.encode(source);
  }
  if (steps.length === 0 || rng.chance(0.25)) {
    const names = Object.keys(TEXT);
    const n = rng.range(1, 2);
    for (let k = 0; k < n; k++) {
      const name = rng.pick(names);
      const r = TEXT[name]!(bytes, rng);
      if (r !== null) {
        bytes = r.bytes;
        steps.push(`${name}: ${r.what}`);
      }
    }
  }
  return { bytes, steps };
}
