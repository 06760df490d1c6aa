// The mdev resource agent and `wd queues` against a fake sysfs (a temp folder laid out as the kernel
// lays out /sys/class/mdev_bus and /sys/bus/mdev/devices). The real kernel path: test/hw/wd-dummy-mdev.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VfioError } from "@warpdrive/runtime/errors";
import { claimMdev, findMdevTypes, listMdevInstances, listMdevTypes } from "@warpdrive/runtime/vfio/mdev";
import { queuesCommand, vfioGroupHolders } from "@warpdrive/runtime/admin";

let root: string;
const U = ["11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"];
const busy = (uuid: string) => new VfioError("open", `/dev/vfio/${uuid}`, 16, "group busy");

function addType(available: number): string {
  const dir = join(root, "sys/class/mdev_bus/wd_dummy/mdev_supported_types/wd_dummy-wd-dummy");
  mkdirSync(join(dir, "devices"), { recursive: true });
  writeFileSync(join(dir, "available_instances"), `${available}\n`);
  writeFileSync(join(dir, "name"), "WarpDrive dummy memcpy queue\n");
  writeFileSync(join(dir, "create"), "");
  return dir;
}

function addInstance(uuid: string, group: number): void {
  const d = join(root, "sys/bus/mdev/devices", uuid);
  mkdirSync(d, { recursive: true });
  symlinkSync(join(root, "sys/class/mdev_bus/wd_dummy/mdev_supported_types/wd_dummy-wd-dummy"), join(d, "mdev_type"));
  mkdirSync(join(root, "sys/kernel/iommu_groups", String(group)), { recursive: true });
  symlinkSync(join(root, "sys/kernel/iommu_groups", String(group)), join(d, "iommu_group"));
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "wd-mdev-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("mdev sysfs", () => {
  test("types and instances are read as the kernel lays them out", () => {
    addType(2);
    addInstance(U[1], 7);
    addInstance(U[0], 5);
    const sysfs = join(root, "sys");
    expect(listMdevTypes(sysfs)).toEqual([
      expect.objectContaining({ parent: "wd_dummy", id: "wd_dummy-wd-dummy", type: "wd-dummy", available: 2, prettyName: "WarpDrive dummy memcpy queue" }),
    ]);
    expect(findMdevTypes("wd-dummy", sysfs)).toHaveLength(1);
    expect(findMdevTypes("qemu-edu", sysfs)).toHaveLength(0);
    expect(listMdevInstances(sysfs).map((i) => [i.uuid, i.group, i.parent])).toEqual([
      [U[0], 5, "wd_dummy"],
      [U[1], 7, "wd_dummy"],
    ]);
  });
  test("no mdev bus at all: nothing listed", () => {
    expect(listMdevTypes(join(root, "sys"))).toEqual([]);
    expect(listMdevInstances(join(root, "sys"))).toEqual([]);
  });
});

describe("claimMdev (the resource agent)", () => {
  test("takes the first instance that opens; a busy group (EBUSY) moves on to the next", () => {
    addType(2);
    addInstance(U[0], 5);
    addInstance(U[1], 7);
    const tried: string[] = [];
    const got = claimMdev("wd-dummy", (u) => {
      tried.push(u);
      if (u === U[0]) throw busy(u);
      return `opened ${u}`;
    }, { sysfs: join(root, "sys") });
    expect(got).toBe(`opened ${U[1]}`);
    expect(tried).toEqual([U[0], U[1]]);
  });

  test("every instance busy: creates one (a UUID written to `create`) and opens it", () => {
    const dir = addType(1);
    addInstance(U[0], 5);
    const got = claimMdev("wd-dummy", (u) => {
      if (u === U[0]) throw busy(u);
      return u;
    }, { sysfs: join(root, "sys") });
    expect(got).not.toBe(U[0]);
    expect(readFileSync(join(dir, "create"), "utf8")).toBe(got);
    expect(got).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test("every instance busy and none left to create: a VfioError that says so", () => {
    addType(0);
    addInstance(U[0], 5);
    expect(() => claimMdev("wd-dummy", (u) => { throw busy(u); }, { sysfs: join(root, "sys") })).toThrow(/every wd-dummy instance is in use and no more can be created \(wd_dummy: 0 left\)/);
  });

  test("an open failing for another reason than EBUSY is not hidden", () => {
    addType(1);
    addInstance(U[0], 5);
    expect(() => claimMdev("wd-dummy", () => { throw new VfioError("open", "/dev/vfio/5", 13, "permission"); }, { sysfs: join(root, "sys") })).toThrow(/permission/);
  });

  test("no such type: says the driver is not loaded", () => {
    expect(() => claimMdev("wd-dummy", () => 1, { sysfs: join(root, "sys") })).toThrow(/no mdev type "wd-dummy".*driver loaded/);
  });
});

describe("wd queues", () => {
  const run = (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = queuesCommand({ out: (l) => out.push(l), err: (l) => err.push(l) }, args);
    return { code, out, err };
  };

  test("lists types, instances and the process holding each group (from /proc/<pid>/fd)", () => {
    addType(2);
    addInstance(U[0], 5);
    addInstance(U[1], 7);
    const fd = join(root, "proc/4242/fd");
    mkdirSync(fd, { recursive: true });
    symlinkSync("/dev/vfio/7", join(fd, "9"));
    symlinkSync("/dev/vfio/vfio", join(fd, "8"));
    expect(vfioGroupHolders(join(root, "proc"))).toEqual(new Map([[7, [4242]]]));
    const r = run(["--sysfs", join(root, "sys"), "--proc", join(root, "proc")]);
    expect(r.code).toBe(0);
    const text = r.out.join("\n");
    expect(text).toMatch(/wd_dummy\s+wd-dummy\s+2\s+2/);
    expect(text).toMatch(new RegExp(`${U[0]}\\s+wd-dummy\\s+5\\s+free`));
    expect(text).toMatch(new RegExp(`${U[1]}\\s+wd-dummy\\s+7\\s+pid 4242`));
    const j = JSON.parse(run(["--json", "--sysfs", join(root, "sys"), "--proc", join(root, "proc")]).out.join("\n"));
    expect(j.instances.map((i: { pids: number[] }) => i.pids)).toEqual([[], [4242]]);
  });

  test("create writes a UUID to the type's create file; bad usage exits 2", () => {
    const dir = addType(1);
    const r = run(["create", "wd-dummy", U[1], "--sysfs", join(root, "sys")]);
    expect([r.code, r.out]).toEqual([0, [U[1]]]);
    expect(readFileSync(join(dir, "create"), "utf8")).toBe(U[1]);
    expect(run(["create", "nope", "--sysfs", join(root, "sys")]).code).toBe(2);
    expect(run(["frobnicate", "--sysfs", join(root, "sys")]).code).toBe(2);
  });

  test("no mdev types: says no parent driver is loaded, exits 0", () => {
    const r = run(["--sysfs", join(root, "sys"), "--proc", join(root, "proc")]);
    expect(r.code).toBe(0);
    expect(r.err.join("")).toMatch(/no mediated-device types/);
  });
});
