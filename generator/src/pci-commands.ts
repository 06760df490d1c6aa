// `wd devices`, `wd bind <BDF>`, `wd unbind <BDF>`: which PCI devices this machine has, which of
// them a generated client drives, and switching a device to and from vfio-pci.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { bindToVfio, listPciDevices, unbindFromVfio, type PciDevice } from "../../runtime/src/pci/sysfs.ts";
import { loadDevice, REPO_ROOT } from "./load.ts";
import type { PciMatch } from "./model.ts";
import { printUacceTable, uacceRows } from "./uacce-commands.ts";

export interface PciCommandIo {
  out(line: string): void;
  err(line: string): void;
}

interface Client {
  pkg: string;
  match: PciMatch[];
  /** match.uacce api strings. */
  uacceApi: string[];
}

/** The clients described under devices/ (each becomes @warpdrive/<device>). */
function knownClients(devicesDir: string): Client[] {
  if (!existsSync(devicesDir)) return [];
  const clients: Client[] = [];
  for (const f of readdirSync(devicesDir).filter((n) => n.endsWith(".yaml")).sort()) {
    const loaded = loadDevice(join(devicesDir, f));
    if (loaded.model) clients.push({ pkg: `@warpdrive/${loaded.model.name}`, match: loaded.model.match.pci, uacceApi: loaded.model.match.uacce?.api ?? [] });
  }
  return clients;
}

export function clientFor(dev: PciDevice, clients: Client[]): string | undefined {
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

export function devicesCommand(io: PciCommandIo, argv: string[]): number {
  const args = [...argv];
  const sysfs = takeOption(args, "--sysfs") ?? "/sys";
  const devicesDir = takeOption(args, "--devices") ?? join(REPO_ROOT, "devices");
  const json = args.includes("--json");
  const clients = knownClients(devicesDir);
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

export function bindCommand(io: PciCommandIo, argv: string[], bind: boolean): number {
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
