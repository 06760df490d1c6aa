// The split virtqueue engine and the virtio transport against the sim's virtio-blk model, through
// a spec written out here (independent of the generator): chains direct and indirect, with and
// without event-index suppression, refusals that leave the queue usable.
import { describe, expect, test } from "bun:test";
import { Device, type DeviceSpec, DmaError } from "@warpdrive/runtime";
import type { VirtqSplitQueue } from "@warpdrive/runtime/queue/virtq-split";
import { F_EVENT_IDX, F_INDIRECT_DESC, F_VERSION_1, STATUS_DRIVER_OK, STATUS_FEATURES_OK } from "@warpdrive/runtime/virtio/constants";

const spec: DeviceSpec = {
  name: "virtio-blk-fixture",
  title: "virtio-blk (test fixture)",
  version: "0.0.0",
  pci: [{ vendor: 0x1af4, device: 0x1042 }],
  regions: [
    { name: "common", kind: "mmio", index: -1, size: 0x38, capability: { cfgType: 1 } },
    { name: "notify", kind: "mmio", index: -1, size: 2, capability: { cfgType: 2, multiplier: true } },
    { name: "isr", kind: "mmio", index: -1, size: 1, capability: { cfgType: 3 } },
    { name: "config", kind: "mmio", index: -1, size: 60, capability: { cfgType: 4 } },
  ],
  interrupts: [
    { name: "config_change", index: 0, kind: "msix" },
    { name: "requestq", index: 1, kind: "msix" },
  ],
  queues: [{ kind: "virtq-split", name: "requestq", first: 0, last: 0, size: 64, header: 16, footer: 1, segments: 4, interrupt: 1 }],
  virtio: { deviceType: 2, common: "common", notify: "notify", isr: "isr", config: "config" },
  model: import.meta.resolve("../../devices/virtio-blk/model.ts"),
  modelOptions: { capacity: 2048, serial: "fixture-01" },
};

const T_IN = 0, T_OUT = 1, T_GET_ID = 8;

async function open(opts: { indirect?: boolean; eventIdx?: boolean } = {}) {
  const dev = await Device.open(spec, { backend: "sim" });
  const features = dev.virtio.negotiate({ ...opts });
  const q = dev.requestQueue("requestq") as VirtqSplitQueue;
  dev.virtio.driverOk();
  return { dev, q, features };
}

function request(q: VirtqSplitQueue, type: number, sector: number, bufs: { ref: ReturnType<import("@warpdrive/runtime").DmaBuffer["ref"]>; writable: boolean }[]): number {
  const at = q.reserve();
  try {
    q.view.setUint32(at, type, true);
    q.view.setUint32(at + 4, 0, true);
    q.view.setUint32(at + 8, sector, true);
    q.view.setUint32(at + 12, 0, true);
    for (const b of bufs) q.addBuffer(b.ref, b.writable);
  } catch (e) {
    throw q.cancel(e);
  }
  return q.publish();
}

for (const mode of [{}, { indirect: false }, { eventIdx: false }, { indirect: false, eventIdx: false }]) {
  describe(`virtq-split on the sim virtio-blk (${JSON.stringify(mode)})`, () => {
    test("negotiation, write then read back, get-id", async () => {
      const { dev, q, features } = await open(mode);
      try {
        expect(features & (1n << BigInt(F_VERSION_1))).not.toBe(0n);
        expect(q.indirect).toBe(mode.indirect !== false);
        expect(q.eventIdx).toBe(mode.eventIdx !== false);
        expect((features & (1n << BigInt(F_INDIRECT_DESC))) !== 0n).toBe(mode.indirect !== false);
        expect((features & (1n << BigInt(F_EVENT_IDX))) !== 0n).toBe(mode.eventIdx !== false);
        expect(dev.virtio.status & (STATUS_DRIVER_OK | STATUS_FEATURES_OK)).toBe(STATUS_DRIVER_OK | STATUS_FEATURES_OK);
        const src = dev.alloc(8192), dst = dev.alloc(8192);
        for (let i = 0; i < 8192; i++) src.bytes[i] = (i * 7 + 3) & 0xff;
        // two data buffers of one request: the device may not care how the bytes are split
        const w = request(q, T_OUT, 10, [{ ref: src.ref(0, 4096), writable: false }, { ref: src.ref(4096, 4096), writable: false }]);
        const c1 = q.recvSync(5000);
        expect(c1.tag).toBe(w);
        expect(c1.status).toBe(1); // the status byte only
        expect(c1.view.getUint8(c1.offset)).toBe(0);
        request(q, T_IN, 10, [{ ref: dst.ref(0, 8192), writable: true }]);
        const c2 = q.recvSync(5000);
        expect(c2.status).toBe(8193);
        expect(c2.view.getUint8(c2.offset)).toBe(0);
        expect(Buffer.compare(dst.bytes.subarray(0, 8192), src.bytes.subarray(0, 8192))).toBe(0);
        const id = dev.alloc(4096);
        request(q, T_GET_ID, 0, [{ ref: id.ref(0, 20), writable: true }]);
        const c3 = q.recvSync(5000);
        expect(c3.view.getUint8(c3.offset)).toBe(0);
        expect(new TextDecoder().decode(id.bytes.subarray(0, 10))).toBe("fixture-01");
      } finally {
        dev.close();
      }
    });

    test("a full queue of requests in one flush, completed in any order, every slot reused", async () => {
      const { dev, q } = await open(mode);
      try {
        const buf = dev.alloc(q.depth * 512);
        for (let round = 0; round < 3; round++) {
          const tags = new Set<number>();
          for (let i = 0; i < q.depth; i++) tags.add(request(q, T_IN, i, [{ ref: buf.ref(i * 512, 512), writable: true }]));
          expect(q.tryReserve()).toBe(-1);
          expect(tags.size).toBe(q.depth);
          for (let i = 0; i < q.depth; i++) expect(tags.delete(q.recvSync(5000).tag)).toBe(true);
          expect(q.inFlight).toBe(0);
        }
      } finally {
        dev.close();
      }
    });
  });
}

describe("virtq-split refusals", () => {
  test("buffers not shared, too many, readable after writable: refused, the queue still works", async () => {
    const { dev, q } = await open();
    const other = await Device.open(spec, { backend: "sim" });
    try {
      const mine = dev.alloc(4096), theirs = other.alloc(4096);
      q.reserve();
      expect(() => q.addBuffer(theirs.ref(0, 512), true)).toThrow(DmaError);
      expect(() => q.addBuffer(mine.ref(0, 512), true)).not.toThrow();
      expect(() => q.addBuffer(mine.ref(512, 512), false)).toThrow(/cannot follow a device-writable/);
      q.cancel();
      expect(mine.pins).toBe(0);
      q.reserve();
      for (let i = 0; i < 4; i++) q.addBuffer(mine.ref(i * 512, 512), true);
      expect(() => q.addBuffer(mine.ref(3072, 512), true)).toThrow(RangeError);
      q.cancel();
      expect(() => q.addBuffer(mine.ref(0, 512), true)).toThrow(/without a reserve/);
      expect(() => q.addBuffer(mine.ref(0, 512), 1 as unknown as boolean)).toThrow(TypeError);
      request(q, T_IN, 0, [{ ref: mine.ref(0, 512), writable: true }]);
      expect(q.recvSync(5000).view.getUint8(q.completionOffset)).toBe(0);
    } finally {
      other.close();
      dev.close();
    }
  });

  test("the device's status byte: past the capacity is an I/O error", async () => {
    const { dev, q } = await open();
    try {
      const b = dev.alloc(4096);
      request(q, T_IN, 2048, [{ ref: b.ref(0, 512), writable: true }]);
      const c = q.recvSync(5000);
      expect(c.view.getUint8(c.offset)).toBe(1);
    } finally {
      dev.close();
    }
  });

  test("queues cannot be set up before negotiation or after DRIVER_OK; reset starts over", async () => {
    const dev = await Device.open(spec, { backend: "sim" });
    try {
      expect(() => dev.requestQueue("requestq")).toThrow(/before features are negotiated/);
      dev.virtio.negotiate();
      dev.virtio.driverOk();
      expect(() => dev.requestQueue("requestq")).toThrow(/after DRIVER_OK/);
      dev.virtio.negotiate();
      const q = dev.requestQueue("requestq") as VirtqSplitQueue;
      dev.virtio.driverOk();
      const b = dev.alloc(4096);
      request(q, T_IN, 0, [{ ref: b.ref(0, 512), writable: true }]);
      expect(q.recvSync(5000).status).toBe(513);
    } finally {
      dev.close();
    }
  });

  test("garbage in the used ring (an id not in flight, a length past the chain) is reported, not trusted; reset recovers", async () => {
    const { dev, q } = await open();
    try {
      const b = dev.alloc(4096);
      const tag = request(q, T_IN, 0, [{ ref: b.ref(0, 512), writable: true }]); // published, not flushed: the device has not seen it
      const v = q.ringBuffer.view;
      const used = q.layout.used;
      v.setUint32(used + 4, 12345, true); // used.ring[0].id
      v.setUint32(used + 8, 0, true);
      v.setUint16(used + 2, 1, true); // used.idx
      expect(() => q.take()).toThrow(/used descriptor 12345, which heads no request in flight/);
      v.setUint32(used + 4, tag, true); // the indirect head of the request in flight...
      v.setUint32(used + 8, 100000, true); // ...with more bytes than its 512 + 1 writable ones
      expect(() => q.take()).toThrow(/100000 bytes written into request .* 513 writable bytes/);
      expect(q.inFlight).toBe(1);
      expect(b.pins).toBe(1);
      const lost = dev.reset();
      expect(lost).toEqual([{ queue: q.label, tags: [tag] }]);
      expect(b.pins).toBe(0);
      dev.virtio.negotiate();
      const q2 = dev.requestQueue("requestq") as VirtqSplitQueue;
      dev.virtio.driverOk();
      request(q2, T_IN, 0, [{ ref: b.ref(0, 512), writable: true }]);
      expect(q2.recvSync(5000).view.getUint8(q2.completionOffset)).toBe(0);
    } finally {
      dev.close();
    }
  });

  test("the footer is 0xff until the device writes it: a completion without a status is never a zero OK", async () => {
    const { dev, q } = await open();
    try {
      const b = dev.alloc(4096);
      const tag = request(q, T_IN, 0, [{ ref: b.ref(0, 512), writable: true }]);
      expect(q.view.getUint8(q.footerOffset(tag))).toBe(0xff);
      const c = q.recvSync(5000);
      expect(c.view.getUint8(c.offset)).toBe(0);
    } finally {
      dev.close();
    }
  });
});
