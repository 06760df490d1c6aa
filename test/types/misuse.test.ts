// Runs tsc over test/types/misuse.ts: every misuse marked @ts-expect-error must be rejected by the
// generated types (an unused @ts-expect-error is itself an error), every other line must compile.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
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
  // Outside the repo (a root typecheck or a second test run must never see it), with the imports
  // made absolute and the runtime mapped by path.
  const dir = mkdtempSync(join(tmpdir(), "wd-misuse-"));
  const tmp = join(dir, ".misuse-stripped.ts");
  const cfg = join(dir, "tsconfig.json");
  await Bun.write(tmp, stripped.replaceAll('"../fixtures/', `"${ROOT}/test/fixtures/`));
  await Bun.write(
    cfg,
    JSON.stringify({
      extends: join(ROOT, "tsconfig.json"),
      compilerOptions: { typeRoots: [join(ROOT, "node_modules/@types")], paths: { "@warpdrive/runtime": [join(ROOT, "runtime/src/index.ts")], "@warpdrive/qemu-edu-generated/*": [join(ROOT, "generated/qemu-edu/src/*")] } },
      include: [tmp],
      exclude: [],
    }),
  );
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
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
