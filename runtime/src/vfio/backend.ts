// The vfio Backend: finds the device (explicit address, WD_DEVICE, the first PCI function matching
// the spec's ids that is bound to vfio-pci, or else a free instance of an mdev type named like the
// device, created when none is free: mdev.ts's resource agent) and opens it as a VfioDevice.
import type { Backend, BackendDevice, DeviceSpec } from "../backend.ts";
import { VfioError } from "../errors.ts";
import { listPciDevices } from "../pci/sysfs.ts";
import { sys as realSys } from "../sys/libc.ts";
import { VfioDevice, type VfioOpenOptions } from "./device.ts";
import { claimMdev, findMdevTypes } from "./mdev.ts";

const hex4 = (n: number) => n.toString(16).padStart(4, "0");

/** The address of the first device matching spec.pci that is bound to vfio-pci, or a VfioError saying what was found. */
export function findVfioDevice(spec: DeviceSpec, sysfs = "/sys"): string {
  const ids = spec.pci.map((p) => `${hex4(p.vendor)}:${hex4(p.device)}`).join(", ") || "(none)";
  const matches = listPciDevices(sysfs).filter((d) => spec.pci.some((p) => p.vendor === d.vendor && p.device === d.device));
  const bound = matches.find((d) => d.driver === "vfio-pci");
  if (bound) return bound.address;
  const seen = matches.map((d) => `${d.address} (${d.driver ? `bound to ${d.driver}` : "no driver"})`).join(", ");
  throw new VfioError(
    "find",
    `${spec.name} [${ids}]`,
    undefined,
    matches.length
      ? `no matching device is bound to vfio-pci; found ${seen}: bind one with \`wd bind <address>\``
      : "no PCI device with these ids; pass an address (WD_DEVICE=0000:00:03.0) or check lspci -nn",
  );
}

export class VfioBackend implements Backend {
  readonly kind = "vfio" as const;
  constructor(readonly options: VfioOpenOptions = {}) {}

  open(spec: DeviceSpec, address?: string): BackendDevice {
    const sysfs = this.options.sysfs ?? "/sys";
    const opts = { ...this.options, sys: this.options.sys ?? realSys };
    let addr = address ?? process.env.WD_DEVICE;
    if (addr === undefined) {
      try {
        addr = findVfioDevice(spec, sysfs);
      } catch (e) {
        // no PCI function: a mediated device of the same name (one queue per instance)
        if (findMdevTypes(spec.name, sysfs).length === 0) throw e;
        return claimMdev(spec.name, (uuid) => new VfioDevice(spec, uuid, opts), { sysfs });
      }
    }
    return new VfioDevice(spec, addr, opts);
  }
}

/** The real VFIO backend (libc, /dev/vfio, /sys). */
export const vfioBackend: Backend = new VfioBackend();
