// Golden tests: the emitted package for each fixture must match test/fixtures/golden/<name>.expected
// byte for byte. UPDATE_GOLDEN=1 rewrites the expected folders (review the diff before committing).
// Fixtures come from hand-built IR (test/generator/ir.ts) and, once the YAML loader exists, from
// test/fixtures/golden/<name>.yaml.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { emitDevice } from "@warpdrive/generator/emit/index";
import type { DeviceModel } from "@warpdrive/generator/model";
import { writePackage } from "@warpdrive/generator/write";
import { kitchenDevice } from "./ir.ts";

const ROOT = join(import.meta.dir, "../..");
const GOLDEN = join(ROOT, "test/fixtures/golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";
/**
 * Pinned so a version bump of the generator does not churn every golden file. The runtime range is
 * the real one: tests import the golden packages, and their version check needs the installed runtime.
 */
const VERSION = "0.0.0-golden";

interface Case {
  name: string;
  emit: () => Map<string, string>;
}

/** The YAML loader, when the generator has one (another part of the generator; optional here). */
async function yamlLoader(): Promise<((path: string) => DeviceModel) | undefined> {
  const path = join(ROOT, "generator/src/load.ts");
  if (!existsSync(path)) return undefined;
  const mod = (await import(path)) as { loadDevice?: (p: string, o?: unknown) => unknown };
  if (typeof mod.loadDevice !== "function") return undefined;
  return (p) => {
    const r = mod.loadDevice!(join(ROOT, p), { root: ROOT }) as { model?: DeviceModel; diagnostics: unknown[] };
    if (r.model) return r.model;
    throw new Error(`${p}: ${JSON.stringify(r.diagnostics)}`);
  };
}

const load = await yamlLoader();
const cases: Case[] = [{ name: "kitchen", emit: () => emitDevice(kitchenDevice(), { generatorVersion: VERSION }) }];
if (load) {
  for (const f of readdirSync(GOLDEN).filter((x) => x.endsWith(".yaml")).sort()) {
    const name = f.replace(/\.yaml$/, "");
    if (name === "kitchen") continue; // the IR fixture owns that folder
    cases.push({ name, emit: () => emitDevice(load(`test/fixtures/golden/${f}`), { generatorVersion: VERSION }) });
  }
}

describe("golden output", () => {
  for (const c of cases) {
    test(c.name, () => {
      const dir = join(GOLDEN, `${c.name}.expected`);
      const files = c.emit();
      const r = writePackage(dir, files, { check: !UPDATE });
      if (UPDATE) return;
      // Show the first differing line of the first changed file: enough to see what moved.
      const first = r.changed[0];
      if (first) {
        const want = readFileSync(join(dir, first), "utf8").split("\n");
        const got = files.get(first)!.split("\n");
        const i = got.findIndex((l, k) => l !== want[k]);
        expect(`${first}:${i + 1}: ${got[i]}`).toBe(`${first}:${i + 1}: ${want[i]}`);
      }
      expect(r).toEqual({ changed: [], missing: [], extra: [] });
    });
  }
});

describe("determinism", () => {
  test("emitting twice gives identical files", () => {
    const a = emitDevice(kitchenDevice());
    const b = emitDevice(structuredClone(kitchenDevice()));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a) expect(b.get(k)).toBe(v);
  });
  test("files come out in path order", () => {
    const keys = [...emitDevice(kitchenDevice()).keys()];
    expect(keys).toEqual([...keys].sort());
  });
});

describe("golden output type-checks", () => {
  test("tsc --strict (plus noUnused*, noImplicitReturns) over every expected folder", () => {
    const r = Bun.spawnSync(["bun", "x", "tsc", "-p", join(GOLDEN, "tsconfig.json"), "--noEmit", "--pretty", "false"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    // The stricter flags also reach the runtime sources the packages import; only the generated
    // code is judged here (the root typecheck judges the runtime under the project's settings).
    const ours = r.stdout
      .toString()
      .split("\n")
      .filter((l) => l.startsWith("test/fixtures/golden/"));
    expect(ours).toEqual([]);
    expect(r.stderr.toString()).toBe("");
  }, 120_000);
});
