// NVMe controller configurations in the VM suite: one guest boot per configuration of
// test/vm/nvme-configs.ts that QEMU can present, its nvme (and nvme-ns) device properties on the
// QEMU command line, test/hw/nvme.test.ts run against it through vfio with WD_NVME_CONFIG naming
// it (the test checks the controller really is that configuration). The default configuration is
// the main run's own controller, so it is not booted again here.
import { closeSync, openSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { NVME_CONFIG_ENV, NVME_CONFIGS, type NvmeConfig, type NvmeQemuConfig } from "./nvme-configs.ts";
import type { Log } from "./guest-image.ts";

export type { NvmeQemuConfig };

/** Size of each namespace's sparse backing file (the tests need 8192 blocks of 512 bytes at least). */
const NAMESPACE_BYTES = 64 << 20;

function property(key: string, value: string | number): string {
  const v = String(value);
  if (!/^[a-z_][a-z0-9_.-]*$/.test(key) || !/^[A-Za-z0-9_.-]+$/.test(v)) throw new Error(`nvme property ${key}=${v}: not a plain QEMU property`);
  return `${key}=${v}`;
}

function sparseFile(path: string): string {
  closeSync(openSync(path, "w"));
  truncateSync(path, NAMESPACE_BYTES);
  return path;
}

/**
 * The -drive/-device arguments of one NVMe controller with `config`'s properties; backing files go
 * to `dir`. Without `namespaces` the controller's own drive is namespace 1 (as in the main run);
 * with them, each is an nvme-ns on the controller's bus with its id and logical block size.
 */
export function nvmeQemuArgs(config: NvmeQemuConfig, dir: string): string[] {
  const props = Object.entries(config.controller).map(([k, v]) => property(k, v));
  if (!config.namespaces) {
    const img = sparseFile(join(dir, "nvme.img"));
    return ["-drive", `file=${img},if=none,id=nvm,format=raw`, "-device", ["nvme", "serial=wd0001", "drive=nvm", ...props].join(",")];
  }
  const args = ["-device", ["nvme", "id=nvme0", "serial=wd0001", ...props].join(",")];
  for (const ns of config.namespaces) {
    const img = sparseFile(join(dir, `nvme-ns${ns.nsid}.img`));
    const size = ns.logicalBlockSize ? [property("logical_block_size", ns.logicalBlockSize), property("physical_block_size", ns.logicalBlockSize)] : [];
    args.push("-drive", `file=${img},if=none,id=ns${ns.nsid},format=raw`);
    args.push("-device", ["nvme-ns", `drive=ns${ns.nsid}`, "bus=nvme0", property("nsid", ns.nsid), ...size].join(","));
  }
  return args;
}

/** The configurations booted here: QEMU can present them and they are not the main run's. */
export function bootedConfigs(names?: string[]): NvmeConfig[] {
  const all = NVME_CONFIGS.filter((c) => c.qemu !== null && c.name !== "default");
  if (names === undefined) return all;
  for (const n of names) {
    if (!all.some((c) => c.name === n)) throw new Error(`no NVMe configuration "${n}" to boot (bootable: ${all.map((c) => c.name).join(", ")})`);
  }
  return all.filter((c) => names.includes(c.name));
}

/** What runNvmeVariants needs from run.ts: one boot (vm.ts runVm, with its own options filled in). */
export type BootOne = (o: { name: string; bunArgs: string[]; env: Record<string, string>; nvme: NvmeQemuConfig }) => Promise<{
  report: { ok: boolean; reason: string; passed: number; failed: number; cases: { status: string; name: string }[] };
}>;

export interface VariantResult {
  name: string;
  passed: number;
  failed: number;
  ok: boolean;
  reason: string;
}

/** Boots each configuration in turn and runs the NVMe tests against it. */
export async function runNvmeVariants(configs: NvmeConfig[], boot: BootOne, log: Log): Promise<VariantResult[]> {
  const out: VariantResult[] = [];
  for (const c of configs) {
    log(`NVMe configuration ${c.name}: ${c.about}`);
    const r = await boot({ name: `nvme-${c.name}`, bunArgs: ["--timeout", "60000", "./test/hw/nvme.test.ts"], env: { [NVME_CONFIG_ENV]: c.name }, nvme: c.qemu! });
    const rep = r.report;
    // A crash or timeout with no failed test still counts as one failure.
    const failed = rep.failed + (!rep.ok && rep.failed === 0 ? 1 : 0);
    for (const f of rep.cases.filter((x) => x.status === "fail")) log(`failed (${c.name}): ${f.name}`);
    out.push({ name: c.name, passed: rep.passed, failed, ok: rep.ok, reason: rep.reason });
  }
  return out;
}
