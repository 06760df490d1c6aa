// Publishing for real: the local registry (registry.ts), `bun publish` of the runtime, qemu-edu's
// generated package and its driver package with NPM_CONFIG_TOKEN, then a fresh folder whose
// bunfig.toml points the @warpdrive scope at that registry runs `bun add @warpdrive/qemu-edu` (the
// generated package and the runtime come along as dependencies) and the same app as the tarball test. The registry is stopped and every temp folder removed in
// afterAll.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, mustRun, pack, readJson, removeDir, run, runApp, tempDir, writeApp } from "./helpers.ts";
import { installVerdaccio, startRegistry, type Registry } from "./registry.ts";

const unavailable = installVerdaccio();
if (unavailable !== null) console.warn(`test/packaging/registry.test.ts SKIPPED: ${unavailable}`);
const suffix = unavailable === null ? "" : ` (SKIPPED: ${unavailable})`;

describe("local registry: bun publish, then bun add by name", () => {
  let dir: string | undefined;
  let registry: Registry | undefined;
  let url = "";
  let token = "";
  let runtimeTgz = "";
  let eduGeneratedTgz = "";
  let eduTgz = "";

  beforeAll(async () => {
    if (unavailable !== null) return;
    dir = tempDir("registry");
    registry = await startRegistry(dir);
    url = registry.url;
    token = registry.token;
    runtimeTgz = pack("runtime", dir);
    eduGeneratedTgz = pack("generated/qemu-edu", dir);
    eduTgz = pack("devices/qemu-edu", dir);
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    removeDir(dir);
  });

  test.skipIf(unavailable !== null)(`bun publish runtime, qemu-edu-generated and qemu-edu with NPM_CONFIG_TOKEN${suffix}`, async () => {
    const pub = join(dir!, "publish");
    for (const tgz of [runtimeTgz, eduGeneratedTgz, eduTgz]) {
      const r = mustRun([BUN, "publish", tgz, "--registry", url], pub, { NPM_CONFIG_TOKEN: token, BUN_INSTALL_CACHE_DIR: join(dir!, "bun-cache") });
      expect(r.output).toMatch(/\+ @warpdrive\/(runtime|qemu-edu-generated|qemu-edu)@/);
    }
    // what the registry now serves: the driver depends on the published generated package and
    // runtime versions, the generated package on the runtime's
    const runtimeVersion = readJson(join(REPO, "runtime/package.json")).version;
    const generatedVersion = readJson(join(REPO, "generated/qemu-edu/package.json")).version;
    const dependenciesOf = async (name: string) => {
      const manifest = (await (await fetch(`${url}@warpdrive%2f${name}`)).json()) as any;
      return manifest.versions[manifest["dist-tags"].latest].dependencies;
    };
    expect(await dependenciesOf("qemu-edu")).toEqual({ "@warpdrive/qemu-edu-generated": generatedVersion, "@warpdrive/runtime": runtimeVersion });
    expect(await dependenciesOf("qemu-edu-generated")).toEqual({ "@warpdrive/runtime": runtimeVersion });
    const rt = (await (await fetch(`${url}@warpdrive%2fruntime`)).json()) as any;
    expect(rt["dist-tags"].latest).toBe(runtimeVersion);
    // publishing without a token is refused (the token above is what let it through)
    const anon = run([BUN, "publish", runtimeTgz, "--registry", url], pub, { NPM_CONFIG_TOKEN: "", BUN_INSTALL_CACHE_DIR: join(dir!, "bun-cache") });
    expect(anon.exitCode).not.toBe(0);
  }, 60_000);

  test.skipIf(unavailable !== null)(`a fresh folder with a scoped registry in bunfig.toml: bun add @warpdrive/qemu-edu, run the app${suffix}`, () => {
    const app = join(dir!, "app");
    mkdirSync(app);
    writeApp(app);
    writeFileSync(join(app, "bunfig.toml"), `[install.scopes]\n"@warpdrive" = "${url}"\n`);
    const add = mustRun([BUN, "add", "@warpdrive/qemu-edu"], app, { BUN_INSTALL_CACHE_DIR: join(dir!, "app-cache") });
    expect(add.output).toContain("@warpdrive/qemu-edu");
    const pkg = readJson(join(app, "package.json"));
    expect(Object.keys(pkg.dependencies)).toEqual(["@warpdrive/qemu-edu"]);
    // the generated package and the runtime came from the registry as qemu-edu's dependencies
    expect(existsSync(join(app, "node_modules/@warpdrive/qemu-edu-generated/src/index.ts"))).toBe(true);
    expect(existsSync(join(app, "node_modules/@warpdrive/runtime/src/index.ts"))).toBe(true);
    const out = runApp(app);
    expect(out.factorial).toBe(120);
    expect(out.dma).toEqual([1, 2, 3, 4]);
  }, 60_000);
});
