// `wd devices`, `wd bind <BDF>`, `wd unbind <BDF>`: which PCI devices this machine has, which of
// them a generated client drives, and switching a device to and from vfio-pci. The host side of the
// `wd` command line lives here, with the sysfs code it drives; the CLI (@warpdrive/generator) only
// dispatches, and passes in the clients it knows from the device descriptions.
import { join } from "node:path";
import { bindToVfio, listPciDevices, unbindFromVfio, type PciDevice } from "../pci/sysfs.ts";
import { printUacceTable, uacceRows } from "./uacce.ts";

export interface AdminIo {
  out(line: string): void;
  err(line: string): void;
}

/** PCI ids a client drives, as a description's `match.pci` lists them. */
export interface PciMatch {
  vendor: number;
  device: number;
  subsystemVendor?: number;
  subsystemDevice?: number;
}

/** A device package and the PCI ids it drives (shown in the CLIENT column). */
export interface Client {
  pkg: string;
  match: readonly PciMatch[];
  /** The UACCE api strings it drives (a description's match.uacce.api), listed after the PCI devices. */
  uacceApi?: readonly string[];
}

export function clientFor(dev: PciDevice, clients: readonly Client[]): string | undefined {
  const hit = clients.find((c) =>
    c.match.some(
      (m) =>
        m.vendor === dev.vendor &&
        m.device === dev.device &&
        (m.subsystemVendor === undefined || m.subsystemVendor === dev.subsystemVendor) &&
        (m.subsystemDevice === undefined || m.subsystemDevice === dev.subsystemDevice),
    ),
  );
  return hit?.pkg;
}

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, "0");

/** Removes `name VALUE` from `args` and returns VALUE (undefined when the option is absent). */
export function takeOption(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
}

/** `wd devices [--json] [--sysfs DIR]`; `clients` fills the CLIENT column. */
export function devicesCommand(io: AdminIo, argv: string[], clients: readonly Client[] = []): number {
  const args = [...argv];
  const sysfs = takeOption(args, "--sysfs") ?? "/sys";
  const json = args.includes("--json");
  const rows = listPciDevices(sysfs).map((d) => ({ ...d, client: clientFor(d, clients) }));
  const uacce = uacceRows(sysfs, clients);
  if (json) {
    io.out(JSON.stringify([...rows, ...uacce], null, 2));
    return 0;
  }
  if (rows.length === 0) {
    io.err(`no PCI devices under ${join(sysfs, "bus/pci/devices")}`);
    printUacceTable(io, uacce);
    return 0;
  }
  const table = [
    ["ADDRESS", "ID", "CLASS", "DRIVER", "IOMMU GROUP", "CLIENT"],
    ...rows.map((d) => [
      d.address,
      `${hex(d.vendor, 4)}:${hex(d.device, 4)}`,
      hex(d.classCode, 6),
      d.driver ?? "-",
      d.iommuGroup === undefined ? "-" : String(d.iommuGroup),
      d.client ?? "-",
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  for (const r of table) io.out(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
  printUacceTable(io, uacce);
  return 0;
}

export function bindCommand(io: AdminIo, argv: string[], bind: boolean): number {
  const args = [...argv];
  const sysfs = takeOption(args, "--sysfs") ?? "/sys";
  if (args.length !== 1) {
    io.err(`wd: usage: wd ${bind ? "bind" : "unbind"} <PCI address, e.g. 0000:00:03.0>`);
    return 2;
  }
  try {
    const dev = bind ? bindToVfio(args[0], sysfs) : unbindFromVfio(args[0], sysfs);
    io.out(`${dev.address}: driver ${dev.driver ?? "none"}, IOMMU group ${dev.iommuGroup ?? "none"}`);
    return 0;
  } catch (e) {
    io.err(`wd: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
