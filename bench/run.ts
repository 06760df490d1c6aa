// `bun run bench [-- --json FILE] [--svg FILE] [--quick] [--only id,id]`: every figure is printed
// next to a reference measured in the same run, and their ratio. Medians of repeated samples.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { progress } from "@warpdrive/progress";
import { benchCodec } from "./items/codec.ts";
import { benchGenerator } from "./items/generator.ts";
import { benchNvme } from "./items/nvme.ts";
import { benchQueue } from "./items/queue.ts";
import { benchRegisters } from "./items/registers.ts";
import { benchSyscalls } from "./items/syscalls.ts";
import { markdownTable, svgChart, table, type BenchEntry } from "./report.ts";
import { machineLine } from "./stats.ts";

const { values: opt } = parseArgs({
  options: {
    json: { type: "string" },
    svg: { type: "string" },
    markdown: { type: "string" },
    quick: { type: "boolean", default: false },
    only: { type: "string" },
  },
});

const scale = opt.quick ? 0.1 : 1;
const items: [string, () => BenchEntry[] | Promise<BenchEntry[]>][] = [
  ["queue", () => benchQueue(scale)],
  ["syscalls", () => benchSyscalls(scale)],
  ["registers", () => benchRegisters(scale)],
  ["codec", () => benchCodec(scale)],
  ["nvme", () => benchNvme(scale)],
  ["generator", () => benchGenerator(opt.quick ? 1 : 3)],
];
const only = opt.only?.split(",");

const machine = machineLine();
console.log(`warpdrive benchmarks on ${machine}\n`);
const entries: BenchEntry[] = [];
let failures = 0;
const selected = items.filter(([name]) => !only || only.includes(name));
const bar = progress("bench");
for (const [i, [name, run]] of selected.entries()) {
  bar.update(name, i, selected.length);
  const t0 = performance.now();
  try {
    const got = await run();
    entries.push(...got);
    bar.log(`${name}: ${got.length} figure(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    failures++;
    entries.push({ id: name, what: name, skipped: `failed: ${e instanceof Error ? e.message : String(e)}` });
    bar.log(`${name}: failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
}
bar.end(`${selected.length} item(s), ${failures} failed`);

console.log(`\n${table(entries)}\n`);
console.log("ratio > 1: ours is faster than the reference (syscalls: share of the reference's system calls avoided).");
const date = new Date().toISOString().slice(0, 10);
if (opt.json) writeFileSync(opt.json, `${JSON.stringify({ machine, date, bun: Bun.version, entries }, null, 2)}\n`);
if (opt.svg) writeFileSync(opt.svg, svgChart(entries, `warpdrive: ratio to reference (${machine})`));
if (opt.markdown) writeFileSync(opt.markdown, `Measured ${date} on ${machine}.\n\n${markdownTable(entries)}\n`);
process.exit(failures ? 1 : 0);
