// The wd-dummy model's copy goes through ctx.dma.copy (one checked memmove, no views): every byte
// lands, overlapping windows of one buffer behave like memmove, and a source or destination that is
// not shared (or runs past its buffer) is a DMA fault that writes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DescStatus, WdDummyDevice } from "@warpdrive/wd-dummy";

let dev: WdDummyDevice;
beforeAll(async () => {
  dev = await WdDummyDevice.open({ backend: "sim" });
});
afterAll(() => dev.close());

/** Sends one raw descriptor (bus addresses as numbers, bypassing the resolver) and returns its status. */
function rawCopy(src: number, dst: number, size: number): number {
  using q = dev.requestQueue("cmd");
  q.queue.send((v, o) => {
    v.setUint32(o, src >>> 0, true);
    v.setUint32(o + 4, Math.floor(src / 2 ** 32), true);
    v.setUint32(o + 8, dst >>> 0, true);
    v.setUint32(o + 12, Math.floor(dst / 2 ** 32), true);
    v.setUint32(o + 16, size, true);
  });
  return q.recvSync(5000).status;
}

describe("wd-dummy model copy", () => {
  test("copies every byte between two buffers, at any offset and size", () => {
    using src = dev.alloc(3 * 4096);
    using dst = dev.alloc(3 * 4096);
    for (let i = 0; i < src.size; i++) src.bytes[i] = (i * 7 + 3) & 0xff;
    using q = dev.requestQueue("cmd");
    for (const [so, d0, n] of [[0, 0, 1], [1, 4095, 4097], [13, 100, 8192], [0, 0, 3 * 4096]] as const) {
      dst.bytes.fill(0);
      q.send({ src: src.ref(so, n), dst: dst.ref(d0, n), size: n });
      expect(q.recvSync(5000).status).toBe(DescStatus.DONE);
      expect(dst.bytes.subarray(d0, d0 + n)).toEqual(src.bytes.subarray(so, so + n));
      expect(dst.bytes.subarray(0, d0).every((b) => b === 0)).toBe(true);
      expect(dst.bytes.subarray(d0 + n).every((b) => b === 0)).toBe(true);
    }
  });

  test("overlapping windows of one buffer copy like memmove", () => {
    using buf = dev.alloc(4096);
    for (let i = 0; i < 256; i++) buf.bytes[i] = i;
    const expected = buf.bytes.slice(0, 256);
    using q = dev.requestQueue("cmd");
    q.send({ src: buf.ref(0, 256), dst: buf.ref(16, 256), size: 256 });
    expect(q.recvSync(5000).status).toBe(DescStatus.DONE);
    expect(buf.bytes.subarray(16, 272)).toEqual(expected);
  });

  test("an unshared or overrunning source or destination faults and writes nothing", () => {
    using a = dev.alloc(4096);
    using b = dev.alloc(4096);
    a.bytes.fill(0x5a);
    const ia = dev.dma.addressOf(a.ref(), "src");
    const ib = dev.dma.addressOf(b.ref(), "dst");
    expect(rawCopy(ia, ib, 64)).toBe(DescStatus.DONE);
    b.bytes.fill(0);
    expect(rawCopy(ia + 4000, ib, 200)).toBe(DescStatus.DMA_FAULT); // source runs past its buffer
    expect(rawCopy(ia, ib + 4000, 200)).toBe(DescStatus.DMA_FAULT); // destination runs past its buffer
    expect(rawCopy(0x10, ib, 64)).toBe(DescStatus.DMA_FAULT); // source never shared
    expect(b.bytes.every((x) => x === 0)).toBe(true);
    dev.device.unshare(b);
    expect(rawCopy(ia, ib, 64)).toBe(DescStatus.DMA_FAULT); // destination unshared: gone from the table
    expect(b.bytes.every((x) => x === 0)).toBe(true);
  });
});
