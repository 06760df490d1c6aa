// `bun run bench:vm [-- --json FILE] [--markdown FILE] [--quick] [--timeout S]`: inside the QEMU guest of the VM suite
// (test/vm), our NVMe and virtio-blk clients over vfio against the kernel's nvme and virtio_blk
// drivers driven by fio, on the same emulated device: 4 KiB random read and write at QD 1 and 32;
// the edu liveness register round trip through our BAR0 mapping against pwrite/pread on the VFIO
// device fd; wd-dummy over mdev and UACCE, and hzip over UACCE, each against its sim in the guest. The guest half is
// bench/vm-guest/main.ts. Figures are for QEMU's emulated devices under TCG: they compare the two
// drivers on that machine, not what real hardware does. A full run publishes its figures as
// docs/bench/vm.json and docs/bench/vm.md (bench/vm-report.ts); --quick writes only what is named.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { progress, stepLog } from "@warpdrive/progress";
import { peerToolsArchive } from "../test/vm/guest-tools.ts";
import { CACHE_ROOT, runVm, tail } from "../test/vm/vm.ts";
import { mdevModuleArchive } from "../test/vm/mdev-module.ts";
import { uacceModulesArchive } from "../test/vm/uacce-module.ts";
import { table, type BenchEntry } from "./report.ts";
import { machineLine } from "./stats.ts";
import { vmMarkdown, type VmBenchRun } from "./vm-report.ts";

const { values: opt } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    json: { type: "string" },
    markdown: { type: "string" },
    quick: { type: "boolean", default: false },
    timeout: { type: "string", default: "420" },
    verbose: { type: "boolean", default: false },
  },
});

const bar = progress("bench:vm");
const log = stepLog(bar, "[bench:vm] ");
const machine = machineLine();
console.log(`warpdrive VM benchmarks: QEMU guest (TCG) on ${machine}\n`);

const cmd = `bun bench/vm-guest/main.ts${opt.quick ? " --quick" : ""}`;
const r = await runVm({
  kind: "shell",
  shellCmd: cmd,
  timeout: Number(opt.timeout),
  verbose: opt.verbose,
  name: "bench",
  log,
  extraArchives: async (image, l) => {
    const out = [await peerToolsArchive({ cacheRoot: CACHE_ROOT, image, fio: true, log: l })];
    // The wd-dummy mdev module, for the mdev-vs-sim figure; without it that figure is skipped.
    try {
      out.push(await mdevModuleArchive({ cacheRoot: CACHE_ROOT, image, log: l }));
    } catch (e) {
      l(`note: no wd-dummy mdev module (${(e as Error).message.split("\n")[0]}): the wd-dummy figure is skipped`);
    }
    // uacce.ko and the wd-dummy and hzip UACCE parents, for the UACCE-vs-sim figures; skipped without them.
    try {
      out.push(await uacceModulesArchive({ cacheRoot: CACHE_ROOT, image, log: l }));
    } catch (e) {
      l(`note: no UACCE modules (${(e as Error).message.split("\n")[0]}): the UACCE figures are skipped`);
    }
    return out;
  },
});

bar.end(`guest run ${r.report.ok ? "finished" : "failed"}`);
const line = r.serialLog
  .split("\n")
  .map((l) => l.replace(/\r/g, ""))
  .find((l) => l.startsWith("WDBENCH "));
if (!r.report.ok || !line) {
  console.error(`bench:vm: the guest run failed (${r.report.reason}${line ? "" : "; no WDBENCH line"})\n--- guest log tail (${r.logPath}) ---\n${tail(r.serialLog, 40)}`);
  process.exit(1);
}
const { entries, info } = JSON.parse(line.slice("WDBENCH ".length)) as { entries: BenchEntry[]; info: Record<string, unknown> };

console.log(`\n${table(entries)}\n`);
console.log("ratio > 1: ours is faster (IOPS: ours / kernel; latency: reference / ours).");
console.log(`guest: ${r.image.kernelRelease}, QEMU TCG; fio: ${String(info.fio ?? "?")}`);
const date = new Date().toISOString().slice(0, 10);
const published: VmBenchRun = { machine, date, bun: Bun.version, guest: { kernel: r.image.kernelRelease, ...info }, entries };
const docs = join(import.meta.dir, "../docs/bench");
const jsonOut = opt.json ?? (opt.quick ? undefined : join(docs, "vm.json"));
const mdOut = opt.markdown ?? (opt.quick ? undefined : join(docs, "vm.md"));
if (jsonOut) {
  writeFileSync(jsonOut, `${JSON.stringify(published, null, 2)}\n`);
  console.log(`wrote ${jsonOut}`);
}
if (mdOut) {
  writeFileSync(mdOut, vmMarkdown(published));
  console.log(`wrote ${mdOut}`);
}
process.exit(0);
