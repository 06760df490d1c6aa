// The async examples run end to end on the sim: the gzip server's bounded loopback load test
// (both servers answer every request with gzip that gunzips to its page; the example checks that
// itself and fails otherwise) and the large-file compression over every queue pair.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");

function run(args: string[]): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(["bun", ...args], { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, WD_BACKEND: "sim" } });
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}

describe("async examples", () => {
  test("server.ts --load: a fixed number of requests against hzip and node:zlib, every response valid gzip", () => {
    const r = run(["examples/server.ts", "--load", "120", "--concurrency", "8", "--size", "4096", "--json"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out.trim().split("\n").at(-1)!) as { results: { engine: string; requests: number; perSecond: number; p50ms: number; p99ms: number }[] };
    expect(res.results.map((x) => x.engine.split(" ")[0])).toEqual(["hzip", "node:zlib"]);
    for (const x of res.results) {
      expect(x.requests).toBe(120);
      expect(x.p99ms).toBeGreaterThanOrEqual(x.p50ms);
    }
  }, 120_000);

  test("gzip-file.ts compresses a sample through the queue pairs and gunzip gives it back", () => {
    const r = run(["examples/gzip-file.ts", "--sample", "3", "--chunk", "262144"]);
    expect(r.code).toBe(0);
    expect(r.err).toContain("over 4 queue pairs");
    expect(r.err).toContain("gunzip gives back the input: yes");
  }, 120_000);
});
