// Device's public entry points against untyped callers: every argument is checked once, before
// anything happens, with TypeError (wrong type) or RangeError (out of range) naming the argument and
// the device/queue; unknown names list what exists; options objects are read once per property;
// after each refusal the device and its queues still work and nothing leaked.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ConfigError, Device, DmaBuffer, DmaError, type IndexRingQueue } from "@warpdrive/runtime";
import { RING, ringSpec, sqcqSpec } from "./models/specs.ts";
import { ourFdCount, ourMapLines } from "../helpers/proc.ts";

const put = (value: number) => (v: DataView, o: number) => v.setUint32(o, value, true);

/** A request still completes: the ring-test model answers value * 2 + 1. */
function roundTrip(q: IndexRingQueue, value: number): void {
  q.send(put(value));
  const c = q.recvSync(5000);
  expect(c.view.getUint32(c.offset + 4, true)).toBe(value * 2 + 1);
}

describe("Device.open", () => {
  test("spec and options of the wrong shape are TypeErrors naming them; nothing is opened", async () => {
    const fds = ourFdCount();
    await expect(Device.open(null as never)).rejects.toThrow(TypeError);
    await expect(Device.open(null as never)).rejects.toThrow("Device.open: spec must be a DeviceSpec");
    await expect(Device.open({ name: "x" } as never)).rejects.toThrow(TypeError);
    await expect(Device.open(ringSpec(), null as never)).rejects.toThrow("Device.open: options must be an object or undefined, got null");
    await expect(Device.open(ringSpec(), 5 as never)).rejects.toThrow(TypeError);
    await expect(Device.open(ringSpec(), { backend: 42 as never })).rejects.toThrow('Device.open: options.backend must be one of "sim", "vfio", "uacce", got 42');
    await expect(Device.open(ringSpec(), { backend: {} as never })).rejects.toThrow(/options\.backend must be "sim", "vfio", "uacce" or a Backend object/);
    await expect(Device.open(ringSpec(), { backend: "nope" as never })).rejects.toThrow(RangeError);
    await expect(Device.open(ringSpec(), { address: 3 as never })).rejects.toThrow("Device.open: options.address must be a string, got 3");
    await expect(Device.open(ringSpec(), { unified: "yes" as never })).rejects.toThrow("Device.open: options.unified must be true or false");
    await expect(Device.open(ringSpec(), { iovaLimit: "4096" as never })).rejects.toThrow(TypeError);
    for (const limit of [0, -1, 1.5, NaN, Infinity, 2 ** 60]) {
      await expect(Device.open(ringSpec(), { iovaLimit: limit })).rejects.toThrow(/options\.iovaLimit must be an integer in 1\.\.9007199254740992/);
    }
    expect(ourFdCount()).toBe(fds);
  });

  test("each option is read once (a getter or Proxy cannot answer the check and the use differently)", async () => {
    const reads: string[] = [];
    const options = new Proxy({ backend: "sim", unified: false }, {
      get(t, k) {
        reads.push(String(k));
        return Reflect.get(t, k);
      },
    });
    const dev = await Device.open(ringSpec(), options as never);
    try {
      expect(reads.sort()).toEqual(["address", "backend", "iovaLimit", "unified"]);
    } finally {
      dev.close();
    }
  });
});

describe("a device's entry points", () => {
  let dev: Device;
  beforeAll(async () => {
    dev = await Device.open(ringSpec(), { backend: "sim" });
  });
  afterAll(() => dev.close());

  test("requestQueue: name and options checked; an unknown name lists the queues", () => {
    expect(() => dev.requestQueue("nope")).toThrow(ConfigError);
    expect(() => dev.requestQueue("nope")).toThrow('ring-test has no queue "nope" (queues: cmd)');
    for (const name of [undefined, null, 5, {}, ["cmd"]]) {
      expect(() => dev.requestQueue(name as never)).toThrow(`requestQueue on device ${dev.address}: name must be a string`);
    }
    // a name object whose toString says "cmd" is still not a string
    expect(() => dev.requestQueue({ toString: () => "cmd" } as never)).toThrow(TypeError);
    expect(() => dev.requestQueue("cmd", null as never)).toThrow(`queue cmd of device ${dev.address}: options must be an object or undefined, got null`);
    expect(() => dev.requestQueue("cmd", { id: "0" as never })).toThrow('options.id must be an integer in 0..0, got "0"');
    expect(() => dev.requestQueue("cmd", { id: 1 })).toThrow(RangeError);
    expect(() => dev.requestQueue("cmd", { depth: 1.5 })).toThrow(RangeError);
    expect(() => dev.requestQueue("cmd", { depth: 4 })).toThrow(/the device's ring has 8 entries, depth 4 cannot be chosen/);
    expect(() => dev.requestQueue("cmd", { irq: -1 })).toThrow(RangeError);
    // after every refusal the queue is still free to take, and works
    const q = dev.requestQueue("cmd", Object.freeze({ id: -0 })) as IndexRingQueue;
    try {
      expect(q.id).toBe(0);
      roundTrip(q, 7);
    } finally {
      q.release();
    }
  });

  test("alloc, share, unshare: sizes are integers, buffers are real DmaBuffers", () => {
    const live = DmaBuffer.liveCount;
    const where = `alloc on device ${dev.address}`;
    expect(() => dev.alloc("4096" as never)).toThrow(`${where}: size must be an integer in 1..4294967296, got "4096"`);
    expect(() => dev.alloc(4096n as never)).toThrow(TypeError);
    for (const size of [0, -4096, 1.5, NaN, Infinity, 2 ** 53]) expect(() => dev.alloc(size)).toThrow(RangeError);
    expect(() => dev.alloc(4096, 7 as never)).toThrow(`${where}: name must be a string, got 7`);
    expect(DmaBuffer.liveCount).toBe(live);
    const buf = dev.alloc(4096, "mine");
    for (const b of [undefined, null, {}, { ptr: buf.ptr, size: 4096 }, Object.create(DmaBuffer.prototype), new Proxy(buf, {})]) {
      expect(() => dev.share(b as never)).toThrow(`share with device ${dev.address}: buffer must be a DmaBuffer`);
      expect(() => dev.unshare(b as never)).toThrow(TypeError);
    }
    expect(buf.iovaIn(dev)).toBeDefined(); // untouched by the refusals
    dev.unshare(buf);
    expect(dev.share(buf)).toBeGreaterThan(0);
    buf.free();
    expect(DmaBuffer.liveCount).toBe(live);
  });

  test("region and irq take a name (irq: or an index)", () => {
    expect(() => dev.region(0 as never)).toThrow(`region of device ${dev.address}: name must be a string, got 0`);
    expect(() => dev.region("nope")).toThrow(ConfigError);
    expect(() => dev.irq({} as never)).toThrow(TypeError);
    expect(dev.irq("done").index).toBe(0);
    expect(dev.region("queue").io.read32(RING.HEAD)).toBeGreaterThanOrEqual(0);
  });
});

describe("rings belong to their queue", () => {
  test("a claimed buffer cannot be freed or unshared by anyone but its owner", async () => {
    const dev = await Device.open(sqcqSpec(), { backend: "sim" });
    try {
      const buf = dev.alloc(4096, "ring-like");
      const key = buf.claim("SQ of queue test/io[1]");
      expect(buf.owner).toBe("SQ of queue test/io[1]");
      expect(() => buf.free()).toThrow(DmaError);
      expect(() => buf.free()).toThrow("dma buffer ring-like cannot be freed: it is the SQ of queue test/io[1]");
      expect(() => dev.unshare(buf)).toThrow(/cannot be unshared from device .*: it is the SQ of queue test\/io\[1\]/);
      expect(() => buf.claim("someone else")).toThrow("already held as the SQ of queue test/io[1]");
      expect(() => buf.disown(Symbol("SQ of queue test/io[1]"))).toThrow("only its owner");
      expect(() => buf.claim(5 as never)).toThrow(TypeError);
      // still shared and mapped after the refusals
      expect(buf.freed).toBe(false);
      expect(buf.iovaIn(dev)).toBeDefined();
      buf.disown(key);
      buf.disown(key); // idempotent for the holder
      expect(buf.owner).toBeUndefined();
      buf.free();
      expect(buf.freed).toBe(true);
    } finally {
      dev.close();
    }
    expect(ourMapLines()).toEqual([]);
  });
});
