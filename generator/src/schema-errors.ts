// JSON Schema validation of a parsed device file (ajv, draft 2020-12, every error at once), with
// ajv's errors turned into diagnostics a person can act on: the key that is unknown (and the one
// probably meant), the name that breaks the naming rule, the value of the wrong type, each at its
// line and column.
import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020";
import schema from "../schema/device.schema.json" with { type: "json" };
import { formatPath, type Diagnostic, type PathSegment } from "./diagnostics.ts";
import type { Locator } from "./parse.ts";

let compiled: ValidateFunction | undefined;

/** Compiled once per process: ajv compiles the schema to a function, which is the slow part. */
function validator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    compiled = ajv.compile(schema);
  }
  return compiled;
}

/** The schema itself, for tools (editors use the file directly). */
export const deviceSchema: unknown = schema;

/** `/regions/bar0/registers` -> segments, with sequence indices as numbers (looked up in the data). */
function instanceSegments(pointer: string, data: unknown): PathSegment[] {
  if (pointer === "") return [];
  const out: PathSegment[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(cur)) {
      const i = Number(key);
      out.push(i);
      cur = cur[i];
    } else {
      out.push(key);
      cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[key] : undefined;
    }
  }
  return out;
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let cur = data;
  for (const s of path) cur = cur && typeof cur === "object" ? (cur as Record<string | number, unknown>)[s] : undefined;
  return cur;
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (ArrayBuffer.isView(v)) return "binary data";
  if (typeof v === "object") return "a map";
  if (typeof v === "number") return Number.isInteger(v) ? "an integer" : "a fractional number";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v)}`;
  if (typeof v === "boolean") return `${v}`;
  return typeof v;
}

const TYPE_WORDS: Record<string, string> = {
  integer: "an integer",
  number: "a number",
  string: "a string",
  object: "a map",
  array: "a list",
  boolean: "true or false",
};

/** What each naming rule is called in messages, by the $defs entry that states it. */
const NAME_RULES: Record<string, string> = {
  "#/$defs/snakeName": "snake_case (lower case words joined by _, e.g. irq_status)",
  "#/$defs/pascalName": "PascalCase (e.g. DmaDirection)",
  "#/$defs/upperName": "UPPER_SNAKE (e.g. DMA_BUFFER_SIZE)",
};

/** Formats the schema cannot say in a word: pattern errors by the property they are about. */
function patternMessage(value: unknown, path: readonly PathSegment[], description: string | undefined): string {
  const last = path[path.length - 1];
  const shown = JSON.stringify(value);
  if (last === "version") return `version ${shown} is not a semver version like 1.0.0`;
  if (last === "device" && path.length === 1) return `device name ${shown} must be kebab-case (lower case words joined by -, e.g. qemu-edu)`;
  if (last === "producer" || last === "consumer" || last === "doorbell") return `${shown} is not a register reference region.register (e.g. bar0.sq_tail)`;
  if (last === "bits") return `bits ${shown} is not a bit number or an "msb:lsb" range (e.g. 7 or "6:4")`;
  if (last === "instances") return `instances ${shown} is not "first..last" (e.g. "1..64")`;
  return `${shown} has the wrong format${description ? `: ${description}` : ""}`;
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dd = distance(word.toLowerCase(), c.toLowerCase());
    if (dd < bestD) [best, bestD] = [c, dd];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

type ErrorWithSchema = ErrorObject & { parentSchema?: { description?: string; properties?: Record<string, unknown> } };

/** Validates `data` against the device schema; diagnostics carry positions from `locator`. */
export function schemaDiagnostics(file: string, data: unknown, locator: Locator): Diagnostic[] {
  const validate = validator();
  if (validate(data)) return [];
  const errors = (validate.errors ?? []) as ErrorWithSchema[];
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  const push = (path: PathSegment[], code: string, message: string, atKey: boolean) => {
    const id = `${formatPath(path)}\u0000${message}`;
    if (seen.has(id)) return;
    seen.add(id);
    const pos = locator.position(path, atKey);
    out.push({ file, line: pos.line, column: pos.column, path: formatPath(path), code, message, severity: "error" });
  };

  // anyOf reports every failed branch. When the value has the shape of exactly one branch (a map
  // where the other branch is the string "dma"), that branch's errors are the useful ones; otherwise
  // one message about the whole value reads better than each branch's complaint.
  const skip = new Set<ErrorObject>();
  for (const a of errors.filter((e) => e.keyword === "anyOf")) {
    const inner = errors.filter(
      (e) => e !== a && e.schemaPath.startsWith(a.schemaPath + "/") && (e.instancePath === a.instancePath || e.instancePath.startsWith(a.instancePath + "/")),
    );
    const branchOf = (e: ErrorObject) => Number(e.schemaPath.slice(a.schemaPath.length + 1).split("/")[0]);
    const branches = [...new Set(inner.map(branchOf))];
    const value = valueAt(data, instanceSegments(a.instancePath, data));
    const kindOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
    // A branch does not fit when it wants another type, or constants of another type ("dma" for a map).
    const mismatch = (e: ErrorObject) => {
      if (e.instancePath !== a.instancePath) return false;
      if (e.keyword === "type") return true;
      if (e.keyword === "const") return kindOf((e.params as { allowedValue: unknown }).allowedValue) !== kindOf(value);
      if (e.keyword === "enum") return !(e.params as { allowedValues: unknown[] }).allowedValues.some((v) => kindOf(v) === kindOf(value));
      return false;
    };
    const shapeMismatch = (b: number) => inner.some((e) => branchOf(e) === b && mismatch(e));
    const fitting = branches.filter((b) => !shapeMismatch(b));
    for (const e of inner) if (fitting.length !== 1 || branchOf(e) !== fitting[0]) skip.add(e);
    if (fitting.length === 1) skip.add(a);
  }

  // Several missing keys of one map make one message.
  const missing = new Map<string, string[]>();
  for (const e of errors) {
    if (e.keyword !== "required" || skip.has(e)) continue;
    const list = missing.get(e.instancePath) ?? [];
    list.push((e.params as { missingProperty: string }).missingProperty);
    missing.set(e.instancePath, list);
  }

  for (const e of errors) {
    if (e.keyword === "if" || skip.has(e)) continue;
    // A bad map key is reported once, by propertyNames, not again by the pattern inside it.
    if ((e as { propertyName?: string }).propertyName !== undefined && e.keyword !== "propertyNames") continue;
    const path = instanceSegments(e.instancePath, data);
    const value = valueAt(data, path);
    const desc = e.parentSchema?.description;
    switch (e.keyword) {
      case "required": {
        const keys = missing.get(e.instancePath) ?? [];
        const what = path.length === 0 ? "the device description" : `"${String(path[path.length - 1])}"`;
        const list = keys.map((k) => `"${k}"`);
        const text = list.length <= 1 ? list.join("") : `${list.slice(0, -1).join(", ")} and ${list[list.length - 1]}`;
        push(path, "missing-key", `${what} needs ${text}`, path.length > 0);
        break;
      }
      case "additionalProperties": {
        const key = (e.params as { additionalProperty: string }).additionalProperty;
        const known = Object.keys(e.parentSchema?.properties ?? {});
        const keyPath = [...path, key];
        let message = `unknown key "${key}"`;
        const guess = closest(key, known);
        if (valueAt(data, keyPath) === null && /[\s.,()]/.test(key)) {
          message += `: an unquoted comma inside { } ends the value before it; put the text in quotes`;
        } else if (guess) {
          message += `; did you mean "${guess}"?`;
        } else if (known.length > 0) {
          message += `; expected one of: ${known.join(", ")}`;
        }
        push(keyPath, "unknown-key", message, true);
        break;
      }
      case "propertyNames": {
        const name = (e.params as { propertyName: string }).propertyName;
        const ref = (e.schema as { $ref?: string } | undefined)?.$ref ?? "";
        const rule = NAME_RULES[ref] ?? "a valid name";
        push([...path, name], "bad-name", `name "${name}" must be ${rule}`, true);
        break;
      }
      case "type": {
        const want = String((e.params as { type: string | string[] }).type)
          .split(",")
          .map((t) => TYPE_WORDS[t] ?? t);
        push(path, "wrong-type", `expected ${want.join(" or ")}, found ${typeName(value)}`, false);
        break;
      }
      case "enum": {
        const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => String(v));
        push(path, "bad-value", `${JSON.stringify(value)} is not one of: ${allowed.join(", ")}`, false);
        break;
      }
      case "const": {
        const allowed = (e.params as { allowedValue: unknown }).allowedValue;
        push(path, "bad-value", `${JSON.stringify(value)} must be ${JSON.stringify(allowed)}`, false);
        break;
      }
      case "pattern":
        push(path, "bad-format", patternMessage(value, path, desc), false);
        break;
      case "minimum":
      case "maximum":
      case "exclusiveMinimum":
      case "exclusiveMaximum": {
        const { comparison, limit } = e.params as { comparison: string; limit: number };
        const name = path.length > 0 ? String(path[path.length - 1]) : "value";
        push(path, "out-of-range", `${name} ${String(value)} is out of range: must be ${comparison} ${limit}`, false);
        break;
      }
      case "minProperties":
      case "minLength":
        push(path, "empty", `must not be empty${desc ? `: ${desc}` : ""}`, false);
        break;
      case "anyOf":
        push(path, "bad-value", `${typeName(value)} is not valid here${desc ? `: ${desc}` : ""}`, false);
        break;
      default:
        push(path, `schema-${e.keyword}`, e.message ?? "invalid value", false);
    }
  }
  return out;
}
