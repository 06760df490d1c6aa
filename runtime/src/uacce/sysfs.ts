// UACCE devices as sysfs shows them: /sys/class/uacce/<name>-<n>/{api, flags, available_instances,
// algorithms, region_mmio_size, region_dus_size}. The queue file is /dev/<name>-<n>; each open of it
// is one queue, and available_instances is the kernel's count of queues still free (it drops on
// open and comes back on close), so no agent of ours hands queues out.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UACCE_DEV_SVA } from "../sys/uacce-abi.ts";

export interface UacceDeviceInfo {
  /** "wd_dummy-0": the class entry and the /dev node name. */
  name: string;
  /** The `api` attribute: the queue's user ABI ("hisi_qm_v2", "wd_dummy_v1"). */
  api: string;
  flags: number;
  /** flags & UACCE_DEV_SVA: the device reaches process memory at its virtual address. */
  sva: boolean;
  /** Queues that can still be opened; undefined when the driver does not say. */
  available: number | undefined;
  /** The `algorithms` attribute, one per line in the kernel's text ("zlib\ngzip"). */
  algorithms: string[];
  /** Bytes of each queue file region (0 when the device has none). */
  mmioSize: number;
  dusSize: number;
  /** Absolute sysfs folder. */
  dir: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

function int(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  return Number(text);
}

/** One device's attributes, or undefined when its folder is gone (the parent was removed). */
export function readUacceDevice(name: string, sysfs = "/sys"): UacceDeviceInfo | undefined {
  const dir = join(sysfs, "class/uacce", name);
  const api = read(join(dir, "api"));
  if (api === undefined) return undefined;
  const flags = int(read(join(dir, "flags"))) ?? 0;
  return {
    name,
    api,
    flags,
    sva: (flags & UACCE_DEV_SVA) !== 0,
    available: int(read(join(dir, "available_instances"))),
    algorithms: (read(join(dir, "algorithms")) ?? "").split(/\s+/).filter(Boolean),
    mmioSize: int(read(join(dir, "region_mmio_size"))) ?? 0,
    dusSize: int(read(join(dir, "region_dus_size"))) ?? 0,
    dir,
  };
}

/** Every UACCE device, sorted by name (none when the uacce module is not loaded). */
export function listUacceDevices(sysfs = "/sys"): UacceDeviceInfo[] {
  const cls = join(sysfs, "class/uacce");
  if (!existsSync(cls)) return [];
  const out: UacceDeviceInfo[] = [];
  for (const name of readdirSync(cls).sort()) {
    const d = readUacceDevice(name, sysfs);
    if (d !== undefined) out.push(d);
  }
  return out;
}

/** Whether the device is still registered (its class folder exists): poll() does not report removal. */
export function uacceDevicePresent(name: string, sysfs = "/sys"): boolean {
  return existsSync(join(sysfs, "class/uacce", name, "api"));
}
