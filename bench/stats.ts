// Timing helpers for the benchmarks: medians of repeated samples, never a single run.
import { spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";

/** Runs `sample` `runs` times and returns the median of what it returns (a rate or a duration). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function medianOf(runs: number, sample: () => number): number {
  const values: number[] = [];
  for (let i = 0; i < runs; i++) values.push(sample());
  return median(values);
}

/** Nanoseconds per call of `fn`, timed over `iterations` calls after a warm-up, median of `runs`. */
export function nsPerOp(fn: (i: number) => void, iterations: number, runs = 5): number {
  for (let i = 0; i < Math.min(iterations, 100_000); i++) fn(i);
  return medianOf(runs, () => {
    const t0 = Bun.nanoseconds();
    for (let i = 0; i < iterations; i++) fn(i);
    return (Bun.nanoseconds() - t0) / iterations;
  });
}

export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const lscpu = spawnSync("uname", ["-sr"], { encoding: "utf8" }).stdout.trim();
  return `${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${lscpu}, Bun ${Bun.version}`;
}
