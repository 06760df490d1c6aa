// Builds runtime/native/mmio.c with the system C compiler on first use and loads it with dlopen.
// The build is cached by content hash, so it happens once per source version and machine:
//   $WD_CACHE_DIR, else $XDG_CACHE_HOME/warpdrive, else ~/.cache/warpdrive, else $TMPDIR/warpdrive-<uid>.
// WD_MMIO_LIB=/path/libwdmmio.so uses a prebuilt library (a VM image without a compiler);
// WD_MMIO=ffi skips the native helper (tests of the fallback). When no compiler is found, mmio.ts
// falls back to bun:ffi `read.*` calls and typed-array stores (see there for why that is weaker).
import { dlopen } from "bun:ffi";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

function load(path: string) {
  return dlopen(path, {
  wd_rd8: { args: ["ptr"], returns: "u32" },
  wd_rd16: { args: ["ptr"], returns: "u32" },
  wd_rd32: { args: ["ptr"], returns: "u32" },
  wd_rd64: { args: ["ptr"], returns: "u64" },
  wd_wr8: { args: ["ptr", "u32"], returns: "void" },
  wd_wr16: { args: ["ptr", "u32"], returns: "void" },
  wd_wr32: { args: ["ptr", "u32"], returns: "void" },
  wd_wr64: { args: ["ptr", "u64"], returns: "void" },
  wd_db32: { args: ["ptr", "u32"], returns: "void" },
  wd_wmb_export: { args: [], returns: "void" },
  wd_cpu_movdir64b: { args: [], returns: "u32" },
  wd_cpu_enqcmd: { args: [], returns: "u32" },
  wd_movdir64b: { args: ["ptr", "ptr"], returns: "void" },
  wd_enqcmd: { args: ["ptr", "ptr"], returns: "u32" },
  wd_guard_add: { args: ["ptr", "u64"], returns: "i32" },
  wd_guard_hit: { args: ["i32"], returns: "u32" },
  wd_guard_remove: { args: ["i32"], returns: "void" },
  wd_mmio_abi: { args: [], returns: "u32" },
  });
}

/** The ABI of runtime/native/mmio.c this loader expects (wd_mmio_abi). 3: portal stores; 4: SIGBUS guards. */
export const MMIO_ABI = 4;

export type NativeMmio = ReturnType<typeof load>["symbols"];

/** Path of the C source shipped with the package. */
export const MMIO_SOURCE = join(import.meta.dir, "../../native/mmio.c");

let loaded: NativeMmio | null | undefined;
let whyNot = "";

export function cacheDir(): string {
  if (process.env.WD_CACHE_DIR) return process.env.WD_CACHE_DIR;
  if (process.env.XDG_CACHE_HOME) return join(process.env.XDG_CACHE_HOME, "warpdrive");
  const home = homedir();
  if (home && existsSync(home)) return join(home, ".cache", "warpdrive");
  return join(tmpdir(), `warpdrive-${process.getuid?.() ?? 0}`);
}

function findCompiler(): string | undefined {
  const names = process.env.CC ? [process.env.CC] : ["cc", "gcc", "clang"];
  for (const n of names) {
    const p = Bun.which(n);
    if (p) return p;
  }
  return undefined;
}

/** Compiles mmio.c into the cache (once) and returns the library path, or throws with the reason. */
export function buildMmioLibrary(dir = cacheDir()): string {
  const src = readFileSync(MMIO_SOURCE);
  const hash = createHash("sha256").update(src).update(process.arch).digest("hex").slice(0, 16);
  const out = join(dir, `libwdmmio-${process.arch}-${hash}.so`);
  if (existsSync(out)) return out;
  const cc = findCompiler();
  if (!cc) throw new Error("no C compiler (cc, gcc, clang) on PATH");
  mkdirSync(dir, { recursive: true });
  // Build under a private name and rename: concurrent test processes never load a half-written file.
  const tmp = `${out}.${process.pid}.tmp`;
  const r = Bun.spawnSync([cc, "-O2", "-shared", "-fPIC", "-o", tmp, MMIO_SOURCE], { stderr: "pipe" });
  if (r.exitCode !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`${cc} failed: ${r.stderr.toString().trim()}`);
  }
  renameSync(tmp, out);
  return out;
}

/** The native MMIO helpers, or null (then `nativeMmioUnavailableReason()` says why). */
export function nativeMmio(): NativeMmio | null {
  if (loaded !== undefined) return loaded;
  if (process.env.WD_MMIO === "ffi") {
    whyNot = "WD_MMIO=ffi";
    loaded = null;
    return loaded;
  }
  try {
    const path = process.env.WD_MMIO_LIB || buildMmioLibrary();
    const lib = load(path);
    if (lib.symbols.wd_mmio_abi() !== MMIO_ABI) throw new Error(`${path} has an unexpected ABI version`);
    loaded = lib.symbols;
  } catch (e) {
    whyNot = e instanceof Error ? e.message : String(e);
    loaded = null;
  }
  return loaded;
}

export function nativeMmioUnavailableReason(): string {
  nativeMmio();
  return whyNot;
}

// `bun runtime/src/mem/native.ts [dir]` builds the library and prints its path: how an image without
// a compiler (the QEMU guest) gets a prebuilt one to point WD_MMIO_LIB at.
if (import.meta.main) {
  console.log(buildMmioLibrary(process.argv[2] || cacheDir()));
}
