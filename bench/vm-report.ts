// The published form of `bun run bench:vm`: docs/bench/vm.json (every figure with every round) and
// docs/bench/vm.md (a table a reader can take in without booting a VM). A figure is the median of its
// rounds; the table shows the lowest and highest round of each side next to it, because under TCG on
// a shared host one round can be far off the others and a median alone would hide that.
import type { BenchEntry, BenchResult } from "./report.ts";

export interface VmBenchRun {
  machine: string;
  date: string;
  bun: string;
  guest: Record<string, unknown>;
  entries: BenchEntry[];
}

const fmt = (v: number): string =>
  Math.abs(v) >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : Math.abs(v) >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(v < 10 ? 2 : 1);

/** "lo–hi" of the rounds, or "–" when the entry carries none. */
export function spread(values: readonly number[] | undefined): string {
  if (values === undefined || values.length === 0) return "–";
  return `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`;
}

function row(e: BenchEntry): string {
  if ("skipped" in e) return `| ${e.what} | – | – | – | – | skipped: ${e.skipped} |`;
  const r: BenchResult = e;
  const n = r.rounds ? ` (${r.rounds.ours.length})` : "";
  return `| ${r.what} | ${fmt(r.value)} ${r.unit} | ${spread(r.rounds?.ours)}${n} | ${fmt(r.reference.value)} ${r.reference.unit} (${r.reference.what}) | ${spread(r.rounds?.reference)} | ${r.ratio.toFixed(2)} |`;
}

export function vmMarkdown(run: VmBenchRun): string {
  const kernel = typeof run.guest.kernel === "string" ? run.guest.kernel : "?";
  const fio = typeof run.guest.fio === "string" ? run.guest.fio.split(" ")[0]!.replace(/^.*\//, "") : "fio";
  return [
    `Measured ${run.date} by \`bun run bench:vm\`: a QEMU guest under TCG (no KVM; guest kernel ${kernel}) on ${run.machine}.`,
    "Each figure is the median of its rounds; the range columns give the lowest and highest round (the number of rounds in brackets).",
    `ratio > 1: ours is faster (IOPS: ours / kernel; latency: reference / ours). The kernel side is ${fio} with O_DIRECT and libaio on the kernel's nvme and virtio_blk drivers.`,
    "These are QEMU's emulated devices: the figures compare two drivers on the same emulated controller, not what real hardware does.",
    "",
    "| measure | ours | ours, range | reference | reference, range | ratio |",
    "|---|---|---|---|---|---|",
    ...run.entries.map(row),
    "",
  ].join("\n");
}
