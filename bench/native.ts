// Builds the C references with the system compiler into a cache folder, once per source change.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const cacheDir = join(import.meta.dir, "../.cache/bench");

/** Path of the built binary, or a reason why there is none (no compiler, build failed). */
export function buildC(name: string, extraFlags: string[] = []): { path: string } | { missing: string } {
  const source = join(import.meta.dir, "c", `${name}.c`);
  const cc = ["cc", "gcc", "clang"].find((c) => Bun.which(c));
  if (!cc) return { missing: "no C compiler (cc, gcc or clang) on PATH" };
  const hash = createHash("sha256").update(readFileSync(source)).update(extraFlags.join(" ")).digest("hex").slice(0, 12);
  mkdirSync(cacheDir, { recursive: true });
  const out = join(cacheDir, `${name}-${hash}`);
  if (existsSync(out)) return { path: out };
  const r = Bun.spawnSync([cc, "-O2", "-pthread", "-o", out, source, ...extraFlags], { stderr: "pipe" });
  if (r.exitCode !== 0) return { missing: `${cc} failed: ${r.stderr.toString().trim().split("\n")[0]}` };
  return { path: out };
}

export function runJson<T>(path: string, args: (string | number)[]): T {
  const r = Bun.spawnSync([path, ...args.map(String)], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${path} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString()) as T;
}
