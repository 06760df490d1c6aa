// 7. Generator speed: validate + generate every device, and 50 copies of the NVMe description.
// References measured in the same run: parsing the same YAML with no validation or emitting (the
// floor any generator pays), and 50 x one NVMe description (does the cost grow linearly?).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { emitDevice } from "../../generator/src/emit/index.ts";
import { loadDeviceSource } from "../../generator/src/load.ts";
import type { BenchResult } from "../report.ts";
import { median } from "../stats.ts";

const root = join(import.meta.dir, "../..");

function generate(file: string, source: string): void {
  const loaded = loadDeviceSource(file, source);
  if (!loaded.model) throw new Error(`${file} does not validate: ${loaded.diagnostics[0]?.message}`);
  emitDevice(loaded.model);
}

function timeMs(fn: () => void, runs: number): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

export function benchGenerator(runs = 3): BenchResult[] {
  const dir = join(root, "devices");
  const devices = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => ({ file: `devices/${f}`, source: readFileSync(join(dir, f), "utf8") }));
  generate(devices[0].file, devices[0].source); // warm up the emitter's compiler host

  const allMs = timeMs(() => devices.forEach((d) => generate(d.file, d.source)), runs);
  const parseMs = timeMs(() => devices.forEach((d) => parseDocument(d.source)), runs);

  const nvme = devices.find((d) => d.file.endsWith("nvme.yaml"));
  if (!nvme) throw new Error("devices/nvme.yaml is missing");
  const copies = Array.from({ length: 50 }, (_, i) => ({
    file: `nvme-copy-${i}.yaml`,
    source: nvme.source.replace(/^device: nvme$/m, `device: nvme-copy-${i}`),
  }));
  const oneMs = timeMs(() => generate(nvme.file, nvme.source), runs);
  const fiftyMs = timeMs(() => copies.forEach((c) => generate(c.file, c.source)), Math.min(runs, 2));

  return [
    {
      id: "generator.all",
      what: `generate all ${devices.length} devices`,
      value: allMs,
      unit: "ms",
      reference: { what: "YAML parse only", value: parseMs, unit: "ms" },
      ratio: parseMs / allMs,
      note: "ratio < 1 is expected: it is the share of the time spent in the bare YAML parser",
    },
    {
      id: "generator.nvme50",
      what: "generate 50 copies of nvme",
      value: fiftyMs,
      unit: "ms",
      reference: { what: "50 x one nvme", value: 50 * oneMs, unit: "ms" },
      ratio: (50 * oneMs) / fiftyMs,
      note: "ratio ~1 means the cost grows linearly with the number of devices",
    },
  ];
}
