// What a benchmark item reports, and the three ways it is shown: a terminal table, JSON, an SVG chart.
import type { Spread } from "./stats.ts";

/** A goal on the ratio (ours against the reference, > 1 = ours faster). */
export function ratioGoal(ratio: number, atLeast: number): { goal: string; met: boolean } {
  return { goal: `ratio >= ${atLeast}`, met: ratio >= atLeast };
}
export interface BenchResult {
  /** Short id, stable across runs (the JSON key). */
  id: string;
  what: string;
  value: number;
  unit: string;
  reference: { what: string; value: number; unit: string };
  /** ours / reference, oriented so that > 1 means we are faster (or use fewer syscalls: see note). */
  ratio: number;
  /** The goal this figure is held to ("ratio >= 0.8"), or null when it is context only. */
  goal?: string | null;
  /** Whether the goal was met in this run (null: no goal). */
  met?: boolean | null;
  /** Every sample of both sides (medians are `value` and `reference.value`). */
  spread?: { value: Spread; reference: Spread };
  note?: string;
  /** Every round's figure, ours and the reference's (value and reference.value are their medians). */
  rounds?: { ours: number[]; reference: number[] };
  /** Item-specific detail (percentiles and histogram, per-thread counts, side figures). */
  extra?: Record<string, unknown>;
}

export interface BenchSkip {
  id: string;
  what: string;
  skipped: string;
}

export type BenchEntry = BenchResult | BenchSkip;

const fmt = (v: number): string =>
  Math.abs(v) >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : Math.abs(v) >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(v < 10 ? 2 : 1);

export function table(entries: BenchEntry[]): string {
  const rows = entries.map((e) =>
    "skipped" in e
      ? [e.id, e.what, "-", "-", `skipped: ${e.skipped}`, "-", "-", "-"]
      : [e.id, e.what, `${fmt(e.value)} ${e.unit}`, `${fmt(e.reference.value)} ${e.reference.unit} (${e.reference.what})`, e.ratio.toFixed(2),
          e.goal ?? "-", metText(e.met), spreadText(e)],
  );
  const head = ["id", "measure", "ours", "reference", "ratio", "goal", "met", "spread"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

const metText = (m: boolean | null | undefined): string => (m === true ? "yes" : m === false ? "NO" : "-");

/** Both sides' (max - min) / median, in percent: how far to trust the ratio. */
function spreadText(e: BenchResult): string {
  if (!e.spread) return "-";
  const pct = (s: Spread) => `${Math.round(s.relative * 100)}%`;
  return `${pct(e.spread.value)}/${pct(e.spread.reference)}`;
}

export function markdownTable(entries: BenchEntry[]): string {
  const rows = entries.map((e) =>
    "skipped" in e
      ? `| \`${e.id}\` | ${e.what} | – | – | skipped: ${e.skipped} | – | – |`
      : `| \`${e.id}\` | ${e.what} | ${fmt(e.value)} ${e.unit} | ${fmt(e.reference.value)} ${e.reference.unit} (${e.reference.what}) | ${e.ratio.toFixed(2)} | ${e.goal ?? "–"} | ${metText(e.met).replace("-", "–")} |`,
  );
  return ["| id | measure | ours | reference | ratio | goal | met |", "|---|---|---|---|---|---|---|", ...rows].join("\n");
}

const escapeXml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A horizontal bar chart of the ratios on a log scale, with the 1.0 line marked. */
export function svgChart(entries: BenchEntry[], title: string): string {
  const results = entries.filter((e): e is BenchResult => !("skipped" in e) && Number.isFinite(e.ratio) && e.ratio > 0);
  const rowH = 22;
  const labelW = 360;
  const barW = 400;
  const top = 40;
  const h = top + results.length * rowH + 30;
  const lo = Math.log10(0.01);
  const hi = Math.log10(100);
  const x = (r: number) => labelW + ((Math.min(Math.max(Math.log10(r), lo), hi) - lo) / (hi - lo)) * barW;
  const bars = results.map((e, i) => {
    const y = top + i * rowH;
    const x0 = x(1);
    const x1 = x(e.ratio);
    // green: goal met, red: goal missed, grey: context (no goal)
    const color = e.met === true ? "#2a9d8f" : e.met === false ? "#e76f51" : "#9aa5b1";
    const goal = /^ratio >= ([0-9.]+)$/.exec(e.goal ?? "");
    const gx = goal ? x(Number(goal[1])) : undefined;
    return [
      `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${escapeXml(e.what)}</text>`,
      `<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y + 4}" width="${Math.abs(x1 - x0).toFixed(1)}" height="${rowH - 8}" fill="${color}"/>`,
      gx === undefined ? "" : `<line x1="${gx.toFixed(1)}" y1="${y + 1}" x2="${gx.toFixed(1)}" y2="${y + rowH - 1}" stroke="#222" stroke-width="2"/>`,
      `<text x="${(Math.max(x0, x1) + 4).toFixed(1)}" y="${y + 15}">${e.ratio.toFixed(2)}</text>`,
    ].join("");
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + barW + 60}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="20" font-size="14">${escapeXml(title)}</text>`,
    `<line x1="${x(1)}" y1="${top - 4}" x2="${x(1)}" y2="${h - 24}" stroke="#333" stroke-dasharray="3,3"/>`,
    `<text x="10" y="${h - 8}">dashed: 1.0 (reference); black tick: goal; green met, red missed, grey context</text>`,
    ...bars,
    `</svg>`,
  ].join("\n");
}
