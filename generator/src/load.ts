// loadDevice: the one entry point from a path to a DeviceModel or diagnostics, used by the CLI and
// the tests. Read (bounded) -> parse (positions) -> validate (schema + rules) -> build the IR.
// It never throws: a bug inside the loader comes back as an `internal-error` diagnostic.
import { basename, isAbsolute, relative, resolve } from "node:path";
import { buildModel, findHandFiles } from "./build-model.ts";
import { hasErrors, sortDiagnostics, type Diagnostic } from "./diagnostics.ts";
import type { DeviceModel } from "./model.ts";
import { parseDeviceSource, readDeviceBytes } from "./parse.ts";
import { projectRoot } from "./project.ts";
import { validateParsed } from "./validate.ts";

/** A model (with any warnings), or the diagnostics that stopped it (errors, maybe warnings). */
export type LoadResult = { model: DeviceModel; diagnostics: Diagnostic[] } | { model?: undefined; diagnostics: Diagnostic[] };

/**
 * generator/src/ -> ../..: the SDK's checkout when the generator runs from it (its fuzz tools use
 * that). Installed, this is node_modules/@warpdrive: the CLI never uses it, only projectRoot().
 */
export const REPO_ROOT = resolve(import.meta.dir, "..", "..");

export interface LoadOptions {
  /**
   * What the model's `source.file` is relative to (default: the project of the working directory,
   * see projectRoot), so generated
   * headers name `devices/x.yaml` whatever folder the generator ran from. Diagnostics name the file
   * relative to the current directory, as compilers do, so terminals and editors can open it.
   */
  root?: string;
}

/** The path as diagnostics and `source.file` show it: relative to the root when inside it. */
export function displayPath(path: string, root = process.cwd()): string {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel.split("\\").join("/") : path;
}

/**
 * The file as generated packages name it (headers, package.json): relative to the root when inside
 * it, otherwise just its name. Never absolute: a package must not carry the layout of the machine
 * that generated it.
 */
export function sourceName(path: string, root: string = projectRoot()): string {
  const shown = displayPath(resolve(path), root);
  return isAbsolute(shown) ? basename(shown) : shown;
}

export function loadDevice(path: string, opts: LoadOptions = {}): LoadResult {
  const file = displayPath(path);
  try {
    const read = readDeviceBytes(path, file);
    if ("diagnostics" in read) return { diagnostics: read.diagnostics };
    const sourceFile = sourceName(path, opts.root ?? projectRoot());
    return loadDeviceSource(file, read.bytes, (device) => findHandFiles(path, device), sourceFile);
  } catch (e) {
    return { diagnostics: [internalError(file, e)] };
  }
}

/**
 * The same from bytes already in memory (tests, editors). `handFiles` maps the device name to its
 * hand-written files; by default there are none.
 */
export function loadDeviceSource(
  file: string,
  bytes: Uint8Array | string,
  handFiles: (device: string) => string[] = () => [],
  /** `source.file` in the model (default: `file`). */
  sourceFile: string = file,
): LoadResult {
  try {
    const buf = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    const parsed = parseDeviceSource(file, buf);
    if (!parsed.ok) return { diagnostics: sortDiagnostics(parsed.diagnostics) };
    const diagnostics = sortDiagnostics([...parsed.diagnostics, ...validateParsed(parsed.parsed)]);
    if (hasErrors(diagnostics)) return { diagnostics };
    const device = (parsed.parsed.data as { device: string }).device;
    // an absolute name would put this machine's layout into every generated header
    const shown = isAbsolute(sourceFile) ? basename(sourceFile) : sourceFile;
    return { model: buildModel({ ...parsed.parsed, file: shown }, handFiles(device)), diagnostics };
  } catch (e) {
    return { diagnostics: [internalError(file, e)] };
  }
}

function internalError(file: string, e: unknown): Diagnostic {
  const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return {
    file,
    line: 1,
    column: 1,
    path: "",
    code: "internal-error",
    message: `internal error in the generator (please report it with this file): ${why.split("\n")[0]}`,
    severity: "error",
  };
}
