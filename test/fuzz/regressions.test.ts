// Replays every input the fuzzers ever failed on (test/fuzz/regressions/*.json, written by
// `bun run fuzz`). A case must pass now; one marked `todo` is a known, reported bug: it is listed
// as a todo, and the test fails when it starts passing, so the flag is removed with the fix.
// Cases that hung are replayed in a Worker with a time limit; a todo hang is not replayed at all
// (it would only hang again), it is listed with test.todo.
import { afterAll, describe, expect, test } from "bun:test";
import { loadRegressions } from "../../fuzz/regressions.ts";
import { makeTarget, TARGETS, type Target, type TargetName } from "../../fuzz/targets/index.ts";

const cases = loadRegressions();
const HANG_LIMIT_MS = 20_000;

/** The check of one input in a Worker: its failure, or a hang failure after HANG_LIMIT_MS. */
function replayInWorker(target: TargetName, input: unknown): Promise<string | null> {
  const w = new Worker(new URL("../../fuzz/replay-worker.ts", import.meta.url).href);
  return new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => resolve(`hang: still running after ${HANG_LIMIT_MS} ms`), HANG_LIMIT_MS);
    w.onmessage = (ev: MessageEvent<{ failure: string | null }>) => {
      clearTimeout(timer);
      resolve(ev.data.failure);
    };
    w.postMessage({ target, input });
  }).finally(() => w.terminate());
}
const targets = new Map<TargetName, Promise<Target>>();
const target = (name: TargetName) => {
  if (!targets.has(name)) targets.set(name, makeTarget(name));
  return targets.get(name)!;
};

describe("fuzz regressions", () => {
  // runtime-api keeps sim devices open for its cases: close them, later test files count mappings
  afterAll(async () => {
    for (const t of targets.values()) (await t).close?.();
  });

  test("the regression folder holds well-formed cases", () => {
    for (const { file, case: c } of cases) {
      expect({ file, target: TARGETS.includes(c.target) }).toEqual({ file, target: true });
      expect(typeof c.failure).toBe("string");
      expect(c.input).toBeDefined();
    }
  });

  for (const { file, case: c } of cases) {
    if (c.failure.startsWith("hang")) {
      if (c.todo) {
        test.todo(`${file} (todo: known hang, not replayed): ${c.note ?? c.failure}`.slice(0, 160));
        continue;
      }
      test(`${file}: once hung, now finishes within ${HANG_LIMIT_MS / 1000} s and passes`, async () => {
        expect(await replayInWorker(c.target, c.input)).toBeNull();
      }, HANG_LIMIT_MS + 30_000);
      continue;
    }
    test(`${file}${c.todo ? " (todo: known failure)" : ""}: ${c.failure.slice(0, 100)}`, async () => {
      const t = await target(c.target);
      const failure = await t.check(c.input);
      if (c.todo) {
        // still failing as reported; when this fires, the bug is fixed: drop `todo` from the case
        expect(failure).not.toBeNull();
      } else {
        expect(failure).toBeNull();
      }
    }, 60_000);
  }
});
