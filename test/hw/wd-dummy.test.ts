// The WarpDrive dummy accelerator end to end through the generated client, on the backend the
// environment names (WD_BACKEND, WD_DEVICE_WD_DUMMY / WD_DEVICE). QEMU has no such device: on vfio
// the suite runs only when an address is given (e.g. an mdev implementing it); on sim, always.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DmaError, QueueFullError, UseAfterReleaseError, type DmaBuffer } from "@warpdrive/runtime";
import { DescStatus, Descriptor, MAX_COPY_SIZE, RING_DEPTH, WdDummyDevice, type CmdQueue } from "@warpdrive/wd-dummy";

const onVfio = process.env.WD_BACKEND === "vfio";
const haveDevice = !onVfio || Boolean(process.env.WD_DEVICE_WD_DUMMY);

describe.skipIf(!haveDevice)("wd-dummy memcpy", () => {
  let dev: WdDummyDevice;
  let q: CmdQueue;
  let src: DmaBuffer;
  let dst: DmaBuffer;

  beforeAll(async () => {
    dev = await WdDummyDevice.open(onVfio ? { address: process.env.WD_DEVICE_WD_DUMMY } : {});
    q = dev.requestQueue("cmd");
    src = dev.alloc(1 << 20, "src");
    dst = dev.alloc(1 << 20, "dst");
    for (let i = 0; i < src.size; i++) src.bytes[i] = (i * 13 + (i >> 10)) & 0xff;
  });
  afterAll(() => dev?.close());

  const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

  test("the device reports its ring depth", () => {
    expect(dev.queue.depth.read()).toBe(RING_DEPTH);
    expect(q.queue.depth).toBe(RING_DEPTH);
  });

  test("one copy: DONE, bytes moved, cookie kept", () => {
    dst.bytes.fill(0);
    q.send({ src: src.ref(10, 1000), dst: dst.ref(5000, 1000), size: 1000, cookie: 0xc0ffee });
    q.flush();
    const d = q.recvSync(5000);
    expect(d.status).toBe(DescStatus.DONE);
    expect(d.cookie).toBe(0xc0ffee);
    expect(d.size).toBe(1000);
    expect(same(dst.bytes.subarray(5000, 6000), src.bytes.subarray(10, 1010))).toBe(true);
    expect(dst.bytes[4999]).toBe(0);
    expect(dst.bytes[6000]).toBe(0);
  });

  test("a full ring of copies in one batch (one doorbell), completed in order", () => {
    dst.bytes.fill(0);
    const n = RING_DEPTH;
    for (let i = 0; i < n; i++) q.send({ src: src.ref(i * 4096, 4096), dst: dst.ref(((i * 7) % n) * 4096, 4096), size: 4096, cookie: i });
    expect(q.trySend({ size: 1 })).toBe(-1);
    expect(() => q.send({ size: 1 })).toThrow(QueueFullError);
    q.flush();
    for (let i = 0; i < n; i++) {
      const d = q.recvSync(5000);
      expect([d.cookie, d.status]).toEqual([i, DescStatus.DONE]);
    }
    for (let i = 0; i < n; i++) {
      const at = ((i * 7) % n) * 4096;
      expect(same(dst.bytes.subarray(at, at + 4096), src.bytes.subarray(i * 4096, i * 4096 + 4096))).toBe(true);
    }
  });

  test("wrap-around: thousands of copies with a few in flight at a time", () => {
    let sent = 0;
    let got = 0;
    const total = 20 * RING_DEPTH + 7;
    while (got < total) {
      while (sent < total && q.inFlight < 5) {
        const off = (sent * 64) % (src.size - 256);
        q.send({ src: src.ref(off, 256), dst: dst.ref(off, 256), size: 256, cookie: sent++ });
      }
      const d = q.recvSync(5000);
      expect(d.cookie).toBe(got);
      expect(d.status).toBe(DescStatus.DONE);
      const off = (got * 64) % (src.size - 256);
      expect(same(dst.bytes.subarray(off, off + 256), src.bytes.subarray(off, off + 256))).toBe(true);
      got++;
    }
  });

  test("bad sizes complete with BAD_SIZE and copy nothing", () => {
    dst.bytes.fill(0);
    q.send({ src: src.ref(0, 16), dst: dst.ref(0, 16), size: 0, cookie: 1 });
    // A size past the windows is refused by the client (the extent check); the device must still
    // refuse one written around the client, through the raw queue.
    expect(() => q.send({ src: src.ref(0, 16), dst: dst.ref(0, 16), size: MAX_COPY_SIZE + 1, cookie: 2 })).toThrow(/Descriptor\.src: the device would touch 1048577 bytes/);
    q.queue.send((v, o, dma) => {
      Descriptor.encode(v, o, { src: src.ref(0, 16), dst: dst.ref(0, 16), size: 16, cookie: 2 }, dma);
      v.setUint32(o + Descriptor.LAYOUT.size.offset, MAX_COPY_SIZE + 1, true);
    });
    q.flush();
    expect(q.recvSync(5000).status).toBe(DescStatus.BAD_SIZE);
    expect(q.recvSync(5000).status).toBe(DescStatus.BAD_SIZE);
    expect(dst.bytes.subarray(0, 16).every((x) => x === 0)).toBe(true);
  });

  test("a bus address that is not shared memory completes with DMA_FAULT", () => {
    // The typed client cannot even name such an address; write one through the raw queue.
    q.queue.send((v, o) => {
      v.setBigUint64(o, 0x10n, true); // IOVA page 0 is never mapped
      v.setBigUint64(o + 8, 0x10n, true);
      v.setUint32(o + 16, 64, true);
      v.setUint32(o + 24, 77, true);
    });
    const d = q.recvSync(5000);
    expect([d.cookie, d.status]).toEqual([77, DescStatus.DMA_FAULT]);
  });

  test("memory of another device, or not shared, is refused before it reaches the ring", async () => {
    const other = await WdDummyDevice.open(onVfio ? { address: process.env.WD_DEVICE_WD_DUMMY_2 } : {}).catch(() => undefined);
    if (other !== undefined) {
      try {
        const theirs = other.alloc(4096, "other-device-buffer");
        expect(() => q.send({ src: theirs.ref(), dst: dst.ref(0, 16), size: 16 })).toThrow(DmaError);
        expect(() => q.send({ src: theirs.ref(), dst: dst.ref(0, 16), size: 16 })).toThrow(/other-device-buffer is not shared with device/);
      } finally {
        other.close();
      }
    }
    expect(q.inFlight).toBe(0);
    expect(() => q.send({ src: src.ref(0, 16), dst: dst.ref(dst.size - 8), size: 16 })).toThrow(/^queue .*\/cmd: Descriptor\.dst: the device would touch 16 bytes .* window is \[\d+, \d+\+8\)/);
    expect(q.inFlight).toBe(0);
  });

  test("release: twice is an error, use after release is an error, the queue can be requested again", () => {
    const first = q;
    first.release();
    expect(() => first.queue.release()).toThrow(UseAfterReleaseError);
    expect(() => first.send({ size: 1 })).toThrow(/cmd was used after it was released/);
    q = dev.requestQueue("cmd");
    expect(() => dev.requestQueue("cmd")).toThrow(/already in use/);
    q.send({ src: src.ref(0, 8), dst: dst.ref(0, 8), size: 8 });
    expect(q.recvSync(5000).status).toBe(DescStatus.DONE);
  });

  test("a producer index more than a ring ahead is ignored, not walked: the ring goes on", () => {
    const head = dev.queue.head.read();
    const before = dev.queue.completed.read();
    // A buggy client's store: head 1000 ahead of the device, with a doorbell. Then the right value back.
    dev.queue.head.write((head + 1000) >>> 0);
    dev.queue.doorbell.write((head + 1000) >>> 0);
    Bun.sleepSync(50); // time for a device that would walk them to do so (the counts below tell)
    dev.queue.head.write(head);
    q.send({ src: src.ref(0, 64), dst: dst.ref(0, 64), size: 64, cookie: 7 });
    q.flush();
    const d = q.recvSync(5000);
    expect([d.cookie, d.status]).toEqual([7, DescStatus.DONE]);
    // exactly one more descriptor done: none of the 1000 phantom ones
    expect(dev.queue.completed.read()).toBe((before + 1) >>> 0);
  });
});
