// Compresses a large file through every hzip queue pair at once (sim by default), awaitable
// requests spread round robin, with a progress line on a terminal (plain lines in a log); writes
// FILE.gz (one gzip member per chunk: gunzip reads them as one file) and checks it with node:zlib.
//
//   bun examples/gzip-file.ts FILE [--out FILE.gz] [--chunk BYTES] [--level 0-9]
//   bun examples/gzip-file.ts --sample 64        make a 64 MiB sample file in a temporary folder first
import { parseArgs } from "node:util";
import { mkdtempSync, openSync, readSync, closeSync, rmSync, statSync, writeFileSync, createReadStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { progress } from "@warpdrive/progress";
import { formatError } from "@warpdrive/runtime";
import { HzipPool } from "@warpdrive/hzip";

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: "string" },
    chunk: { type: "string", default: String(1 << 20) },
    level: { type: "string", default: "0" },
    sample: { type: "string" },
    backend: { type: "string" },
    device: { type: "string" },
  },
});

function sample(dir: string, mib: number): string {
  const path = join(dir, "sample.txt");
  const line = (i: number) => `${i.toString(16).padStart(8, "0")} the quick brown fox jumps over the lazy dog ${(i * 2654435761) >>> 0}\n`;
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < mib << 20; i++) {
    const l = line(i);
    parts.push(l);
    n += l.length;
  }
  writeFileSync(path, parts.join(""));
  return path;
}

/** Streams `path` through gunzip and compares with `input`, chunk by chunk. */
async function sameAfterGunzip(path: string, input: string): Promise<boolean> {
  const fd = openSync(input, "r");
  let at = 0;
  let same = true;
  try {
    for await (const piece of createReadStream(path).pipe(createGunzip())) {
      const b = piece as Buffer;
      const want = Buffer.alloc(b.length);
      const got = readSync(fd, want, 0, b.length, at);
      if (got !== b.length || !want.equals(b)) same = false;
      at += b.length;
    }
  } finally {
    closeSync(fd);
  }
  return same && at === statSync(input).size;
}

async function main(): Promise<void> {
  const temp = opt.sample !== undefined ? mkdtempSync(join(tmpdir(), "wd-gzip-")) : undefined;
  try {
    const input = temp !== undefined ? sample(temp, Number(opt.sample)) : positionals[0];
    if (input === undefined) throw new Error("usage: bun examples/gzip-file.ts FILE | --sample MIB");
    const chunk = Number(opt.chunk);
    const level = Number(opt.level);
    const size = statSync(input).size;
    if (size === 0) throw new Error(`${input} is empty: nothing to compress`);
    const output = opt.out ?? `${input}.gz`;
    const chunks = Math.ceil(size / chunk);

    using z = await HzipPool.open({ backend: opt.backend as "sim" | "vfio" | undefined, address: opt.device, bufferSize: chunk, buffers: 16 });
    const bar = progress("gzip-file");
    bar.log(`${z.address}: ${input} (${(size / (1 << 20)).toFixed(1)} MiB) in ${chunks} chunks over ${z.queues.length} queue pairs`);
    const fd = openSync(input, "r");
    const out: Uint8Array[] = new Array(chunks);
    const t0 = performance.now();
    let next = 0;
    let done = 0;
    let bytesIn = 0;
    // As many chunks in flight as the pool has staging buffers: each worker reads one, awaits it.
    const worker = async () => {
      for (let i = next++; i < chunks; i = next++) {
        const len = Math.min(chunk, size - i * chunk);
        const data = new Uint8Array(len);
        readSync(fd, data, 0, len, i * chunk);
        out[i] = await z.compress(data, "gzip", { level });
        bytesIn += len;
        bar.update("compressing", ++done, chunks);
      }
    };
    try {
      await Promise.all(Array.from({ length: 16 }, worker));
    } finally {
      closeSync(fd);
    }
    const ms = performance.now() - t0;
    writeFileSync(output, Buffer.concat(out));
    const gzSize = statSync(output).size;
    bar.update("checking with node:zlib");
    const ok = await sameAfterGunzip(output, input);
    bar.end(`wrote ${output}: ${(gzSize / (1 << 20)).toFixed(1)} MiB (${((gzSize / size) * 100).toFixed(1)}%) in ${ms.toFixed(0)} ms, ` +
      `${(bytesIn / (1 << 20) / (ms / 1000)).toFixed(0)} MiB/s; gunzip gives back the input: ${ok ? "yes" : "NO"}`);
    if (!ok) process.exitCode = 1;
  } finally {
    if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(formatError(e));
  process.exit(1);
});
