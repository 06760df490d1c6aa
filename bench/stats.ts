// Timing helpers for the benchmarks: medians of repeated samples, never a single run, and samples of
// a figure interleaved with its reference's so a noisy spell hits both.
import { spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `sample` `runs` times and returns the median of what it returns (a rate or a duration). */
export function medianOf(runs: number, sample: () => number): number {
  const values: number[] = [];
  for (let i = 0; i < runs; i++) values.push(sample());
  return median(values);
}

/** What the JSON keeps of a series of samples. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median */
  relative: number;
  samples: number[];
}

export function spreadOf(samples: number[]): Spread {
  const m = median(samples);
  const min = Math.min(...samples);
  const max = Math.max(...samples);
  return { median: m, min, max, relative: m === 0 ? 0 : (max - min) / m, samples };
}

/**
 * Takes `runs` samples of each sampler, interleaved: run r calls them in an order rotated by r, so
 * neither side always goes first (caches, frequency, a neighbour's burst). Each sampler runs its
 * own loop function and returns one number. `warmups` untimed rounds come first (JIT tiers).
 */
export function interleaved(runs: number, samplers: (() => number)[], warmups = 1): Spread[] {
  for (let w = 0; w < warmups; w++) for (const s of samplers) s();
  const out: number[][] = samplers.map(() => []);
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < samplers.length; k++) {
      const i = (k + r) % samplers.length;
      out[i].push(samplers[i]());
    }
  }
  return out.map(spreadOf);
}

export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const lscpu = spawnSync("uname", ["-sr"], { encoding: "utf8" }).stdout.trim();
  return `${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${lscpu}, Bun ${Bun.version}`;
}
