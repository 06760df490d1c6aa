// Awaitable requests (the runtime's AsyncQueue) against the sync path, and the gzip HTTP server
// example against the same server on node:zlib.
//
// queue.async.batch32: wd-dummy against the native consumer thread (as the queue item), 64-byte
// copies; ours = `await q.submit(...)` with many in flight (waves of 4096 submissions, one
// Promise.all each, doorbells batched per tick by the layer), reference = the generated client's
// sync loop with a doorbell per 32 (queue.client.batch32's loop). Samples alternate.
// app.gzip: `bun examples/server.ts --load N --json` (a bounded loopback load test, every response
// checked to be gzip of its page): requests per second through hzip (sim) vs node:zlib's async gzip.
import { join } from "node:path";
import { DescStatus, WdDummyDevice } from "@warpdrive/wd-dummy";
import { nativeWdDummyBackend } from "../native/backend.ts";
import { consumerLib } from "../native/lib.ts";
import { ratioGoal, type BenchEntry, type BenchResult } from "../report.ts";
import { spreadOf } from "../stats.ts";
import { clientBatch32 } from "./queue.ts";

const COPY = 64;
const WAVE = 4096;

export async function benchAsync(scale = 1, runs = 7): Promise<BenchEntry[]> {
  return [await batch32(scale, runs), appGzip(scale)];
}

async function batch32(scale: number, runs: number): Promise<BenchEntry> {
  const id = "queue.async.batch32";
  const lib = consumerLib();
  if (typeof lib === "string") return { id, what: id, skipped: `no native consumer: ${lib}` };
  using dev = await WdDummyDevice.open({ backend: nativeWdDummyBackend() });
  using src = dev.alloc(1 << 16, "bench source");
  using dst = dev.alloc(1 << 16, "bench destination");
  const s = src.ref(0, COPY);
  const d = dst.ref(0, COPY);
  const n = Math.max(WAVE, Math.round(320_000 * scale / WAVE) * WAVE);

  const syncSample = () => {
    using q = dev.requestQueue("cmd");
    return clientBatch32(q, s, d, n);
  };
  const asyncSample = async () => {
    using q = dev.requestQueue("cmd");
    q.async.maxWaiters = WAVE;
    let bad = 0;
    const t0 = Bun.nanoseconds();
    for (let sent = 0; sent < n; sent += WAVE) {
      const wave = new Array<Promise<unknown>>(WAVE);
      for (let i = 0; i < WAVE; i++) wave[i] = q.submit({ src: s, dst: d, size: COPY, cookie: sent + i });
      for (const c of (await Promise.all(wave)) as { status: number }[]) if (c.status !== DescStatus.DONE) bad++;
    }
    const ns = (Bun.nanoseconds() - t0) / n;
    if (bad) throw new Error(`${id}: ${bad} requests did not complete DONE`);
    return ns;
  };
  const ours: number[] = [];
  const ref: number[] = [];
  await asyncSample(); // warm-up (JIT tiers)
  syncSample();
  for (let r = 0; r < runs; r++) {
    ours.push(await asyncSample());
    ref.push(syncSample());
  }
  const o = spreadOf(ours);
  const f = spreadOf(ref);
  const ratio = f.median / o.median;
  return {
    id, what: "wd-dummy, await q.submit() with many in flight (batched per tick)", value: o.median, unit: "ns/req",
    reference: { what: "sync generated client, doorbell per 32", value: f.median, unit: "ns/req" }, ratio, ...ratioGoal(ratio, 0.5),
    spread: { value: o, reference: f }, rounds: { ours, reference: ref },
    note: "same device and consumer thread; each awaitable request costs a promise and its settlement",
  };
}

function appGzip(scale: number): BenchEntry {
  const id = "app.gzip";
  const n = Math.max(200, Math.round(4000 * scale));
  const root = join(import.meta.dir, "..", "..");
  const p = Bun.spawnSync(["bun", "examples/server.ts", "--load", String(n), "--concurrency", "32", "--json"], {
    cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, WD_BACKEND: "sim" },
  });
  if (p.exitCode !== 0) throw new Error(`${id}: examples/server.ts exited ${p.exitCode}: ${p.stderr.toString().trim()}`);
  const res = JSON.parse(p.stdout.toString().trim().split("\n").at(-1)!) as {
    size: number; results: { engine: string; perSecond: number; p50ms: number; p99ms: number }[];
  };
  const [hz, zl] = res.results as [typeof res.results[0], typeof res.results[0]];
  const r: BenchResult = {
    id, what: `gzip HTTP server (${res.size}-byte pages, ${n} requests, 32 at a time): hzip sim`, value: hz.perSecond, unit: "req/s",
    reference: { what: "same server, node:zlib async gzip", value: zl.perSecond, unit: "req/s" }, ratio: hz.perSecond / zl.perSecond,
    goal: null, met: null,
    note: "context: the sim compresses in one model thread on this machine's cores, node:zlib in its thread pool; on hardware the device does the work",
    extra: { hzip: hz, zlib: zl },
  };
  return r;
}
