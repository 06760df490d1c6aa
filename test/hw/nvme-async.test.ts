// Awaitable NVMe I/O (Nvme.asyncIo) on whichever backend the environment names (the sim here,
// QEMU's controller through vfio in the VM suite): QD32 driven by promises, data written and read
// back, several transfers awaited at once, a failing command as NvmeStatusError, the mixing rule
// with the sync calls, and every promise settled when the device closes.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { QueueClosedError, type DmaBuffer } from "@warpdrive/runtime";
import { Nvme, NvmeStatusError } from "@warpdrive/nvme";

// The guest runs under TCG: opening the controller and each transfer take seconds there.
setDefaultTimeout(120_000);

let nvme: Nvme;
let buf: DmaBuffer;
beforeAll(async () => {
  nvme = await Nvme.open({ ioQueues: 2, ioDepth: 33 });
  buf = nvme.device.alloc(2 << 20, "nvme async data");
});
afterAll(() => nvme.close());

function pattern(seed: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >>> 9)) & 0xff;
  return b;
}

describe("Nvme.asyncIo", () => {
  test("a 1 MiB write and read back at QD32, split into commands kept in flight by promises", async () => {
    const io = nvme.asyncIo();
    const bytes = 1 << 20;
    const blocks = bytes / nvme.blockSize;
    const data = pattern(1, bytes);
    buf.bytes.set(data, 0);
    const commands = Math.ceil(bytes / nvme.maxTransferBytes);
    const w = io.write(100, blocks, buf.ref(0, bytes));
    // every command was queued at once: up to 32 on the device, the rest waiting for room
    expect(io.inFlight).toBe(Math.min(32, commands));
    expect(io.async.waiting).toBe(Math.max(0, commands - 32));
    await w;
    buf.bytes.fill(0, 0, bytes);
    const eight = 8 * nvme.blockSize;
    const many = Array.from({ length: 64 }, (_, i) => io.read(100 + i * 8, 8, buf.ref(bytes + (i % 32) * eight, eight)));
    expect(io.inFlight).toBe(32);
    await Promise.all(many);
    await io.read(100, blocks, buf.ref(0, bytes));
    expect(Buffer.from(buf.bytes.subarray(0, bytes)).equals(Buffer.from(data))).toBe(true);
    expect(io.inFlight).toBe(0);
    expect(io.async.depth).toBe(33); // 32 tags: QD32
  });

  test("many single-block transfers awaited at once land at their own LBAs", async () => {
    const io = nvme.asyncIo();
    const bs = nvme.blockSize;
    const n = 200;
    for (let i = 0; i < n; i++) buf.bytes.set(pattern(i + 10, bs), i * bs);
    await Promise.all(Array.from({ length: n }, (_, i) => io.write(5000 + i, 1, buf.ref(i * bs, bs))));
    buf.bytes.fill(0, 0, n * bs);
    await Promise.all(Array.from({ length: n }, (_, i) => io.read(5000 + (n - 1 - i), 1, buf.ref(i * bs, bs))));
    for (let i = 0; i < n; i++) {
      expect(Buffer.from(buf.bytes.subarray(i * bs, (i + 1) * bs)).equals(Buffer.from(pattern(n - 1 - i + 10, bs)))).toBe(true);
    }
  });

  test("a command past the namespace rejects with NvmeStatusError naming it; the queue goes on", async () => {
    const io = nvme.asyncIo();
    const err = await io.read(nvme.blocks, 1, buf.ref(0, nvme.blockSize)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NvmeStatusError);
    expect((err as Error).message).toContain(`read LBA ${nvme.blocks}`);
    await expect(io.read(0, 0, buf)).rejects.toThrow("block count 0");
    await expect(io.read(-1, 1, buf)).rejects.toThrow(RangeError);
    await io.read(0, 1, buf.ref(0, nvme.blockSize));
  });

  test("an async queue refuses the sync calls; the other I/O queue stays sync", () => {
    const q0 = nvme.io[0]!;
    expect(() => nvme.read(0, 1, buf.ref(0, nvme.blockSize), q0)).toThrow("driven asynchronously");
    nvme.read(0, 1, buf.ref(0, nvme.blockSize), nvme.io[1]!);
  });

  test("close with transfers in flight: every promise settles (last: it closes the controller)", async () => {
    const io = nvme.asyncIo();
    const eight = 8 * nvme.blockSize;
    const ps = Array.from({ length: 64 }, (_, i) => io.write(6000 + i * 8, 8, buf.ref((i % 16) * eight, eight)).then(() => "ok", (e: unknown) => e));
    await Promise.resolve();
    nvme.close();
    const out = await Promise.all(ps);
    expect(out.every((o) => o === "ok" || o instanceof QueueClosedError)).toBe(true);
    expect(out.some((o) => o instanceof QueueClosedError)).toBe(true);
  });
});
