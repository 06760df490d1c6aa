// Runs tsc over test/types/variants.ts against the generated dsa-copy package: with the markers,
// it compiles; with every @ts-expect-error marker removed, exactly the marked lines fail (so no
// marker passes for the wrong reason, e.g. an import that does not resolve).
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

async function tscErrors(source: string): Promise<{ lines: number[]; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), "wd-variants-"));
  try {
    const file = join(dir, "variants.ts");
    await Bun.write(file, source);
    await Bun.write(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: join(ROOT, "tsconfig.json"),
        compilerOptions: {
          typeRoots: [join(ROOT, "node_modules/@types")],
          paths: { "@warpdrive/runtime": [join(ROOT, "runtime/src/index.ts")], "@warpdrive/runtime/*": [join(ROOT, "runtime/src/*")], "@warpdrive/dsa-copy-generated/*": [join(ROOT, "generated/dsa-copy/src/*")] },
        },
        include: [file],
        exclude: [],
      }),
    );
    const r = Bun.spawnSync(["bun", "x", "tsc", "-p", join(dir, "tsconfig.json"), "--noEmit"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const out = r.stdout.toString() + r.stderr.toString();
    const lines = [...new Set(out.split("\n").map((l) => /variants\.ts\((\d+),\d+\): error TS/.exec(l)?.[1]).filter((x): x is string => x !== undefined))].map(Number).sort((a, b) => a - b);
    return { lines, out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("variants are typed per case: each misuse fails on exactly its line", async () => {
  const src = await Bun.file(join(ROOT, "test/types/variants.ts")).text();
  const marked = src.split("\n").flatMap((l, i) => (l.trim().startsWith("// @ts-expect-error") ? [i + 2] : []));
  expect(marked.length).toBe(9);
  const withMarkers = await tscErrors(src);
  expect(withMarkers.out).toBe("");
  const stripped = await tscErrors(src.replaceAll("// @ts-expect-error", "// (marker removed)"));
  expect(stripped.lines).toEqual(marked);
}, 120_000);
