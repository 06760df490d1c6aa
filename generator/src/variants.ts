// Struct variants: one descriptor whose bytes mean different things per opcode. A case keeps the
// struct's fields, adds its own (which may lie over struct fields: a fill's pattern over the source
// address) and omits the struct fields it does not use. These helpers compute a case's layout from
// the raw description, the same way for the validator (variant-rules.ts) and the IR builder, so a
// command that names a case sees exactly the fields the generated per-case types have.
import { builtinBytes, entries, type RawDevice, type RawStruct, type RawStructField, type RawVariantCase, isObj, isInt } from "./dsl.ts";


/** `op_flags.opcode` -> field and bit field; `opcode` -> field only. */
export function splitSelector(selector: string): { field: string; bits?: string } {
  const [field, bits] = selector.split(".") as [string, string | undefined];
  return bits === undefined ? { field } : { field, bits };
}

/** Bytes a raw field occupies, when its type is known (nested structs by their declared size). */
export function rawFieldBytes(d: RawDevice, f: RawStructField): number | undefined {
  if (!isObj(f) || typeof f.type !== "string") return undefined;
  if (f.type === "reserved") return isInt(f.size) ? f.size : undefined;
  const count = isInt(f.count) ? f.count : 1;
  const elem = builtinBytes(f.type) ?? (isObj(d.structs) && isObj(d.structs[f.type]) && isInt(d.structs[f.type]!.size) ? d.structs[f.type]!.size : undefined);
  return elem === undefined ? undefined : elem * count;
}

function overlap(a: { offset: number; bytes: number }, b: { offset: number; bytes: number }): boolean {
  return a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
}

/**
 * The fields of one case, in the struct's order followed by the case's own: a struct field stays
 * unless the case omits it or one of its own fields lies over it.
 */
export function caseFields(d: RawDevice, struct: RawStruct, c: RawVariantCase): Record<string, RawStructField> {
  const out: Record<string, RawStructField> = {};
  for (const name of keptFields(d, struct, c)) out[name] = struct.fields[name]!;
  for (const [name, f] of entries(c.fields)) if (isObj(f) && isInt(f.offset)) out[name] = f;
  return out;
}

/** Names of the struct fields a case keeps: not omitted, and no field of its own lies over them. */
export function keptFields(d: RawDevice, struct: RawStruct, c: RawVariantCase): string[] {
  const ownSpans = entries(c.fields)
    .filter(([, f]) => isObj(f) && isInt(f.offset))
    .map(([, f]) => ({ offset: f.offset, bytes: rawFieldBytes(d, f) ?? 0 }));
  const omit = new Set(Array.isArray(c.omit) ? c.omit : []);
  return entries(struct.fields)
    .filter(([name, f]) => isObj(f) && !omit.has(name) && !ownSpans.some((o) => overlap(o, { offset: isInt(f.offset) ? f.offset : 0, bytes: rawFieldBytes(d, f) ?? 0 })))
    .map(([name]) => name);
}

/** The struct as a command naming case `name` sees it: the case's fields, no variants. */
export function caseStruct(d: RawDevice, struct: RawStruct, name: string): RawStruct | undefined {
  const c = isObj(struct.variants) && isObj(struct.variants.cases) ? struct.variants.cases[name] : undefined;
  if (!isObj(c)) return undefined;
  const { variants: _, ...rest } = struct;
  return { ...rest, fields: caseFields(d, struct, c) };
}

/** A case's selector value: the number, or the member of the selector's enum it names. */
export function caseValue(d: RawDevice, struct: RawStruct, c: RawVariantCase): number | undefined {
  if (isInt(c.value)) return c.value;
  if (typeof c.value !== "string") return undefined;
  const e = selectorEnum(struct);
  const member = e !== undefined && isObj(d.enums) && isObj(d.enums[e]) ? (d.enums[e]!.values ?? {})[c.value] : undefined;
  if (isInt(member)) return member;
  if (isObj(member) && isInt(member.value)) return member.value;
  return undefined;
}

/** The enum of the selector (the field's, or its bit field's), if it has one. */
export function selectorEnum(struct: RawStruct): string | undefined {
  if (!isObj(struct.variants) || typeof struct.variants.selector !== "string") return undefined;
  const sel = splitSelector(struct.variants.selector);
  const f = isObj(struct.fields) ? struct.fields[sel.field] : undefined;
  if (!isObj(f)) return undefined;
  if (sel.bits === undefined) return typeof f.enum === "string" ? f.enum : undefined;
  const b = isObj(f.fields) ? f.fields[sel.bits] : undefined;
  return isObj(b) && typeof b.enum === "string" ? b.enum : undefined;
}
