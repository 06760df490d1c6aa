// Mediated devices (VFIO-MDEV), the WarpDrive proposal's "queue wrapped as an mdev", and the resource
// agent that hands them out.
//
// sysfs:   /sys/class/mdev_bus/<parent>/mdev_supported_types/<driver>-<type>/{name,available_instances,create,devices/}
//          /sys/bus/mdev/devices/<uuid>/{mdev_type -> the type folder, iommu_group, remove}
// Agent:   claimMdev(type) opens a free instance of the type, or creates one (write a fresh UUID to
//          `create`) when every existing one is taken and the type has instances left. "Free" is decided
//          by the kernel, not by a lock file: VFIO lets only one open of a group at a time (a second open
//          of /dev/vfio/N is EBUSY), an mdev is alone in its group, and the open dies with the process.
//          So two processes never get the same instance, and the instance of a killed process is free
//          again as soon as its files are closed. Release = close the device; the instance stays for the
//          next claim (the WarpDrive proposal: "the mdev will not be released if the user process exits").
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { basename, join } from "node:path";
import { VfioError } from "../errors.ts";

const EBUSY = 16;

export interface MdevType {
  /** Parent device name (the folder under /sys/class/mdev_bus). */
  parent: string;
  /** The type's folder name: "<driver>-<type>", e.g. "wd_dummy-wd-dummy". */
  id: string;
  /** The type's own name: the part after "<driver>-", e.g. "wd-dummy". */
  type: string;
  /** The `name` attribute (pretty name), when the driver gives one. */
  prettyName?: string;
  /** Instances that can still be created. */
  available: number;
  /** Absolute sysfs folder of the type. */
  dir: string;
}

export interface MdevInstance {
  uuid: string;
  /** Type folder name ("wd_dummy-wd-dummy"). */
  typeId: string;
  parent: string;
  group: number | undefined;
  /** Whether some process holds the group open right now (probed by opening it; undefined: not probed). */
  inUse?: boolean;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

function linkName(path: string): string | undefined {
  try {
    return basename(readlinkSync(path));
  } catch {
    return undefined;
  }
}

/** Every mdev type of every parent. */
export function listMdevTypes(sysfs = "/sys"): MdevType[] {
  const bus = join(sysfs, "class/mdev_bus");
  if (!existsSync(bus)) return [];
  const out: MdevType[] = [];
  for (const parent of readdirSync(bus).sort()) {
    const types = join(bus, parent, "mdev_supported_types");
    if (!existsSync(types)) continue;
    for (const id of readdirSync(types).sort()) {
      const dir = join(types, id);
      const dash = id.indexOf("-");
      out.push({
        parent,
        id,
        type: dash >= 0 ? id.slice(dash + 1) : id,
        prettyName: read(join(dir, "name")),
        available: Number(read(join(dir, "available_instances")) ?? 0),
        dir,
      });
    }
  }
  return out;
}

/** The types whose own name (or folder name) is `name`. */
export function findMdevTypes(name: string, sysfs = "/sys"): MdevType[] {
  return listMdevTypes(sysfs).filter((t) => t.type === name || t.id === name);
}

/** Every mdev instance (optionally of one type folder name), sorted by UUID. */
export function listMdevInstances(sysfs = "/sys", typeId?: string): MdevInstance[] {
  const dir = join(sysfs, "bus/mdev/devices");
  if (!existsSync(dir)) return [];
  const out: MdevInstance[] = [];
  for (const uuid of readdirSync(dir).sort()) {
    const tid = linkName(join(dir, uuid, "mdev_type"));
    if (tid === undefined || (typeId !== undefined && tid !== typeId)) continue;
    let parent = "";
    try {
      // .../<parent>/mdev_supported_types/<type>
      parent = basename(join(readlinkSync(join(dir, uuid, "mdev_type")), "../.."));
    } catch {
      /* left empty */
    }
    const g = linkName(join(dir, uuid, "iommu_group"));
    out.push({ uuid, typeId: tid, parent, group: g === undefined ? undefined : Number(g) });
  }
  return out;
}

/** Creates an instance of the type (root only); returns its UUID. */
export function createMdev(type: MdevType, uuid: string = randomUUID()): string {
  try {
    writeFileSync(join(type.dir, "create"), uuid);
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    throw new VfioError("mdev create", join(type.dir, "create"), errno === undefined ? undefined : Math.abs(errno), `cannot create a ${type.type} instance (root? instances left: ${type.available})`, e);
  }
  return uuid;
}

/** Removes an instance; the kernel waits until no process has it open. */
export function removeMdev(uuid: string, sysfs = "/sys"): void {
  writeFileSync(join(sysfs, "bus/mdev/devices", uuid, "remove"), "1");
}

/**
 * The resource agent: `open(uuid)` is tried on each instance of the type; the first that opens is
 * returned. An open failing with EBUSY (the group is held by another process) moves on to the next;
 * any other failure is thrown. When none is free, a new instance is created and opened (if the type
 * has instances left and we may write `create`), racing other processes fairly: whoever opens first
 * keeps it, the loser tries again.
 */
export function claimMdev<T>(typeName: string, open: (uuid: string) => T, opts: { sysfs?: string; create?: boolean; attempts?: number } = {}): T {
  const sysfs = opts.sysfs ?? "/sys";
  const types = findMdevTypes(typeName, sysfs);
  if (types.length === 0) {
    throw new VfioError("mdev", typeName, undefined, `no mdev type "${typeName}" under ${sysfs}/class/mdev_bus (is its driver loaded?)`);
  }
  const busy = (e: unknown) => e instanceof VfioError && e.errno === EBUSY;
  const attempts = opts.attempts ?? 4;
  let lastBusy: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    for (const t of types) {
      for (const inst of listMdevInstances(sysfs, t.id)) {
        try {
          return open(inst.uuid);
        } catch (e) {
          if (!busy(e)) throw e;
          lastBusy = e;
        }
      }
    }
    if (opts.create === false) break;
    const t = listMdevTypes(sysfs).find((x) => types.some((y) => y.dir === x.dir) && x.available > 0);
    if (!t) break;
    let uuid: string;
    try {
      uuid = createMdev(t);
    } catch (e) {
      // another process took the last one between our read and our write: look again
      if (attempt + 1 < attempts && listMdevTypes(sysfs).some((x) => x.dir === t.dir && x.available === 0)) continue;
      throw e;
    }
    try {
      return open(uuid);
    } catch (e) {
      if (!busy(e)) throw e;
      lastBusy = e;
    }
  }
  throw new VfioError(
    "mdev",
    typeName,
    EBUSY,
    `every ${typeName} instance is in use and no more can be created (${types.map((t) => `${t.parent}: ${t.available} left`).join(", ")})`,
    lastBusy,
  );
}

/** Probes whether an instance's group is open in some process: opens and closes /dev/vfio/N. */
export function probeInUse(inst: MdevInstance, tryOpen: (path: string) => "free" | "busy" | "error", devRoot = "/dev/vfio"): boolean | undefined {
  if (inst.group === undefined) return undefined;
  const r = tryOpen(join(devRoot, String(inst.group)));
  return r === "error" ? undefined : r === "busy";
}
