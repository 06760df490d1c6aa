// HzipPool on the sim: awaitable compression over all four queue pairs (round robin), device
// statuses as HzipStatusError, and close with requests pending settling every promise.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gunzipSync } from "node:zlib";
import { QueueClosedError } from "@warpdrive/runtime";
import { HzipPool, HzipStatusError } from "@warpdrive/hzip";

let z: HzipPool;
beforeAll(async () => {
  z = await HzipPool.open({ backend: "sim", buffers: 16, bufferSize: 64 * 1024 });
});
afterAll(() => z.close());

function text(i: number, n: number): Uint8Array {
  return new TextEncoder().encode(`request ${i}: ${"the quick brown fox jumps over the lazy dog ".repeat(Math.ceil(n / 44))}`.slice(0, n));
}

describe("HzipPool", () => {
  test("many concurrent compressions, spread over every queue pair, each a valid gzip stream of its own input", async () => {
    const inputs = Array.from({ length: 100 }, (_, i) => text(i, 1000 + 37 * i));
    const used = new Set<number>();
    const outs = await Promise.all(inputs.map(async (d) => {
      const before = z.queues.map((q) => q.inFlight);
      const p = z.compress(d);
      await Promise.resolve();
      z.queues.forEach((q, k) => {
        if (q.inFlight > before[k]!) used.add(k);
      });
      return p;
    }));
    outs.forEach((gz, i) => expect(Buffer.from(gunzipSync(gz)).equals(Buffer.from(inputs[i]!))).toBe(true));
    expect(used.size).toBe(4);
    expect(z.inFlight).toBe(0);
  });

  test("an input larger than the staging buffers gets memory of its own", async () => {
    const big = text(7, 200 * 1024);
    expect(Buffer.from(gunzipSync(await z.compress(big))).equals(Buffer.from(big))).toBe(true);
  });

  test("a device status rejects with HzipStatusError (output overflow)", async () => {
    using buf = z.client.alloc(8192);
    buf.bytes.set(text(1, 4096));
    const err = await z.submit("compress", "gzip", buf.ref(0, 4096), buf.ref(4096, 16)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HzipStatusError);
    expect((err as HzipStatusError).statusName).toBe("OUTPUT_OVERFLOW");
    await expect(z.compress("x" as unknown as Uint8Array)).rejects.toThrow(TypeError);
  });

  test("close with requests pending: every promise settles", async () => {
    const pool = await HzipPool.open({ backend: "sim", pairs: 2, buffers: 4 });
    const ps = Array.from({ length: 20 }, (_, i) => pool.compress(text(i, 50_000), "gzip", { level: 9 }).then(() => "ok", (e: unknown) => e));
    await Promise.resolve();
    pool.close();
    const out = await Promise.all(ps);
    for (const o of out) if (o !== "ok") expect(o).toBeInstanceOf(Error);
    expect(out.some((o) => o instanceof QueueClosedError)).toBe(true);
    expect(out.every((o) => o === "ok" || o instanceof QueueClosedError || (o instanceof Error && /was closed before/.test(o.message)))).toBe(true);
  });
});
