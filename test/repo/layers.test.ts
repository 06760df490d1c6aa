// The repository's layering, checked from the sources themselves (TypeScript's own scanner reads
// the import declarations, never text inside strings or comments):
// - a package never reaches into another by relative path: it imports the other by name;
// - a package imports only what its package.json declares (or node:/bun: built-ins, or itself);
// - inside runtime/src, the folders (and the files at its top) import each other without cycles,
//   so each folder can be read knowing only the ones below it;
// - the benchmarks build on the VM harness (test/vm), never on the tests (test/peers, test/hw).
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";

const ROOT = resolve(import.meta.dir, "../..");

interface Pkg {
  /** Folder relative to ROOT ("" for the root package). */
  dir: string;
  name: string;
  declared: Set<string>;
}

function readJson(path: string): Record<string, any> {
  return JSON.parse(readFileSync(path, "utf8"));
}

/** Every workspace package (the root's `workspaces`, globs of one `*`), then the root itself. */
function packages(): Pkg[] {
  const root = readJson(join(ROOT, "package.json"));
  const dirs: string[] = [];
  for (const w of root.workspaces as string[]) {
    if (!w.endsWith("/*")) {
      dirs.push(w);
      continue;
    }
    const parent = w.slice(0, -2);
    const found = Bun.spawnSync(["git", "ls-files", `${parent}/*/package.json`], { cwd: ROOT }).stdout.toString().split("\n").filter((l) => l !== "");
    for (const f of found) if (dirname(dirname(f)) === parent) dirs.push(dirname(f));
  }
  const pkgs = dirs.map((dir) => {
    const pkg = readJson(join(ROOT, dir, "package.json"));
    const declared = new Set<string>(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies }));
    return { dir, name: pkg.name as string, declared };
  });
  // the root package: tests, examples, fuzzing, scripts, benchmarks
  pkgs.push({ dir: "", name: root.name, declared: new Set(Object.keys({ ...root.dependencies, ...root.devDependencies })) });
  return pkgs;
}

const PKGS = packages();
/** The package a repository path belongs to: the deepest package folder that holds it. */
function owner(path: string): Pkg {
  let best = PKGS[PKGS.length - 1]!;
  for (const p of PKGS) if (p.dir !== "" && (path === p.dir || path.startsWith(`${p.dir}/`)) && p.dir.length > best.dir.length) best = p;
  return best;
}

interface Import {
  file: string;
  spec: string;
}

/** Every TypeScript file git tracks, with the module specifiers it imports or re-exports. */
function imports(): Import[] {
  const files = Bun.spawnSync(["git", "ls-files", "*.ts"], { cwd: ROOT }).stdout.toString().split("\n").filter((l) => l !== "");
  const out: Import[] = [];
  for (const file of files) {
    if (!existsSync(join(ROOT, file))) continue; // deleted in the working tree
    const text = readFileSync(join(ROOT, file), "utf8");
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) out.push({ file, spec: fileName });
  }
  return out;
}

const IMPORTS = imports();
const BUILTIN = new Set(builtinModules);

/** "@scope/name/sub" -> "@scope/name"; "name/sub" -> "name". */
function packageName(spec: string): string {
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** The repository path a relative specifier points at. */
function target(file: string, spec: string): string {
  return relative(ROOT, resolve(ROOT, dirname(file), spec)).split(sep).join("/");
}

describe("packages", () => {
  test(`the workspace packages are found (${PKGS.length - 1} of them, plus the root)`, () => {
    const names = PKGS.map((p) => p.name);
    for (const n of ["@warpdrive/runtime", "@warpdrive/generator", "@warpdrive/qemu-edu", "@warpdrive/qemu-edu-generated"]) expect(names).toContain(n);
  });

  test("no relative import crosses from one package into another", () => {
    const crossing: string[] = [];
    for (const { file, spec } of IMPORTS) {
      if (!spec.startsWith(".")) continue;
      const from = owner(file);
      const to = owner(target(file, spec));
      if (from !== to) crossing.push(`${file}: ${spec} (${from.name} -> ${to.name}: import ${to.name} by name)`);
    }
    expect(crossing).toEqual([]);
  });

  test("every package imports only itself, built-ins and what its package.json declares", () => {
    const undeclared: string[] = [];
    for (const { file, spec } of IMPORTS) {
      if (spec.startsWith(".") || spec.startsWith("node:") || spec.startsWith("bun:") || spec === "bun" || BUILTIN.has(spec)) continue;
      const pkg = owner(file);
      const name = packageName(spec);
      if (name !== pkg.name && !pkg.declared.has(name)) undeclared.push(`${file}: ${spec} (not declared by ${pkg.dir || "the root"}/package.json)`);
    }
    expect(undeclared).toEqual([]);
  });
});

describe("runtime/src", () => {
  const SRC = "runtime/src";
  /** Its top-level files are nodes of their own; each folder is one node. */
  const node = (path: string): string => {
    const rest = path.slice(SRC.length + 1);
    const slash = rest.indexOf("/");
    return slash < 0 ? rest : `${rest.slice(0, slash)}/`;
  };
  const edges = new Map<string, Set<string>>();
  for (const { file, spec } of IMPORTS) {
    if (!file.startsWith(`${SRC}/`) || !spec.startsWith(".")) continue;
    const to = target(file, spec);
    if (!to.startsWith(`${SRC}/`)) continue;
    const a = node(file);
    const b = node(to);
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)!.add(b);
  }

  /** Strongly connected components of more than one node (Tarjan). */
  function cycles(): string[][] {
    let next = 0;
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const found: string[][] = [];
    const visit = (v: string): void => {
      index.set(v, next);
      low.set(v, next++);
      stack.push(v);
      onStack.add(v);
      for (const w of edges.get(v) ?? []) {
        if (!index.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
      if (low.get(v) === index.get(v)) {
        const comp: string[] = [];
        for (;;) {
          const w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
          if (w === v) break;
        }
        if (comp.length > 1) found.push(comp.sort());
      }
    };
    for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
    return found;
  }

  test("the graph is real: folders import top-level files and each other", () => {
    expect(edges.get("vfio/")?.has("errors.ts")).toBe(true);
    expect(edges.get("device.ts")?.has("mem/")).toBe(true);
  });

  test("no cycles between its folders and top-level files", () => {
    expect(cycles()).toEqual([]);
  });

  test("libc is opened in one place (sys/libc.ts): every other module uses its table", () => {
    const files = Bun.spawnSync(["git", "ls-files", `${SRC}/*.ts`], { cwd: ROOT }).stdout.toString().split("\n").filter((l) => l !== "");
    const opening = files.filter((f) => existsSync(join(ROOT, f)) && /dlopen\(\s*["'`]libc/.test(readFileSync(join(ROOT, f), "utf8")));
    expect(opening).toEqual([]);
    // sys/libc.ts itself opens the path libcPath() gives it
    expect(readFileSync(join(ROOT, SRC, "sys/libc.ts"), "utf8")).toContain("dlopen(path, {");
  });
});

describe("benchmarks and the VM harness", () => {
  test("bench/ imports from test/ only the VM harness (test/vm), never a test suite", () => {
    const wrong = IMPORTS.filter(({ file, spec }) => file.startsWith("bench/") && spec.startsWith(".") && target(file, spec).startsWith("test/") && !target(file, spec).startsWith("test/vm/"));
    expect(wrong.map(({ file, spec }) => `${file}: ${spec}`)).toEqual([]);
  });

  test("the VM harness imports no test suite either", () => {
    const wrong = IMPORTS.filter(({ file, spec }) => file.startsWith("test/vm/") && spec.startsWith(".") && /^test\/(peers|hw|sim|runtime|reliability)\//.test(target(file, spec)));
    expect(wrong.map(({ file, spec }) => `${file}: ${spec}`)).toEqual([]);
  });
});

