// `bun run demo`: runs every example against the sim backend (no accelerator needed) and shows
// what each printed. Each example is a separate process, exactly as a user would run it.
import { existsSync } from "node:fs";
import { join } from "node:path";

const here = import.meta.dir;
const examples: { file: string; what: string; args: string[] }[] = [
  { file: "wd-dummy-memcpy.ts", what: "WarpDrive dummy accelerator: memcpy through an index ring in shared memory", args: ["--count", "20000"] },
  { file: "edu.ts", what: "QEMU edu: registers, factorial, interrupts, DMA", args: [] },
  { file: "nvme.ts", what: "NVMe: bring-up, identify, write and read back", args: [] },
  { file: "virtio-blk.ts", what: "virtio: a block device and an entropy device through split virtqueues", args: [] },
  { file: "compress.ts", what: "hzip: gzip a file through a compression accelerator's queue, check it with gunzip", args: [] },
];

let failed = 0;
for (const ex of examples) {
  const path = join(here, ex.file);
  if (!existsSync(path)) continue;
  console.log(`\n== ${ex.file}: ${ex.what}`);
  const t0 = performance.now();
  const run = Bun.spawnSync(["bun", path, "--backend", "sim", ...ex.args], {
    env: { ...process.env, WD_BACKEND: "sim" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = `${run.stdout.toString()}${run.stderr.toString()}`.trimEnd();
  for (const line of out.split("\n")) console.log(`   ${line}`);
  const ms = (performance.now() - t0).toFixed(0);
  if (run.exitCode === 0) console.log(`   -> ok (${ms} ms)`);
  else {
    failed++;
    console.log(`   -> FAILED with exit code ${run.exitCode} (${ms} ms)`);
  }
}
console.log(failed === 0 ? "\nall examples ran on the sim backend" : `\n${failed} example(s) failed`);
process.exit(failed === 0 ? 0 : 1);
