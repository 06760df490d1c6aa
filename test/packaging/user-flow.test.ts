// The generator as a user installs it: runtime and generator are published to the local registry
// (registry.ts), and a fresh project outside the repository, with only Bun and a bunfig.toml
// pointing the @warpdrive scope at that registry, does what docs/new-device.md says:
//   bun add @warpdrive/runtime; bun add -d @warpdrive/generator
//   bunx wd new my-accel; bunx wd validate; bunx wd generate
// then uses the generated package from its own workspace: tsc, a run on the sim backend,
// `wd generate --watch` picking up edits, and the import-time runtime version check.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BUN, REPO, TSC, mustRun, pack, readJson, removeDir, run, tempDir } from "./helpers.ts";
import { installVerdaccio, startRegistry, type Registry } from "./registry.ts";

const unavailable = installVerdaccio();
if (unavailable !== null) console.warn(`test/packaging/user-flow.test.ts SKIPPED: ${unavailable}`);
const suffix = unavailable === null ? "" : ` (SKIPPED: ${unavailable})`;
const NAME = "my-accel";
const runtimeVersion: string = readJson(join(REPO, "runtime/package.json")).version;
const generatorVersion: string = readJson(join(REPO, "generator/package.json")).version;

/** Lines a long-running child prints, and a bounded wait for one that matches. */
class Output {
  text = "";
  constructor(stream: ReadableStream<Uint8Array>) {
    void (async () => {
      const dec = new TextDecoder();
      for await (const chunk of stream) this.text += dec.decode(chunk, { stream: true });
    })();
  }
  /** Resolves when the output after `from` matches; the bound only stops a hang (not a speed check). */
  async waitFor(re: RegExp, from: number, what: string, boundMs = 60_000): Promise<string> {
    const deadline = Date.now() + boundMs;
    while (Date.now() < deadline) {
      const seen = this.text.slice(from);
      if (re.test(seen)) return seen;
      await Bun.sleep(50);
    }
    throw new Error(`wd generate --watch: no ${what} within ${boundMs / 1000} s; it printed:\n${this.text}`);
  }
}

describe("a user's project: the generator installed from a registry", () => {
  let dir: string | undefined;
  let registry: Registry | undefined;
  let project = "";
  const env = () => ({ BUN_INSTALL_CACHE_DIR: join(dir!, "bun-cache") });
  const wd = (...args: string[]) => run([BUN, "x", "wd", ...args], project, env(), 120_000);

  beforeAll(async () => {
    if (unavailable !== null) return;
    dir = tempDir("user-flow");
    registry = await startRegistry(join(dir, "registry"));
    registry.publish(pack("runtime", dir));
    registry.publish(pack("generator", dir));
    project = join(dir, "project");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), `${JSON.stringify({ name: "my-project", private: true, type: "module" }, null, 2)}\n`);
    writeFileSync(join(project, "bunfig.toml"), `[install.scopes]\n"@warpdrive" = "${registry.url}"\n`);
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
    removeDir(dir);
  });

  test.skipIf(unavailable !== null)(`bun add the runtime and (as a dev dependency) the generator${suffix}`, () => {
    mustRun([BUN, "add", "@warpdrive/runtime"], project, env(), 120_000);
    mustRun([BUN, "add", "-d", "@warpdrive/generator"], project, env(), 180_000);
    const pkg = readJson(join(project, "package.json"));
    expect(pkg.dependencies).toEqual({ "@warpdrive/runtime": `^${runtimeVersion}` });
    expect(pkg.devDependencies).toEqual({ "@warpdrive/generator": `^${generatorVersion}` });
    // a real install: the generator's files, not a link into the repository
    const gen = join(project, "node_modules/@warpdrive/generator");
    expect(resolve(gen)).not.toStartWith(REPO);
    expect(existsSync(join(gen, "schema/device.schema.json"))).toBe(true);
  }, 300_000);

  test.skipIf(unavailable !== null)(`bunx wd new: a scaffold whose $schema resolves through the installed package${suffix}`, () => {
    const r = wd("new", NAME);
    expect(r.exitCode).toBe(0);
    const yaml = join(project, "devices", `${NAME}.yaml`);
    const first = readFileSync(yaml, "utf8").split("\n")[0]!;
    expect(first).toBe("# yaml-language-server: $schema=../node_modules/@warpdrive/generator/schema/device.schema.json");
    const schema = resolve(join(project, "devices"), first.replace(/^.*\$schema=/, ""));
    expect(readJson(schema).$id ?? readJson(schema).title).toBeDefined();
    expect(r.output).not.toContain("note:"); // nothing to install: the schema is already there
    for (const f of [`${NAME}.yaml`, `${NAME}/package.json`, `${NAME}/index.ts`, `${NAME}/behavior.ts`, `${NAME}/model.ts`]) {
      const text = readFileSync(join(project, "devices", f), "utf8");
      for (const machinePath of [REPO, dir!, tmpdir(), homedir()]) expect(`${f}: ${text.includes(machinePath)}`).toBe(`${f}: false`);
    }
  }, 120_000);

  test.skipIf(unavailable !== null)(`bunx wd validate and bunx wd generate, with no arguments${suffix}`, () => {
    const v = wd("validate");
    expect(v.output).toContain(`1 device description valid: devices/${NAME}.yaml`);
    expect(v.exitCode).toBe(0);
    const g = wd("generate");
    expect(g.output).toContain(`generated/${NAME}:`);
    expect(g.exitCode).toBe(0);
    const pkg = readJson(join(project, "generated", NAME, "package.json"));
    expect(pkg.name).toBe(`@warpdrive/${NAME}-generated`);
    expect(pkg.dependencies).toEqual({ "@warpdrive/runtime": `^${runtimeVersion}` });
    expect(pkg.warpdrive).toMatchObject({ generatorVersion, runtime: `^${runtimeVersion}`, source: `devices/${NAME}.yaml` });
    expect(readFileSync(join(project, "generated", NAME, "src/client.ts"), "utf8")).toContain(`from devices/${NAME}.yaml`);
  }, 120_000);

  test.skipIf(unavailable !== null)(`the driver and generated packages as workspaces of the project: tsc, and a copy on the sim backend${suffix}`, () => {
    const pkg = readJson(join(project, "package.json"));
    // what docs/new-device.md tells the user to add to package.json
    const withPackage = { ...pkg, workspaces: ["devices/*", "generated/*"], dependencies: { ...pkg.dependencies, [`@warpdrive/${NAME}`]: "workspace:*" } };
    writeFileSync(join(project, "package.json"), `${JSON.stringify(withPackage, null, 2)}\n`);
    mustRun([BUN, "install"], project, env(), 120_000);
    // one runtime for the app and the package: the one the project installed (Bun may link it
    // into the package's own node_modules; it is the same folder)
    const own = join(project, `generated/${NAME}/node_modules/@warpdrive/runtime`);
    const root = realpathSync(join(project, "node_modules/@warpdrive/runtime"));
    expect(existsSync(own) ? realpathSync(own) : root).toBe(root);
    writeFileSync(
      join(project, "app.ts"),
      [
        `import { MyAccel } from "@warpdrive/${NAME}";`,
        `using dev = await MyAccel.open({ backend: "sim" });`,
        `const buf = dev.client.alloc(8192, "user app");`,
        `for (let i = 0; i < 4096; i++) buf.bytes[i] = (i * 7) & 0xff;`,
        `dev.copy(buf.ref(0, 4096), buf.ref(4096, 4096));`,
        `// @ts-expect-error copy takes shared memory, not numbers`,
        `if (buf.size < 0) dev.copy(0, 4096);`,
        `const same = buf.bytes.subarray(0, 4096).every((b, i) => b === buf.bytes[4096 + i]);`,
        `console.log(JSON.stringify({ same, address: dev.client.device.address }));`,
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2023", module: "Preserve", moduleResolution: "bundler", lib: ["ES2023", "ESNext.Disposable"],
          types: ["bun"], typeRoots: [join(REPO, "node_modules/@types")], strict: true, skipLibCheck: true, noEmit: true,
          allowImportingTsExtensions: true, verbatimModuleSyntax: true,
        },
        include: ["app.ts", "generated", "devices"],
      }),
    );
    const tsc = run([BUN, TSC, "-p", "tsconfig.json"], project, {}, 180_000);
    expect(tsc.output).not.toContain("error TS");
    expect(tsc.exitCode).toBe(0);
    const layout = run([BUN, "test", `./generated/${NAME}/test`], project);
    expect(layout.output).toContain(" 0 fail");
    expect(layout.exitCode).toBe(0);
    const app = mustRun([BUN, "app.ts"], project, { WD_BACKEND: "sim" });
    expect(JSON.parse(app.stdout.trim().split("\n").pop()!)).toEqual({ same: true, address: expect.stringMatching(new RegExp(`^sim:${NAME}/`)) });
  }, 300_000);

  test.skipIf(unavailable !== null)(`wd generate --watch: an edit to a hand file leaves the generated package alone, one to the description regenerates; a mistake is shown, then fixed${suffix}`, async () => {
    const child = Bun.spawn([BUN, "x", "wd", "generate", "--watch"], { cwd: project, env: { ...process.env, ...env() }, stdout: "pipe", stderr: "pipe" });
    const out = new Output(child.stdout);
    const err = new Output(child.stderr);
    try {
      await out.waitFor(/watching devices for changes/, 0, "first run");
      // a hand-written file lives in the driver package: nothing of it is copied, the run finds
      // the generated package up to date
      let mark = out.text.length;
      const model = join(project, "devices", NAME, "model.ts");
      writeFileSync(model, `${readFileSync(model, "utf8")}// edited while watching\n`);
      const after = await out.waitFor(new RegExp(`generated/${NAME}: up to date[\\s\\S]*watching`), mark, "a run after the model edit");
      expect(after).toContain(`changed: devices/${NAME}/model.ts`);
      expect(existsSync(join(project, "generated", NAME, "src/hand"))).toBe(false);
      // a mistake in the description: its diagnostic, file:line:column, and nothing written
      const yaml = join(project, "devices", `${NAME}.yaml`);
      const good = readFileSync(yaml, "utf8");
      const bad = good.replace("depth: 64\n", "depth: lots\n");
      expect(bad).not.toBe(good);
      const line = bad.split("\n").findIndex((l) => l.includes("depth: lots")) + 1;
      mark = out.text.length;
      const errMark = err.text.length;
      writeFileSync(yaml, bad);
      await out.waitFor(/failed \(see above\); watching/, mark, "a failed run after the bad edit");
      expect(err.text.slice(errMark)).toMatch(new RegExp(`devices/${NAME}\\.yaml:${line}:\\d+: error: `));
      // fixed again: generated again
      mark = out.text.length;
      writeFileSync(yaml, good.replace("title: my-accel accelerator", "title: my-accel, edited"));
      await out.waitFor(new RegExp(`generated/${NAME}: \\d+ updated[\\s\\S]*done; watching`), mark, "regeneration after the fix");
      expect(readJson(join(project, "generated", NAME, "package.json")).description).toBe("my-accel, edited");
    } finally {
      child.kill();
      await child.exited;
    }
  }, 240_000);

  test.skipIf(unavailable !== null)(`a runtime outside the generated range: importing the package names both versions${suffix}`, () => {
    // What a project that forces another runtime (overrides, a copy, a link) ends up with.
    const installed = join(project, "node_modules/@warpdrive/runtime/src/version.ts");
    const original = readFileSync(installed, "utf8");
    writeFileSync(installed, original.replace(`"${runtimeVersion}"`, `"9.0.0"`));
    try {
      const r = run([BUN, "app.ts"], project, { WD_BACKEND: "sim" });
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toContain(`@warpdrive/${NAME}-generated was generated by @warpdrive/generator ${generatorVersion} for @warpdrive/runtime ^${runtimeVersion}, but @warpdrive/runtime 9.0.0 is installed`);
    } finally {
      writeFileSync(installed, original);
    }
    expect(run([BUN, "app.ts"], project, { WD_BACKEND: "sim" }).exitCode).toBe(0);
  }, 120_000);
});
