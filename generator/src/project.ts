// Where the `wd` command works: the user's project, found from the current directory, never the
// folder the generator is installed in (node_modules/@warpdrive/generator in a user's project, or
// generator/ in the SDK's own repository; the same code runs in both).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { RUNTIME_VERSION } from "@warpdrive/runtime/version";
import generatorPackage from "../package.json" with { type: "json" };

/** "@warpdrive/generator": what generated files name as their origin. */
export const GENERATOR_PACKAGE: string = generatorPackage.name;
export const GENERATOR_VERSION: string = generatorPackage.version;
/**
 * The runtime versions generated code is written for: from the runtime this generator was installed
 * with (in a user's project, the one the project has) up to its next major (next minor below 1.0).
 */
export const RUNTIME_RANGE = `^${RUNTIME_VERSION}`;

/** The schema shipped inside this package (what a description's `$schema` line points at). */
export const SCHEMA_FILE = resolve(import.meta.dir, "../schema/device.schema.json");

function readPackageJson(dir: string): Record<string, unknown> | undefined {
  const file = join(dir, "package.json");
  if (!existsSync(file)) return undefined;
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as unknown;
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `dir` and its ancestors, nearest first. */
function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    out.push(d);
    if (dirname(d) === d) return out;
  }
}

/**
 * The project `dir` belongs to: the nearest ancestor whose package.json declares workspaces (a
 * monorepo's root), else the nearest one with a package.json, else `dir` itself. Default folders
 * (devices/, generated/) and the paths recorded in generated headers are relative to it.
 */
export function projectRoot(dir = process.cwd()): string {
  const withPackage = ancestors(dir).filter((d) => readPackageJson(d) !== undefined);
  return withPackage.find((d) => Array.isArray(readPackageJson(d)!.workspaces)) ?? withPackage[0] ?? resolve(dir);
}

/** The package folders a workspaces list names ("runtime", "generated/*"; no deeper globs). */
function workspaceMembers(root: string, patterns: unknown[]): string[] {
  const out: string[] = [];
  for (const p of patterns) {
    if (typeof p !== "string") continue;
    if (p.endsWith("/*") && !p.slice(0, -2).includes("*")) {
      const base = join(root, p.slice(0, -2));
      if (existsSync(base)) for (const n of readdirSync(base).sort()) out.push(join(base, n));
    } else if (!p.includes("*")) out.push(join(root, p));
  }
  return out;
}

/**
 * True when a package written to `outDir` sits in a workspace that has @warpdrive/runtime itself as
 * a member (the SDK's repository): its dependency on the runtime is then `workspace:*`, which
 * publishing turns into the runtime's version. Anywhere else it is RUNTIME_RANGE, resolved from
 * the registry the project installs from.
 */
export function runtimeIsWorkspaceMember(outDir: string): boolean {
  for (const d of ancestors(outDir)) {
    const pkg = readPackageJson(d);
    if (pkg === undefined || !Array.isArray(pkg.workspaces)) continue;
    return workspaceMembers(d, pkg.workspaces).some((m) => readPackageJson(m)?.name === "@warpdrive/runtime");
  }
  return false;
}
