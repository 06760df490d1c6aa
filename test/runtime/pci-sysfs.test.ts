// Discovery over a sysfs tree built in a temporary folder, laid out as the kernel lays it out
// (device folders with hex attribute files, driver and iommu_group as symlinks).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bindToVfio,
  iommuGroupMembers,
  listPciDevices,
  normalizePciAddress,
  readPciDevice,
} from "@warpdrive/runtime/pci/sysfs";

let sysfs: string;

function addDevice(address: string, ids: Record<string, string>, driver?: string, group?: number): void {
  const dir = join(sysfs, "bus/pci/devices", address);
  mkdirSync(dir, { recursive: true });
  for (const [name, value] of Object.entries(ids)) writeFileSync(join(dir, name), `${value}\n`);
  if (driver) {
    mkdirSync(join(sysfs, "bus/pci/drivers", driver), { recursive: true });
    symlinkSync(join(sysfs, "bus/pci/drivers", driver), join(dir, "driver"));
  }
  if (group !== undefined) {
    const groupDir = join(sysfs, "kernel/iommu_groups", String(group));
    mkdirSync(join(groupDir, "devices"), { recursive: true });
    symlinkSync(dir, join(groupDir, "devices", address));
    symlinkSync(groupDir, join(dir, "iommu_group"));
  }
}

beforeAll(() => {
  sysfs = mkdtempSync(join(tmpdir(), "wd-sysfs-"));
  addDevice("0000:00:04.0", { vendor: "0x1b36", device: "0x0010", class: "0x010802" }, "nvme", 4);
  addDevice("0000:00:03.0", { vendor: "0x1234", device: "0x11e8", class: "0x00ff00" }, "vfio-pci", 3);
  addDevice("0000:00:05.0", { vendor: "0x8086", device: "0x1237", class: "0x060000" });
});
afterAll(() => rmSync(sysfs, { recursive: true, force: true }));

test("lists devices sorted by address with ids, driver and IOMMU group", () => {
  const devices = listPciDevices(sysfs);
  expect(devices.map((d) => d.address)).toEqual(["0000:00:03.0", "0000:00:04.0", "0000:00:05.0"]);
  expect(devices[0]).toMatchObject({ vendor: 0x1234, device: 0x11e8, driver: "vfio-pci", iommuGroup: 3 });
  expect(devices[1]).toMatchObject({ vendor: 0x1b36, device: 0x0010, classCode: 0x010802, driver: "nvme" });
  expect(devices[2].driver).toBeUndefined();
  expect(devices[2].iommuGroup).toBeUndefined();
});

test("group members are read from the kernel's iommu_groups folder", () => {
  expect(iommuGroupMembers(4, sysfs)).toEqual(["0000:00:04.0"]);
  expect(iommuGroupMembers(99, sysfs)).toEqual([]);
});

test("short addresses are completed and bad ones named", () => {
  expect(normalizePciAddress("00:03.0")).toBe("0000:00:03.0");
  expect(() => normalizePciAddress("3.0")).toThrow('"3.0" is not a PCI address');
  expect(() => readPciDevice("0000:00:09.0", sysfs)).toThrow("no PCI device 0000:00:09.0");
});

test("binding a device without an IOMMU group says how to fix it", () => {
  expect(() => bindToVfio("0000:00:05.0", sysfs)).toThrow("has no IOMMU group: enable the IOMMU");
});

test("binding a device already on vfio-pci changes nothing", () => {
  expect(bindToVfio("00:03.0", sysfs).driver).toBe("vfio-pci");
});
