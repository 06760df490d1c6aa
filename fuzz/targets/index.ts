// The fuzz targets behind one interface, so the worker, the watchdog and the regression replay build
// and check inputs the same way. An input is a JSON value (saved as a regression case as it is).
import { iterationSeed, Rng } from "../prng.ts";
import { checkDecoder, decoderInput, loadDecoderDevices, type DecoderInput } from "./decoders.ts";
import { checkDescriptionInput, descriptionInput, descriptionSources, warmUpDescriptions, type DescriptionInput, type DescriptionStats } from "./descriptions.ts";
import { checkRuntimeApi, closeWorld, openWorld, runtimeApiInput, type RuntimeApiInput } from "./runtime-api.ts";
import { checkValidator, validatorInput, validatorSources, type ValidatorStats } from "./validator.ts";

export type TargetName = "validator" | "decoders" | "runtime-api" | "descriptions";
export const TARGETS: readonly TargetName[] = ["validator", "decoders", "runtime-api", "descriptions"];

/** How long one input may run before it counts as a hang, per target (the engine's default otherwise). */
export const HANG_MS: Partial<Record<TargetName, number>> = {
  // a batch is type-checked, loaded, opened on the sim backend and layout-tested: seconds on a busy machine
  descriptions: 120_000,
};

export interface Target {
  name: TargetName;
  /** Input of iteration `i` of a run seeded `seed`: a function of the two numbers only. */
  input(seed: number, i: number): unknown;
  /** null: passed; a string: what went wrong (runtime-api and descriptions answer asynchronously). */
  check(input: unknown): string | null | Promise<string | null>;
  /** The part of a failing input worth saving (default: all of it), after check returned a failure. */
  reduce?(input: unknown): unknown;
  /** Work done once before the first input (not timed by the watchdog), e.g. loading a compiler. */
  warmUp?(): Promise<void>;
  /** Counters for the summary line. */
  stats(): Record<string, number>;
  /** Lets go of what the target opened (runtime-api: its sim devices). */
  close?(): void;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

export async function makeTarget(name: TargetName): Promise<Target> {
  if (name === "validator") {
    const sources = validatorSources();
    const stats: ValidatorStats = { rejected: 0, emitted: 0 };
    return {
      name,
      input(seed, i) {
        const m = validatorInput(sources, new Rng(iterationSeed(seed, i)));
        return { from: m.from, steps: m.steps, base64: b64(m.bytes) };
      },
      check(input) {
        const { base64, from } = input as { base64: string; from: string };
        return checkValidator(new Uint8Array(Buffer.from(base64, "base64")), `devices/${from}.yaml`, stats);
      },
      stats: () => ({ ...stats }),
    };
  }
  if (name === "decoders") {
    const devices = await loadDecoderDevices();
    let structs = 0, registers = 0;
    return {
      name,
      input: (seed, i) => decoderInput(devices, new Rng(iterationSeed(seed, i))),
      check(input) {
        const x = input as DecoderInput;
        if (x.kind === "struct") structs++;
        else registers++;
        return checkDecoder(devices, x);
      },
      stats: () => ({ structs, registers, devices: devices.length }),
    };
  }
  if (name === "runtime-api") {
    const world = await openWorld(); // a wd-dummy and an edu on the sim backend, kept for the run
    let calls = 0;
    return {
      name,
      input: (seed, i) => runtimeApiInput(new Rng(iterationSeed(seed, i))),
      check(input) {
        calls += (input as RuntimeApiInput).calls.length;
        return checkRuntimeApi(world, input as RuntimeApiInput);
      },
      stats: () => ({ calls }),
      close: () => closeWorld(world),
    };
  }
  if (name === "descriptions") {
    const sources = descriptionSources();
    const stats: DescriptionStats = { rejected: 0, passed: 0 };
    let failing = -1;
    return {
      name,
      input: (seed, i) => descriptionInput(sources, new Rng(iterationSeed(seed, i))),
      warmUp: warmUpDescriptions,
      async check(input) {
        const r = await checkDescriptionInput(input as DescriptionInput, stats);
        failing = r.index;
        return r.failure;
      },
      // a batch is saved as the one mutant that failed, so its replay type-checks one package
      reduce(input) {
        const x = input as DescriptionInput;
        return failing >= 0 && failing < x.mutants.length ? { mutants: [x.mutants[failing]!] } : x;
      },
      stats: () => ({ ...stats }),
    };
  }
  throw new Error(`unknown fuzz target "${String(name)}" (targets: ${TARGETS.join(", ")})`);
}
