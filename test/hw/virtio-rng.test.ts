// virtio-rng end to end through the generated client and devices/virtio-rng/behavior.ts, on the
// backend the environment names (WD_BACKEND, WD_DEVICE_VIRTIO_RNG). Here: the sim model; in the VM
// suite: QEMU's virtio-rng-pci (disable-legacy=on, iommu_platform=on) through vfio.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DmaBuffer, DmaError } from "@warpdrive/runtime";
import { bit, F_ACCESS_PLATFORM, F_VERSION_1 } from "@warpdrive/runtime/virtio/constants";
import { MAX_READ, VirtioRng } from "@warpdrive/virtio-rng";

let rng: VirtioRng;

beforeAll(async () => {
  rng = await VirtioRng.open();
});

afterAll(() => rng?.close());

/** Distinct byte values in `b`: 64 KiB of random bytes hold (nearly) all 256; zeros or a pattern do not. */
const distinct = (b: Uint8Array) => new Set(b).size;

describe("virtio-rng", () => {
  test("features: VERSION_1 and ACCESS_PLATFORM; the device has one queue", () => {
    const f = rng.client.virtio.features!;
    expect(f & bit(F_VERSION_1)).not.toBe(0n);
    expect(f & bit(F_ACCESS_PLATFORM)).not.toBe(0n);
    expect(rng.client.virtio.numQueues).toBe(1);
  });

  test("1 byte, 100 bytes, 64 KiB: the lengths asked for, bytes that look random, two reads differ", () => {
    expect(rng.read(1).length).toBe(1);
    expect(rng.read(100).length).toBe(100);
    const a = rng.read(65536), b = rng.read(65536);
    expect(a.length).toBe(65536);
    expect(distinct(a)).toBeGreaterThan(250);
    expect(Buffer.compare(a, b)).not.toBe(0);
  });

  test("requests through the generated queue: the used length says how much was written", () => {
    const buf = rng.client.alloc(8192);
    rng.queue.send([{ ref: buf.ref(0, 4096), writable: true }]);
    rng.queue.send([{ ref: buf.ref(4096, 4096), writable: true }]);
    const done = [rng.queue.recvSync(5000), rng.queue.recvSync(5000)];
    for (const d of done) {
      expect(d.length).toBeGreaterThan(0);
      expect(d.length).toBeLessThanOrEqual(4096);
    }
    buf.free();
  });

  test("refusals: a bad size; a buffer not shared with the device; two buffers where one fits; not an array. The queue stays usable", () => {
    expect(() => rng.read(0)).toThrow(RangeError);
    expect(() => rng.read(MAX_READ + 1)).toThrow(RangeError);
    expect(() => rng.read(1.5)).toThrow(RangeError);
    expect(() => rng.read("8" as unknown as number)).toThrow(TypeError);
    using stray = DmaBuffer.alloc(4096, { name: "unshared" });
    expect(() => rng.queue.send([{ ref: stray.ref(0, 64), writable: true }])).toThrow(DmaError);
    const mine = rng.client.alloc(4096);
    expect(() => rng.queue.send([{ ref: mine.ref(0, 64), writable: true }, { ref: mine.ref(64, 64), writable: true }])).toThrow(/at most 1 data buffer/);
    expect(() => rng.queue.send("x" as never)).toThrow(TypeError);
    expect(rng.queue.inFlight).toBe(0);
    expect(mine.pins).toBe(0);
    mine.free();
    expect(rng.read(16).length).toBe(16);
  });
});
