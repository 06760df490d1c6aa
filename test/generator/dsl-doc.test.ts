// docs/dsl.md is the DSL's reference: its YAML examples, put together with the few definitions they
// refer to but do not show, must pass the validator. A rule change that breaks them shows up here.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatDiagnostic } from "@warpdrive/generator/diagnostics";
import { loadDeviceSource } from "@warpdrive/generator/load";
import { parseDeviceSource } from "@warpdrive/generator/parse";

const ROOT = join(import.meta.dir, "..", "..");

/** What the examples name without defining (enums, structs, the queue page, interrupts). */
const SUPPORT = {
  device: "dsl-examples",
  title: "Examples from docs/dsl.md",
  version: "1.0.0",
  enums: {
    CommandSet: { values: { NVM: 0, ADMIN_ONLY: 7 } },
    DescStatus: { values: { PENDING: 0, DONE: 1 } },
    IdentifyCns: { width: 8, values: { NAMESPACE: 0, CONTROLLER: 1 } },
  },
  regions: {
    bar0: { registers: { cq_head: { offset: 0x1004, count: 65, stride: 8 } } },
    queue: { kind: "ram", index: 2, size: 0x1000, registers: { head: { offset: 0 }, tail: { offset: 4 }, doorbell: { offset: 8 } } },
  },
  structs: {
    Other: { size: 8, fields: { a: { offset: 0, type: "u64" } } },
    Sqe: {
      size: 64,
      fields: { opcode: { offset: 0, type: "u8" }, cid: { offset: 2, type: "u16" }, nsid: { offset: 4, type: "u32" }, prp1: { offset: 24, type: "dma-address", extent: 4096 } },
    },
    Cqe: { size: 16, fields: { sqhd: { offset: 8, type: "u16" }, cid: { offset: 12, type: "u16" }, status: { offset: 14, type: "u16" } } },
  },
  queues: {
    admin: {
      kind: "sq-cq",
      instances: "0..0",
      sq: { entry: "Sqe", depth: 32, ring: "dma", doorbell: "bar0.sq_tail", tag: "cid" },
      cq: { entry: "Cqe", depth: 32, ring: "dma", doorbell: "bar0.cq_head", tag: "cid", phase: { field: "status", bit: 0 } },
    },
  },
  interrupts: { done: { index: 0, kind: "msi" }, io: { index: 1, kind: "msi" }, admin: { index: 2, kind: "msi" } },
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Merges b into a, maps key by key (examples win over support where both define a value). */
function merge(a: Obj, b: Obj): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObj(out[k]) && isObj(v) ? merge(out[k] as Obj, v) : v;
  return out;
}

test("the YAML examples of docs/dsl.md validate", () => {
  const md = readFileSync(join(ROOT, "docs", "dsl.md"), "utf8");
  const blocks = [...md.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  expect(blocks.length).toBeGreaterThanOrEqual(4);
  let doc: Obj = SUPPORT;
  for (const [i, text] of blocks.entries()) {
    const parsed = parseDeviceSource(`dsl.md#example-${i + 1}`, new TextEncoder().encode(text));
    if (!parsed.ok) throw new Error(parsed.diagnostics.map(formatDiagnostic).join("\n"));
    doc = merge(doc, parsed.parsed.data as Obj);
  }
  // JSON is YAML: the merged document goes through the whole loader.
  const r = loadDeviceSource("dsl-examples.yaml", JSON.stringify(doc, null, 2));
  expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
  expect(r.model?.commands.map((c) => c.name)).toEqual(["copy", "identify"]); // in the order of the examples
  expect(r.model?.queues.map((q) => q.kind)).toContain("portal");
});
