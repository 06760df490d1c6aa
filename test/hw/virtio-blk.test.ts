// virtio-blk end to end through the generated client and devices/virtio-blk/behavior.ts, on the
// backend the environment names (WD_BACKEND, WD_DEVICE_VIRTIO_BLK). Here: the sim model; in the VM
// suite: QEMU's virtio-blk-pci (disable-legacy=on, iommu_platform=on) through vfio, whose disk the
// harness fills with nothing in particular and gives the serial below. Every expectation is one
// both must meet.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DmaError, DmaBuffer, type DmaRef } from "@warpdrive/runtime";
import { bit, F_ACCESS_PLATFORM, F_VERSION_1 } from "@warpdrive/runtime/virtio/constants";
import { VirtioBlk, VirtioBlkError } from "@warpdrive/virtio-blk";
import { DEFAULT_SERIAL } from "@warpdrive/virtio-blk/model";
import { BlkFeature, BlkStatus } from "@warpdrive/virtio-blk-generated/enums";

let blk: VirtioBlk;
let buf: DmaBuffer;
let back: DmaBuffer;
const SECTOR = 512;

const fill = (b: Uint8Array, seed: number) => {
  for (let i = 0; i < b.length; i++) b[i] = (i * 13 + seed * 101 + (i >> 9)) & 0xff;
};

beforeAll(async () => {
  blk = await VirtioBlk.open();
  buf = blk.client.alloc(256 * 1024, "virtio-blk test data");
  back = blk.client.alloc(256 * 1024, "virtio-blk test readback");
});

afterAll(() => blk?.close());

describe("virtio-blk: open", () => {
  test("VERSION_1 and ACCESS_PLATFORM negotiated; a capacity, 512-byte blocks; the rings use indirect descriptors and event index", () => {
    expect(blk.features & bit(F_VERSION_1)).not.toBe(0n);
    expect(blk.features & bit(F_ACCESS_PLATFORM)).not.toBe(0n);
    expect(blk.capacity).toBeGreaterThanOrEqual(2048);
    expect(blk.info.blockSize).toBe(SECTOR);
    expect(blk.ring).toEqual({ indirect: true, eventIdx: true });
    expect(blk.has(BlkFeature.FLUSH)).toBe(true);
  });

  test("get-id returns the serial", () => {
    expect(blk.getId()).toBe(DEFAULT_SERIAL);
  });
});

describe("virtio-blk: data", () => {
  test("write then read back: one sector, 8 KiB, 128 KiB, the last sector of the disk", () => {
    const cases: [number, number][] = [[0, SECTOR], [7, 8192], [100, 128 * 1024], [blk.capacity - 1, SECTOR]];
    cases.forEach(([sector, len], i) => {
      fill(buf.bytes.subarray(0, len), i + 1);
      back.bytes.fill(0xee, 0, len);
      blk.write(sector, buf.ref(0, len));
      blk.read(sector, back.ref(0, len));
      expect(Buffer.compare(back.bytes.subarray(0, len), buf.bytes.subarray(0, len))).toBe(0);
    });
    blk.flush();
  });

  test("32 writes in flight, then 32 reads in flight, each its own sectors: every byte where it belongs", () => {
    const n = 32, len = 4096;
    fill(buf.bytes.subarray(0, n * len), 77);
    const tags = new Set<number>();
    for (let i = 0; i < n; i++) tags.add(blk.sendWrite(1000 + i * 8, buf.ref(i * len, len)));
    for (let i = 0; i < n; i++) expect(tags.delete(blk.reapSync())).toBe(true);
    back.bytes.fill(0, 0, n * len);
    // reversed order on the way back: a request's data follows its sector, not its position
    for (let i = n - 1; i >= 0; i--) tags.add(blk.sendRead(1000 + i * 8, back.ref(i * len, len)));
    for (let i = 0; i < n; i++) expect(tags.delete(blk.reapSync())).toBe(true);
    expect(Buffer.compare(back.bytes.subarray(0, n * len), buf.bytes.subarray(0, n * len))).toBe(0);
  });

  test("write-zeroes zeroes the range; discard (when offered) completes OK and the disk stays usable", () => {
    fill(buf.bytes.subarray(0, 8192), 5);
    blk.write(300, buf.ref(0, 8192));
    if (blk.has(BlkFeature.WRITE_ZEROES)) {
      blk.writeZeroes(300, 8);
      blk.read(300, back.ref(0, 8192));
      expect(back.bytes.subarray(0, 4096).every((x) => x === 0)).toBe(true);
      expect(Buffer.compare(back.bytes.subarray(4096, 8192), buf.bytes.subarray(4096, 8192))).toBe(0);
    }
    if (blk.has(BlkFeature.DISCARD)) blk.discard(304, 8);
    else expect(() => blk.discard(304, 8)).toThrow(/does not offer VIRTIO_BLK_F_DISCARD/);
    blk.write(304, buf.ref(0, 4096));
    blk.read(304, back.ref(0, 4096));
    expect(Buffer.compare(back.bytes.subarray(0, 4096), buf.bytes.subarray(0, 4096))).toBe(0);
  });
});

describe("virtio-blk: refusals leave the device usable", () => {
  test("past the capacity, partial sectors, not a DmaRef, another device's buffer: refused before the ring", () => {
    const inFlight = blk.queue.inFlight;
    expect(() => blk.read(blk.capacity, buf.ref(0, SECTOR))).toThrow(RangeError);
    expect(() => blk.read(blk.capacity - 1, buf.ref(0, 2 * SECTOR))).toThrow(/past the capacity/);
    expect(() => blk.write(0, buf.ref(0, 100))).toThrow(/whole number of 512-byte sectors/);
    expect(() => blk.read(-1, buf.ref(0, SECTOR))).toThrow(RangeError);
    expect(() => blk.read("0" as unknown as number, buf.ref(0, SECTOR))).toThrow(TypeError);
    expect(() => blk.read(0, { buffer: buf, offset: 0, length: 512 } as unknown as DmaRef)).toThrow(TypeError);
    using stray = DmaBuffer.alloc(4096, { name: "not shared" });
    expect(() => blk.read(0, stray.ref(0, SECTOR))).toThrow(DmaError);
    expect(() => blk.discard(0, 0)).toThrow(RangeError);
    expect(blk.queue.inFlight).toBe(inFlight);
    expect(buf.pins).toBe(0);
    fill(buf.bytes.subarray(0, SECTOR), 9);
    blk.write(1, buf.ref(0, SECTOR));
    blk.read(1, back.ref(0, SECTOR));
    expect(Buffer.compare(back.bytes.subarray(0, SECTOR), buf.bytes.subarray(0, SECTOR))).toBe(0);
  });

  test("a status the device reports is a VirtioBlkError naming the request (an unsupported request type)", () => {
    blk.queue.send({ type: 0x7777 as never, sector: 0 }, [{ ref: back.ref(0, SECTOR), writable: true }]);
    let err: unknown;
    try {
      blk.reapSync();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VirtioBlkError);
    expect((err as VirtioBlkError).status).toBe(BlkStatus.UNSUPP);
  });
});

describe("virtio-blk: reopened with other ring options, and driven asynchronously", () => {
  test("without indirect descriptors, without event index: the same data comes back", async () => {
    blk.close();
    for (const mode of [{ indirect: false }, { eventIdx: false }, { indirect: false, eventIdx: false }]) {
      const b = await VirtioBlk.open(mode);
      try {
        expect(b.ring).toEqual({ indirect: mode.indirect !== false, eventIdx: mode.eventIdx !== false });
        const data = b.client.alloc(64 * 1024), out = b.client.alloc(64 * 1024);
        fill(data.bytes, 200);
        // 320 requests: every ring index wraps (256 entries)
        for (let round = 0; round < 10; round++) {
          const tags: number[] = [];
          for (let i = 0; i < 16; i++) tags.push(b.sendWrite(2000 + i * 8, data.ref(i * 4096, 4096)));
          for (let i = 0; i < 16; i++) b.reapSync();
          for (let i = 0; i < 16; i++) tags.push(b.sendRead(2000 + i * 8, out.ref(i * 4096, 4096)));
          for (let i = 0; i < 16; i++) b.reapSync();
        }
        expect(Buffer.compare(out.bytes, data.bytes)).toBe(0);
      } finally {
        b.close();
      }
    }
  });

  test("submit: 24 reads awaited together resolve with status OK and the right data", async () => {
    const b = await VirtioBlk.open();
    try {
      const data = b.client.alloc(24 * 4096), out = b.client.alloc(24 * 4096);
      fill(data.bytes, 33);
      for (let i = 0; i < 24; i++) b.write(3000 + i * 8, data.ref(i * 4096, 4096));
      const done = await Promise.all(Array.from({ length: 24 }, (_, i) => b.queue.submit({ type: 0, sector: 3000 + i * 8 }, [{ ref: out.ref(i * 4096, 4096), writable: true }], { timeoutMs: 10000 })));
      expect(done.map((d) => d.footer.status)).toEqual(new Array(24).fill(BlkStatus.OK));
      expect(done.map((d) => d.length)).toEqual(new Array(24).fill(4097));
      expect(Buffer.compare(out.bytes, data.bytes)).toBe(0);
      expect(() => b.read(0, out.ref(0, 512))).toThrow(/driven asynchronously/);
    } finally {
      b.close();
    }
  });
});
