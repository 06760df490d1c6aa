// The description fuzzer's oracle and mutator. The oracle must be able to fail at every stage (a
// check that cannot fail proves nothing): packages broken on purpose after generation are caught
// by the stage that should catch them. The mutator must keep most mutants well-formed enough to
// reach the deep rules and the package checks, so both outcomes (rejected, accepted) show up.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { emitDevice } from "@warpdrive/generator/emit/index";
import { loadDeviceSource, REPO_ROOT } from "@warpdrive/generator/load";
import { checkDescriptions, checkPackages } from "../../fuzz/describe/pipeline.ts";
import { mutateStructure } from "../../fuzz/describe/structural.ts";
import { Rng } from "../../fuzz/prng.ts";
import { makeTarget } from "../../fuzz/targets/index.ts";

const TIMEOUT = 120_000;
const eduText = readFileSync(join(REPO_ROOT, "devices", "qemu-edu.yaml"), "utf8");
const dummyText = readFileSync(join(REPO_ROOT, "devices", "wd-dummy.yaml"), "utf8");

function emitted(file: string, text: string): Map<string, string> {
  const r = loadDeviceSource(file, text);
  if (!r.model) throw new Error(`${file} does not load`);
  return emitDevice(r.model);
}

function edit(files: Map<string, string>, path: string, change: (text: string) => string): Map<string, string> {
  const copy = new Map(files);
  const before = copy.get(path)!;
  const after = change(before);
  expect(after).not.toBe(before);
  copy.set(path, after);
  return copy;
}

describe("the description oracle fails where it should", () => {
  test("a sound package passes every stage; broken copies fail at the stage that breaks", async () => {
    const good = emitted("devices/wd-dummy.yaml", dummyText);
    const outcomes = await checkPackages([
      good,
      edit(good, "src/constants.ts", (t) => t.replace("// Do not edit", `// from ${join(REPO_ROOT, "devices", "wd-dummy.yaml")}\n// Do not edit`)),
      edit(good, "src/structs.ts", (t) => `${t}\nexport const broken: number = "not a number";\n`),
      edit(good, "src/constants.ts", (t) => `${t}\nif (RING_DEPTH > 0) throw new Error("boom at load");\n`),
      edit(good, "src/spec.ts", (t) => t.replace(/depth: (\d+),/, "depth: 3,")),
      edit(good, "test/layout.test.ts", (t) => t.replace(/\.toBe\((\w+)\);/, ".toBe($1 + 1);")),
    ]);
    expect(outcomes.map((o) => (o.kind === "failed" ? o.stage : o.kind))).toEqual(["passed", "paths", "typecheck", "load", "open", "layout"]);
    const [, paths, typecheck, load, open] = outcomes;
    expect(paths.kind === "failed" && paths.why).toContain("src/constants.ts contains the machine path");
    expect(typecheck.kind === "failed" && typecheck.why).toContain("TS2322");
    expect(load.kind === "failed" && load.why).toContain("boom at load");
    expect(open.kind === "failed" && open.why).toContain("power of two");
  }, TIMEOUT);

  test("validate's refusals count as passes, and the real devices pass the whole chain", async () => {
    const bad = eduText.replace("magic: { bits: \"7:0\"", "constructor: { bits: \"7:0\"");
    const outcomes = await checkDescriptions([
      { file: "devices/qemu-edu.yaml", yaml: eduText },
      { file: "devices/qemu-edu.yaml", yaml: bad },
    ]);
    expect(outcomes[0]!.kind).toBe("passed");
    expect(outcomes[0]!.kind === "passed" && outcomes[0]!.tests).toBeGreaterThan(5);
    expect(outcomes[1]).toEqual({ kind: "rejected", errors: 1 });
  }, TIMEOUT);
});

describe("structural mutations", () => {
  test("are a function of the seed, keep the YAML well-formed and say what they did", () => {
    const a = mutateStructure(dummyText, new Rng(7));
    const b = mutateStructure(dummyText, new Rng(7));
    expect(a).toEqual(b);
    expect(a.steps.length).toBeGreaterThanOrEqual(1);
    let parsed = 0;
    let accepted = 0;
    for (let seed = 0; seed < 40; seed++) {
      const m = mutateStructure(dummyText, new Rng(seed));
      const r = loadDeviceSource("devices/wd-dummy.yaml", m.yaml);
      if (!r.diagnostics.some((d) => d.code === "yaml-syntax")) parsed++;
      if (r.model) accepted++;
    }
    expect(parsed).toBe(40);
    // most structural edits keep a description the validator accepts, some it must refuse
    expect(accepted).toBeGreaterThan(5);
    expect(accepted).toBeLessThan(40);
  }, TIMEOUT);

  test("a rename follows every reference (the renamed description stays valid unless the name itself is bad)", () => {
    for (let seed = 0; seed < 200; seed++) {
      const m = mutateStructure(dummyText, new Rng(seed));
      if (m.steps.length !== 1 || !m.steps[0]!.startsWith("renamed structs.Descriptor to ")) continue;
      const r = loadDeviceSource("devices/wd-dummy.yaml", m.yaml);
      const codes = r.diagnostics.filter((d) => d.severity === "error").map((d) => d.code);
      expect(codes.filter((c) => !["reserved-name", "name-collision"].includes(c))).toEqual([]);
    }
  }, TIMEOUT);
});

describe("bounded fuzz run", () => {
  // In this process rather than through runFuzz's Worker: a terminated fuzz Worker takes the sim
  // model threads it started with it only when the garbage collector gets to them, and the fd and
  // mapping counts of later leak tests in this process would see them go.
  test("descriptions: a few batches of structural mutants keep the validate => package promise", async () => {
    const t = await makeTarget("descriptions");
    const failures: string[] = [];
    for (let i = 0; i < 2; i++) {
      const failure = await t.check(t.input(20261204, i));
      if (failure !== null) failures.push(`#${i}: ${failure}`);
    }
    expect(failures).toEqual([]);
    const stats = t.stats();
    expect(stats.rejected! + stats.passed!).toBe(8);
  }, TIMEOUT);
});
