// The uacce backend against a fake UACCE kernel (fake-uacce.ts): discovery, the open/map/start
// sequence and its teardown, the DUS pool as the only DMA memory without SVA (a buffer from elsewhere
// refused, naming the field), iova = va with SVA, the kernel as queue allocator (EBUSY -> next
// device), addresses, and failures that leave nothing behind.
import { afterEach, describe, expect, test } from "bun:test";
import { toArrayBuffer, type Pointer } from "bun:ffi";
import type { DeviceSpec } from "@warpdrive/runtime/backend";
import { Device, resolveTarget } from "@warpdrive/runtime/device";
import { ConfigError, DmaError, UacceError } from "@warpdrive/runtime/errors";
import { DmaBuffer } from "@warpdrive/runtime/mem/dma";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, sys as realSys } from "@warpdrive/runtime/sys/libc";
import { UacceBackend, findUacceDevices, uacceDeviceName } from "@warpdrive/runtime/uacce/backend";
import { layoutRegions } from "@warpdrive/runtime/uacce/device";
import { DusPool } from "@warpdrive/runtime/uacce/dus-pool";
import { listUacceDevices, uacceDevicePresent } from "@warpdrive/runtime/uacce/sysfs";
import { FakeUacce } from "./fake-uacce.ts";

const DUS_ADDR = 0x1_0000_0000;

const spec: DeviceSpec = {
  name: "wd-dummy",
  title: "test",
  version: "1.0.0",
  pci: [],
  regions: [{ name: "queue", kind: "ram", index: 0, size: 0x1000 }],
  interrupts: [{ name: "done", index: 0, kind: "msi" }],
  queues: [],
  uacce: { api: ["wd_dummy_v1"], regions: [{ index: 0, qfr: "mmio" }], dusAddress: DUS_ADDR },
};

let fakes: FakeUacce[] = [];
let devices: Device[] = [];
afterEach(() => {
  for (const d of devices) d.close();
  for (const f of fakes) f.dispose();
  fakes = [];
  devices = [];
});

function fake(...devs: ConstructorParameters<typeof FakeUacce>[0]): FakeUacce {
  const f = new FakeUacce(devs.length ? devs : [{ name: "wd_dummy-0", api: "wd_dummy_v1" }]);
  fakes.push(f);
  return f;
}

async function open(f: FakeUacce, s: DeviceSpec = spec, address?: string): Promise<Device> {
  const d = await Device.open(s, { backend: new UacceBackend({ sys: f, sysfs: f.sysfs }), address });
  devices.push(d);
  return d;
}

describe("sysfs discovery", () => {
  test("every attribute of every device, sorted; SVA from flags bit 0", () => {
    const f = fake({ name: "z-1", api: "other", flags: 1, algorithms: "zlib\ngzip", dusSize: 0 }, { name: "a-0", api: "wd_dummy_v1" });
    const list = listUacceDevices(f.sysfs);
    expect(list.map((d) => [d.name, d.api, d.flags, d.sva, d.available, d.algorithms, d.mmioSize, d.dusSize])).toEqual([
      ["a-0", "wd_dummy_v1", 0, false, 2, ["memcpy"], 4096, 64 * 4096],
      ["z-1", "other", 1, true, 2, ["zlib", "gzip"], 4096, 0],
    ]);
    expect(findUacceDevices(spec, f.sysfs).map((d) => d.name)).toEqual(["a-0"]);
    expect(uacceDevicePresent("a-0", f.sysfs)).toBe(true);
    expect(uacceDevicePresent("gone-0", f.sysfs)).toBe(false);
  });

  test("no uacce class (module not loaded): no devices, and open says what to load", async () => {
    expect(listUacceDevices("/nonexistent")).toEqual([]);
    const f = fake({ name: "x-0", api: "something_else" });
    const err = await open(f).catch((e) => e);
    expect(err).toBeInstanceOf(UacceError);
    expect(String(err.message)).toMatch(/no UACCE device with api wd_dummy_v1 .*is its driver loaded/);
  });
});

describe("open, map, start, close", () => {
  test("open -> MMIO at offset 0 -> DUS at one page -> START_Q; close unmaps, PUT_Q, closes; the queue goes back", async () => {
    const f = fake();
    const d = await open(f);
    expect(d.address).toBe("uacce:wd_dummy-0");
    expect(d.backendKind).toBe("uacce");
    const seq = f.calls.map((c) => (c.call === "mmap" ? `mmap@${c.int}` : c.call));
    // then mincore of each mapping: which pages can later tell that the driver took them away
    expect(seq).toEqual(["open", "mmap@0", "mmap@4096", "ioctl:UACCE_CMD_START_Q", "mincore", "mincore"]);
    expect(f.calls[0].text).toBe("/dev/wd_dummy-0");
    expect(listUacceDevices(f.sysfs)[0].available).toBe(1);
    // the description's region is the MMIO mapping
    const fd = [...f.queues.keys()][0];
    expect(d.region("queue").ptr).toBe(f.mapping(fd, 0)!);
    d.region("queue").io.write32(0x8, 5);
    expect(d.region("queue").io.read32(0x8)).toBe(5);
    f.calls.length = 0;
    d.close();
    expect(f.calls.map((c) => c.call)).toEqual(["munmap", "munmap", "ioctl:UACCE_CMD_PUT_Q", "close"]);
    expect(f.maps.size).toBe(0);
    expect(f.queues.size).toBe(0);
    expect(listUacceDevices(f.sysfs)[0].available).toBe(2);
  });

  test("the queue's wait is poll(POLLIN) on the queue file: readable once per driver update", async () => {
    const f = fake();
    const d = await open(f);
    const line = d.irq("done");
    const fd = [...f.queues.keys()][0];
    expect(line.fd).toBe(fd);
    expect(line.wait(0)).toBe(false);
    f.complete(fd);
    expect(line.wait(10)).toBe(true);
    expect(line.take()).toBe(0);
    f.complete(fd);
    expect(line.take()).toBe(1);
  });

  test("reset is PUT_Q then START_Q", async () => {
    const f = fake();
    const d = await open(f);
    f.calls.length = 0;
    d.reset();
    expect(f.calls.map((c) => c.call)).toEqual(["ioctl:UACCE_CMD_PUT_Q", "ioctl:UACCE_CMD_START_Q"]);
  });

  test("START_Q refused: mappings undone and the file closed, the queue back in the kernel's count", async () => {
    const f = fake();
    f.failStart = 5;
    const err = await open(f).catch((e) => e);
    expect(String(err.message)).toMatch(/UACCE_CMD_START_Q on \/dev\/wd_dummy-0: EIO/);
    expect(f.maps.size).toBe(0);
    expect(f.queues.size).toBe(0);
    expect(listUacceDevices(f.sysfs)[0].available).toBe(2);
  });

  test("a device whose regions are smaller than the description places is refused before anything is opened", async () => {
    const f = fake({ name: "wd_dummy-0", api: "wd_dummy_v1", mmioSize: 0 });
    const err = await open(f).catch((e) => e);
    expect(err).toBeInstanceOf(UacceError);
    expect(String(err.message)).toMatch(/places 4096 bytes of regions in MMIO, but the device's region_mmio_size is 0/);
    expect(f.calls.filter((c) => c.call === "open")).toEqual([]);
  });

  test("a description without match.uacce cannot run on uacce", async () => {
    const f = fake();
    const { uacce: _, ...plain } = spec;
    await expect(open(f, plain)).rejects.toThrow(ConfigError);
  });
});

describe("the kernel hands queues out", () => {
  test("a full device (EBUSY) moves on to the next; all full is a UacceError with EBUSY naming them", async () => {
    const f = fake({ name: "wd_dummy-0", api: "wd_dummy_v1", instances: 1 }, { name: "wd_dummy-1", api: "wd_dummy_v1", instances: 1 });
    expect((await open(f)).address).toBe("uacce:wd_dummy-0");
    expect((await open(f)).address).toBe("uacce:wd_dummy-1");
    const err = await open(f).catch((e) => e);
    expect(err).toBeInstanceOf(UacceError);
    expect(err.errno).toBe(16);
    expect(String(err.message)).toMatch(/every queue of wd_dummy-0, wd_dummy-1 is in use/);
  });

  test("addresses: uacce:<name>, /dev/<name>, <name>; another api or no such device is refused; junk is a RangeError", async () => {
    const f = fake({ name: "wd_dummy-0", api: "wd_dummy_v1" }, { name: "hzip-1", api: "hisi_qm_v2" });
    expect((await open(f, spec, "uacce:wd_dummy-0")).address).toBe("uacce:wd_dummy-0");
    expect((await open(f, spec, "/dev/wd_dummy-0")).address).toBe("uacce:wd_dummy-0");
    await expect(open(f, spec, "uacce:hzip-1")).rejects.toThrow(/hzip-1 speaks api "hisi_qm_v2"; wd-dummy drives wd_dummy_v1/);
    await expect(open(f, spec, "uacce:nope-3")).rejects.toThrow(/no UACCE device nope-3/);
    expect(() => uacceDeviceName("0000:00:03.0")).toThrow(RangeError);
    expect(() => uacceDeviceName("uacce:../etc-1")).toThrow(RangeError);
  });

  test("WD_BACKEND=uacce: an address in the environment counts only when it is a uacce: one", () => {
    const keys = ["WD_BACKEND", "WD_DEVICE_WD_DUMMY", "WD_DEVICE"] as const;
    const saved = keys.map((k) => process.env[k]);
    delete process.env.WD_DEVICE;
    try {
      process.env.WD_BACKEND = "uacce";
      process.env.WD_DEVICE_WD_DUMMY = "0000:00:03.0";
      expect(resolveTarget(spec)).toEqual({ backend: "uacce", address: undefined });
      process.env.WD_DEVICE_WD_DUMMY = "uacce:wd_dummy-2";
      expect(resolveTarget(spec)).toEqual({ backend: "uacce", address: "uacce:wd_dummy-2" });
      process.env.WD_BACKEND = "uacc";
      expect(() => resolveTarget(spec)).toThrow(/unknown backend "uacc".*use sim, vfio or uacce/);
    } finally {
      keys.forEach((k, i) => {
        if (saved[i] === undefined) delete process.env[k];
        else process.env[k] = saved[i];
      });
    }
  });
});

describe("device-provided memory without SVA: the DUS pool", () => {
  test("alloc carves from DUS; the device address is dus-address + offset in DUS; no DMA map is made", async () => {
    const f = fake();
    const d = await open(f);
    const fd = [...f.queues.keys()][0];
    const dus = f.mapping(fd, 1)!;
    const a = d.alloc(100, "a");
    const b = d.alloc(3 * 4096, "b");
    expect(a.size).toBe(4096);
    expect([a.ptr - dus, b.ptr - dus]).toEqual([0, 4096]);
    expect(a.iovaIn(d)).toBe(DUS_ADDR);
    expect(b.iovaIn(d)).toBe(DUS_ADDR + 4096);
    expect(d.dma.addressOf(b.ref(100, 8), "src")).toBe(DUS_ADDR + 4096 + 100);
    // the buffer is the DUS mapping itself: a store through it is a store into DUS
    b.bytes[5] = 9;
    expect(new Uint8Array(toArrayBuffer(dus as Pointer, 4096, 8))[5]).toBe(9);
    expect(f.calls.some((c) => c.call.includes("MAP_DMA"))).toBe(false);
  });

  test("memory from elsewhere cannot be shared, and the resolver refuses it naming the field", async () => {
    const f = fake();
    const d = await open(f);
    using heap = DmaBuffer.alloc(4096, { name: "heap" });
    expect(() => d.share(heap)).toThrow(DmaError);
    expect(() => d.share(heap)).toThrow(/device uacce:wd_dummy-0 cannot reach dma buffer heap: it reaches only the 262144 bytes of DUS memory/);
    expect(heap.iovaIn(d)).toBeUndefined();
    const err = (() => {
      try {
        d.dma.addressOf(heap.ref(0, 8), "dst");
      } catch (e) {
        return e as DmaError;
      }
    })();
    expect(err).toBeInstanceOf(DmaError);
    expect(err!.field).toBe("dst");
    expect(err!.message).toMatch(/^dst: dma buffer heap is not shared with device uacce:wd_dummy-0/);
    // the refusal changed nothing: the pool still hands out memory
    expect(d.alloc(4096, "ok").iovaIn(d)).toBe(DUS_ADDR);
  });

  test("another queue's DUS buffer is not this queue's memory", async () => {
    const f = fake();
    const d1 = await open(f);
    const d2 = await open(f);
    const theirs = d2.alloc(4096, "theirs");
    expect(() => d1.share(theirs)).toThrow(/cannot reach dma buffer theirs/);
    expect(() => d1.dma.addressOf(theirs.ref(0, 4), "src")).toThrow(/^src: dma buffer theirs is not shared with device uacce:wd_dummy-0/);
  });

  test("the pool runs out with a DmaError; freed blocks merge and come back zeroed", async () => {
    const f = fake();
    const d = await open(f);
    expect(() => d.alloc(65 * 4096, "huge")).toThrow(/no room for dma buffer huge \(266240 bytes\) in the 262144 bytes of DUS memory/);
    const parts = [d.alloc(16 * 4096, "p0"), d.alloc(16 * 4096, "p1"), d.alloc(32 * 4096, "p2")];
    expect(() => d.alloc(1, "none")).toThrow(DmaError);
    parts[1].bytes.fill(0xee);
    parts[1].free();
    parts[0].free();
    const big = d.alloc(32 * 4096, "big"); // only fits when p0 and p1 merged
    expect(big.iovaIn(d)).toBe(DUS_ADDR);
    expect(big.bytes.every((x) => x === 0)).toBe(true);
    expect(() => d.alloc(0, "zero")).toThrow(RangeError);
  });

  test("close frees pool buffers first: their views read as empty, nothing is unmapped twice", async () => {
    const f = fake();
    const d = await open(f);
    const a = d.alloc(4096, "a");
    const view = a.bytes;
    d.close();
    expect(a.freed).toBe(true);
    expect(view.length).toBe(0);
    expect(f.maps.size).toBe(0);
  });

  test("the pool starts after the regions placed in DUS, page-aligned", () => {
    const s: DeviceSpec = {
      ...spec,
      regions: [
        { name: "a", kind: "ram", index: 0, size: 0x100 },
        { name: "b", kind: "ram", index: 1, size: 0x2000 },
      ],
      uacce: { api: ["x"], regions: [{ index: 1, qfr: "dus" }, { index: 0, qfr: "dus" }], dusAddress: 0 },
    };
    expect([...layoutRegions(s, s.uacce!, 4096).entries()]).toEqual([
      [0, { qfr: "dus", offset: 0, size: 0x100 }],
      [1, { qfr: "dus", offset: 0x1000, size: 0x2000 }],
    ]);
  });

  test("DusPool on its own: first fit, merge with both neighbours, device addresses of whole blocks only, retire", () => {
    const size = 8 * 4096;
    const ptr = realSys.mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, "pool");
    try {
      const pool = new DusPool(ptr, size, 0x5000_0000, 4096, "q");
      const a = pool.alloc(4096)!;
      const b = pool.alloc(4097)!; // two pages
      const c = pool.alloc(4096)!;
      expect([a.ptr - ptr, b.ptr - ptr, b.size, c.ptr - ptr]).toEqual([0, 4096, 8192, 3 * 4096]);
      expect(pool.deviceAddress(b.ptr, 8192)).toBe(0x5000_1000);
      expect(pool.deviceAddress(b.ptr, 8193)).toBeUndefined(); // past the block
      expect(pool.deviceAddress(b.ptr + 4096, 16)).toBeUndefined(); // not a block start
      expect(pool.available).toBe(4 * 4096);
      pool.free(b.ptr);
      pool.free(a.ptr); // merges with b's extent
      pool.free(ptr + 12345); // not a block: ignored
      expect(pool.alloc(3 * 4096)!.ptr).toBe(ptr);
      pool.free(ptr);
      pool.free(c.ptr); // merges left and right: one extent again
      expect(pool.alloc(size)!.ptr).toBe(ptr);
      expect(pool.alloc(1)).toBeUndefined();
      pool.free(ptr);
      pool.retire();
      expect(pool.alloc(4096)).toBeUndefined();
      expect(pool.deviceAddress(ptr, 4096)).toBeUndefined();
    } finally {
      realSys.munmap(ptr, size, "pool");
    }
  });
});

describe("SVA: every process address is a device address", () => {
  test("alloc uses ordinary memory; iova = va; any live buffer can be shared; nothing is mapped for DMA", async () => {
    const f = fake({ name: "wd_dummy-0", api: "wd_dummy_v1", flags: 1 });
    const d = await open(f);
    const fd = [...f.queues.keys()][0];
    const dus = f.mapping(fd, 1)!;
    const a = d.alloc(4096, "a");
    expect(a.ptr < dus || a.ptr >= dus + 64 * 4096).toBe(true);
    expect(a.iovaIn(d)).toBe(a.ptr);
    using heap = DmaBuffer.alloc(8192, { name: "heap" });
    expect(d.share(heap)).toBe(heap.ptr);
    expect(d.dma.addressOf(heap.ref(16, 8), "src")).toBe(heap.ptr + 16);
    d.unshare(heap);
    expect(() => d.dma.addressOf(heap.ref(0, 8), "src")).toThrow(/^src: dma buffer heap is not shared/);
  });
});

describe("the parent driver removed with a queue open", () => {
  test("a wait that ends without news finds out: UacceError (ENXIO), the mappings read zeros, reset refuses, close works", async () => {
    const f = fake();
    const d = await open(f);
    const buf = d.alloc(4096, "buf");
    buf.bytes[0] = 0x55;
    d.region("queue").io.write32(0x10, 7);
    const line = d.irq("done");
    expect(line.wait(0)).toBe(false); // alive: nothing happened
    f.remove("wd_dummy-0");
    f.calls.length = 0;
    let err: unknown;
    try {
      line.wait(5);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UacceError);
    expect((err as UacceError).errno).toBe(6);
    expect((err as UacceError).message).toMatch(/^poll on uacce:wd_dummy-0: ENXIO .*wd_dummy-0 was removed while its queue was open/);
    expect(f.calls.filter((c) => c.call === "remapAnonymous").length).toBe(2);
    // what was device memory is now zeroed process memory: reading it cannot fault
    expect(d.region("queue").io.read32(0x10)).toBe(0);
    expect(buf.bytes[0]).toBe(0);
    expect(() => line.wait(0)).toThrow(/was removed/);
    expect(() => d.reset()).toThrow(/was removed/);
    expect(() => d.alloc(4096, "more")).toThrow(/no room for dma buffer more .*which is gone \(the device was removed\)/);
    d.close();
    expect(f.maps.size).toBe(0);
    expect(f.queues.size).toBe(0);
  });

  test("reset finds out too (PUT_Q: ENXIO)", async () => {
    const f = fake();
    const d = await open(f);
    f.remove("wd_dummy-0");
    expect(() => d.reset()).toThrow(UacceError);
    expect(() => d.irq("done").wait(0)).toThrow(/was removed/);
  });

  test("the zap alone (the queue not yet released) is noticed through the DUS page that is gone; MMIO (a PFN map) is not asked", async () => {
    const f = fake();
    const d = await open(f);
    const fd = [...f.queues.keys()][0];
    const io = d.region("queue").io;
    io.write32(0, 3);
    f.calls.length = 0;
    expect(d.irq("done").wait(0)).toBe(false);
    expect(f.calls.filter((c) => c.call === "mincore").map((c) => c.int)).toEqual([f.mapping(fd, 1)]);
    f.zap("wd_dummy-0");
    expect(() => d.irq("done").wait(0)).toThrow(/wd_dummy-0 was removed while its queue was open/);
    expect(f.calls.some((c) => c.call === "remapAnonymous")).toBe(true);
    expect(io.read32(0)).toBe(0);
    expect(() => d.region("queue")).not.toThrow(); // mapped before: the (now zeroed) mapping stays
  });
});
