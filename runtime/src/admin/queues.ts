// `wd queues`: the mediated-device queues of this machine (the WarpDrive proposal's one queue per mdev): each mdev
// type with the instances it can still create, and each instance with its IOMMU group and the process
// that holds it (found in /proc/<pid>/fd: nothing is opened, so listing never steals a queue).
//   wd queues [--json] [--sysfs DIR]
//   wd queues create <type> [<uuid>]     e.g. wd queues create wd-dummy (root)
//   wd queues remove <uuid>              (the kernel waits until no process has it open)
import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { createMdev, findMdevTypes, listMdevInstances, listMdevTypes, removeMdev } from "../vfio/mdev.ts";
import { takeOption, type AdminIo } from "./pci.ts";

/** /dev/vfio/<group> -> the pids that have it open (readable /proc/<pid>/fd only). */
export function vfioGroupHolders(proc = "/proc"): Map<number, number[]> {
  const out = new Map<number, number[]>();
  let pids: string[];
  try {
    pids = readdirSync(proc).filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(join(proc, pid, "fd"));
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(join(proc, pid, "fd", fd));
      } catch {
        continue;
      }
      const m = target.match(/^\/dev\/vfio\/(\d+)$/);
      if (!m) continue;
      const g = Number(m[1]);
      const list = out.get(g) ?? [];
      if (!list.includes(Number(pid))) list.push(Number(pid));
      out.set(g, list);
    }
  }
  return out;
}

export function queuesCommand(io: AdminIo, argv: string[]): number {
  const args = [...argv];
  const sysfs = takeOption(args, "--sysfs") ?? "/sys";
  const proc = takeOption(args, "--proc") ?? "/proc";
  const json = args.includes("--json");
  const rest = args.filter((a) => a !== "--json");
  try {
    if (rest[0] === "create") {
      const t = rest[1] ? findMdevTypes(rest[1], sysfs)[0] : undefined;
      if (!t) {
        io.err(`wd: usage: wd queues create <type> [uuid]; types: ${listMdevTypes(sysfs).map((x) => x.type).join(", ") || "none"}`);
        return 2;
      }
      io.out(createMdev(t, rest[2]));
      return 0;
    }
    if (rest[0] === "remove") {
      if (!rest[1]) {
        io.err("wd: usage: wd queues remove <uuid>");
        return 2;
      }
      removeMdev(rest[1], sysfs);
      io.out(`${rest[1]}: removed`);
      return 0;
    }
    if (rest.length) {
      io.err(`wd: usage: wd queues [--json] | wd queues create <type> [uuid] | wd queues remove <uuid>`);
      return 2;
    }
  } catch (e) {
    io.err(`wd: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const types = listMdevTypes(sysfs);
  const holders = vfioGroupHolders(proc);
  const instances = listMdevInstances(sysfs).map((i) => ({ ...i, pids: i.group === undefined ? [] : (holders.get(i.group) ?? []) }));
  if (json) {
    io.out(JSON.stringify({ types, instances }, null, 2));
    return 0;
  }
  if (types.length === 0) {
    io.err(`no mediated-device types under ${join(sysfs, "class/mdev_bus")} (no mdev parent driver loaded)`);
    return 0;
  }
  const table = [
    ["PARENT", "TYPE", "AVAILABLE", "INSTANCES"],
    ...types.map((t) => [t.parent, t.type, String(t.available), String(instances.filter((i) => i.typeId === t.id).length)]),
  ];
  const print = (rows: string[][]) => {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) io.out(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
  };
  print(table);
  if (instances.length) {
    io.out("");
    print([
      ["UUID", "TYPE", "IOMMU GROUP", "HELD BY"],
      ...instances.map((i) => [i.uuid, types.find((t) => t.id === i.typeId)?.type ?? i.typeId, i.group === undefined ? "-" : String(i.group), i.pids.length ? i.pids.map((p) => `pid ${p}`).join(", ") : "free"]),
    ]);
  }
  return 0;
}
