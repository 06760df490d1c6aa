// `wd devices` over a built sysfs tree: the client column comes from the descriptions' match ids
// (the CLI reads the project's devices/ and hands the clients to the runtime's admin command).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bindCommand, devicesCommand } from "@warpdrive/runtime/admin";
import { main } from "@warpdrive/generator/cli";

let sysfs: string;
const lines: string[] = [];
const errors: string[] = [];
const io = { out: (l: string) => lines.push(l), err: (l: string) => errors.push(l) };

beforeAll(() => {
  sysfs = mkdtempSync(join(tmpdir(), "wd-devices-"));
  const add = (address: string, vendor: string, device: string, group?: number) => {
    const dir = join(sysfs, "bus/pci/devices", address);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "vendor"), `${vendor}\n`);
    writeFileSync(join(dir, "device"), `${device}\n`);
    writeFileSync(join(dir, "class"), "0x00ff00\n");
    if (group !== undefined) {
      mkdirSync(join(sysfs, "kernel/iommu_groups", String(group)), { recursive: true });
      symlinkSync(join(sysfs, "kernel/iommu_groups", String(group)), join(dir, "iommu_group"));
    }
  };
  add("0000:00:03.0", "0x1234", "0x11e8", 3);
  add("0000:00:04.0", "0x1b36", "0x0010", 4);
  add("0000:00:05.0", "0x8086", "0x1237");
});
afterAll(() => rmSync(sysfs, { recursive: true, force: true }));

test("lists each device with its group and the client generated for it", async () => {
  lines.length = 0;
  expect(await main(["devices", "--sysfs", sysfs], io)).toBe(0);
  expect(lines[0]).toMatch(/^ADDRESS\s+ID\s+CLASS\s+DRIVER\s+IOMMU GROUP\s+CLIENT$/);
  expect(lines[1]).toMatch(/^0000:00:03\.0\s+1234:11e8\s+00ff00\s+-\s+3\s+@warpdrive\/qemu-edu$/);
  expect(lines[2]).toMatch(/^0000:00:04\.0\s+1b36:0010\s+00ff00\s+-\s+4\s+@warpdrive\/nvme$/);
  expect(lines[3]).toMatch(/^0000:00:05\.0\s+8086:1237\s+00ff00\s+-\s+-\s+-$/);
});

test("--json gives the same facts to programs", async () => {
  lines.length = 0;
  expect(await main(["devices", "--sysfs", sysfs, "--json"], io)).toBe(0);
  const rows = JSON.parse(lines.join("\n"));
  expect(rows.map((r: { client?: string }) => r.client ?? null)).toEqual(["@warpdrive/qemu-edu", "@warpdrive/nvme", null]);
});

test("the runtime's command alone knows no clients: the column is empty", () => {
  lines.length = 0;
  expect(devicesCommand(io, ["--sysfs", sysfs, "--json"])).toBe(0);
  expect(JSON.parse(lines.join("\n")).map((r: { client?: string }) => r.client ?? null)).toEqual([null, null, null]);
});

test("bind names the missing IOMMU and exits 1; a bad address is named", () => {
  errors.length = 0;
  expect(bindCommand(io, ["0000:00:05.0", "--sysfs", sysfs], true)).toBe(1);
  expect(errors.join("\n")).toContain("has no IOMMU group");
  expect(bindCommand(io, ["nonsense", "--sysfs", sysfs], true)).toBe(1);
  expect(errors.join("\n")).toContain('"nonsense" is not a PCI address');
  expect(bindCommand(io, [], false)).toBe(2);
});

test("UACCE devices are listed after the PCI ones: api, SVA, free queues, algorithms, regions, client by api", async () => {
  const dir = join(sysfs, "class/uacce/wd_dummy-0");
  mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries({ api: "wd_dummy_v1", flags: "0", available_instances: "3", algorithms: "memcpy", region_mmio_size: "4096", region_dus_size: "4194304" })) {
    writeFileSync(join(dir, k), `${v}\n`);
  }
  try {
    lines.length = 0;
    expect(await main(["devices", "--sysfs", sysfs], io)).toBe(0);
    expect(lines[4]).toBe("");
    expect(lines[5]).toMatch(/^UACCE DEVICE\s+API\s+SVA\s+FREE QUEUES\s+ALGORITHMS\s+MMIO\s+DUS\s+CLIENT$/);
    expect(lines[6]).toMatch(/^uacce:wd_dummy-0\s+wd_dummy_v1\s+no\s+3\s+memcpy\s+4 KiB\s+4 MiB\s+@warpdrive\/wd-dummy$/);
    lines.length = 0;
    expect(await main(["devices", "--sysfs", sysfs, "--json"], io)).toBe(0);
    const rows = JSON.parse(lines.join("\n"));
    expect(rows.length).toBe(4);
    expect(rows[3]).toMatchObject({ kind: "uacce", name: "wd_dummy-0", api: "wd_dummy_v1", sva: false, available: 3, client: "@warpdrive/wd-dummy" });
  } finally {
    rmSync(join(sysfs, "class"), { recursive: true, force: true });
  }
});
