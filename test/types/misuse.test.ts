// Runs tsc over test/types/misuse.ts: every misuse marked @ts-expect-error must be rejected by the
// generated types (an unused @ts-expect-error is itself an error), every other line must compile.
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

test("the generated types reject every misuse in misuse.ts", () => {
  const r = Bun.spawnSync(["bun", "x", "tsc", "-p", join(ROOT, "test/types/tsconfig.json"), "--noEmit"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  expect(r.stdout.toString() + r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
}, 120_000);

test("misuse.ts really contains the misuses (removing the markers must fail tsc)", async () => {
  // Guards against a misuse.ts whose expect-error lines pass for the wrong reason, e.g. an import
  // that does not resolve (then every line is an error and tsc would still be happy).
  const src = await Bun.file(join(ROOT, "test/types/misuse.ts")).text();
  expect(src.split("\n").filter((l) => l.trim().startsWith("// @ts-expect-error")).length).toBeGreaterThanOrEqual(15);
  const stripped = src.replaceAll("// @ts-expect-error", "// (marker removed)");
  const tmp = join(ROOT, "test/types/.misuse-stripped.ts");
  const cfg = join(ROOT, "test/types/.misuse-stripped.tsconfig.json");
  await Bun.write(tmp, stripped);
  await Bun.write(cfg, JSON.stringify({ extends: "../../tsconfig.json", include: [".misuse-stripped.ts"], exclude: [] }));
  try {
    const r = Bun.spawnSync(["bun", "x", "tsc", "-p", cfg, "--noEmit"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const errorLines = new Set(
      r.stdout
        .toString()
        .split("\n")
        .map((l) => /\.misuse-stripped\.ts\((\d+),\d+\): error TS/.exec(l)?.[1])
        .filter((x): x is string => x !== undefined),
    );
    // Exactly the lines right after the markers fail, and nothing else.
    const expected = new Set(src.split("\n").flatMap((l, i) => (l.trim().startsWith("// @ts-expect-error") ? [String(i + 2)] : [])));
    expect([...errorLines].sort()).toEqual([...expected].sort());
  } finally {
    await Bun.file(tmp).delete();
    await Bun.file(cfg).delete();
  }
}, 120_000);
