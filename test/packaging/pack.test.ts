// The packages as a user gets them: package.json complete, `bun pm pack` turning the workspace
// dependencies into real versions, and the runtime, qemu-edu's generated package and its driver
// package installed with `bun add` into a fresh folder outside the repository, where a small app
// runs on the sim backend and type-checks with tsc.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import ts from "typescript";
import { REPO, mustRun, pack, readJson, removeDir, runApp, tarList, tarPackageJson, tempDir, typecheckApp, writeApp, BUN } from "./helpers.ts";

const runtimePkg = readJson(join(REPO, "runtime/package.json"));

/** What every publishable package.json must say (the runtime and the generated packages). */
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
      expect(pkg.name).toBe(`@warpdrive/${d}-generated`);
      expect(pkg.dependencies?.["@warpdrive/runtime"]).toBe("workspace:*");
    }
  });

  const drivers = readdirSync(join(REPO, "devices")).filter((d) => existsSync(join(REPO, "devices", d, "package.json")));
  test(`every driver package re-exports its generated package and exports its model (${drivers.join(", ")})`, () => {
    // one driver package per generated one, and the other way round
    expect(drivers).toEqual(generated);
    for (const d of drivers) {
      const pkg = readJson(join(REPO, "devices", d, "package.json"));
      const where = `devices/${d}/package.json`;
      expect({ where, name: pkg.name, type: pkg.type, private: pkg.private }).toEqual({ where, name: `@warpdrive/${d}`, type: "module", private: undefined });
      expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/);
      expect({ where, exports: pkg.exports, types: pkg.types }).toEqual({ where, exports: { ".": "./index.ts", "./model": "./model.ts" }, types: "./index.ts" });
      expect({ where, dependencies: pkg.dependencies }).toEqual({ where, dependencies: { [`@warpdrive/${d}-generated`]: "workspace:*", "@warpdrive/runtime": "workspace:*" } });
      // what it ships is its TypeScript, never the kernel modules beside it
      for (const f of pkg.files as string[]) expect(`${where}: ${f} ${existsSync(join(REPO, "devices", d, f))}`).toBe(`${where}: ${f} true`);
      expect((pkg.files as string[]).every((f) => f.endsWith(".ts"))).toBe(true);
      expect(readFileSync(join(REPO, "devices", d, "index.ts"), "utf8")).toContain(`export * from "@warpdrive/${d}-generated";`);
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
  let eduGeneratedTgz: string;
  let eduTgz: string;

  beforeAll(() => {
    dir = tempDir("pack");
    runtimeTgz = pack("runtime", dir);
    eduGeneratedTgz = pack("generated/qemu-edu", dir);
    eduTgz = pack("devices/qemu-edu", dir);
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

  test("the qemu-edu-generated tarball: workspace:* became the runtime's real version; client and spec inside, nothing hand-written", () => {
    const pkg = tarPackageJson(eduGeneratedTgz);
    expect(pkg.name).toBe("@warpdrive/qemu-edu-generated");
    expect(pkg.dependencies).toEqual({ "@warpdrive/runtime": runtimePkg.version });
    expect(JSON.stringify(pkg)).not.toContain("workspace:");
    const files = tarList(eduGeneratedTgz);
    for (const f of ["src/index.ts", "src/client.ts", "src/spec.ts", "README.md"]) expect(files).toContain(f);
    expect(files.filter((f) => f.includes("hand") || f.includes("behavior") || f.includes("model"))).toEqual([]);
  });

  test("the qemu-edu driver tarball: the behaviour and the model, depending on the generated package's real version", () => {
    const pkg = tarPackageJson(eduTgz);
    const generatedVersion = readJson(join(REPO, "generated/qemu-edu/package.json")).version;
    expect(pkg.dependencies).toEqual({ "@warpdrive/qemu-edu-generated": generatedVersion, "@warpdrive/runtime": runtimePkg.version });
    expect(JSON.stringify(pkg)).not.toContain("workspace:");
    expect(tarList(eduTgz)).toEqual(["behavior.ts", "index.ts", "model.ts", "package.json"]);
  });

  test("bun add the three tarballs; the app runs on the sim backend and type-checks with tsc", () => {
    const app = join(dir!, "app");
    mustRun(["mkdir", "-p", app], dir!);
    // @warpdrive/runtime@0.1.0 and @warpdrive/qemu-edu-generated are not on the public registry:
    // the tarballs stand in for them, for the app's own dependencies and for the packages' (an
    // override), exactly as a user without a registry would have to do it.
    writeApp(app, { overrides: { "@warpdrive/runtime": runtimeTgz, "@warpdrive/qemu-edu-generated": eduGeneratedTgz } });
    const add = mustRun([BUN, "add", runtimeTgz, eduGeneratedTgz, eduTgz], app, { BUN_INSTALL_CACHE_DIR: join(dir!, "bun-cache") });
    expect(add.output).toContain("@warpdrive/qemu-edu");
    // what got installed is the packed code, not a link back into the repository
    expect(existsSync(join(app, "node_modules/@warpdrive/qemu-edu-generated/src/client.ts"))).toBe(true);
    expect(existsSync(join(app, "node_modules/@warpdrive/qemu-edu/model.ts"))).toBe(true);
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
