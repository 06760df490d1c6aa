// The per-run part of the guest: the repo's code under /wd, the guest's /init and the run's settings,
// written as a second cpio archive that is appended to the cached base archive.
//
// Symlinks: a link whose target lies inside the archived part of the repo is kept as a (relative)
// link, so that Bun sees the same real paths as on the host (one module instance per file: a copy
// of runtime/ under node_modules would give two runtime instances and break `instanceof`). A link
// pointing anywhere else (a workspace package that is not archived, `bun link`, an absolute path) is
// resolved: its content is copied in under the link's name.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { CpioWriter } from "./cpio.ts";

/** What goes into the guest under /wd (relative to the repo root); missing entries are skipped. */
export const CODE_PATHS = ["runtime", "generated", "devices", "test", "examples", "bench", "node_modules", "package.json", "bunfig.toml", "tsconfig.json"];

/** Never archived: caches, VCS data, and build leftovers. */
const SKIP_NAMES = new Set([".git", ".cache", ".scratch"]);

/**
 * Packages under node_modules the guest never loads (type checking and code generation only): left
 * out because every MiB of initramfs costs unpack time in each TCG boot (~45 MiB, about 1.5 s a boot).
 * Matched against node_modules/<name>, node_modules/@scope and node_modules/.bun/<name>@<version>.
 */
export const GUEST_SKIP_PACKAGES = ["typescript", "@types", "bun-types", "undici-types", "ts-morph", "@ts-morph"];

function skippedPackage(relInRepo: string): boolean {
  const m = relInRepo.match(/(?:^|\/)node_modules\/(?:\.bun\/)?([^/]+)$/);
  if (!m) return false;
  const name = m[1];
  return GUEST_SKIP_PACKAGES.some((p) => name === p || name.startsWith(`${p}@`) || name.startsWith(`${p}+`));
}

export interface CodeArchiveStats {
  path: string;
  files: number;
  links: number;
  resolvedLinks: number;
  bytes: number;
}

export interface CodeArchiveInput {
  repo: string;
  out: string;
  /** Extra files placed at absolute guest paths (e.g. "/init", "/wd/.vm/run.env"). */
  extra: { path: string; data: Uint8Array; mode?: number }[];
  /** Top-level repo paths to archive (default CODE_PATHS). */
  paths?: string[];
}

export async function writeCodeArchive(input: CodeArchiveInput): Promise<CodeArchiveStats> {
  const repo = realpathSync(input.repo);
  const roots = (input.paths ?? CODE_PATHS).filter((p) => existsSync(join(repo, p)));
  const archived = roots.map((p) => join(repo, p));
  const inArchived = (abs: string) => archived.some((r) => abs === r || abs.startsWith(`${r}/`));
  const w = new CpioWriter(input.out);
  const stats: CodeArchiveStats = { path: input.out, files: 0, links: 0, resolvedLinks: 0, bytes: 0 };

  const addFile = (guestPath: string, hostPath: string) => {
    const st = statSync(hostPath);
    w.add({ kind: "file", path: guestPath, mode: st.mode & 0o777, data: readFileSync(hostPath), mtime: Math.floor(st.mtimeMs / 1000) });
    stats.files++;
  };

  // Walks hostPath (which may be reached through a resolved link) into guestPath.
  const walk = (hostPath: string, guestPath: string, depth: number) => {
    if (depth > 64) throw new Error(`code archive: ${hostPath} is nested too deep (a symlink loop?)`);
    const st = lstatSync(hostPath);
    if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = realpathSync(hostPath);
      } catch {
        return; // a dangling link: nothing to carry
      }
      if (inArchived(target)) {
        // Keep it a link, relative, so it works under /wd exactly as in the repo. Computed between
        // guest paths: guestPath may lie inside a resolved link's copy.
        const guestTarget = `/wd/${relative(repo, target)}`;
        w.add({ kind: "symlink", path: guestPath, target: relative(dirname(`/${guestPath}`), guestTarget) || "." });
        stats.links++;
        return;
      }
      stats.resolvedLinks++;
      walk(target, guestPath, depth + 1);
      return;
    }
    if (st.isDirectory()) {
      w.add({ kind: "dir", path: guestPath });
      for (const name of readdirSync(hostPath).sort()) {
        if (SKIP_NAMES.has(name) || skippedPackage(`${guestPath}/${name}`)) continue;
        walk(join(hostPath, name), `${guestPath}/${name}`, depth + 1);
      }
      return;
    }
    if (st.isFile()) addFile(guestPath, hostPath);
  };

  for (const p of roots) walk(join(repo, p), `wd/${p}`, 0);
  for (const e of input.extra) {
    w.add({ kind: "file", path: e.path, data: e.data, mode: e.mode ?? 0o644 });
  }
  stats.bytes = await w.finish();
  return stats;
}

/** Quotes a value for a POSIX shell (single quotes; embedded quotes closed and escaped). */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A file of `NAME='value'` lines that the guest's /init sources. */
export function envFile(vars: Record<string, string>): Uint8Array {
  const lines = Object.entries(vars).map(([k, v]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`bad variable name ${k}`);
    return `${k}=${shellQuote(v)}\n`;
  });
  return new TextEncoder().encode(lines.join(""));
}

export function repoRoot(): string {
  return resolve(import.meta.dir, "../..");
}
