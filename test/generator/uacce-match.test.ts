// match.uacce in descriptions: the schema's shape, the semantic rules (semantic-uacce.ts) with
// file:line:column, and what reaches the IR and the emitted spec.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatDiagnostic } from "@warpdrive/generator/diagnostics";
import { loadDeviceSource } from "@warpdrive/generator/load";

const ROOT = join(import.meta.dir, "..", "..");
const WD_DUMMY = readFileSync(join(ROOT, "devices/wd-dummy.yaml"), "utf8");
const BLOCK = /  uacce:\n(?:    .*\n|      .*\n)+/;

/** wd-dummy.yaml with its match.uacce block replaced by `block` (indented under match:). */
function withUacce(block: string): string {
  expect(WD_DUMMY).toMatch(BLOCK);
  return WD_DUMMY.replace(BLOCK, block);
}

function load(text: string) {
  return loadDeviceSource("devices/wd-dummy.yaml", text, () => []);
}

const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

describe("match.uacce", () => {
  test("wd-dummy's block reaches the IR: api, regions in region order, dus-address", () => {
    const r = load(WD_DUMMY);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
    const u = r.model!.match.uacce!;
    expect([u.api, u.regions, u.dusAddress]).toEqual([["wd_dummy_v1"], [{ region: "queue", qfr: "mmio", index: 0 }], 0x1_0000_0000]);
    expect(u.source.line).toBe(lineOf(WD_DUMMY, "  uacce:"));
  });

  test("an unknown region, a region a queue needs left unplaced, a repeated api, an unaligned dus-address: all reported at once", () => {
    const text = withUacce(`  uacce:
    api: [wd_dummy_v1, wd_dummy_v1]
    regions: { quue: dus }
    dus-address: 0x1234
`);
    const d = load(text).diagnostics;
    const at = (code: string) => d.filter((x) => x.code === code).map((x) => `${x.line}:${x.column} ${x.message}`);
    const u = lineOf(text, "  uacce:");
    expect(at("duplicate-api")).toEqual([`${u + 1}:24 api "wd_dummy_v1" is listed twice`]);
    expect(at("unknown-region")).toEqual([`${u + 2}:16 unknown region "quue" (regions: queue)`]);
    expect(at("misaligned")).toEqual([`${u + 3}:18 dus-address 0x1234 is not page-aligned (4096): buffers are carved in whole pages`]);
    expect(at("uacce-region-unplaced")).toEqual([`${u + 2}:5 queue cmd uses region queue, which match.uacce.regions does not place (mmio or dus)`]);
    expect(d.every((x) => x.severity === "error")).toBe(true);
  });

  test("the schema: api needs at least one string, a region goes to mmio or dus only, no other keys", () => {
    const text = withUacce(`  uacce:
    api: []
    regions: { queue: bar0 }
    pasid: 1
`);
    const codes = load(text).diagnostics.map((x) => `${x.path} ${x.code}`);
    expect(codes.some((c) => c.startsWith("match.uacce.api "))).toBe(true);
    expect(codes.some((c) => c.startsWith("match.uacce.regions.queue "))).toBe(true);
    expect(codes.some((c) => c.startsWith("match.uacce") && c.includes("pasid"))).toBe(true);
  });

  test("without match.uacce the spec has no uacce entry; with it, regions by index", () => {
    const plain = load(withUacce(""));
    expect(plain.diagnostics).toEqual([]);
    expect(plain.model!.match.uacce).toBeUndefined();
    const spec = readFileSync(join(ROOT, "generated/wd-dummy/src/spec.ts"), "utf8");
    expect(spec).toContain(`  uacce: {\n    api: ["wd_dummy_v1"],\n    regions: [\n      { index: 0, qfr: "mmio" }, // queue\n    ],\n    dusAddress: 0x100000000,\n  },`);
  });
});

describe("match.uacce.queues (hzip: the QM's rings in DUS, its 64-bit doorbell)", () => {
  const HZIP = readFileSync(join(ROOT, "devices/hzip.yaml"), "utf8");
  const QUEUES = /    queues:\n      qp: .*\n/;
  const loadHzip = (text: string) => loadDeviceSource("devices/hzip.yaml", text, () => []);

  test("hzip's block reaches the IR in queue order, with its source line", () => {
    const r = loadHzip(HZIP);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
    const q = r.model!.match.uacce!.queues;
    expect(q.map(({ source, ...rest }) => rest)).toEqual([{ queue: "qp", rings: "dus", depth: 1024, doorbell: { format: "qm-v2", region: "qm", index: 2, offset: 0x1000 } }]);
    expect(q[0]!.source.line).toBe(lineOf(HZIP, "      qp: { rings: dus"));
  });

  test("an unknown queue, a doorbell region not in mmio, a misaligned or outside doorbell: all reported at once", () => {
    expect(HZIP).toMatch(QUEUES);
    const text = HZIP.replace("    regions: { qm: mmio }\n", "    regions: { qm: dus }\n").replace(QUEUES, `    queues:
      qx: { rings: dus, depth: 64, doorbell: { format: qm-v2, region: qm, offset: 0x1004 } }
      qp: { rings: dus, depth: 64, doorbell: { format: qm-v2, region: qm, offset: 0x2000 } }
`);
    const d = loadHzip(text).diagnostics;
    const at = (code: string) => d.filter((x) => x.code === code).map((x) => `${x.line} ${x.message}`);
    const qx = lineOf(text, "      qx: {");
    expect(at("unknown-queue")).toEqual([`${qx} unknown queue "qx" (queues: qp)`]);
    expect(at("uacce-doorbell-region")).toEqual([
      `${qx} the doorbell's region qm must be placed in mmio by match.uacce.regions`,
      `${qx + 1} the doorbell's region qm must be placed in mmio by match.uacce.regions`,
    ]);
    expect(at("misaligned")).toEqual([`${qx} doorbell offset 0x1004 is not 8-byte aligned (one 64-bit store)`]);
    expect(at("out-of-region")).toEqual([`${qx + 1} doorbell at 0x2000 (8 bytes) lies outside region qm (0x2000 bytes)`]);
  });
});
