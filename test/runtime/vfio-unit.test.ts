// The vfio backend against a fake kernel (test/runtime/fake-vfio.ts) and a sysfs tree in a temp dir:
// the ioctl sequence and argument bytes, region mapping, DMA map/unmap, IRQ wiring, teardown order,
// errors that name the cause, and no fd or mapping left behind on success or failure.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DeviceSpec } from "@warpdrive/runtime/backend";
import { formatError, VfioError } from "@warpdrive/runtime/errors";
import { MmioIo } from "@warpdrive/runtime/mem/io";
import * as abi from "@warpdrive/runtime/sys/abi";
import { VfioBackend, vfioBackend, findVfioDevice } from "@warpdrive/runtime/vfio/backend";
import { VfioDevice } from "@warpdrive/runtime/vfio/device";
import { iommuGroupOf, notViableReason } from "@warpdrive/runtime/vfio/group";
import { SparseIo } from "@warpdrive/runtime/vfio/regionio";
import { FakeVfio, type FakeOptions } from "./fake-vfio.ts";

const ADDR = "0000:00:03.0";
const CONFIG = 7 * 2 ** 40;
let sysfs: string;

function addPci(address: string, vendor: string, device: string, driver: string | undefined, group: number): void {
  const dir = join(sysfs, "bus/pci/devices", address);
  mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries({ vendor, device, class: "0x00ff00" })) writeFileSync(join(dir, k), `${v}\n`);
  if (driver) {
    mkdirSync(join(sysfs, "bus/pci/drivers", driver), { recursive: true });
    symlinkSync(join(sysfs, "bus/pci/drivers", driver), join(dir, "driver"));
  }
  const g = join(sysfs, "kernel/iommu_groups", String(group));
  mkdirSync(join(g, "devices"), { recursive: true });
  symlinkSync(dir, join(g, "devices", address));
  symlinkSync(g, join(dir, "iommu_group"));
}

beforeAll(() => {
  sysfs = mkdtempSync(join(tmpdir(), "wd-vfio-sysfs-"));
  addPci(ADDR, "0x1234", "0x11e8", "vfio-pci", 7);
  // group 9: our device plus two that block viability
  addPci("0000:00:04.0", "0x1234", "0x11e8", "vfio-pci", 9);
  addPci("0000:00:04.1", "0x8086", "0x10d3", "e1000e", 9);
  addPci("0000:00:04.2", "0x8086", "0x2922", "ahci", 9);
  // a device without an IOMMU group
  mkdirSync(join(sysfs, "bus/pci/devices/0000:00:05.0"), { recursive: true });
});
afterAll(() => rmSync(sysfs, { recursive: true, force: true }));

const spec: DeviceSpec = {
  name: "qemu-edu",
  title: "QEMU edu",
  version: "1.0.0",
  pci: [{ vendor: 0x1234, device: 0x11e8 }],
  regions: [{ name: "bar0", kind: "mmio", index: 0, size: 0x100000 }],
  interrupts: [{ name: "irq", index: 0, kind: "msi" }],
  queues: [],
};

function open(opts: FakeOptions = {}, s: DeviceSpec = spec): { fake: FakeVfio; dev: VfioDevice } {
  const fake = new FakeVfio(opts);
  const dev = new VfioDevice(s, opts.address ?? ADDR, { sys: fake, sysfs });
  return { fake, dev };
}

function caught(f: () => unknown): VfioError {
  try {
    f();
  } catch (e) {
    if (e instanceof VfioError) return e;
    throw e;
  }
  throw new Error("expected a VfioError");
}

const u32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset).getUint32(o, true);
const i32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset).getInt32(o, true);
const u64 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset).getBigUint64(o, true);

test("open: container, group, IOMMU and device in the documented order", () => {
  const { fake, dev } = open();
  try {
    expect(fake.ioctls()).toEqual([
      "VFIO_GET_API_VERSION",
      "VFIO_CHECK_EXTENSION",
      "VFIO_GROUP_GET_STATUS",
      "VFIO_GROUP_SET_CONTAINER",
      "VFIO_SET_IOMMU",
      "VFIO_IOMMU_GET_INFO",
      "VFIO_IOMMU_GET_INFO", // retried with the argsz the kernel asked for
      "VFIO_GROUP_GET_DEVICE_FD",
      "VFIO_DEVICE_GET_INFO",
      "VFIO_DEVICE_GET_REGION_INFO", // config space, for bus mastering
      "VFIO_DEVICE_GET_IRQ_INFO", // REQ: not offered by this device, so no eventfd
      "VFIO_DEVICE_GET_IRQ_INFO", // ERR: same
    ]);
    expect(dev.removal).toBeUndefined();
    const ext = fake.calls.find((c) => c.name === "VFIO_CHECK_EXTENSION")!;
    expect(ext.int).toBe(abi.VFIO_TYPE1v2_IOMMU);
    expect(fake.calls.find((c) => c.name === "VFIO_SET_IOMMU")!.int).toBe(abi.VFIO_TYPE1v2_IOMMU);
    // SET_CONTAINER takes a pointer to the container fd
    const sc = fake.lastArg("VFIO_GROUP_SET_CONTAINER");
    expect(sc.byteLength).toBe(4);
    expect(i32(sc, 0)).toBe(fake.containerFd());
    // GET_DEVICE_FD takes the NUL-terminated address
    const gd = fake.lastArg("VFIO_GROUP_GET_DEVICE_FD");
    expect(new TextDecoder().decode(gd)).toBe(`${ADDR}\0`);
    const infos = fake.calls.filter((c) => c.name === "VFIO_IOMMU_GET_INFO");
    expect(u32(infos[0]!.bytes!, 0)).toBe(24);
    expect(u32(infos[1]!.bytes!, 0)).toBe(24 + 16 + 32);
    expect(u32(fake.lastArg("VFIO_DEVICE_GET_INFO"), 0)).toBe(24);
    expect(dev.info.numRegions).toBe(9);
  } finally {
    dev.close();
  }
});

test("IOVA ranges come from the capability chain, end made exclusive; page size from pgsizes", () => {
  const { dev } = open();
  try {
    expect(dev.iovaRanges).toEqual([
      { start: 0, end: 0xfee00000 },
      { start: 0xfef00000, end: 0x1000000000000 },
    ]);
    expect(dev.dmaPageSize).toBe(4096);
  } finally {
    dev.close();
  }
});

test("bus mastering: PCI COMMAND gets bit 2 through a 16-bit pwrite on region 7 at open", () => {
  const { fake, dev } = open();
  try {
    const w = fake.calls.filter((c) => c.call === "pwrite");
    expect(w.length).toBe(1);
    expect(w[0]!.int).toBe(CONFIG + abi.PCI_COMMAND);
    expect([...w[0]!.bytes!]).toEqual([abi.PCI_COMMAND_MEMORY | abi.PCI_COMMAND_MASTER, 0]);
    expect(dev.config.read16(abi.PCI_COMMAND) & abi.PCI_COMMAND_MASTER).toBe(abi.PCI_COMMAND_MASTER);
    expect(dev.config.read16(0)).toBe(0x1234);
    // reset clears it in the fake (as FLR does); reset() sets it again
    dev.reset();
    expect(fake.ioctls().at(-1)).toBe("VFIO_DEVICE_RESET");
    expect(dev.config.read16(abi.PCI_COMMAND) & abi.PCI_COMMAND_MASTER).toBe(abi.PCI_COMMAND_MASTER);
  } finally {
    dev.close();
  }
});

test("regions: BAR mmap'ed once with a width-exact io; sparse BAR mapped in parts; empty region refused", () => {
  const { fake, dev } = open();
  try {
    const bar0 = dev.region(0);
    expect(dev.region(0)).toBe(bar0);
    expect(bar0.size).toBe(0x100000);
    expect(bar0.kind).toBe("mmio");
    expect(bar0.ptr).not.toBe(0);
    expect(bar0.io).toBeInstanceOf(MmioIo);
    expect(bar0.io.name).toBe("bar0 of 0000:00:03.0");
    bar0.io.write32(0x04, 0x12345678);
    expect(bar0.io.read32(0x04)).toBe(0x12345678);
    expect(fake.calls.filter((c) => c.call === "mmap").length).toBe(1);
    // region 2 has a sparse-mmap capability: REGION_INFO is retried with a larger argsz
    const r2 = dev.region(2);
    const infos = fake.calls.filter((c) => c.name === "VFIO_DEVICE_GET_REGION_INFO" && u32(c.bytes!, 8) === 2);
    expect(infos.map((c) => u32(c.bytes!, 0))).toEqual([32, 64]);
    expect(dev.regionInfo(2).sparse).toEqual([{ offset: 0, size: 0x1000 }]);
    expect(r2.ptr).toBe(0);
    expect(r2.io).toBeInstanceOf(SparseIo);
    expect(fake.calls.filter((c) => c.call === "mmap").at(-1)).toMatchObject({ int: 2 * 2 ** 40 });
    // inside the mapped area: memory, no system call
    const before = fake.calls.length;
    r2.io.write32(0x10, 0xabcd);
    expect(r2.io.read32(0x10)).toBe(0xabcd);
    r2.io.doorbell(0xffc, 1);
    expect(fake.calls.length).toBe(before);
    // in the hole: pread/pwrite at the region's offset in the device fd
    expect(r2.io.read32(0x2000)).toBe(0xffffffff);
    expect(fake.calls.at(-1)).toMatchObject({ call: "pread", int: 2 * 2 ** 40 + 0x2000 });
    r2.io.write64(0x3ff8, 1n);
    expect(fake.calls.at(-1)).toMatchObject({ call: "pwrite", int: 2 * 2 ** 40 + 0x3ff8 });
    // a misaligned access is refused, never split into two
    expect(() => r2.io.write64(0xffc, 2n)).toThrow("64-bit access is not 8-byte aligned");
    expect(() => r2.io.read32(0x4000)).toThrow("outside the region");
    // arguments are checked before an area is chosen or a system call made: an offset object whose
    // valueOf would pick the mapped area and then address the hole is refused by type
    const calls = fake.calls.length;
    let asked = 0;
    const shifty = { valueOf: () => (asked++ === 0 ? 0x10 : 0x2000) };
    expect(() => r2.io.write32(shifty as never, 1)).toThrow(TypeError);
    expect(() => r2.io.write32(0x2000, -1)).toThrow(RangeError); // the pwrite path checks values too
    expect(() => r2.io.write64(0x3ff8, 1 as never)).toThrow(TypeError);
    expect(() => r2.io.write32(0x10, 2 ** 32)).toThrow(RangeError); // and the mapped area
    expect(asked).toBe(0);
    expect(fake.calls.length).toBe(calls);
    expect(caught(() => dev.region(1)).message).toContain("region 1 of 0000:00:03.0 is not implemented by the device (size 0)");
    expect(caught(() => dev.region(12)).message).toContain("region 12 does not exist");
  } finally {
    dev.close();
  }
  expect(fake.maps.size).toBe(0); // the whole BAR and the sparse area were both unmapped
});

test("DMA map/unmap argument bytes", () => {
  const { fake, dev } = open();
  try {
    dev.dmaMap(0x7f1234560000, 0x2000, 0x10000);
    const m = fake.lastArg("VFIO_IOMMU_MAP_DMA");
    expect(m.byteLength).toBe(32);
    expect(u32(m, 0)).toBe(32);
    expect(u32(m, 4)).toBe(abi.VFIO_DMA_MAP_FLAG_READ | abi.VFIO_DMA_MAP_FLAG_WRITE);
    expect(u64(m, 8)).toBe(0x7f1234560000n);
    expect(u64(m, 16)).toBe(0x10000n);
    expect(u64(m, 24)).toBe(0x2000n);
    dev.dmaUnmap(0x10000, 0x2000);
    const u = fake.lastArg("VFIO_IOMMU_UNMAP_DMA");
    expect(u.byteLength).toBe(24);
    expect([u32(u, 0), u32(u, 4)]).toEqual([24, 0]);
    expect([u64(u, 8), u64(u, 16)]).toEqual([0x10000n, 0x2000n]);
    expect(fake.dmaMaps.size).toBe(0);
    // the kernel refusing (EEXIST) is a VfioError with a hint
    dev.dmaMap(0x7f1234560000, 0x1000, 0x20000);
    const e = caught(() => dev.dmaMap(0x7f1234570000, 0x1000, 0x20000));
    expect(e.message).toContain("VFIO_IOMMU_MAP_DMA on /dev/vfio/vfio (iova 0x20000, 4096 bytes): EEXIST");
    expect(e.hint).toBe("that IOVA range is already mapped");
  } finally {
    dev.close();
  }
});

test("MSI vector: SET_IRQS with the eventfd; the line reports what the kernel signals", () => {
  const { fake, dev } = open();
  try {
    const line = dev.irq(0);
    expect(dev.irq(0)).toBe(line);
    const s = fake.lastArg("VFIO_DEVICE_SET_IRQS");
    expect(s.byteLength).toBe(24);
    expect(u32(s, 0)).toBe(24);
    expect(u32(s, 4)).toBe(abi.VFIO_IRQ_SET_DATA_EVENTFD | abi.VFIO_IRQ_SET_ACTION_TRIGGER);
    expect(u32(s, 8)).toBe(abi.VFIO_PCI_MSI_IRQ_INDEX);
    expect([u32(s, 12), u32(s, 16)]).toEqual([0, 1]);
    expect(i32(s, 20)).toBe(line.fd);
    expect(line.take()).toBe(0);
    expect(line.wait(0)).toBe(false);
    // what the kernel does on an interrupt: add 1 to the eventfd
    const one = new Uint8Array(8);
    one[0] = 1;
    fake.write(line.fd, one);
    expect(line.wait(1000)).toBe(true);
    expect(caught(() => dev.irq(1)).message).toContain("MSI vector 1 is not available (the device has 1)");
  } finally {
    dev.close();
  }
  // IRQs were switched off before the eventfd was closed
  const names = fake.calls.filter((c) => c.name === "VFIO_DEVICE_SET_IRQS");
  const off = names.at(-1)!.bytes!;
  expect([u32(off, 0), u32(off, 4), u32(off, 16)]).toEqual([20, abi.VFIO_IRQ_SET_DATA_NONE | abi.VFIO_IRQ_SET_ACTION_TRIGGER, 0]);
});

test("MSI-X: growing the block re-programs every vector (disable, then enable 0..max with -1 holes)", () => {
  const nv: DeviceSpec = { ...spec, interrupts: [0, 1, 2, 3].map((i) => ({ name: `q${i}`, index: i, kind: "msix" as const })) };
  const { fake, dev } = open({ msix: 4 }, nv);
  try {
    const sets = () => fake.calls.filter((c) => c.name === "VFIO_DEVICE_SET_IRQS").map((c) => {
      const b = c.bytes!;
      const n = (b.byteLength - 20) / 4;
      return [u32(b, 4), u32(b, 8), u32(b, 12), u32(b, 16), ...Array.from({ length: n }, (_, i) => i32(b, 20 + 4 * i))];
    });
    const T = abi.VFIO_IRQ_SET_DATA_EVENTFD | abi.VFIO_IRQ_SET_ACTION_TRIGGER;
    const OFF = abi.VFIO_IRQ_SET_DATA_NONE | abi.VFIO_IRQ_SET_ACTION_TRIGGER;
    const l0 = dev.irq(0);
    const l2 = dev.irq(2);
    const l1 = dev.irq(1); // inside the enabled block: just that vector
    expect(sets()).toEqual([
      [T, 2, 0, 1, l0.fd],
      [OFF, 2, 0, 0],
      [T, 2, 0, 3, l0.fd, -1, l2.fd],
      [T, 2, 1, 1, l1.fd],
    ]);
    expect(caught(() => dev.irq(4)).message).toContain("MSI-X vector 4 is not available (the device has 4)");
  } finally {
    dev.close();
  }
});

test("one interrupt type at a time", () => {
  const mixed: DeviceSpec = { ...spec, interrupts: [{ name: "a", index: 0, kind: "msi" }, { name: "b", index: 1, kind: "msix" }] };
  const { dev } = open({ msix: 2 }, mixed);
  try {
    dev.irq(0);
    expect(caught(() => dev.irq(1)).message).toContain("cannot enable MSI-X vector 1 while MSI is in use");
  } finally {
    dev.close();
  }
});

test("INTx is unmasked after each delivery", () => {
  const intx: DeviceSpec = { ...spec, interrupts: [{ name: "irq", index: 0, kind: "intx" }] };
  const { fake, dev } = open({}, intx);
  try {
    const line = dev.irq(0);
    expect(u32(fake.lastArg("VFIO_DEVICE_SET_IRQS"), 8)).toBe(abi.VFIO_PCI_INTX_IRQ_INDEX);
    const one = new Uint8Array(8);
    one[0] = 1;
    fake.write(line.fd, one);
    expect(line.take()).toBe(1);
    const un = fake.lastArg("VFIO_DEVICE_SET_IRQS");
    expect(u32(un, 4)).toBe(abi.VFIO_IRQ_SET_DATA_NONE | abi.VFIO_IRQ_SET_ACTION_UNMASK);
    expect([u32(un, 8), u32(un, 12), u32(un, 16)]).toEqual([0, 0, 1]);
  } finally {
    dev.close();
  }
});

test("close: documented teardown order, nothing left open or mapped, idempotent", () => {
  const { fake, dev } = open();
  dev.region(0);
  dev.irq(0);
  dev.dmaMap(0x7f0000000000, 0x1000, 0x1000); // left mapped on purpose
  const start = fake.calls.length;
  dev.close();
  const steps = fake.calls.slice(start).map((c) => (c.call === "ioctl" ? c.name : c.call === "close" ? `close ${c.text ?? "eventfd"}` : c.call));
  expect(steps).toEqual([
    "VFIO_DEVICE_SET_IRQS", // IRQs off
    "close eventfd",
    "munmap",
    "VFIO_IOMMU_UNMAP_DMA", // leftover DMA mapping
    "close device",
    "VFIO_GROUP_UNSET_CONTAINER",
    "close group",
    "close container",
  ]);
  expect(fake.open_.size).toBe(0);
  expect(fake.maps.size).toBe(0);
  expect(fake.dmaMaps.size).toBe(0);
  dev.close();
  expect(fake.calls.length).toBe(start + steps.length);
  expect(caught(() => dev.region(0)).message).toContain("the device is closed");
});

test("a region io used after close throws instead of touching unmapped memory", () => {
  const { dev } = open();
  const io = dev.region(0).io;
  dev.close();
  expect(() => io.read32(0)).toThrow("region bar0 of 0000:00:03.0 was used after it was unmapped");
});

test("group not viable: the error names the devices bound to other drivers; nothing leaks", () => {
  const fake = new FakeVfio({ viable: false, group: 9, address: "0000:00:04.0" });
  const e = caught(() => new VfioDevice(spec, "0000:00:04.0", { sys: fake, sysfs }));
  expect(formatError(e)).toBe(
    "VfioError: VFIO_GROUP_GET_STATUS on /dev/vfio/9: IOMMU group 9 is not viable: 0000:00:04.1 (bound to e1000e), 0000:00:04.2 (bound to ahci) must be bound to vfio-pci or unbound too",
  );
  expect(fake.open_.size).toBe(0);
  expect(notViableReason(7, sysfs)).toContain("is every device of the group bound to vfio-pci?");
});

test("SET_CONTAINER EBUSY reads as the documented message; nothing leaks", () => {
  const fake = new FakeVfio({ failIoctl: { VFIO_GROUP_SET_CONTAINER: 16 } });
  const e = caught(() => new VfioDevice(spec, ADDR, { sys: fake, sysfs }));
  expect(formatError(e)).toBe("VfioError: VFIO_GROUP_SET_CONTAINER on /dev/vfio/7: EBUSY (is every device of the group bound to vfio-pci?)");
  expect(e.errno).toBe(16);
  expect(fake.open_.size).toBe(0);
});

test("a failure after the device fd was taken also undoes everything", () => {
  const fake = new FakeVfio({ failIoctl: { VFIO_DEVICE_GET_INFO: 5 } });
  const e = caught(() => new VfioDevice(spec, ADDR, { sys: fake, sysfs }));
  expect(e.message).toBe("VFIO_DEVICE_GET_INFO on 0000:00:03.0: EIO (input/output error)");
  expect(fake.open_.size).toBe(0);
  expect(fake.ioctls()).toContain("VFIO_GROUP_UNSET_CONTAINER");
});

test("missing vfio module / group file / device: errors say what to do", () => {
  const fake = new FakeVfio({ group: 8 }); // /dev/vfio/7 does not exist in this fake
  const e = caught(() => new VfioDevice(spec, ADDR, { sys: fake, sysfs }));
  expect(e.message).toBe("open on /dev/vfio/7: ENOENT (/dev/vfio/7 does not exist: bind the group's devices to vfio-pci first)");
  expect(fake.open_.size).toBe(0);
  expect(caught(() => iommuGroupOf("0000:00:05.0", sysfs)).message).toContain("has no IOMMU group: enable the IOMMU");
  expect(caught(() => iommuGroupOf("0000:00:09.0", sysfs)).message).toContain("no device 0000:00:09.0");
  expect(caught(() => iommuGroupOf("not-an-address", sysfs)).message).toContain("neither a PCI address");
  expect(iommuGroupOf("00:03.0", sysfs)).toBe(7);
});

test("a device bound to another driver is refused before any VFIO call, naming the driver", () => {
  const fake = new FakeVfio({ group: 9, address: "0000:00:04.1" });
  const e = caught(() => new VfioDevice(spec, "0000:00:04.1", { sys: fake, sysfs }));
  expect(e.message).toStartWith("open on 0000:00:04.1: 0000:00:04.1 is bound to e1000e, not vfio-pci: bind it first");
  expect(fake.calls.length).toBe(0);
});

test("type1 (v1) is used when v2 is not offered", () => {
  const { fake, dev } = open({ typeV2: false });
  try {
    expect(fake.calls.find((c) => c.name === "VFIO_SET_IOMMU")!.int).toBe(abi.VFIO_TYPE1_IOMMU);
  } finally {
    dev.close();
  }
});

test("backend: finds the device bound to vfio-pci by the spec's ids", () => {
  expect(vfioBackend.kind).toBe("vfio");
  expect(findVfioDevice(spec, sysfs)).toBe(ADDR);
  const none: DeviceSpec = { ...spec, name: "nvme", pci: [{ vendor: 0x1b36, device: 0x0010 }] };
  expect(caught(() => findVfioDevice(none, sysfs)).message).toContain("no PCI device with these ids");
  const e1000: DeviceSpec = { ...spec, name: "e1000e", pci: [{ vendor: 0x8086, device: 0x10d3 }] };
  expect(caught(() => findVfioDevice(e1000, sysfs)).message).toContain("found 0000:00:04.1 (bound to e1000e)");
  const fake = new FakeVfio();
  const prev = process.env.WD_DEVICE;
  delete process.env.WD_DEVICE;
  try {
    const dev = new VfioBackend({ sys: fake, sysfs }).open(spec);
    expect(dev.address).toBe(ADDR);
    dev.close();
    expect(fake.open_.size).toBe(0);
  } finally {
    if (prev !== undefined) process.env.WD_DEVICE = prev;
  }
});

test("Device on the vfio backend: alloc maps DMA at an IOVA in range, close undoes everything", async () => {
  const { Device } = await import("@warpdrive/runtime/device");
  const fake = new FakeVfio();
  const dev = await Device.open(spec, { backend: new VfioBackend({ sys: fake, sysfs }), address: ADDR, iovaLimit: 1 << 28 });
  const buf = dev.alloc(8192, "dma-test");
  expect(fake.dmaMaps.size).toBe(1);
  const [iova, m] = [...fake.dmaMaps.entries()][0]!;
  expect(m).toEqual({ vaddr: buf.ptr, size: 8192 });
  expect(iova).toBeGreaterThan(0);
  expect(iova + 8192).toBeLessThanOrEqual(1 << 28);
  expect(dev.dma.addressOf(buf.ref(16, 16), "dma_src")).toBe(iova + 16);
  dev.region("bar0").io.write32(0x80, 1);
  dev.close();
  expect(buf.freed).toBe(true);
  expect(fake.dmaMaps.size).toBe(0);
  expect(fake.open_.size).toBe(0);
  expect(fake.maps.size).toBe(0);
});

// ---- removal: the REQ/ERR interrupts ----

const one = () => {
  const b = new Uint8Array(8);
  b[0] = 1;
  return b;
};

test("removal: REQ and ERR get an eventfd each at open when the device offers them", () => {
  const { fake, dev } = open({ req: true, err: true });
  try {
    const sets = fake.calls.filter((c) => c.name === "VFIO_DEVICE_SET_IRQS").map((c) => c.bytes!);
    expect(sets.length).toBe(2);
    for (const [b, index] of [[sets[0]!, abi.VFIO_PCI_REQ_IRQ_INDEX], [sets[1]!, abi.VFIO_PCI_ERR_IRQ_INDEX]] as const) {
      expect([u32(b, 0), u32(b, 4), u32(b, 8), u32(b, 12), u32(b, 16)]).toEqual([24, abi.VFIO_IRQ_SET_DATA_EVENTFD | abi.VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1]);
      expect(i32(b, 20)).toBe(fake.triggers.get(index)!);
    }
    const r = dev.removal!;
    expect([...r.fds].sort()).toEqual([fake.triggers.get(3)!, fake.triggers.get(4)!].sort());
    expect(r.poll()).toBeUndefined();
    fake.signal(abi.VFIO_PCI_REQ_IRQ_INDEX);
    expect(r.poll()).toBe("removed");
    expect(r.poll()).toBe("removed"); // it stays fired
  } finally {
    dev.close();
  }
  expect(fake.open_.size).toBe(0);
  expect(fake.triggers.size).toBe(0);
});

test("removal: ERR alone reads as \"error\"; a device offering only REQ still opens", () => {
  const a = open({ req: true, err: true });
  try {
    a.fake.signal(abi.VFIO_PCI_ERR_IRQ_INDEX);
    expect(a.dev.removal!.poll()).toBe("error");
  } finally {
    a.dev.close();
  }
  const b = open({ req: true });
  try {
    expect(b.fake.triggers.has(abi.VFIO_PCI_ERR_IRQ_INDEX)).toBe(false);
    expect(b.dev.removal!.fds.length).toBe(1);
  } finally {
    b.dev.close();
  }
});

test("removal: a wait on an interrupt line wakes when REQ fires, and says no interrupt came", () => {
  const { fake, dev } = open({ req: true });
  try {
    const line = dev.irq(0);
    fake.signal(abi.VFIO_PCI_REQ_IRQ_INDEX);
    // would sleep a minute if the REQ eventfd were not polled with the line's
    expect(line.wait(60_000)).toBe(false);
    fake.write(line.fd, one());
    expect(line.wait(60_000)).toBe(true);
  } finally {
    dev.close();
  }
});

test("revoke: BARs become anonymous stand-ins, then the device, group and container are closed; close unmaps the stand-ins", () => {
  const { fake, dev } = open({ req: true });
  const bar = dev.region(0);
  dev.irq(0);
  bar.io.write32(0x40, 0x1234);
  dev.dmaMap(0x7f0000000000, 0x1000, 0x1000);
  const start = fake.calls.length;
  dev.revoke();
  const steps = fake.calls.slice(start).map((c) => (c.call === "ioctl" ? c.name : c.call === "close" ? `close ${c.text ?? "eventfd"}` : c.call));
  expect(steps).toEqual([
    "remapAnonymous", // first: nothing in the process may fault on the BAR from here on
    "VFIO_DEVICE_SET_IRQS",
    "close eventfd", // the MSI line
    "close eventfd", // REQ
    "VFIO_IOMMU_UNMAP_DMA",
    "close device",
    "VFIO_GROUP_UNSET_CONTAINER",
    "close group",
    "close container",
  ]);
  expect(fake.calls[start]!.int).toBe(bar.ptr);
  expect(fake.open_.size).toBe(0); // the kernel can finish the removal
  expect([...fake.anon.keys()]).toEqual([bar.ptr]);
  // the io taken before reads the stand-in (zeros), it does not fault
  expect(bar.io.read32(0x40)).toBe(0);
  bar.io.write32(0x40, 1);
  dev.dmaUnmap(0x1000, 0x1000); // nothing is mapped any more: no call
  expect(fake.calls.slice(start + steps.length).some((c) => c.name === "VFIO_IOMMU_UNMAP_DMA")).toBe(false);
  dev.revoke(); // once
  dev.close();
  expect(fake.anon.size).toBe(0);
  expect(fake.maps.size).toBe(0);
  expect(() => bar.io.read32(0)).toThrow("was used after it was unmapped");
});

test("Device on the vfio backend: REQ fails the device with DeviceRemovedError, revokes it, and a new open works", async () => {
  const { Device } = await import("@warpdrive/runtime/device");
  const { DeviceRemovedError } = await import("@warpdrive/runtime/errors");
  const fake = new FakeVfio({ req: true, err: true });
  const backend = new VfioBackend({ sys: fake, sysfs });
  const dev = await Device.open(spec, { backend, address: ADDR, iovaLimit: 1 << 28 });
  const buf = dev.alloc(8192, "kept");
  buf.bytes.fill(7);
  const io = dev.region("bar0").io;
  fake.signal(abi.VFIO_PCI_REQ_IRQ_INDEX);
  // only the event loop runs: the device's removal timer finds it
  while (dev.removed === undefined) await Bun.sleep(5);
  expect(dev.removed).toBeInstanceOf(DeviceRemovedError);
  expect(dev.removed.event).toBe("removed");
  expect(dev.removed.device).toBe(`device ${ADDR}`);
  expect(fake.open_.size).toBe(0);
  expect(io.read32(0)).toBe(0);
  expect(() => dev.alloc(4096)).toThrow(DeviceRemovedError);
  expect(() => dev.irq("irq")).toThrow(DeviceRemovedError);
  expect(buf.bytes[100]).toBe(7);
  buf.free(); // the app's memory is its own again; nothing to unmap in a closed container
  dev.close();
  expect(fake.maps.size + fake.anon.size).toBe(0);
  // the device is back (device_add): a new open finds it
  const again = await Device.open(spec, { backend, address: ADDR });
  expect(again.removed).toBeUndefined();
  again.close();
  expect(fake.open_.size).toBe(0);
});
