// A VFIO group (/dev/vfio/N): the unit of isolation. Every device in the IOMMU group must be bound to
// vfio-pci (or to no driver) before the group is viable; when it is not, the error names the devices
// and their drivers, read from /sys/kernel/iommu_groups/N/devices/*/driver.
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { VfioError } from "../errors.ts";
import * as abi from "../sys/abi.ts";
import { cstr, O_RDWR, type Sys } from "../sys/libc.ts";
import type { VfioContainer } from "./container.ts";
import { vfioIoctl, vfioOpen } from "./ioctl.ts";

const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function link(path: string): string | undefined {
  try {
    return basename(readlinkSync(path));
  } catch {
    return undefined;
  }
}

/** "0000:00:03.0" / "00:03.0" -> full PCI address; an mdev UUID stays as it is. */
export function normalizeDeviceName(name: string): string {
  const n = name.trim().toLowerCase();
  if (/^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(n)) return `0000:${n}`;
  if (PCI_ADDRESS.test(n) || UUID.test(n)) return n;
  throw new VfioError("open", name, undefined, `"${name}" is neither a PCI address (0000:00:03.0) nor an mdev UUID`);
}

/** The IOMMU group number of a PCI device or mdev, from sysfs. */
export function iommuGroupOf(device: string, sysfs = "/sys"): number {
  const name = normalizeDeviceName(device);
  const dir = UUID.test(name) ? join(sysfs, "bus/mdev/devices", name) : join(sysfs, "bus/pci/devices", name);
  if (!existsSync(dir)) {
    throw new VfioError("open", dir, 2, `no device ${name} (check the address with lspci -D, or that the mdev was created)`);
  }
  const g = link(join(dir, "iommu_group"));
  if (g === undefined) {
    throw new VfioError("open", join(dir, "iommu_group"), 2, `${name} has no IOMMU group: enable the IOMMU (intel_iommu=on / amd_iommu=on)`);
  }
  return Number(g);
}

/**
 * Refuses early, with the fix in the message, a PCI device that is bound to another driver or to none:
 * the kernel would only say ENOENT (no /dev/vfio/N) or EINVAL (GET_DEVICE_FD).
 */
export function checkBoundToVfio(device: string, sysfs = "/sys"): void {
  const name = normalizeDeviceName(device);
  if (UUID.test(name)) return; // an mdev has no driver link of this kind
  const dir = join(sysfs, "bus/pci/devices", name);
  if (!existsSync(dir)) return; // iommuGroupOf reports a missing device
  const driver = link(join(dir, "driver"));
  if (driver === "vfio-pci") return;
  throw new VfioError(
    "open",
    name,
    undefined,
    `${name} is ${driver ? `bound to ${driver}` : "not bound to any driver"}, not vfio-pci: bind it first (wd bind ${name}, or echo vfio-pci > ${dir}/driver_override and reprobe)`,
  );
}

/** Devices of the group and their drivers (undefined: none bound). */
export function groupMembers(group: number, sysfs = "/sys"): { device: string; driver?: string }[] {
  const dir = join(sysfs, "kernel/iommu_groups", String(group), "devices");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((device) => ({ device, driver: link(join(dir, device, "driver")) }));
}

/** Why group N is not viable, in words, from sysfs. */
export function notViableReason(group: number, sysfs = "/sys"): string {
  const members = groupMembers(group, sysfs);
  const blocking = members.filter((m) => m.driver !== undefined && m.driver !== "vfio-pci" && m.driver !== "pci-stub");
  if (blocking.length === 0) {
    return `IOMMU group ${group} is not viable; is every device of the group bound to vfio-pci?`;
  }
  const list = blocking.map((m) => `${m.device} (bound to ${m.driver})`).join(", ");
  return `IOMMU group ${group} is not viable: ${list} must be bound to vfio-pci or unbound too`;
}

export class VfioGroup {
  readonly number: number;
  readonly path: string;
  readonly #sys: Sys;
  readonly #sysfs: string;
  #fd: number;
  #container: VfioContainer | undefined;

  constructor(sys: Sys, group: number, options: { devRoot?: string; sysfs?: string } = {}) {
    this.#sys = sys;
    this.number = group;
    this.#sysfs = options.sysfs ?? "/sys";
    this.path = join(options.devRoot ?? "/dev/vfio", String(group));
    this.#fd = vfioOpen(sys, this.path, O_RDWR, {
      ENOENT: `${this.path} does not exist: bind the group's devices to vfio-pci first`,
      EBUSY: `group ${group} is already open (another process, or a device that was not closed)`,
    });
    try {
      const st = this.status();
      if (!st.viable) {
        throw new VfioError("VFIO_GROUP_GET_STATUS", this.path, undefined, notViableReason(group, this.#sysfs));
      }
    } catch (e) {
      this.#closeQuietly();
      throw e;
    }
  }

  get fd(): number {
    if (this.#fd < 0) throw new VfioError("use", this.path, undefined, "the group is closed");
    return this.#fd;
  }

  status(): { viable: boolean; containerSet: boolean } {
    const b = abi.argszStruct(abi.GroupStatus.SIZE);
    vfioIoctl(this.#sys, this.fd, abi.VFIO_GROUP_GET_STATUS, b, "VFIO_GROUP_GET_STATUS", this.path);
    return abi.decodeGroupStatus(b);
  }

  /** Join the container (the ioctl takes a pointer to the container's fd). */
  setContainer(container: VfioContainer): void {
    const arg = new Uint8Array(4);
    new DataView(arg.buffer).setInt32(0, container.fd, true);
    vfioIoctl(this.#sys, this.fd, abi.VFIO_GROUP_SET_CONTAINER, arg, "VFIO_GROUP_SET_CONTAINER", this.path);
    this.#container = container;
  }

  unsetContainer(): void {
    if (!this.#container) return;
    this.#container = undefined;
    vfioIoctl(this.#sys, this.fd, abi.VFIO_GROUP_UNSET_CONTAINER, null, "VFIO_GROUP_UNSET_CONTAINER", this.path);
  }

  /** A device fd by PCI address or mdev UUID. */
  deviceFd(name: string): number {
    return vfioIoctl(this.#sys, this.fd, abi.VFIO_GROUP_GET_DEVICE_FD, cstr(name), "VFIO_GROUP_GET_DEVICE_FD", `${this.path} (device ${name})`);
  }

  #closeQuietly(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    try {
      this.#sys.close(fd, this.path);
    } catch {
      /* report the first error */
    }
  }

  #containerGone(): boolean {
    try {
      return !this.status().containerSet;
    } catch (e) {
      return e instanceof VfioError && e.errno === 19; // ENODEV: the group itself is gone
    }
  }

  /** Leaves the container (if joined) and closes. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    try {
      this.unsetContainer();
    } catch (e) {
      // The kernel already took the group out of its container: its last device went away while we
      // held it (an mdev removed while open: the removal waits for the device fd, then detaches).
      if (!(e instanceof VfioError && e.errno === 22 && this.#containerGone())) throw e;
    } finally {
      const fd = this.#fd;
      this.#fd = -1;
      this.#sys.close(fd, this.path);
    }
  }
}
