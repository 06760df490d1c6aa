// Shared by the packaging tests: packing the workspace packages, making throwaway app folders
// outside the repository, running Bun and tsc there, and reading what a tarball holds.
//
// Every install in these tests uses its own Bun cache folder (BUN_INSTALL_CACHE_DIR) inside the
// temporary folder: the packages keep the same name@version while their contents change from
// commit to commit, and a shared cache would happily serve yesterday's tarball.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
export const BUN = process.execPath;
export const TSC = join(REPO, "node_modules/typescript/bin/tsc");
/** The app every packaging test installs and runs (also type-checked in the repository itself). */
export const APP_SOURCE = join(import.meta.dir, "fixtures/app.ts");

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Both streams, for failure messages. */
  output: string;
}

/** Runs a command to completion; `timeoutMs` only stops a hung child (it is not an assertion). */
export function run(cmd: string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 90_000): Run {
  const p = Bun.spawnSync(cmd, {
    cwd,
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: timeoutMs,
  });
  const stdout = p.stdout.toString();
  const stderr = p.stderr.toString();
  return { exitCode: p.exitCode ?? -1, stdout, stderr, output: `$ ${cmd.join(" ")}  (in ${cwd})\n${stdout}${stderr}` };
}

/** Like run, but throws with everything the command printed when it fails. */
export function mustRun(cmd: string[], cwd: string, env: Record<string, string> = {}, timeoutMs?: number): Run {
  const r = run(cmd, cwd, env, timeoutMs);
  if (r.exitCode !== 0) throw new Error(`command failed with exit ${r.exitCode}:\n${r.output}`);
  return r;
}

/** A fresh folder under the system temp dir (outside the repository); remove with `rmSync`. */
export function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `wd-${tag}-`));
  if (dir.startsWith(REPO)) throw new Error(`temp folder ${dir} lies inside the repository`);
  return dir;
}

export function removeDir(dir: string | undefined): void {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}

/** `bun pm pack` of a workspace package into `dest`; returns the tarball's path. */
export function pack(pkgDir: string, dest: string): string {
  const r = mustRun([BUN, "pm", "pack", "--destination", dest, "--quiet"], join(REPO, pkgDir));
  const name = r.stdout.trim().split("\n").pop()!.trim();
  return name.startsWith("/") ? name : join(dest, name.replace(/^.*\//, ""));
}

/** The file list of a tarball (paths without the leading `package/`). */
export function tarList(tgz: string): string[] {
  const r = mustRun(["tar", "tzf", tgz], REPO);
  return r.stdout.split("\n").filter((l) => l !== "").map((l) => l.replace(/^package\//, "")).sort();
}

/** package.json as packed into a tarball. */
export function tarPackageJson(tgz: string): Record<string, any> {
  const r = mustRun(["tar", "xzf", tgz, "-O", "package/package.json"], REPO);
  return JSON.parse(r.stdout);
}

export function readJson(path: string): Record<string, any> {
  return JSON.parse(readFileSync(path, "utf8"));
}

/**
 * Writes an app folder: package.json (plus `extra` fields), the app source, and a tsconfig that
 * type-checks it the way a user would: strict, Bun's types (taken from this repository's
 * node_modules, as a user's own @types/bun would be), the packages' TypeScript sources included.
 */
export function writeApp(dir: string, extra: Record<string, unknown> = {}): void {
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "wd-packaging-app", private: true, type: "module", ...extra }, null, 2));
  writeFileSync(join(dir, "app.ts"), readFileSync(APP_SOURCE));
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify(
      {
        compilerOptions: {
          target: "ES2023",
          module: "Preserve",
          moduleResolution: "bundler",
          lib: ["ES2023", "ESNext.Disposable"],
          types: ["bun"],
          typeRoots: [join(REPO, "node_modules/@types")],
          strict: true,
          skipLibCheck: true,
          noEmit: true,
          allowImportingTsExtensions: true,
          verbatimModuleSyntax: true,
        },
        include: ["app.ts"],
      },
      null,
      2,
    ),
  );
}

/** What the app prints on success (see fixtures/app.ts). */
export interface AppResult {
  factorial: number;
  dma: number[];
  address: string;
}

/** Runs app.ts in `dir` with Bun on the sim backend and parses its one line of JSON. */
export function runApp(dir: string): AppResult {
  const r = mustRun([BUN, "app.ts"], dir, { WD_BACKEND: "sim" });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as AppResult;
  } catch {
    throw new Error(`the app did not print its JSON line:\n${r.output}`);
  }
}

/** tsc --noEmit over the app (and, through its imports, the installed packages' sources). */
export function typecheckApp(dir: string): Run {
  return run([BUN, TSC, "-p", "tsconfig.json"], dir, {}, 120_000);
}
