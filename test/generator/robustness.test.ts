// The loader must turn any input into diagnostics, never an internal error: mutate real device
// files (deterministically) by swapping values for values of other types and check that every
// mutant yields either a model or positioned diagnostics, and no `internal-error`.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDeviceSource } from "@warpdrive/generator/parse";
import { loadDeviceSource } from "@warpdrive/generator/load";

const ROOT = join(import.meta.dir, "..", "..");
const REPLACEMENTS: unknown[] = [null, -1, 0, 3, 0x1_0000_0000, 2 ** 60, 1.5, "", "x", "7:0", "0:7", "a.b", "Sqe", true, [], [1, 2], {}, { a: 1 }];

/** A small deterministic generator, so a failing mutant can be reproduced from its index. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

/** Every container and leaf of a JSON-like value, with a way to replace it in its parent. */
function slots(root: Record<string, unknown>): { set(v: unknown): void }[] {
  const out: { set(v: unknown): void }[] = [];
  const walk = (parent: Record<string, unknown> | unknown[]) => {
    for (const key of Object.keys(parent)) {
      const v = (parent as Record<string, unknown>)[key];
      out.push({ set: (x) => ((parent as Record<string, unknown>)[key] = x) });
      if (v !== null && typeof v === "object") walk(v as Record<string, unknown>);
    }
  };
  walk(root);
  return out;
}

/**
 * Mutants as JSON text (JSON is YAML, so they go through the same parser with positions), each
 * with one to three values replaced by values of other types and shapes.
 */
function mutants(source: string, n: number, seed: number): string[] {
  const parsed = parseDeviceSource("source.yaml", new TextEncoder().encode(source));
  if (!parsed.ok) throw new Error("the source must parse");
  const base = JSON.stringify(parsed.parsed.data);
  const out: string[] = [];
  const next = rng(seed);
  for (let i = 0; i < n; i++) {
    const data = JSON.parse(base) as Record<string, unknown>;
    for (let k = 0; k < 1 + Math.floor(next() * 3); k++) {
      const all = slots(data);
      all[Math.floor(next() * all.length)]!.set(structuredClone(REPLACEMENTS[Math.floor(next() * REPLACEMENTS.length)]));
    }
    out.push(JSON.stringify(data, null, 2));
  }
  return out;
}

describe("mutated device files", () => {
  for (const [name, seed, count] of [["qemu-edu", 1, 100], ["wd-dummy", 2, 100], ["nvme", 3, 40]] as const) {
    test(`${name}: ${count} mutants give diagnostics, never an internal error`, () => {
      const source = readFileSync(join(ROOT, "devices", `${name}.yaml`), "utf8");
      let rejected = 0;
      mutants(source, count, seed).forEach((text, i) => {
        const r = loadDeviceSource(`${name}-mutant-${i}.yaml`, text);
        const internal = r.diagnostics.filter((d) => d.code === "internal-error");
        expect({ mutant: i, internal: internal.map((d) => d.message) }).toEqual({ mutant: i, internal: [] });
        for (const d of r.diagnostics) {
          expect(d.line).toBeGreaterThanOrEqual(1);
          expect(d.column).toBeGreaterThanOrEqual(1);
        }
        if (!r.model) rejected++;
      });
      // The mutations are meant to break things; most mutants must be rejected.
      expect(rejected).toBeGreaterThan(count / 2);
    }, 60_000);
  }
});

