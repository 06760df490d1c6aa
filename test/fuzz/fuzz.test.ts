// A bounded fuzz run of each target: a fixed seed and a fixed number of inputs (not a time budget,
// so the run is the same on a loaded machine; the time limit is only a backstop), so every
// `bun test` exercises the fuzzers and their watchdog, not only `bun run fuzz`. Failures are saved
// as regression cases like any other run.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runFuzz } from "../../fuzz/engine.ts";
import { makeTarget } from "../../fuzz/targets/index.ts";
import { checkValidator } from "../../fuzz/targets/validator.ts";
import { sameValue } from "../../fuzz/targets/decoders.ts";
import { checkRuntimeApi, closeWorld, ENTRY_NAMES, HOT_PATH_ENTRIES, openWorld, runtimeApiInput } from "../../fuzz/targets/runtime-api.ts";
import { iterationSeed, Rng } from "../../fuzz/prng.ts";

const SEED = 20261123;

describe("bounded fuzz runs", () => {
  test("validator: mutants of every device give diagnostics or an emittable model", async () => {
    const r = await runFuzz({ target: "validator", seed: SEED, seconds: 100, maxIterations: 60 });
    expect(r.failures.map((f) => `#${f.iteration}: ${f.failure}`)).toEqual([]);
    expect(r.iterations).toBe(60);
    // the mutator reaches both outcomes: rejected inputs and accepted ones that get emitted
    expect(r.stats.rejected).toBeGreaterThan(0);
  }, 120_000);

  test("decoders: every generated decode and register decode agrees with the layout on random bytes", async () => {
    const r = await runFuzz({ target: "decoders", seed: SEED, seconds: 100, maxIterations: 5000 });
    expect(r.failures.map((f) => `#${f.iteration}: ${f.failure}`)).toEqual([]);
    expect(r.iterations).toBe(5000);
    expect(r.stats.devices).toBeGreaterThanOrEqual(5);
  }, 120_000);
});

describe("bounded fuzz runs: runtime API", () => {
  // In this process (the devices stay open across inputs, as in a fuzz worker). Entry points with
  // known failures (HOT_PATH_ENTRIES, none today) would be left to `bun run fuzz`; every other
  // entry point must pass.
  test("random argument shapes at device, memory, register and queue entry points: our errors only, nothing written, nothing leaked, devices still work", async () => {
    const world = await openWorld();
    const entries = ENTRY_NAMES.filter((n) => !HOT_PATH_ENTRIES.includes(n));
    const failures: string[] = [];
    try {
      for (let i = 0; i < 400; i++) {
        const f = await checkRuntimeApi(world, runtimeApiInput(new Rng(iterationSeed(SEED, i)), entries));
        if (f !== null) failures.push(`#${i}: ${f}`);
      }
    } finally {
      closeWorld(world);
    }
    expect(failures).toEqual([]);
  }, 120_000);

  test("the runtime-API oracle catches what it is there to catch", async () => {
    const world = await openWorld();
    try {
      // the generated client refuses an unknown queue name now (it returned undefined before)
      expect(await checkRuntimeApi(world, { calls: [{ entry: "client.requestQueue", args: [{ t: "str", v: "nope" }] }] })).toBeNull();
      // a call that must be refused but is accepted: that old behaviour, put back for this check
      const real = world.wd.requestQueue;
      (world.wd as { requestQueue: unknown }).requestQueue = () => undefined;
      try {
        const unknown = await checkRuntimeApi(world, { calls: [{ entry: "client.requestQueue", args: [{ t: "str", v: "nope" }] }] });
        expect(unknown ?? "").toContain("returned undefined");
      } finally {
        (world.wd as { requestQueue: unknown }).requestQueue = real;
      }
      // a good call passes, and a refused one (wrong type) with a named argument passes too
      expect(await checkRuntimeApi(world, { calls: [{ entry: "Device.alloc", args: [{ t: "good" }, { t: "good" }] }] })).toBeNull();
      expect(await checkRuntimeApi(world, { calls: [{ entry: "register.write", args: [{ t: "valueOf", seq: [{ t: "num", v: 1 }] }] }] })).toBeNull();
    } finally {
      closeWorld(world);
    }
  }, 60_000);
});

describe("the fuzz harness", () => {
  test("inputs are a function of (seed, iteration): the same twice, different across iterations", async () => {
    const t = await makeTarget("validator");
    expect(JSON.stringify(t.input(5, 17))).toBe(JSON.stringify(t.input(5, 17)));
    expect(JSON.stringify(t.input(5, 17))).not.toBe(JSON.stringify(t.input(5, 18)));
  });

  test("the validator check passes inputs that come back as diagnostics, text or not", () => {
    expect(checkValidator(new TextEncoder().encode("device: [unclosed"))).toBeNull();
    expect(checkValidator(new Uint8Array([0xff, 0xfe, 0, 1, 2]))).toBeNull();
  });

  test("the decoder oracle's comparison tells apart what a decoder could get wrong", () => {
    expect(sameValue({ a: 1, b: [1n, 2n] }, { a: 1, b: [1n, 2n] })).toBeNull();
    expect(sameValue({ a: 1 }, { a: 1n })).toContain("bigint");
    expect(sameValue({ a: -1 }, { a: 0xffffffff })).toContain("a: -1");
    expect(sameValue(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).not.toBeNull();
    expect(sameValue({ a: 1 }, { a: 1, b: 2 })).toContain("keys");
    expect(sameValue({ n: { x: 1 } }, { n: { x: 2 } })).toContain("n.x");
  });

  test("the watchdog turns a hanging input into a saved failure and carries on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wd-fuzz-"));
    try {
      // every input spins forever in the worker (test hook): the watchdog must kill it each time
      const r = await runFuzz({ target: "validator", seed: 1, seconds: 100, hangMs: 300, maxIterations: 2, save: dir, skipKnown: false, hangForTest: true });
      expect(r.failures.length).toBe(2);
      expect(r.failures[0]!.failure).toContain("hang");
      expect(readdirSync(dir).length).toBe(1); // one kind of failure, saved once
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
