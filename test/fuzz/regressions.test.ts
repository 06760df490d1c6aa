// Replays every input the fuzzers ever failed on (test/fuzz/regressions/*.json, written by
// `bun run fuzz`). A case must pass now; one marked `todo` is a known, reported bug: it is listed
// as a todo, and the test fails when it starts passing, so the flag is removed with the fix.
import { describe, expect, test } from "bun:test";
import { loadRegressions } from "../../fuzz/regressions.ts";
import { makeTarget, type Target, type TargetName } from "../../fuzz/targets/index.ts";

const cases = loadRegressions();
const targets = new Map<TargetName, Promise<Target>>();
const target = (name: TargetName) => {
  if (!targets.has(name)) targets.set(name, makeTarget(name));
  return targets.get(name)!;
};

describe("fuzz regressions", () => {
  test("the regression folder holds well-formed cases", () => {
    for (const { file, case: c } of cases) {
      expect({ file, target: ["validator", "decoders"].includes(c.target) }).toEqual({ file, target: true });
      expect(typeof c.failure).toBe("string");
      expect(c.input).toBeDefined();
    }
  });

  for (const { file, case: c } of cases) {
    test(`${file}${c.todo ? " (todo: known failure)" : ""}: ${c.failure.slice(0, 100)}`, async () => {
      const t = await target(c.target);
      const failure = t.check(c.input);
      if (c.todo) {
        // still failing as reported; when this fires, the bug is fixed: drop `todo` from the case
        expect(failure).not.toBeNull();
      } else {
        expect(failure).toBeNull();
      }
    }, 60_000);
  }
});
