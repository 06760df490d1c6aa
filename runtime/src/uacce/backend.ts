// The uacce Backend: finds a UACCE device whose `api` is one the description drives (or the one
// named by the address) and opens a queue on it. The kernel hands queues out: each open of the queue
// file takes one (available_instances drops), and it is free again when the file is closed, also when
// the process dies. A device whose queues are all taken answers the open with EBUSY: the next
// matching device is tried.
import type { Backend, BackendDevice, DeviceSpec } from "../backend.ts";
import { ConfigError, SysError, UacceError } from "../errors.ts";
import { UacceQueue, type UacceOpenOptions } from "./device.ts";
import { listUacceDevices, readUacceDevice, type UacceDeviceInfo } from "./sysfs.ts";

const EBUSY = 16;

/** "uacce:wd_dummy-0", "/dev/wd_dummy-0" or "wd_dummy-0" -> "wd_dummy-0"; a RangeError for anything else. */
export function uacceDeviceName(address: string): string {
  const name = address.replace(/^uacce:/, "").replace(/^\/dev\//, "");
  if (!/^[A-Za-z0-9_.]+(?:[-_.][A-Za-z0-9_.]+)*-\d+$/.test(name)) {
    throw new RangeError(`address ${JSON.stringify(address)} is not a UACCE device name (uacce:<name>-<n>, e.g. uacce:wd_dummy-0)`);
  }
  return name;
}

/** The UACCE devices whose api the description drives, in name order. */
export function findUacceDevices(spec: DeviceSpec, sysfs = "/sys"): UacceDeviceInfo[] {
  const apis = spec.uacce?.api ?? [];
  return listUacceDevices(sysfs).filter((d) => apis.includes(d.api));
}

export class UacceBackend implements Backend {
  readonly kind = "uacce" as const;
  constructor(readonly options: UacceOpenOptions = {}) {}

  open(spec: DeviceSpec, address?: string): BackendDevice {
    const sysfs = this.options.sysfs ?? "/sys";
    if (spec.uacce === undefined) {
      throw new ConfigError(`${spec.name} cannot run on uacce: its description has no match.uacce (api strings, region placement)`);
    }
    const apis = spec.uacce.api.join(", ");
    if (address !== undefined) {
      const name = uacceDeviceName(address);
      const info = readUacceDevice(name, sysfs);
      if (info === undefined) throw new UacceError("open", name, 2, `no UACCE device ${name} under ${sysfs}/class/uacce (is its driver loaded?)`);
      if (!spec.uacce.api.includes(info.api)) {
        throw new UacceError("open", name, undefined, `${name} speaks api "${info.api}"; ${spec.name} drives ${apis}`);
      }
      return new UacceQueue(spec, info, this.options);
    }
    const found = findUacceDevices(spec, sysfs);
    if (found.length === 0) {
      throw new UacceError("find", `${spec.name} [${apis}]`, undefined, `no UACCE device with api ${apis} under ${sysfs}/class/uacce (is its driver loaded?)`);
    }
    let busy: unknown;
    for (const info of found) {
      if (info.available === 0) continue;
      try {
        return new UacceQueue(spec, info, this.options);
      } catch (e) {
        // taken between the sysfs read and our open: the next device
        if (e instanceof SysError && e.errno === EBUSY) {
          busy = e;
          continue;
        }
        throw e;
      }
    }
    throw new UacceError("open", `${spec.name} [${apis}]`, EBUSY,
      `every queue of ${found.map((d) => d.name).join(", ")} is in use (available_instances 0): close one, or wait`, busy);
  }
}

/** The real UACCE backend (libc, /dev, /sys). */
export const uacceBackend: Backend = new UacceBackend();
