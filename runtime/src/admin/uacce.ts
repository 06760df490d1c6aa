// The UACCE part of `wd devices`: each device under /sys/class/uacce with its api, SVA, free queues,
// algorithms and region sizes, and the generated client whose match.uacce names its api.
import { listUacceDevices, type UacceDeviceInfo } from "../uacce/sysfs.ts";
import type { AdminIo } from "./pci.ts";

export interface UacceRow extends UacceDeviceInfo {
  kind: "uacce";
  client?: string;
}

/** UACCE devices with the client (package name) that drives each, if any. */
export function uacceRows(sysfs: string, clients: readonly { pkg: string; uacceApi?: readonly string[] }[]): UacceRow[] {
  return listUacceDevices(sysfs).map((d) => ({ kind: "uacce" as const, ...d, client: clients.find((c) => c.uacceApi?.includes(d.api))?.pkg }));
}

const size = (n: number) => (n === 0 ? "-" : n % 1048576 === 0 ? `${n / 1048576} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`);

/** The table printed after the PCI one (nothing when there are no UACCE devices). */
export function printUacceTable(io: AdminIo, rows: UacceRow[]): void {
  if (rows.length === 0) return;
  const table = [
    ["UACCE DEVICE", "API", "SVA", "FREE QUEUES", "ALGORITHMS", "MMIO", "DUS", "CLIENT"],
    ...rows.map((d) => [
      `uacce:${d.name}`,
      d.api,
      d.sva ? "yes" : "no",
      d.available === undefined ? "?" : String(d.available),
      d.algorithms.join(",") || "-",
      size(d.mmioSize),
      size(d.dusSize),
      d.client ?? "-",
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  io.out("");
  for (const r of table) io.out(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
}
