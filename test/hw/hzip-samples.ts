// Test data for hzip, shared by the backend-agnostic suite (hzip.test.ts) and the sim-only one:
// deterministic bytes (text-like or noise, so failures reproduce) and node:zlib as the judge.
import { deflateRawSync, deflateSync, gunzipSync, gzipSync, inflateRawSync, inflateSync } from "node:zlib";
import type { ZipFormat } from "@warpdrive/hzip";

export const FORMATS: ZipFormat[] = ["deflate", "zlib", "gzip"];

/** Deterministic bytes: text-like (compressible) or noise (not). */
export function sample(n: number, kind: "text" | "noise", seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  const words = ["accelerator ", "queue ", "doorbell ", "phase ", "deflate ", "ring ", "\n"];
  if (kind === "text") {
    let at = 0;
    while (at < n) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      const w = words[x % words.length]!;
      for (let i = 0; i < w.length && at < n; i++) out[at++] = w.charCodeAt(i);
    }
  } else {
    for (let i = 0; i < n; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      out[i] = x & 0xff;
    }
  }
  return out;
}

/** What node:zlib makes of `data` in `format`: the reference decoder. */
export function softInflate(data: Uint8Array, format: ZipFormat): Buffer {
  return format === "gzip" ? gunzipSync(data) : format === "zlib" ? inflateSync(data) : inflateRawSync(data);
}
export function softDeflate(data: Uint8Array, format: ZipFormat): Buffer {
  return format === "gzip" ? gzipSync(data) : format === "zlib" ? deflateSync(data) : deflateRawSync(data);
}

export const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
