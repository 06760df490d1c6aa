// Opening a device without access: the error names the file and says what to do. Tests run as
// root here, so a chmod would not stop us: the vfio backend's injectable syscall layer (the fake
// kernel of test/runtime/fake-vfio.ts) answers EACCES/EPERM for the file instead, and the whole
// Device.open path (backend -> container -> group) must turn it into that message, leaving no fd
// open.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Device, formatError, VfioBackend, VfioError, type DeviceSpec } from "@warpdrive/runtime";
import { SysError } from "@warpdrive/runtime/errors";
import { FakeVfio } from "../runtime/fake-vfio.ts";

const ADDR = "0000:00:03.0";
let sysfs: string;

beforeAll(() => {
  // one vfio-pci device in IOMMU group 7, as sysfs shows it
  sysfs = mkdtempSync(join(tmpdir(), "wd-perm-sysfs-"));
  const dir = join(sysfs, "bus/pci/devices", ADDR);
  mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries({ vendor: "0x1234", device: "0x11e8", class: "0x00ff00" })) writeFileSync(join(dir, k), `${v}\n`);
  mkdirSync(join(sysfs, "bus/pci/drivers/vfio-pci"), { recursive: true });
  symlinkSync(join(sysfs, "bus/pci/drivers/vfio-pci"), join(dir, "driver"));
  const g = join(sysfs, "kernel/iommu_groups/7");
  mkdirSync(join(g, "devices"), { recursive: true });
  symlinkSync(dir, join(g, "devices", ADDR));
  symlinkSync(g, join(dir, "iommu_group"));
});
afterAll(() => rmSync(sysfs, { recursive: true, force: true }));

const spec: DeviceSpec = {
  name: "qemu-edu", title: "QEMU edu", version: "1.0.0",
  pci: [{ vendor: 0x1234, device: 0x11e8 }],
  regions: [{ name: "bar0", kind: "mmio", index: 0, size: 0x100000 }],
  interrupts: [{ name: "irq", index: 0, kind: "msi" }],
  queues: [],
};

/** The fake kernel, with one file this user may not open. */
class Unreadable extends FakeVfio {
  constructor(readonly deny: string, readonly errno: number) {
    super();
  }
  override open(path: string, flags: number): number {
    if (path === this.deny) throw new SysError("open", path, this.errno);
    return super.open(path, flags);
  }
}

async function openError(fake: FakeVfio): Promise<VfioError> {
  try {
    const dev = await Device.open(spec, { backend: new VfioBackend({ sys: fake, sysfs }), address: ADDR });
    dev.close();
  } catch (e) {
    if (e instanceof VfioError) return e;
    throw e;
  }
  throw new Error("Device.open succeeded without access");
}

describe("opening a device without access", () => {
  for (const [file, errno, name] of [
    ["/dev/vfio/7", 13, "EACCES"],
    ["/dev/vfio/7", 1, "EPERM"],
    ["/dev/vfio/vfio", 13, "EACCES"],
  ] as const) {
    test(`${name} on ${file}: the error names the file and what to do; nothing is left open`, async () => {
      const fake = new Unreadable(file, errno);
      const e = await openError(fake);
      const line = formatError(e);
      expect(line).toContain(file);
      expect(line).toContain(name);
      // what to do about it
      expect(line).toMatch(/run as root|give this user access/);
      expect(e.errno).toBe(errno);
      expect(fake.open_.size).toBe(0);
    });
  }

  test("the same device opens once access is there (the refusal was about the file, nothing else)", async () => {
    const fake = new FakeVfio();
    const dev = await Device.open(spec, { backend: new VfioBackend({ sys: fake, sysfs }), address: ADDR });
    expect(dev.address).toBe(ADDR);
    dev.close();
    expect(fake.open_.size).toBe(0);
  });
});
