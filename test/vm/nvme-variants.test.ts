// Host unit tests of the NVMe configuration boots: the QEMU arguments each configuration gives and
// which configurations are booted. No QEMU here (`bun run test:vm` boots them).
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NVME_CONFIGS, nvmeConfig } from "./nvme-configs.ts";
import { bootedConfigs, nvmeQemuArgs, runNvmeVariants } from "./nvme-variants.ts";

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "wd-nvme-variants-"));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("nvmeQemuArgs", () => {
  test("controller properties go on -device nvme with its own drive as namespace 1", () => {
    withDir((dir) => {
      const args = nvmeQemuArgs({ controller: { max_ioqpairs: 4, msix_qsize: 1 } }, dir);
      expect(args).toEqual([
        "-drive", `file=${join(dir, "nvme.img")},if=none,id=nvm,format=raw`,
        "-device", "nvme,serial=wd0001,drive=nvm,max_ioqpairs=4,msix_qsize=1",
      ]);
      expect(statSync(join(dir, "nvme.img")).size).toBe(64 << 20);
    });
  });

  test("namespaces become nvme-ns devices on the controller's bus, each with its id, block size and file", () => {
    withDir((dir) => {
      const args = nvmeQemuArgs(nvmeConfig("ns2-ns3-mdts0").qemu!, dir);
      expect(args).toEqual([
        "-device", "nvme,id=nvme0,serial=wd0001,mdts=0",
        "-drive", `file=${join(dir, "nvme-ns2.img")},if=none,id=ns2,format=raw`,
        "-device", "nvme-ns,drive=ns2,bus=nvme0,nsid=2",
        "-drive", `file=${join(dir, "nvme-ns3.img")},if=none,id=ns3,format=raw`,
        "-device", "nvme-ns,drive=ns3,bus=nvme0,nsid=3,logical_block_size=4096,physical_block_size=4096",
      ]);
      expect(existsSync(join(dir, "nvme.img"))).toBe(false);
    });
  });

  test("a property that is not plain text is refused (it would reach QEMU's option parser)", () => {
    withDir((dir) => {
      expect(() => nvmeQemuArgs({ controller: { mdts: "1,drive=x" } }, dir)).toThrow(/not a plain QEMU property/);
    });
  });
});

describe("which configurations boot", () => {
  test("every QEMU-presentable configuration but the main run's default, and only those", () => {
    const names = bootedConfigs().map((c) => c.name);
    expect(names).toEqual(NVME_CONFIGS.filter((c) => c.qemu !== null && c.name !== "default").map((c) => c.name));
    expect(names).not.toContain("mqes7"); // QEMU 7.2 has no mqes property
    expect(bootedConfigs(["1-vector"]).map((c) => c.name)).toEqual(["1-vector"]);
    expect(() => bootedConfigs(["mqes7"])).toThrow(/no NVMe configuration "mqes7" to boot/);
  });

  test("configuration names are unique and the QEMU ones name their expectations", () => {
    expect(new Set(NVME_CONFIGS.map((c) => c.name)).size).toBe(NVME_CONFIGS.length);
    for (const c of NVME_CONFIGS) expect(c.expect.namespaces.length).toBeGreaterThan(0);
  });

  test("results: counts per configuration; a crash with no failed test counts as one failure", async () => {
    const configs = bootedConfigs().slice(0, 2);
    const seen: { name: string; env: Record<string, string> }[] = [];
    let n = 0;
    const results = await runNvmeVariants(configs, async (o) => {
      seen.push({ name: o.name, env: o.env });
      return n++ === 0
        ? { report: { ok: true, reason: "passed", passed: 20, failed: 0, cases: [] } }
        : { report: { ok: false, reason: "timeout", passed: 3, failed: 0, cases: [] } };
    }, () => {});
    expect(seen).toEqual(configs.map((c) => ({ name: `nvme-${c.name}`, env: { WD_NVME_CONFIG: c.name } })));
    expect(results.map((r) => [r.name, r.passed, r.failed])).toEqual([[configs[0]!.name, 20, 0], [configs[1]!.name, 3, 1]]);
  });
});
