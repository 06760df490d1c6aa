// generator.cli: the wall time a user waits for `bun run wd generate --out <tmp>` (every shipped
// device), as a subprocess: process start, module loading, validation, emitting, writing files.
// Reference, interleaved: the bare cost of starting a Bun process that does nothing (`bun -e 0`),
// the floor any CLI written in Bun pays. Goal: under 1 s.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchResult } from "../report.ts";
import { interleaved } from "../stats.ts";

const root = join(import.meta.dir, "../..");

function wallMs(argv: string[], cwd: string): number {
  const t0 = performance.now();
  const r = Bun.spawnSync(argv, { cwd, stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${r.exitCode}: ${r.stderr.toString().trim().slice(-400)}`);
  return ms;
}

export function benchGenerator(runs = 5): BenchResult[] {
  const devices = readdirSync(join(root, "devices")).filter((f) => f.endsWith(".yaml")).length;
  const out = mkdtempSync(join(tmpdir(), "wd-bench-generate-"));
  try {
    const generate = () => wallMs([process.execPath, "run", "wd", "generate", "--out", out], root);
    const bare = () => wallMs([process.execPath, "-e", "0"], root);
    const [ours, ref] = interleaved(runs, [generate, bare]);
    const wrote = readdirSync(out).length;
    if (wrote !== devices) throw new Error(`wd generate --out wrote ${wrote} packages for ${devices} devices`);
    return [{
      id: "generator.cli",
      what: `bun run wd generate --out <tmp> (${devices} devices), wall time`,
      value: ours.median,
      unit: "ms",
      reference: { what: "bun -e 0 (process start)", value: ref.median, unit: "ms" },
      ratio: ref.median / ours.median,
      goal: "< 1000 ms",
      met: ours.median < 1000,
      spread: { value: ours, reference: ref },
      note: "ratio: the share of the wall time that is just starting Bun",
    }];
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
