// Validator rules for struct variants (`variants: { selector, cases }`) and for commands that name a
// case (`variant: fill`). semantic.ts calls them with a small host of its helpers; the layout of a
// case comes from variants.ts, the module the IR builder uses too.
import type { PathSegment } from "./diagnostics.ts";
import { camelCase, entries, fitsUnsigned, hex, parseBits, pascalCase, type RawCommand, type RawDevice, type RawDmaExtent, type RawStruct, type RawStructField, isObj, isInt, isStr } from "./dsl.ts";
import type { ShapeLike } from "./portal-rules.ts";
import { caseFields, caseStruct, caseValue, keptFields, selectorEnum, splitSelector } from "./variants.ts";

type Path = PathSegment[];

export interface VariantRulesHost {
  readonly data: RawDevice;
  report(path: Path, code: string, message: string, atKey?: boolean, severity?: "error" | "warning"): void;
  fieldShape(name: string, f: RawStructField): ShapeLike | undefined;
  /** Type options, enums and bit fields of a field (semantic.ts's checkFieldOptions). */
  checkFieldOptions(base: Path, fname: string, f: RawStructField): void;
  /** Inside the struct and naturally aligned (semantic.ts's checkPlacement). */
  checkPlacement(base: Path, shape: ShapeLike, structSize: number | undefined, packed: boolean, structLabel: string, type: string): void;
  checkDmaExtent(base: Path, fname: string, f: RawDmaExtent, name: (n: string) => string | undefined): void;
  /** `list:` on a dma-address (list-rules.ts), its count among `owner`'s fields. */
  checkDmaList(base: Path, fname: string, f: RawDmaExtent, owner: RawStruct): void;
  /** Why a name in an extent is not a usable field of `s` (undefined: it is). */
  extentFieldName(s: RawStruct, n: string): string | undefined;
  integer(path: Path): bigint | undefined;
  /** Errors reported so far (by any rule). */
  errorCount(): number;
  suggest(word: string, candidates: string[]): string;
}


function overlaps(a: ShapeLike, b: ShapeLike): boolean {
  return a.offset < b.offset + b.elemBytes * b.count && b.offset < a.offset + a.elemBytes * a.count;
}

function span(s: ShapeLike): string {
  const end = s.offset + s.elemBytes * s.count - 1;
  return end === s.offset ? `byte ${s.offset}` : `bytes ${s.offset}..${end}`;
}

/** Bits of the selector: the bit field's width, or the whole field's. */
function selectorWidth(struct: RawStruct, shape: ShapeLike, bits: string | undefined): number | undefined {
  if (bits === undefined) return shape.elemBytes * 8;
  const f = struct.fields[splitSelector(String(struct.variants!.selector)).field];
  const b = isObj(f) && isObj(f.fields) ? f.fields[bits] : undefined;
  if (!isObj(b)) return undefined;
  const r = parseBits(b.bits);
  return "error" in r ? undefined : r.msb - r.lsb + 1;
}

/** The selector field's shape when it is one integer of at most 32 bits (reports why not). */
function checkSelector(h: VariantRulesHost, sname: string, s: RawStruct, base: Path): { shape: ShapeLike; width: number } | undefined {
  const v = s.variants!;
  if (!isStr(v.selector)) return undefined;
  const path: Path = [...base, "selector"];
  const sel = splitSelector(v.selector);
  const raw = isObj(s.fields) ? s.fields[sel.field] : undefined;
  if (!isObj(raw)) {
    h.report(path, "unknown-field", `selector: struct ${sname} has no field "${sel.field}"${h.suggest(sel.field, Object.keys(s.fields ?? {}))}`);
    return undefined;
  }
  const shape = h.fieldShape(sel.field, raw);
  if (!shape) return undefined;
  if (shape.kind !== "scalar" || shape.count !== 1 || shape.elemBytes > 4) {
    h.report(path, "bad-field-type", `selector field "${sel.field}" must be one integer of at most 32 bits (u8, u16 or u32), not ${String(raw.type)}${shape.count > 1 ? ` x ${shape.count}` : ""}`);
    return undefined;
  }
  if (sel.bits !== undefined && !(isObj(raw.fields) && isObj(raw.fields[sel.bits]))) {
    h.report(path, "unknown-field", `selector: field "${sel.field}" of ${sname} has no bit field "${sel.bits}"${h.suggest(sel.bits, Object.keys(raw.fields ?? {}))}`);
    return undefined;
  }
  const width = selectorWidth(s, shape, sel.bits);
  return width === undefined ? undefined : { shape, width };
}

/**
 * A struct's variants: the selector is one integer field (or a bit field of one) of at most 32 bits;
 * each case's value fits it (or names a member of its enum) and selects no other case; a case's
 * own fields are valid fields that lie inside the struct, not over each other or the selector, and
 * do not take the name of a struct field the case keeps; `omit` names struct fields other than the
 * selector; every extent in the case names a field the case has.
 */
/** Returns whether the variants are free of errors. */
export function checkVariants(host: VariantRulesHost, sname: string, s: RawStruct): boolean {
  const v = s.variants;
  if (!isObj(v)) return true;
  const before = host.errorCount();
  checkCases(host, sname, s, v);
  return host.errorCount() === before;
}

function checkCases(h: VariantRulesHost, sname: string, s: RawStruct, v: NonNullable<RawStruct["variants"]>): void {
  const base: Path = ["structs", sname, "variants"];
  const sel = checkSelector(h, sname, s, base);
  const selField = isStr(v.selector) ? splitSelector(v.selector).field : undefined;
  const enumName = selectorEnum(s);
  const byValue = new Map<number, string>();
  const typeNames = new Map<string, string>();
  for (const [cname, c] of entries(v.cases)) {
    if (!isObj(c)) continue;
    const cpath: Path = [...base, "cases", cname];
    const typeName = pascalCase(cname);
    const twin = typeNames.get(typeName);
    if (twin !== undefined) h.report(cpath, "name-collision", `cases "${twin}" and "${cname}" of ${sname} both become ${sname}${typeName} in the generated package; rename one`, true);
    else typeNames.set(typeName, cname);
    // the value
    if (isStr(c.value) && sel) {
      if (enumName === undefined) h.report([...cpath, "value"], "bad-variant-value", `case "${cname}" names "${c.value}", but the selector ${String(v.selector)} has no enum; give a number`);
      else if (caseValue(h.data, s, c) === undefined) {
        const members = Object.keys((isObj(h.data.enums) && isObj(h.data.enums[enumName]) ? h.data.enums[enumName]!.values : undefined) ?? {});
        h.report([...cpath, "value"], "unknown-enum-member", `enum ${enumName} has no member "${c.value}"${h.suggest(c.value, members)}`);
      }
    }
    const value = caseValue(h.data, s, c);
    if (value !== undefined && sel) {
      const exact = isInt(c.value) ? h.integer([...cpath, "value"]) : BigInt(value);
      if (exact !== undefined && !fitsUnsigned(exact, sel.width)) {
        h.report([...cpath, "value"], "variant-value-too-wide", `case "${cname}": value ${hex(exact)} does not fit the ${sel.width}-bit selector ${String(v.selector)}`);
      }
      const other = byValue.get(value);
      if (other !== undefined) h.report([...cpath, "value"], "duplicate-variant-value", `cases "${other}" and "${cname}" both select ${String(v.selector)} = ${hex(value)}`);
      else byValue.set(value, cname);
    }
    // omitted struct fields
    const omit = Array.isArray(c.omit) ? c.omit : [];
    omit.forEach((name, i) => {
      if (!isStr(name)) return;
      if (!isObj(s.fields) || !isObj(s.fields[name])) {
        h.report([...cpath, "omit", i], "unknown-field", `case "${cname}" omits "${name}", which is not a field of ${sname}${h.suggest(name, Object.keys(s.fields ?? {}))}`);
      } else if (name === selField) {
        h.report([...cpath, "omit", i], "variant-selector-omitted", `case "${cname}" cannot omit the selector field "${name}": its value is what selects the case`);
      }
    });
    // own fields
    const placed: ShapeLike[] = [];
    const own = entries(c.fields);
    for (const [fname, f] of own) {
      const fpath: Path = [...cpath, "fields", fname];
      if (!isObj(f) || !isStr(f.type)) continue;
      h.checkFieldOptions(fpath, fname, f);
      const shape = h.fieldShape(fname, f);
      if (!shape) continue;
      h.checkPlacement(fpath, shape, isInt(s.size) ? s.size : undefined, s.packed === true, `${s.size}-byte struct ${sname}`, f.type);
      if (sel && overlaps(shape, sel.shape)) {
        h.report([...fpath, "offset"], "variant-over-selector", `field "${fname}" of case "${cname}" (${span(shape)}) lies over the selector field "${sel.shape.name}" (${span(sel.shape)})`);
      }
      for (const o of placed) {
        if (overlaps(shape, o)) h.report([...fpath, "offset"], "struct-field-overlap", `field "${fname}" (${span(shape)}) of case "${cname}" overlaps its field "${o.name}" (${span(o)})`);
      }
      placed.push(shape);
    }
    const fields = caseFields(h.data, s, c);
    const view: RawStruct = { ...s, fields };
    const kept = keptFields(h.data, s, c);
    for (const [fname] of own) {
      if (kept.includes(fname)) h.report([...cpath, "fields", fname], "duplicate-field", `case "${cname}" has its own field "${fname}" and keeps ${sname}'s field of that name; lay it over that field, omit that field or rename it`, true);
    }
    // names that differ in YAML but not in TypeScript
    const asCamel = new Map<string, string>();
    for (const fname of Object.keys(fields)) {
      const as = camelCase(fname);
      const prior = asCamel.get(as);
      if (prior !== undefined && own.some(([n]) => n === fname)) h.report([...cpath, "fields", fname], "name-collision", `field "${fname}" of case "${cname}" and field "${prior}" both become ${as}; rename one`, true);
      asCamel.set(as, fname);
    }
    // extents: own fields' name the case's fields; a kept struct field's must still be there
    for (const [fname, f] of own) {
      if (!isObj(f) || f.type !== "dma-address") continue;
      h.checkDmaExtent([...cpath, "fields", fname], fname, f, (n) => h.extentFieldName(view, n));
      h.checkDmaList([...cpath, "fields", fname], fname, f, view);
    }
    for (const [fname, f] of entries(fields)) {
      if (own.some(([n]) => n === fname) || !isObj(f) || f.type !== "dma-address") continue;
      const words = f.extent !== undefined ? extentWords(f.extent) : isObj(f.list) && isStr(f.list.count) ? [f.list.count] : [];
      for (const n of words) {
        if (/^[A-Z]/.test(n) || Object.hasOwn(fields, n)) continue;
        h.report(cpath, "variant-extent-lost", `case "${cname}" keeps field "${fname}", whose extent uses "${n}", but the case omits or replaces "${n}": omit "${fname}" too or keep "${n}"`, true);
      }
    }
  }
}

/** Names in an extent expression (fields and constants), without parsing it again. */
function extentWords(extent: number | string): string[] {
  return typeof extent === "string" ? [...extent.matchAll(/[A-Za-z_][A-Za-z0-9_]*/g)].map((m) => m[0]) : [];
}

/**
 * A command naming a case: the struct has variants and that case; the command does not fix the
 * selector (the case does). Returns the struct as the command sees it (the case's fields) and the
 * selector's shape (written by the command), or undefined when the command cannot be checked further
 * (also when the struct's variants have errors of their own).
 */
export function checkCommandVariant(h: VariantRulesHost, cname: string, c: RawCommand, struct: RawStruct, sname: string, variantsValid: boolean): { view: RawStruct; selector?: ShapeLike } | undefined {
  const base: Path = ["commands", cname];
  if (!isStr(c.variant)) return undefined;
  if (!isObj(struct.variants) || !isObj(struct.variants.cases)) {
    h.report([...base, "variant"], "no-variants", `command "${cname}" names variant "${c.variant}", but struct ${sname} has no variants`);
    return undefined;
  }
  // a case whose layout is wrong was reported at the struct: checking the command against it would only repeat that
  if (!variantsValid) return undefined;
  const view = caseStruct(h.data, struct, c.variant);
  if (!view) {
    h.report([...base, "variant"], "unknown-variant", `struct ${sname} has no variant "${c.variant}"${h.suggest(c.variant, Object.keys(struct.variants.cases))}`);
    return undefined;
  }
  if (!isStr(struct.variants.selector)) return { view };
  const sel = splitSelector(struct.variants.selector);
  for (const key of Object.keys(c.fixed ?? {})) {
    const [f, b] = key.split(".");
    if (f !== sel.field) continue;
    if (b === undefined || sel.bits === undefined || b === sel.bits) {
      h.report([...base, "fixed", key], "variant-fixes-selector", `variant "${c.variant}" already sets ${struct.variants.selector}; do not fix ${key} in command "${cname}"`, true);
    }
  }
  const raw = isObj(struct.fields) ? struct.fields[sel.field] : undefined;
  const selector = isObj(raw) ? h.fieldShape(sel.field, raw) : undefined;
  return selector ? { view, selector } : { view };
}
