// The generated awaitable side of a queue class (CmdQueue.submit / completions / async) on the
// wd-dummy sim: real copies, decoded completions, the stream, and the sync methods refused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { QueueClosedError } from "@warpdrive/runtime";
import { DescStatus, RING_DEPTH, WdDummyDevice } from "@warpdrive/wd-dummy";

let dev: WdDummyDevice;
beforeAll(async () => {
  dev = await WdDummyDevice.open({ backend: "sim" });
});
afterAll(() => dev.close());

describe("generated submit()", () => {
  test("copies through a ring smaller than the load; each promise resolves with its own descriptor", async () => {
    using src = dev.alloc(64 * 1024);
    using dst = dev.alloc(64 * 1024);
    for (let i = 0; i < src.size; i++) src.bytes[i] = (i * 13) & 0xff;
    const q = dev.requestQueue("cmd");
    const n = 4 * RING_DEPTH;
    const seen: number[] = [];
    const stream = (async () => {
      for await (const c of q.completions()) seen.push(c.cookie);
    })();
    const done = await Promise.all(Array.from({ length: n }, (_, i) => q.submit({ src: src.ref(i * 256, 256), dst: dst.ref(i * 256, 256), size: 256, cookie: i })));
    expect(done.map((d) => d.cookie)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(done.every((d) => d.status === DescStatus.DONE)).toBe(true);
    expect(Buffer.from(dst.bytes.subarray(0, n * 256)).equals(Buffer.from(src.bytes.subarray(0, n * 256)))).toBe(true);
    expect(() => q.send({ size: 1 })).toThrow("driven asynchronously");
    expect(() => q.reap()).toThrow("driven asynchronously");
    q.release();
    await stream;
    expect(seen).toEqual(done.map((d) => d.cookie));
    await expect(q.submit({ size: 1 })).rejects.toBeInstanceOf(QueueClosedError);
  });

  test("a bad request is refused at once and the queue goes on; after release the id can be requested again for sync use", async () => {
    using buf = dev.alloc(4096);
    const q = dev.requestQueue("cmd");
    await expect(q.submit({ src: buf.ref(0, 16), dst: buf.ref(16, 16), size: 2 ** 32 })).rejects.toThrow(RangeError);
    expect((await q.submit({ src: buf.ref(0, 16), dst: buf.ref(16, 16), size: 16 })).status).toBe(DescStatus.DONE);
    q.release();
    using again = dev.requestQueue("cmd");
    again.send({ src: buf.ref(0, 16), dst: buf.ref(32, 16), size: 16 });
    expect(again.recvSync(5000).status).toBe(DescStatus.DONE);
  });
});
