// Builds the benchmark's C code with the machine's compiler into .cache/bench (gitignored), once per
// source change: the file name carries a hash of the source and flags.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

const cacheDir = join(import.meta.dir, "../../.cache/bench");

/** Path of the built shared library, or why there is none (no compiler, build failed). */
export function buildSharedLib(name: string): { path: string } | { missing: string } {
  const source = join(import.meta.dir, "../c", `${name}.c`);
  const cc = [process.env.CC, "cc", "gcc", "clang"].find((c) => c && Bun.which(c));
  if (!cc) return { missing: "no C compiler (cc, gcc or clang) on PATH" };
  const flags = ["-O2", "-shared", "-fPIC", "-pthread"];
  const hash = createHash("sha256").update(readFileSync(source)).update(flags.join(" ")).update(process.arch).digest("hex").slice(0, 12);
  mkdirSync(cacheDir, { recursive: true });
  const out = join(cacheDir, `lib${name}-${hash}.so`);
  if (existsSync(out)) return { path: out };
  // build under a private name and rename: a concurrent run never loads a half-written file
  const tmp = `${out}.${process.pid}.tmp`;
  const r = Bun.spawnSync([cc, ...flags, "-o", tmp, source], { stderr: "pipe" });
  if (r.exitCode !== 0) {
    rmSync(tmp, { force: true });
    return { missing: `${cc} failed: ${r.stderr.toString().trim().split("\n").slice(0, 3).join(" ")}` };
  }
  renameSync(tmp, out);
  return { path: out };
}
