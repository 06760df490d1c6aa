// Description fuzzer: valid descriptions (devices/*.yaml and fuzz/devices/) mutated structurally
// (fuzz/describe/structural.ts), then the whole chain (fuzz/describe/pipeline.ts). The property is
// the promise `wd validate` makes: a description it accepts generates, has no machine path in its
// files, type-checks, loads and passes its own layout self-test. A mutant the validator rejects
// passes trivially; one it accepts and that breaks further down is a missing validator rule.
// One input is a batch of mutants so that one TypeScript program type-checks several packages.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "@warpdrive/generator/load";
import { checkDescriptions, type Outcome } from "../describe/pipeline.ts";
import { mutateStructure } from "../describe/structural.ts";
import type { Rng } from "../prng.ts";

export interface DescriptionSource {
  /** devices/<name>.yaml or fuzz/devices/<name>.yaml */
  file: string;
  text: string;
}

export interface Mutant {
  file: string;
  steps: string[];
  yaml: string;
}

export interface DescriptionInput {
  mutants: Mutant[];
}

export const BATCH = 4;

export function descriptionSources(): DescriptionSource[] {
  const out: DescriptionSource[] = [];
  for (const dir of ["devices", "fuzz/devices"]) {
    for (const f of readdirSync(join(REPO_ROOT, dir)).filter((x) => x.endsWith(".yaml")).sort()) {
      out.push({ file: `${dir}/${f}`, text: readFileSync(join(REPO_ROOT, dir, f), "utf8") });
    }
  }
  return out;
}

export function descriptionInput(sources: DescriptionSource[], rng: Rng): DescriptionInput {
  const mutants: Mutant[] = [];
  // nvme takes most of the type-checking time: at most one in a batch, and only now and then
  const small = sources.filter((s) => !s.file.endsWith("/nvme.yaml"));
  const nvme = sources.find((s) => s.file.endsWith("/nvme.yaml"));
  for (let k = 0; k < BATCH; k++) {
    const src = nvme !== undefined && k === 0 && rng.chance(0.15) ? nvme : rng.pick(small.length > 0 ? small : sources);
    const m = mutateStructure(src.text, rng);
    mutants.push({ file: src.file, steps: m.steps, yaml: m.yaml });
  }
  return { mutants };
}

export interface DescriptionStats {
  rejected: number;
  passed: number;
}

/** Parses the TypeScript lib and runtime files once, with the first real description as the package. */
export async function warmUpDescriptions(): Promise<void> {
  const first = descriptionSources().find((s) => s.file.endsWith("qemu-edu.yaml"));
  if (first) await checkDescriptions([{ file: first.file, yaml: first.text }]);
}

/** Checks a batch; the first broken mutant as a failure (with its index), or null. */
export async function checkDescriptionInput(input: DescriptionInput, stats?: DescriptionStats): Promise<{ failure: string | null; index: number }> {
  const outcomes: Outcome[] = await checkDescriptions(input.mutants.map((m) => ({ file: m.file, yaml: m.yaml })));
  let first: { failure: string; index: number } | undefined;
  outcomes.forEach((o, k) => {
    if (o.kind === "rejected" && stats) stats.rejected++;
    if (o.kind === "passed" && stats) stats.passed++;
    if (o.kind === "failed" && !first) {
      const m = input.mutants[k]!;
      first = { failure: `${o.stage}: ${o.why} (mutant ${k} of ${m.file})`, index: k };
    }
  });
  return first ?? { failure: null, index: -1 };
}
