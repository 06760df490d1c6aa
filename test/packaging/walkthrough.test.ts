// The new-hardware walkthrough with the repository's own copy of `wd` (bun run wd ... --dir/--out),
// followed step by step in a temp folder outside the repository (user-flow.test.ts does the same
// with the generator installed from a registry, as docs/new-device.md tells users): scaffold a device, validate it, generate its package with --out, make the
// package resolvable the way `bun add` would (node_modules/@warpdrive/...), type-check the package
// and an app with tsc, run the generated layout self-test and the app on the sim backend.
// Plus scaffoldDevice's own refusals (bad names, existing files).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { checkDeviceName, scaffoldDevice, ScaffoldError, schemaReference } from "@warpdrive/generator/scaffold";
import { BUN, REPO, TSC, mustRun, readJson, removeDir, run, tempDir } from "./helpers.ts";

const NAME = "my-accel";

describe("scaffoldDevice", () => {
  let dir: string | undefined;
  beforeAll(() => {
    dir = tempDir("scaffold");
  });
  afterAll(() => removeDir(dir));

  test("names: kebab-case only; SDK package names are taken", () => {
    for (const ok of ["a", "my-accel", "zip2", "x-2d-engine"]) expect(checkDeviceName(ok)).toBeUndefined();
    for (const bad of ["", "My-Accel", "my_accel", "-x", "x-", "x--y", "2fast", "my accel", "../etc"]) {
      expect(() => scaffoldDevice(bad, dir!)).toThrow(ScaffoldError);
      expect(checkDeviceName(bad)).toContain("kebab-case");
    }
    expect(() => scaffoldDevice("runtime", dir!)).toThrow(/taken by an SDK package \(@warpdrive\/runtime\)/);
    // the suffix of every generated package: "x-generated" would collide with device x's
    expect(() => scaffoldDevice("x-generated", dir!)).toThrow(/ends in -generated/);
    expect(existsSync(join(dir!, "My-Accel.yaml"))).toBe(false);
  });

  test("$schema: relative to the file, through the project's installed generator, never absolute", () => {
    // in the SDK's checkout: the generator's own schema
    expect(schemaReference(join(REPO, "devices"))).toEqual({ reference: "../generator/schema/device.schema.json", found: true });
    // a project (package.json) without the generator: where `bun add -d @warpdrive/generator` puts it
    const proj = join(dir!, "proj");
    mkdirSync(join(proj, "hw/nested"), { recursive: true });
    writeFileSync(join(proj, "package.json"), "{}");
    expect(schemaReference(join(proj, "hw/nested"))).toEqual({ reference: "../../node_modules/@warpdrive/generator/schema/device.schema.json", found: false });
    // ... and found once it is there
    mkdirSync(join(proj, "node_modules/@warpdrive/generator/schema"), { recursive: true });
    writeFileSync(join(proj, "node_modules/@warpdrive/generator/schema/device.schema.json"), "{}");
    expect(schemaReference(join(proj, "hw"))).toEqual({ reference: "../node_modules/@warpdrive/generator/schema/device.schema.json", found: true });
  });

  test("writes the description and the driver package, then refuses to overwrite any of them (and writes nothing)", () => {
    const files = scaffoldDevice("twice", dir!);
    expect(files).toEqual(["twice.yaml", "twice/package.json", "twice/index.ts", "twice/behavior.ts", "twice/model.ts"].map((f) => join(dir!, f)));
    const pkg = readJson(join(dir!, "twice/package.json"));
    expect(pkg.name).toBe("@warpdrive/twice");
    expect(pkg.exports).toEqual({ ".": "./index.ts", "./model": "./model.ts" });
    expect(Object.keys(pkg.dependencies)).toEqual(["@warpdrive/twice-generated", "@warpdrive/runtime"]);
    writeFileSync(join(dir!, "twice/model.ts"), "// mine\n");
    expect(() => scaffoldDevice("twice", dir!)).toThrow(/refusing to overwrite .*twice\.yaml/);
    expect(readFileSync(join(dir!, "twice/model.ts"), "utf8")).toBe("// mine\n");
    // one file in the way is enough to stop all three
    const lone = join(dir!, "lone");
    mkdirSync(lone);
    writeFileSync(join(lone, "behavior.ts"), "// mine\n");
    expect(() => scaffoldDevice("lone", dir!)).toThrow(/lone\/behavior\.ts/);
    expect(existsSync(join(dir!, "lone.yaml"))).toBe(false);
  });
});

describe(`walkthrough: a new device "${NAME}" outside the repository`, () => {
  let dir: string | undefined;
  let devices: string;
  let out: string;
  beforeAll(() => {
    dir = tempDir("walkthrough");
    devices = join(dir, "devices");
    out = join(dir, "packages");
  });
  afterAll(() => removeDir(dir));

  test("1. scaffold with wd new: the description and the driver package", () => {
    const r = mustRun([BUN, "run", "wd", "new", NAME, "--dir", devices], REPO);
    expect(r.output).toContain(`${NAME}.yaml`);
    // the command refuses a second time, with a one-line message and a failing exit code
    const again = run([BUN, "run", "wd", "new", NAME, "--dir", devices], REPO);
    expect(again.exitCode).not.toBe(0);
    expect(again.output).toContain("refusing to overwrite");
    const scaffolded = [`${NAME}.yaml`, `${NAME}/package.json`, `${NAME}/index.ts`, `${NAME}/behavior.ts`, `${NAME}/model.ts`];
    for (const f of scaffolded) expect(existsSync(join(devices, f))).toBe(true);
    // Nothing of this machine in what was written: the $schema line is relative to the file and
    // points where installing the generator into the folder's project puts the schema (this folder
    // has no package.json, so the project is the folder itself); wd new says so.
    for (const f of scaffolded) {
      const text = readFileSync(join(devices, f), "utf8");
      for (const machinePath of [REPO, dir!, tmpdir(), homedir()]) expect(`${f}: ${text.includes(machinePath)}`).toBe(`${f}: false`);
    }
    const first = readFileSync(join(devices, `${NAME}.yaml`), "utf8").split("\n")[0]!;
    expect(first).toBe("# yaml-language-server: $schema=node_modules/@warpdrive/generator/schema/device.schema.json");
    expect(r.output).toContain("bun add -d @warpdrive/generator");
  }, 30_000);

  test("2. bun run wd validate", () => {
    const r = run([BUN, "run", "wd", "validate", join(devices, `${NAME}.yaml`)], REPO);
    expect(r.output).toContain("1 device description valid");
    expect(r.exitCode).toBe(0);
  }, 30_000);

  test("3. bun run wd generate --out DIR: a complete generated package, nothing hand-written copied in", () => {
    const r = run([BUN, "run", "wd", "generate", join(devices, `${NAME}.yaml`), "--out", out], REPO, {}, 60_000);
    expect(r.exitCode).toBe(0);
    const pkgDir = join(out, NAME);
    const pkg = readJson(join(pkgDir, "package.json"));
    expect(pkg.name).toBe(`@warpdrive/${NAME}-generated`);
    // outside the SDK's workspace: the runtime from a registry, the range this generator was made for
    const runtimeVersion = readJson(join(REPO, "runtime/package.json")).version;
    expect(pkg.dependencies).toEqual({ "@warpdrive/runtime": `^${runtimeVersion}` });
    expect(pkg.warpdrive.runtime).toBe(`^${runtimeVersion}`);
    for (const f of ["src/index.ts", "src/client.ts", "src/spec.ts", "test/layout.test.ts", "README.md"]) {
      expect(existsSync(join(pkgDir, f))).toBe(true);
    }
    expect(existsSync(join(pkgDir, "src/hand"))).toBe(false);
    // the spec names the driver package's model by package name
    expect(readFileSync(join(pkgDir, "src/spec.ts"), "utf8")).toContain(`model: "@warpdrive/${NAME}/model",`);
    // nothing landed in the repository
    expect(existsSync(join(REPO, "generated", NAME))).toBe(false);
    // a second run changes nothing, and --check agrees
    expect(run([BUN, "run", "wd", "generate", join(devices, `${NAME}.yaml`), "--out", out], REPO).output).toContain("up to date");
    expect(run([BUN, "run", "wd", "generate", join(devices, `${NAME}.yaml`), "--out", out, "--check"], REPO).exitCode).toBe(0);
  }, 60_000);

  test("4. the packages type-check with tsc, the layout self-test passes, and the driver runs on the sim backend", () => {
    // What `bun add` would leave: the packages under node_modules/@warpdrive (links here): the
    // runtime, the generated package and the driver package written by wd new.
    mkdirSync(join(dir!, "node_modules/@warpdrive"), { recursive: true });
    symlinkSync(join(REPO, "runtime"), join(dir!, "node_modules/@warpdrive/runtime"));
    symlinkSync(join(out, NAME), join(dir!, `node_modules/@warpdrive/${NAME}-generated`));
    symlinkSync(join(devices, NAME), join(dir!, `node_modules/@warpdrive/${NAME}`));
    writeFileSync(
      join(dir!, "app.ts"),
      [
        `import { MyAccel } from "@warpdrive/${NAME}";`,
        `using dev = await MyAccel.open({ backend: "sim" });`,
        `const buf = dev.client.alloc(8192, "walkthrough");`,
        `for (let i = 0; i < 4096; i++) buf.bytes[i] = (i * 13) & 0xff;`,
        `dev.copy(buf.ref(0, 4096), buf.ref(4096, 4096));`,
        `// @ts-expect-error copy takes shared memory, not numbers`,
        `if (buf.size < 0) dev.copy(0, 4096);`,
        `const same = buf.bytes.subarray(0, 4096).every((b, i) => b === buf.bytes[4096 + i]);`,
        `console.log(JSON.stringify({ same, address: dev.client.device.address }));`,
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(dir!, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2023", module: "Preserve", moduleResolution: "bundler", lib: ["ES2023", "ESNext.Disposable"],
          types: ["bun"], typeRoots: [join(REPO, "node_modules/@types")], strict: true, skipLibCheck: true, noEmit: true,
          allowImportingTsExtensions: true, verbatimModuleSyntax: true, noImplicitOverride: true,
        },
        include: ["app.ts", `packages/${NAME}/src`, `packages/${NAME}/test`, `devices/${NAME}`],
      }),
    );
    const tsc = run([BUN, TSC, "-p", "tsconfig.json"], dir!, {}, 120_000);
    expect(tsc.output).not.toContain("error TS");
    expect(tsc.exitCode).toBe(0);

    const layout = run([BUN, "test", `./packages/${NAME}/test`], dir!);
    expect(layout.output).toContain(" 0 fail");
    expect(layout.exitCode).toBe(0);

    const app = mustRun([BUN, "app.ts"], dir!, { WD_BACKEND: "sim" });
    expect(JSON.parse(app.stdout.trim().split("\n").pop()!)).toEqual({ same: true, address: expect.stringMatching(new RegExp(`^sim:${NAME}/`)) });
  }, 120_000);
});
