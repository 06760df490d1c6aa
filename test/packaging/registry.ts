// A local npm registry for the packaging tests: verdaccio, run by Bun on 127.0.0.1 with its storage
// in a temp folder, nothing proxied (every @warpdrive package must come from our own publish), a
// user whose token `bun publish` sends. Shared by registry.test.ts and user-flow.test.ts.
//
// verdaccio is installed once into .cache/verdaccio (gitignored, outside the workspace, not a
// repository dependency). It needs the public npm registry the first time; when that install
// fails the tests that need it are reported as SKIPPED with the reason, never as passed.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, mustRun, readJson, run } from "./helpers.ts";

const VERDACCIO_VERSION = "6.10.4";
const CACHE = join(REPO, ".cache/verdaccio");
const VERDACCIO_BIN = join(CACHE, "node_modules/verdaccio/bin/verdaccio");

/** Installs verdaccio into the cache folder unless that exact version is there; null or why not. */
export function installVerdaccio(): string | null {
  const installed = join(CACHE, "node_modules/verdaccio/package.json");
  if (existsSync(installed) && readJson(installed).version === VERDACCIO_VERSION && existsSync(VERDACCIO_BIN)) return null;
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(
    join(CACHE, "package.json"),
    JSON.stringify({
      name: "wd-verdaccio-cache",
      private: true,
      description: "verdaccio for the packaging tests (installed by test/packaging/registry.ts, not part of the workspace)",
      dependencies: { verdaccio: VERDACCIO_VERSION },
      // verdaccio's node-fetch 3 does not install under Bun here; 2.7.0 does
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

/** A port nothing listens on right now (the registry binds it a moment later). */
function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export interface Registry {
  /** http://127.0.0.1:PORT/ */
  url: string;
  /** What NPM_CONFIG_TOKEN must hold for `bun publish`. */
  token: string;
  /** `bun publish <tarball>` from a neutral folder (bun publish wants a package.json where it runs). */
  publish(tgz: string): void;
  stop(): Promise<void>;
}

/** Starts verdaccio with its storage and config under `dir` (a temp folder the caller removes). */
export async function startRegistry(dir: string): Promise<Registry> {
  const storage = join(dir, "storage");
  mkdirSync(storage, { recursive: true });
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
  let url = "";
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  // Start it, retrying on a port someone took between freePort() and the bind.
  for (let attempt = 0; attempt < 3 && url === ""; attempt++) {
    const port = freePort();
    const p = Bun.spawn([BUN, VERDACCIO_BIN, "--config", config, "--listen", `127.0.0.1:${port}`], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && p.exitCode === null) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/-/ping`);
        if (res.ok) {
          url = `http://127.0.0.1:${port}/`;
          proc = p;
          break;
        }
      } catch {
        // not listening yet
      }
      await Bun.sleep(100);
    }
    if (url === "") p.kill();
  }
  if (url === "" || proc === undefined) throw new Error("verdaccio did not answer /-/ping on 127.0.0.1 within 30 s (three ports tried)");
  const server = proc;
  const stop = async () => {
    server.kill();
    await server.exited;
  };
  try {
    // A user for publishing; verdaccio answers with the token bun publish sends.
    const res = await fetch(`${url}-/user/org.couchdb.user:warpdrive-test`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "warpdrive-test", password: `pw-${crypto.randomUUID()}` }),
    });
    const body = (await res.json()) as { token?: string };
    if (!res.ok || typeof body.token !== "string") throw new Error(`creating a registry user failed: HTTP ${res.status} ${JSON.stringify(body)}`);
    const token = body.token;
    const pub = join(dir, "publish");
    mkdirSync(pub, { recursive: true });
    writeFileSync(join(pub, "package.json"), JSON.stringify({ name: "wd-publisher", private: true }));
    const publish = (tgz: string) => {
      mustRun([BUN, "publish", tgz, "--registry", url], pub, { NPM_CONFIG_TOKEN: token, BUN_INSTALL_CACHE_DIR: join(dir, "publish-cache") });
    };
    return { url, token, publish, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
