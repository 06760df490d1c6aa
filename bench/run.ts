// `bun run bench [-- --json FILE] [--svg FILE] [--markdown FILE] [--quick] [--runs N] [--only a,b]`
// (or `--from FILE.json` with --svg/--markdown: re-render an earlier run without measuring):
// every figure is printed next to a reference measured in the same run, with their ratio, the goal
// it is held to and whether this run met it. Samples of a figure alternate with its reference's;
// values are medians of --runs samples (default 7, at least 5), all samples are in the JSON.
// Items: queue, syscalls, registers, codec, portal, generator, async, removal (default), nvme (only with --only nvme).
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { progress } from "@warpdrive/progress";
import { benchAsync } from "./items/async.ts";
import { benchCodec } from "./items/codec.ts";
import { benchGenerator } from "./items/generator.ts";
import { benchNvme } from "./items/nvme.ts";
import { benchPortal } from "./items/portal.ts";
import { benchQueue } from "./items/queue.ts";
import { benchRegisters } from "./items/registers.ts";
import { benchRemoval } from "./items/removal.ts";
import { benchSyscalls } from "./items/syscalls.ts";
import { markdownTable, svgChart, table, type BenchEntry } from "./report.ts";
import { machineLine } from "./stats.ts";

const { values: opt } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    json: { type: "string" },
    svg: { type: "string" },
    markdown: { type: "string" },
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    only: { type: "string" },
    from: { type: "string" },
  },
});

// --from FILE: no measuring; re-render the table, chart and Markdown of an earlier --json run.
if (opt.from) {
  const run = JSON.parse(readFileSync(opt.from, "utf8")) as { machine: string; date: string; entries: BenchEntry[] };
  console.log(`${table(run.entries)}\n`);
  if (opt.svg) writeFileSync(opt.svg, svgChart(run.entries, `warpdrive: ratio to reference (${run.machine})`));
  if (opt.markdown) writeFileSync(opt.markdown, `Measured ${run.date} on ${run.machine}.\n\n${markdownTable(run.entries)}\n`);
  process.exit(0);
}

const scale = opt.quick ? 0.1 : 1;
const runs = opt.runs === undefined ? 7 : Number(opt.runs);
if (!Number.isInteger(runs) || runs < 5) {
  console.error(`--runs must be an integer >= 5 (medians of at least 5 samples), got ${opt.runs}`);
  process.exit(2);
}
const items: [string, () => BenchEntry[] | Promise<BenchEntry[]>, boolean][] = [
  ["queue", () => benchQueue(scale, runs), true],
  ["syscalls", () => benchSyscalls(scale), true],
  ["registers", () => benchRegisters(scale, runs), true],
  ["codec", () => benchCodec(scale, runs), true],
  ["portal", () => benchPortal(scale, runs), true],
  ["generator", () => benchGenerator(5), true],
  ["nvme", () => benchNvme(scale), false],
  ["async", () => benchAsync(scale, runs), true],
  ["removal", () => benchRemoval(scale, runs), true],
];
const only = opt.only?.split(",");
const unknown = only?.filter((o) => !items.some(([name]) => name === o));
if (unknown?.length) {
  console.error(`--only: unknown item(s) ${unknown.join(", ")} (items: ${items.map(([n]) => n).join(", ")})`);
  process.exit(2);
}

const machine = machineLine();
console.log(`warpdrive benchmarks on ${machine}\n`);
const entries: BenchEntry[] = [];
let failures = 0;
const t00 = performance.now();
const selected = items.filter(([name, , byDefault]) => (only ? only.includes(name) : byDefault));
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
console.log("spread: (max - min) / median of ours / of the reference, over all samples.");
const goals = entries.filter((e) => !("skipped" in e) && e.met != null);
console.log(`goals met: ${goals.filter((e) => "met" in e && e.met).length} of ${goals.length}; total ${((performance.now() - t00) / 1000).toFixed(0)} s`);
const date = new Date().toISOString().slice(0, 10);
const meta = { machine, date, bun: Bun.version, runs, quick: opt.quick };
if (opt.json) writeFileSync(opt.json, `${JSON.stringify({ ...meta, entries }, null, 2)}\n`);
if (opt.svg) writeFileSync(opt.svg, svgChart(entries, `warpdrive: ratio to reference (${machine})`));
if (opt.markdown) writeFileSync(opt.markdown, `Measured ${date} on ${machine}.\n\n${markdownTable(entries)}\n`);
process.exit(failures ? 1 : 0);
