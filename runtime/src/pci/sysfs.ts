// PCI device discovery and vfio-pci binding through sysfs.
// Everything takes a sysfs root so tests can point it at a tree they built; the VM suite runs it
// against the guest's real /sys.
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

export interface PciDevice {
  /** Full PCI address, e.g. "0000:00:03.0". */
  address: string;
  vendor: number;
  device: number;
  subsystemVendor?: number;
  subsystemDevice?: number;
  /** PCI class code (24 bits). */
  classCode: number;
  /** Bound driver, or undefined when none is bound. */
  driver?: string;
  /** IOMMU group number, or undefined when the device has none (no IOMMU, or it is off). */
  iommuGroup?: number;
}

const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** Accepts "00:03.0" as well as "0000:00:03.0" and returns the full form. */
export function normalizePciAddress(address: string): string {
  const full = /^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(address) ? `0000:${address}` : address;
  const lower = full.toLowerCase();
  if (!PCI_ADDRESS.test(lower)) {
    throw new Error(`"${address}" is not a PCI address (expected DDDD:BB:SS.F, e.g. 0000:00:03.0)`);
  }
  return lower;
}

function readHex(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  return Number.parseInt(readFileSync(path, "utf8").trim(), 16);
}

function linkName(path: string): string | undefined {
  try {
    return basename(readlinkSync(path));
  } catch {
    return undefined;
  }
}

export function readPciDevice(address: string, sysfs = "/sys"): PciDevice {
  const dir = join(sysfs, "bus/pci/devices", normalizePciAddress(address));
  if (!existsSync(dir)) throw new Error(`no PCI device ${address} (${dir} does not exist)`);
  const group = linkName(join(dir, "iommu_group"));
  return {
    address: basename(dir),
    vendor: readHex(join(dir, "vendor")) ?? 0,
    device: readHex(join(dir, "device")) ?? 0,
    subsystemVendor: readHex(join(dir, "subsystem_vendor")),
    subsystemDevice: readHex(join(dir, "subsystem_device")),
    classCode: readHex(join(dir, "class")) ?? 0,
    driver: linkName(join(dir, "driver")),
    iommuGroup: group === undefined ? undefined : Number(group),
  };
}

/** Every PCI device, sorted by address. */
export function listPciDevices(sysfs = "/sys"): PciDevice[] {
  const root = join(sysfs, "bus/pci/devices");
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort()
    .map((address) => readPciDevice(address, sysfs));
}

/** Addresses of the devices sharing an IOMMU group; all of them must be bound to vfio-pci to use it. */
export function iommuGroupMembers(group: number, sysfs = "/sys"): string[] {
  const dir = join(sysfs, "kernel/iommu_groups", String(group), "devices");
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

function writeSysfs(path: string, value: string, what: string): void {
  try {
    writeFileSync(path, value);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    const hint = code === "EACCES" || code === "EPERM" ? " (run as root)" : "";
    throw new Error(`${what}: writing "${value}" to ${path} failed: ${code}${hint}`);
  }
}

/**
 * Hands a device to vfio-pci: unbinds its current driver, sets driver_override so no other driver
 * grabs it, and asks the kernel to probe it again.
 */
export function bindToVfio(address: string, sysfs = "/sys"): PciDevice {
  const dev = readPciDevice(address, sysfs);
  if (dev.driver === "vfio-pci") return dev;
  if (dev.iommuGroup === undefined) {
    throw new Error(
      `${dev.address} has no IOMMU group: enable the IOMMU (intel_iommu=on or amd_iommu=on) before binding to vfio-pci`,
    );
  }
  const dir = join(sysfs, "bus/pci/devices", dev.address);
  if (dev.driver) writeSysfs(join(dir, "driver/unbind"), dev.address, `unbind ${dev.address} from ${dev.driver}`);
  writeSysfs(join(dir, "driver_override"), "vfio-pci", `bind ${dev.address}`);
  writeSysfs(join(sysfs, "bus/pci/drivers_probe"), dev.address, `bind ${dev.address}`);
  const after = readPciDevice(dev.address, sysfs);
  if (after.driver !== "vfio-pci") {
    throw new Error(`${dev.address} did not bind to vfio-pci (is the vfio-pci module loaded? modprobe vfio-pci)`);
  }
  return after;
}

/** Gives a device back to the kernel: unbinds vfio-pci, clears driver_override and reprobes. */
export function unbindFromVfio(address: string, sysfs = "/sys"): PciDevice {
  const dev = readPciDevice(address, sysfs);
  const dir = join(sysfs, "bus/pci/devices", dev.address);
  if (dev.driver) writeSysfs(join(dir, "driver/unbind"), dev.address, `unbind ${dev.address} from ${dev.driver}`);
  // An empty line clears the override; the kernel then picks the device's own driver.
  writeSysfs(join(dir, "driver_override"), "\n", `clear driver_override of ${dev.address}`);
  writeSysfs(join(sysfs, "bus/pci/drivers_probe"), dev.address, `reprobe ${dev.address}`);
  return readPciDevice(dev.address, sysfs);
}
