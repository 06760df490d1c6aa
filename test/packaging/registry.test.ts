// Publishing for real: a local npm registry (verdaccio, run by Bun on 127.0.0.1), `bun publish` of
// the runtime and qemu-edu tarballs with NPM_CONFIG_TOKEN, then a fresh folder whose bunfig.toml
// points the @warpdrive scope at that registry runs `bun add @warpdrive/qemu-edu` (the runtime
// comes along as its dependency) and the same app as the tarball test.
//
// verdaccio is installed once into .cache/verdaccio (gitignored, outside the workspace, not a
// repository dependency). It needs the public npm registry the first time; when that install
// fails the tests below are reported as SKIPPED with the reason in their names and on stderr,
// never as passed. The registry is stopped and every temp folder removed in afterAll.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, mustRun, pack, readJson, removeDir, run, runApp, tempDir, writeApp } from "./helpers.ts";

const VERDACCIO_VERSION = "6.10.4";
const CACHE = join(REPO, ".cache/verdaccio");
const VERDACCIO_BIN = join(CACHE, "node_modules/verdaccio/bin/verdaccio");

/** Installs verdaccio into the cache folder unless that exact version is there; null or why not. */
function installVerdaccio(): string | null {
  const installed = join(CACHE, "node_modules/verdaccio/package.json");
  if (existsSync(installed) && readJson(installed).version === VERDACCIO_VERSION && existsSync(VERDACCIO_BIN)) return null;
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(
    join(CACHE, "package.json"),
    JSON.stringify({
      name: "wd-verdaccio-cache",
      private: true,
      description: "verdaccio for test/packaging/registry.test.ts (installed by the test, not part of the workspace)",
      dependencies: { verdaccio: VERDACCIO_VERSION },
      // verdaccio's node-fetch 3 does not install under Bun here; 2.7.0 does (shared/notes/bun-ffi.md)
      overrides: { "node-fetch": "2.7.0" },
    }, null, 2),
  );
  const r = run([BUN, "install", "--no-progress"], CACHE, {}, 100_000);
  if (r.exitCode !== 0 || !existsSync(VERDACCIO_BIN)) {
    const last = `${r.stdout}${r.stderr}`.trim().split("\n").slice(-3).join(" | ");
    return `could not install verdaccio ${VERDACCIO_VERSION} into .cache/verdaccio (no network to the npm registry?): exit ${r.exitCode}: ${last}`;
  }
  return null;
}

const unavailable = installVerdaccio();
if (unavailable !== null) console.warn(`test/packaging/registry.test.ts SKIPPED: ${unavailable}`);
const suffix = unavailable === null ? "" : ` (SKIPPED: ${unavailable})`;

/** A port nothing listens on right now (the registry binds it a moment later). */
function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

describe("local registry: bun publish, then bun add by name", () => {
  let dir: string | undefined;
  let registry: ReturnType<typeof Bun.spawn> | undefined;
  let url = "";
  let token = "";
  let runtimeTgz = "";
  let eduTgz = "";

  beforeAll(async () => {
    if (unavailable !== null) return;
    dir = tempDir("registry");
    const storage = join(dir, "storage");
    mkdirSync(storage);
    const config = join(dir, "config.yaml");
    writeFileSync(
      config,
      [
        `storage: ${storage}`,
        "auth:",
        "  htpasswd:",
        `    file: ${join(dir, "htpasswd")}`,
        "    max_users: 10",
        "uplinks: {}", // nothing is proxied: every @warpdrive package must come from our publish
        "packages:",
        "  '**':",
        "    access: $all",
        "    publish: $authenticated",
        "log: { type: stdout, format: pretty, level: warn }",
        "",
      ].join("\n"),
    );
    // Start it, retrying on a port someone took between freePort() and the bind.
    for (let attempt = 0; attempt < 3 && url === ""; attempt++) {
      const port = freePort();
      const proc = Bun.spawn([BUN, VERDACCIO_BIN, "--config", config, "--listen", `127.0.0.1:${port}`], {
        cwd: dir,
        stdout: "pipe",
        stderr: "pipe",
      });
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && proc.exitCode === null) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/-/ping`);
          if (res.ok) {
            url = `http://127.0.0.1:${port}/`;
            registry = proc;
            break;
          }
        } catch {
          // not listening yet
        }
        await Bun.sleep(100);
      }
      if (url === "") proc.kill();
    }
    if (url === "") throw new Error("verdaccio did not answer /-/ping on 127.0.0.1 within 30 s (three ports tried)");
    // A user for publishing; verdaccio answers with the token bun publish sends.
    const res = await fetch(`${url}-/user/org.couchdb.user:warpdrive-test`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "warpdrive-test", password: `pw-${crypto.randomUUID()}` }),
    });
    const body = (await res.json()) as { token?: string };
    if (!res.ok || typeof body.token !== "string") throw new Error(`creating a registry user failed: HTTP ${res.status} ${JSON.stringify(body)}`);
    token = body.token;
    runtimeTgz = pack("runtime", dir);
    eduTgz = pack("generated/qemu-edu", dir);
  }, 60_000);

  afterAll(async () => {
    if (registry !== undefined) {
      registry.kill();
      await registry.exited;
    }
    removeDir(dir);
  });

  test.skipIf(unavailable !== null)(`bun publish runtime and qemu-edu with NPM_CONFIG_TOKEN${suffix}`, async () => {
    // bun publish takes a tarball but wants a package.json in its working folder: a neutral one
    const pub = join(dir!, "publish");
    mkdirSync(pub);
    writeFileSync(join(pub, "package.json"), JSON.stringify({ name: "wd-publisher", private: true }));
    const env = { NPM_CONFIG_TOKEN: token, BUN_INSTALL_CACHE_DIR: join(dir!, "bun-cache") };
    for (const tgz of [runtimeTgz, eduTgz]) {
      const r = mustRun([BUN, "publish", tgz, "--registry", url], pub, env);
      expect(r.output).toMatch(/\+ @warpdrive\/(runtime|qemu-edu)@/);
    }
    // what the registry now serves: qemu-edu depends on the published runtime version
    const runtimeVersion = readJson(join(REPO, "runtime/package.json")).version;
    const manifest = (await (await fetch(`${url}@warpdrive%2fqemu-edu`)).json()) as any;
    const latest = manifest["dist-tags"].latest;
    expect(manifest.versions[latest].dependencies).toEqual({ "@warpdrive/runtime": runtimeVersion });
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
    // the runtime came from the registry as qemu-edu's dependency
    expect(existsSync(join(app, "node_modules/@warpdrive/runtime/src/index.ts"))).toBe(true);
    const out = runApp(app);
    expect(out.factorial).toBe(120);
    expect(out.dma).toEqual([1, 2, 3, 4]);
  }, 60_000);
});
