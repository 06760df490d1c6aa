// The packages as a user gets them: package.json complete, `bun pm pack` turning the workspace
// dependency into a real version, and the two tarballs installed with `bun add` into a fresh folder
// outside the repository, where a small app runs on the sim backend and type-checks with tsc.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import ts from "typescript";
import { REPO, mustRun, pack, readJson, removeDir, runApp, tarList, tarPackageJson, tempDir, typecheckApp, writeApp, BUN } from "./helpers.ts";

const runtimePkg = readJson(join(REPO, "runtime/package.json"));

/** What every publishable package.json must say. */
function expectComplete(pkg: Record<string, any>, where: string): void {
  const has = (k: string) => expect({ where, key: k, present: pkg[k] !== undefined }).toEqual({ where, key: k, present: true });
  for (const k of ["name", "version", "exports", "types", "files", "type"]) has(k);
  expect(pkg.name).toMatch(/^@warpdrive\/[a-z0-9-]+$/);
  expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/);
  expect(pkg.private).not.toBe(true);
  expect(pkg.type).toBe("module");
  expect(pkg.exports["."]).toBe("./src/index.ts");
  expect(pkg.exports["./*"]).toBe("./src/*.ts");
  expect(pkg.files).toContain("src");
}

describe("package.json of the publishable packages", () => {
  test("runtime: complete, no dependencies to resolve", () => {
    expectComplete(runtimePkg, "runtime/package.json");
    expect(runtimePkg.name).toBe("@warpdrive/runtime");
    // the native MMIO helper is compiled on first use from the shipped C source
    expect(runtimePkg.files).toContain("native");
  });

  const generated = readdirSync(join(REPO, "generated")).filter((d) => existsSync(join(REPO, "generated", d, "package.json")));
  test(`every generated package is complete and depends on @warpdrive/runtime (${generated.join(", ")})`, () => {
    expect(generated).toContain("qemu-edu");
    for (const d of generated) {
      const pkg = readJson(join(REPO, "generated", d, "package.json"));
      expectComplete(pkg, `generated/${d}/package.json`);
      expect(pkg.name).toBe(`@warpdrive/${d}`);
      expect(pkg.dependencies?.["@warpdrive/runtime"]).toBe("workspace:*");
    }
  });
});

describe("@warpdrive/generator: the `wd` tool, publishable", () => {
  const generatorPkg = readJson(join(REPO, "generator/package.json"));
  let dir: string | undefined;
  let tgz: string;
  beforeAll(() => {
    dir = tempDir("pack-generator");
    tgz = pack("generator", dir);
  }, 60_000);
  afterAll(() => removeDir(dir));

  test("package.json: public, versioned, the wd bin, license, the files it ships, the runtime declared", () => {
    expect(generatorPkg.private).not.toBe(true);
    expect(generatorPkg.name).toBe("@warpdrive/generator");
    expect(generatorPkg.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(generatorPkg.type).toBe("module");
    expect(generatorPkg.bin).toEqual({ wd: "./src/cli.ts" });
    expect(generatorPkg.license).toBe(runtimePkg.license);
    expect(generatorPkg.files).toEqual(["src", "schema", "README.md"]);
    expect(generatorPkg.dependencies["@warpdrive/runtime"]).toBe("workspace:^");
    expect(readFileSync(join(REPO, "generator/src/cli.ts"), "utf8").startsWith("#!/usr/bin/env bun\n")).toBe(true);
  });

  test("the tarball: the runtime range is real, the schema is inside, every relative import stays inside", () => {
    const pkg = tarPackageJson(tgz);
    expect(pkg.dependencies["@warpdrive/runtime"]).toBe(`^${runtimePkg.version}`);
    expect(JSON.stringify(pkg)).not.toContain("workspace:");
    const files = tarList(tgz);
    for (const f of ["src/cli.ts", "schema/device.schema.json", "README.md"]) expect(files).toContain(f);
    const out = join(dir!, "unpacked");
    mustRun(["mkdir", "-p", out], dir!);
    mustRun(["tar", "xzf", tgz, "-C", out], dir!);
    const root = join(out, "package");
    const escapes: string[] = [];
    for (const f of files.filter((x) => x.endsWith(".ts"))) {
      const text = readFileSync(join(root, f), "utf8");
      // TypeScript's own scanner: import declarations only, never text inside template strings
      for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
        if (spec.startsWith(".")) {
          const target = resolve(dirname(join(root, f)), spec);
          if (!target.startsWith(root + "/") || !existsSync(target)) escapes.push(`${f}: ${spec}`);
          continue;
        }
        // packages are reached by name, and only those the package declares (or Node's and Bun's own)
        if (spec.startsWith("node:") || spec.startsWith("bun:")) continue;
        const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
        if (!(name in pkg.dependencies)) escapes.push(`${f}: undeclared ${spec}`);
      }
    }
    expect(escapes).toEqual([]);
  });
});

describe("bun pm pack, then bun add of the tarballs in a fresh folder", () => {
  let dir: string | undefined;
  let runtimeTgz: string;
  let eduTgz: string;

  beforeAll(() => {
    dir = tempDir("pack");
    runtimeTgz = pack("runtime", dir);
    eduTgz = pack("generated/qemu-edu", dir);
  }, 60_000);
  afterAll(() => removeDir(dir));

  test("the runtime tarball holds its sources and the native helper", () => {
    const files = tarList(runtimeTgz);
    expect(files).toContain("package.json");
    expect(files).toContain("src/index.ts");
    expect(files).toContain("src/sim/model.ts");
    expect(files).toContain("native/mmio.c");
    expect(files.filter((f) => f.includes("test") || f.includes("node_modules"))).toEqual([]);
    expect(tarPackageJson(runtimeTgz).version).toBe(runtimePkg.version);
  });

  test("the qemu-edu tarball: workspace:* became the runtime's real version; client, spec, hand files inside", () => {
    const pkg = tarPackageJson(eduTgz);
    expect(pkg.dependencies).toEqual({ "@warpdrive/runtime": runtimePkg.version });
    expect(JSON.stringify(pkg)).not.toContain("workspace:");
    const files = tarList(eduTgz);
    for (const f of ["src/index.ts", "src/client.ts", "src/spec.ts", "src/hand/behavior.ts", "src/hand/model.ts", "README.md"]) expect(files).toContain(f);
  });

  test("bun add both tarballs; the app runs on the sim backend and type-checks with tsc", () => {
    const app = join(dir!, "app");
    mustRun(["mkdir", "-p", app], dir!);
    // @warpdrive/runtime@0.1.0 is not on the public registry: the tarball stands in for it, for the
    // app's own dependency and for qemu-edu's (an override), exactly as a user without a registry
    // would have to do it.
    writeApp(app, { overrides: { "@warpdrive/runtime": runtimeTgz } });
    const add = mustRun([BUN, "add", runtimeTgz, eduTgz], app, { BUN_INSTALL_CACHE_DIR: join(dir!, "bun-cache") });
    expect(add.output).toContain("@warpdrive/qemu-edu");
    // what got installed is the packed code, not a link back into the repository
    expect(existsSync(join(app, "node_modules/@warpdrive/qemu-edu/src/client.ts"))).toBe(true);
    expect(readJson(join(app, "node_modules/@warpdrive/runtime/package.json")).version).toBe(runtimePkg.version);

    const out = runApp(app);
    expect(out.factorial).toBe(120);
    expect(out.dma).toEqual([1, 2, 3, 4]);
    expect(out.address).toMatch(/^sim:qemu-edu\//);

    const tsc = typecheckApp(app);
    expect(tsc.output).not.toContain("error TS");
    expect(tsc.exitCode).toBe(0);
  }, 100_000); // bun add, a sim run and a tsc pass on a shared 2-core machine (bounded, not asserted)
});
