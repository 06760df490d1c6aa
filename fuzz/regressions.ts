// Regression cases: every input that ever failed, one JSON file each under test/fuzz/regressions/,
// replayed by test/fuzz/regressions.test.ts. `todo: true` marks a known failure not fixed yet (the
// replay lists it as a todo instead of failing the suite); remove the flag once it is fixed.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "@warpdrive/generator/load";
import type { TargetName } from "./targets/index.ts";

export const REGRESSION_DIR = join(REPO_ROOT, "test", "fuzz", "regressions");

export interface RegressionCase {
  target: TargetName;
  /** What went wrong when it was found (a crash message, "hang: ..."). */
  failure: string;
  /** Where it came from: reproduce with `bun run fuzz -- --target T --seed S` (iteration I). */
  seed: number;
  iteration: number;
  found: string;
  /** A known failure, reported and not fixed yet. */
  todo?: boolean;
  note?: string;
  input: unknown;
}

/** Saves a case unless the same input is already saved; returns its path. */
export function saveRegression(c: RegressionCase, dir = REGRESSION_DIR): string {
  mkdirSync(dir, { recursive: true });
  const hash = createHash("sha256").update(JSON.stringify(c.input)).digest("hex").slice(0, 12);
  const path = join(dir, `${c.target}-${hash}.json`);
  if (!existsSync(path)) writeFileSync(path, `${JSON.stringify(c, null, 2)}\n`);
  return path;
}

export function loadRegressions(dir = REGRESSION_DIR): { file: string; case: RegressionCase }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ file: f, case: JSON.parse(readFileSync(join(dir, f), "utf8")) as RegressionCase }));
}

/** A failure message with its numbers taken out: what makes two failures "the same bug". */
export function failureKind(failure: string): string {
  return failure.replace(/\d+/g, "N");
}
