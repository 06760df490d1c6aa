// Validator rules for descriptor lists: a dma-address that points at a list of entries (a batch's
// descriptors), `list: { of, count, min, max }`. The list states the extent (count x the entry
// struct's size), so the field gives no extent of its own; a command taking the list writes the
// count from it, so it neither takes nor fixes the count field.
import type { PathSegment } from "./diagnostics.ts";
import type { RawCommand, RawDevice, RawDmaExtent, RawStruct } from "./dsl.ts";
import { isObj, isInt, isStr } from "./dsl.ts";

type Path = PathSegment[];

export interface ListRulesHost {
  readonly data: RawDevice;
  report(path: Path, code: string, message: string, atKey?: boolean): void;
  /** Why `n` is not a field an extent (here: a count) may use, undefined when it is. */
  extentFieldName(s: RawStruct, n: string): string | undefined;
  suggest(word: string, candidates: string[]): string;
}


/** A list's bound: the number, or the constant's value (undefined when unknown, reported). */
function limit(h: ListRulesHost, path: Path, v: unknown): number | undefined {
  if (isInt(v)) return v;
  if (!isStr(v)) return undefined;
  const c = isObj(h.data.constants) ? h.data.constants[v] : undefined;
  if (isInt(c)) return c;
  if (isObj(c) && isInt(c.value)) return c.value;
  h.report(path, "unknown-constant", `unknown constant "${v}"${h.suggest(v, Object.keys(h.data.constants ?? {}))}`);
  return undefined;
}

/** `list:` on a dma-address field of `owner` (the struct, or the case whose fields it is among). */
export function checkDmaList(h: ListRulesHost, base: Path, fname: string, f: RawDmaExtent, owner: RawStruct): void {
  const l = f.list;
  if (!isObj(l)) return;
  const lp: Path = [...base, "list"];
  for (const k of ["extent", "unbounded"] as const) {
    if (f[k] !== undefined) h.report([...base, k], "list-extent-conflict", `"${fname}" points at a list, which states its extent (count x the entry's size): drop ${k}`, true);
  }
  if (isStr(l.of) && !(isObj(h.data.structs) && isObj(h.data.structs[l.of]))) {
    h.report([...lp, "of"], "unknown-struct", `unknown struct "${l.of}"${h.suggest(l.of, Object.keys(h.data.structs ?? {}))}`);
  }
  if (isStr(l.count)) {
    const why = h.extentFieldName(owner, l.count);
    if (why !== undefined) h.report([...lp, "count"], "bad-list-count", `count of the list at "${fname}": ${why}`);
  }
  const min = l.min === undefined ? 1 : limit(h, [...lp, "min"], l.min);
  const max = limit(h, [...lp, "max"], l.max);
  if (max !== undefined && max < 1) h.report([...lp, "max"], "bad-list-bounds", `a list of at most ${max} entries holds none`);
  if (min !== undefined && max !== undefined && min > max) h.report([...lp, "min"], "bad-list-bounds", `min ${min} is above max ${max}`);
}

/** A command param naming a list field: the count comes from the list, so the command does not give it. */
export function checkListParam(h: ListRulesHost, cname: string, pname: string, c: RawCommand, field: RawDmaExtent | undefined, extentOwn: boolean): void {
  const l = field?.list;
  if (!isObj(l) || !isStr(l.count)) return;
  const base: Path = ["commands", cname, "params", pname];
  if (extentOwn) h.report(base, "list-extent-conflict", `param "${pname}" takes a list, which states its extent: drop the param's extent`, true);
  for (const [other, p] of Object.entries(c.params ?? {})) {
    if (isObj(p) && p.field === l.count) {
      h.report(["commands", cname, "params", other], "list-count-taken", `param "${other}" writes "${l.count}", which the list of param "${pname}" fills with its length; drop "${other}"`, true);
    }
  }
  for (const key of Object.keys(c.fixed ?? {})) {
    if (key.split(".")[0] === l.count) h.report(["commands", cname, "fixed", key], "list-count-taken", `"${l.count}" is filled with the length of the list of param "${pname}"; do not fix it`, true);
  }
}
