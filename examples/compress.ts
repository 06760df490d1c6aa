// Compresses a file through the hzip accelerator's queue and writes <file>.gz, then checks that the
// result really is gzip: `gunzip -c` (when installed) and node:zlib must both give back the
// original bytes. Large files go in chunks of --chunk bytes, several requests in flight at once, one
// gzip member per chunk (gunzip reads concatenated members as one file).
//
//   bun examples/compress.ts [FILE] [--out FILE.gz] [--chunk BYTES] [--level 1-9]
//   bun examples/compress.ts FILE --backend vfio --device 0000:00:05.0
//   bun examples/compress.ts FILE --backend uacce [--device uacce:hzip-0]   # a UACCE queue (kernel zlib)
//
// Without FILE it makes a sample (the repository's docs and sources, repeated to ~3 MiB) in a
// temporary folder and removes it afterwards, so `bun run demo` leaves nothing behind.
import { parseArgs } from "node:util";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { formatError, type BackendKind } from "@warpdrive/runtime";
import { Hzip } from "@warpdrive/hzip";
import { MAX_REQUEST_LENGTH } from "@warpdrive/hzip-generated/constants";

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    backend: { type: "string" },
    device: { type: "string" },
    out: { type: "string" },
    chunk: { type: "string", default: String(1 << 20) },
    level: { type: "string", default: "0" },
  },
});

/** A few MiB of real text: every .md and .ts file under docs/ and devices/, repeated. */
function sampleFile(dir: string): string {
  const root = join(import.meta.dir, "..");
  const parts: Buffer[] = [];
  for (const sub of ["docs", "devices", "examples"]) {
    const walk = (d: string) => {
      for (const name of readdirSync(d).sort()) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(md|ts|yaml)$/.test(name)) parts.push(readFileSync(p));
      }
    };
    if (existsSync(join(root, sub))) walk(join(root, sub));
  }
  const one = Buffer.concat(parts);
  const copies = Math.max(1, Math.ceil((3 << 20) / Math.max(1, one.length)));
  const path = join(dir, "sample.txt");
  writeFileSync(path, Buffer.concat(Array.from({ length: copies }, () => one)));
  return path;
}

function mib(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(2)} MiB`;
}

async function main(): Promise<void> {
  const temp = positionals[0] === undefined ? mkdtempSync(join(tmpdir(), "wd-compress-")) : undefined;
  try {
    const input = positionals[0] ?? sampleFile(temp!);
    const output = opt.out ?? `${input}.gz`;
    const chunkSize = Number(opt.chunk);
    const level = Number(opt.level);
    const data = new Uint8Array(readFileSync(input));
    if (data.length === 0) throw new Error(`${input} is empty: nothing to compress`);

    using z = await Hzip.open({ backend: opt.backend as BackendKind | undefined, address: opt.device });
    console.log(`${z.address}: compressing ${input} (${mib(data.length)}) in ${Math.ceil(data.length / chunkSize)} chunk(s) of up to ${mib(chunkSize)}`);
    const t0 = performance.now();
    let negative = 0;
    const gz = z.compressChunked(data, {
      chunkSize,
      level,
      inFlight: 4,
      onChunk: (_i, r) => {
        if (r.statusName === "NEGATIVE_COMPRESSION") negative++;
      },
    });
    const ms = performance.now() - t0;
    writeFileSync(output, gz);
    const ratio = ((gz.length / data.length) * 100).toFixed(1);
    console.log(`  wrote ${output}: ${mib(gz.length)} (${ratio}% of the input) in ${ms.toFixed(0)} ms, ${(data.length / (1 << 20) / (ms / 1000)).toFixed(0)} MiB/s` +
      (negative > 0 ? `; ${negative} chunk(s) came out larger than they went in` : ""));

    // Check 1: node:zlib reads every member back.
    const viaZlib = gunzipSync(readFileSync(output));
    const zlibOk = Buffer.from(data).equals(viaZlib);
    console.log(`  node:zlib gunzip: ${zlibOk ? "identical to the input" : "DIFFERENT"}`);

    // Check 2: the gzip tool, when there is one.
    let toolOk = true;
    const gunzip = Bun.which("gunzip");
    if (gunzip === null) console.log("  gunzip -c: not installed, skipped");
    else {
      const run = Bun.spawnSync([gunzip, "-c", output], { stdout: "pipe", stderr: "pipe" });
      toolOk = run.exitCode === 0 && Buffer.from(data).equals(run.stdout);
      console.log(`  gunzip -c: ${toolOk ? "identical to the input" : `DIFFERENT (exit ${run.exitCode}: ${run.stderr.toString().trim()})`}`);
    }

    // Check 3: back through the accelerator. One decompress request reads every member, but its
    // output is bounded by MAX_REQUEST_LENGTH, so only files up to that size go back in one piece.
    let hwOk = true;
    if (data.length <= MAX_REQUEST_LENGTH) {
      const t1 = performance.now();
      hwOk = Buffer.from(data).equals(z.decompress(gz, "gzip"));
      console.log(`  hzip decompress: ${hwOk ? "identical to the input" : "DIFFERENT"} (${(performance.now() - t1).toFixed(0)} ms)`);
    } else console.log(`  hzip decompress: skipped (more than ${mib(MAX_REQUEST_LENGTH)} in one request)`);
    if (!zlibOk || !toolOk || !hwOk) process.exitCode = 1;
  } finally {
    if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(formatError(e));
  process.exit(1);
});
