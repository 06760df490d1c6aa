// An HTTP server on Bun.serve that gzips its responses through the hzip accelerator (sim by
// default), with awaitable requests: the event loop keeps serving while the device works.
//
//   bun examples/server.ts                       serve on 127.0.0.1:3000 (hzip), until Ctrl-C
//   bun examples/server.ts --engine zlib         the same server with node:zlib's async gzip
//   bun examples/server.ts --load 2000           bounded loopback load test: 2000 requests from
//                                                127.0.0.1 at --concurrency 32 against the hzip
//                                                server, then the node:zlib one; every response is
//                                                checked to be gzip of the page; prints throughput
//                                                and p50/p99, then exits (--json: one JSON line)
//
// Options: --port N (0: any), --size BYTES (page size, default 32768), --level 0-9 (hzip),
//          --backend sim|vfio --device ADDRESS (as every example).
import { parseArgs } from "node:util";
import { gunzipSync, gzip } from "node:zlib";
import { promisify } from "node:util";
import { formatError } from "@warpdrive/runtime";
import { HzipPool } from "@warpdrive/hzip";

const { values: opt } = parseArgs({
  options: {
    engine: { type: "string", default: "hzip" },
    port: { type: "string", default: "3000" },
    size: { type: "string", default: "32768" },
    level: { type: "string", default: "0" },
    load: { type: "string" },
    concurrency: { type: "string", default: "32" },
    json: { type: "boolean", default: false },
    backend: { type: "string" },
    device: { type: "string" },
  },
});

function intOption(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer ${min}..${max}, got ${v}`);
    process.exit(2);
  }
  return n;
}

const SIZE = intOption("size", opt.size, 1, 4 << 20);
const LEVEL = intOption("level", opt.level, 0, 9);

/** The page for `path`: text that differs per path (so nothing can be cached), SIZE bytes. */
export function page(path: string): Uint8Array {
  const line = `<li>${path}: the quick brown fox jumps over the lazy dog, ${path.length} times over</li>\n`;
  const head = `<!doctype html><title>${path}</title><ul>\n`;
  return new TextEncoder().encode((head + line.repeat(Math.ceil(SIZE / line.length))).slice(0, SIZE));
}

type Gzip = (data: Uint8Array) => Promise<Uint8Array>;
const zlibGzip = promisify(gzip) as (data: Uint8Array) => Promise<Uint8Array>;

/** Starts a server that answers every GET with the gzipped page of its path. */
function serve(compress: Gzip, port: number): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const body = await compress(page(path));
      return new Response(body, { headers: { "Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip" } });
    },
    error(e) {
      return new Response(`compression failed: ${formatError(e)}\n`, { status: 503 });
    },
  });
}

interface LoadResult {
  engine: string;
  requests: number;
  concurrency: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
}

/** `n` GETs from 127.0.0.1, `c` at a time; each body is kept raw (decompress: false) and checked after. */
async function load(engine: string, url: string, n: number, c: number): Promise<LoadResult> {
  const lat = new Float64Array(n);
  const bodies: Uint8Array[] = new Array(n);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const t = performance.now();
      const r = await fetch(`${url}/item/${i}`, { decompress: false } as RequestInit);
      if (r.status !== 200) throw new Error(`${engine}: request ${i} answered ${r.status}: ${await r.text()}`);
      if (r.headers.get("content-encoding") !== "gzip") throw new Error(`${engine}: request ${i} is not gzip-encoded`);
      bodies[i] = new Uint8Array(await r.arrayBuffer());
      lat[i] = performance.now() - t;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: c }, worker));
  const seconds = (performance.now() - t0) / 1000;
  // Every response must be a valid gzip stream of exactly its page (outside the timed window).
  for (let i = 0; i < n; i++) {
    const got = new Uint8Array(gunzipSync(bodies[i]!));
    const want = page(`/item/${i}`);
    if (got.length !== want.length || !got.every((b, k) => b === want[k])) throw new Error(`${engine}: response ${i} does not gunzip to its page`);
  }
  const sorted = [...lat].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(n - 1, Math.floor((p / 100) * n))]!;
  return { engine, requests: n, concurrency: c, seconds, perSecond: n / seconds, p50ms: pct(50), p99ms: pct(99) };
}

async function main(): Promise<void> {
  const backend = opt.backend as "sim" | "vfio" | undefined;
  if (opt.load === undefined) {
    const port = intOption("port", opt.port, 0, 65535);
    let compress: Gzip;
    let pool: HzipPool | undefined;
    if (opt.engine === "zlib") {
      compress = zlibGzip;
    } else if (opt.engine === "hzip") {
      pool = await HzipPool.open({ backend, address: opt.device });
      const p = pool;
      compress = (d) => p.compress(d, "gzip", { level: LEVEL });
    } else {
      console.error(`--engine must be hzip or zlib, got ${opt.engine}`);
      process.exit(2);
    }
    const server = serve(compress, port);
    console.log(`serving gzip through ${pool ? `hzip ${pool.address}` : "node:zlib"} on http://127.0.0.1:${server.port}/ (Ctrl-C to stop)`);
    process.on("SIGINT", () => {
      server.stop(true);
      pool?.close();
      process.exit(0);
    });
    return;
  }

  const n = intOption("load", opt.load, 1, 1_000_000);
  const c = intOption("concurrency", opt.concurrency, 1, 4096);
  const results: LoadResult[] = [];
  {
    using pool = await HzipPool.open({ backend, address: opt.device });
    const server = serve((d) => pool.compress(d, "gzip", { level: LEVEL }), 0);
    try {
      await load("hzip warm-up", `http://127.0.0.1:${server.port}`, Math.min(n, 200), c);
      results.push(await load(`hzip (${pool.address}, ${pool.queues.length} queue pairs)`, `http://127.0.0.1:${server.port}`, n, c));
    } finally {
      server.stop(true);
    }
  }
  {
    const server = serve(zlibGzip, 0);
    try {
      await load("zlib warm-up", `http://127.0.0.1:${server.port}`, Math.min(n, 200), c);
      results.push(await load("node:zlib async gzip", `http://127.0.0.1:${server.port}`, n, c));
    } finally {
      server.stop(true);
    }
  }
  if (opt.json) {
    console.log(JSON.stringify({ size: SIZE, results }));
    return;
  }
  console.log(`${n} requests of a ${SIZE}-byte page, ${c} at a time, from 127.0.0.1; every response checked to gunzip to its page`);
  for (const r of results) {
    console.log(`  ${r.engine.padEnd(44)} ${r.perSecond.toFixed(0).padStart(7)} req/s   p50 ${r.p50ms.toFixed(2)} ms   p99 ${r.p99ms.toFixed(2)} ms`);
  }
  console.log(`  hzip / node:zlib throughput: ${(results[0]!.perSecond / results[1]!.perSecond).toFixed(2)}`);
}

main().catch((e) => {
  console.error(formatError(e));
  process.exit(1);
});
