// Validator fuzzer: mutants of the real device descriptions through the whole front end. Properties:
// - loadDeviceSource never throws and never answers `internal-error` (a bug inside the generator);
// - every diagnostic has a position (line, column >= 1), a code and a message, and a rejected input
//   has at least one error;
// - when it returns a model, emitDevice turns it into a package without throwing.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { emitDevice } from "@warpdrive/generator/emit/index";
import { loadDeviceSource, REPO_ROOT } from "@warpdrive/generator/load";
import { mutate } from "../mutate.ts";
import type { Rng } from "../prng.ts";

export interface ValidatorSource {
  name: string;
  text: string;
}

export function validatorSources(): ValidatorSource[] {
  const dir = join(REPO_ROOT, "devices");
  return readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort().map((f) => ({ name: f.replace(/\.yaml$/, ""), text: readFileSync(join(dir, f), "utf8") }));
}

export interface ValidatorInput {
  /** The device the mutant came from. */
  from: string;
  steps: string[];
  bytes: Uint8Array;
}

export function validatorInput(sources: ValidatorSource[], rng: Rng): ValidatorInput {
  // nvme is ten times the others (and ~10x slower to load): 1 in 10, so the budget covers more mutants
  const others = sources.filter((s) => s.name !== "nvme");
  const nvme = sources.find((s) => s.name === "nvme");
  const src = nvme !== undefined && (others.length === 0 || rng.chance(0.1)) ? nvme : rng.pick(others);
  const m = mutate(src.text, rng);
  return { from: src.name, steps: m.steps, bytes: m.bytes };
}

/** Outcome counts, for the run summary. */
export interface ValidatorStats {
  rejected: number;
  emitted: number;
}

/** Runs one input; a string says what went wrong, null is a pass. */
export function checkValidator(bytes: Uint8Array, name = "mutant.yaml", stats?: ValidatorStats): string | null {
  let r: ReturnType<typeof loadDeviceSource>;
  try {
    r = loadDeviceSource(name, bytes);
  } catch (e) {
    return `loadDeviceSource threw ${describe(e)}`;
  }
  const internal = r.diagnostics.find((d) => d.code === "internal-error");
  if (internal) return `internal-error: ${internal.message}`;
  for (const d of r.diagnostics) {
    if (!(d.line >= 1 && d.column >= 1) || !d.code || !d.message) return `diagnostic without position, code or message: ${JSON.stringify(d)}`;
  }
  if (!r.model) {
    if (!r.diagnostics.some((d) => d.severity === "error")) return "no model and no error diagnostic";
    if (stats) stats.rejected++;
    return null;
  }
  try {
    const files = emitDevice(r.model);
    if (files.size === 0) return "emitDevice returned no files";
    for (const [path, text] of files) if (typeof text !== "string" || text.length === 0) return `emitDevice wrote an empty ${path}`;
  } catch (e) {
    return `emitDevice threw ${describe(e)} on a model the validator accepted`;
  }
  if (stats) stats.emitted++;
  return null;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e);
}
