// The validator's rules for virtio descriptions: capability-located regions, the virtio block and
// virtq-split queues. A good description builds the expected IR; each mistake is one error at the
// place it is made (line:column found by searching the text, independently of the validator).
import { describe, expect, test } from "bun:test";
import { loadDeviceSource } from "@warpdrive/generator/load";

const GOOD = `device: t
title: T
version: 1.0.0
match:
  pci:
    - { vendor: 0x1af4, device: 0x1042 }
virtio:
  device_type: 2
  common: common
  notify: notify
  config: cfg
regions:
  common:
    kind: mmio
    capability: { cfg_type: 1 }
    size: 0x38
  notify:
    kind: mmio
    capability: { cfg_type: 2, notify_multiplier: true }
    size: 2
  cfg:
    kind: mmio
    capability: { cfg_type: 4 }
    size: 8
  bar0: { kind: mmio, index: 0, size: 0x1000 }
structs:
  Hdr:
    size: 16
    fields:
      type: { offset: 0, type: u32 }
      sector: { offset: 8, type: u64 }
  Status:
    size: 1
    fields:
      status: { offset: 0, type: u8 }
interrupts:
  config: { index: 0, kind: msix }
  vq: { index: 1, kind: msix }
queues:
  requestq:
    kind: virtq-split
    instances: 0
    size: 128
    header: Hdr
    footer: Status
    segments: 4
    interrupt: vq
`;

interface Case {
  name: string;
  from: string;
  to: string;
  code: string;
  at: string;
  path: string;
  says: string;
}

const CASES: Case[] = [
  { name: "a region with neither index nor capability", from: "  bar0: { kind: mmio, index: 0, size: 0x1000 }", to: "  bar0: { kind: mmio, size: 0x1000 }", code: "region-location", at: "  |bar0:", path: "regions.bar0", says: 'needs "index"' },
  { name: "a region with both", from: "    capability: { cfg_type: 4 }\n", to: "    capability: { cfg_type: 4 }\n    index: 4\n", code: "region-location", at: "    |index: 4", path: "regions.cfg.index", says: 'both "index" and "capability"' },
  { name: "two regions of one cfg_type", from: "  bar0: { kind: mmio, index: 0, size: 0x1000 }", to: "  bar0: { kind: mmio, capability: { cfg_type: 4 }, size: 0x1000 }", code: "duplicate-capability", at: "capability: { cfg_type: |4 }, size: 0x1000", path: "regions.bar0.capability.cfg_type", says: "regions cfg and bar0 both are the capability of cfg_type 4" },
  { name: "a multiplier on another structure", from: "capability: { cfg_type: 4 }", to: "capability: { cfg_type: 4, notify_multiplier: true }", code: "capability-multiplier", at: "cfg_type: 4, notify_multiplier: |true", path: "regions.cfg.capability.notify_multiplier", says: "only the notification capability" },
  { name: "virtio.notify without the multiplier", from: "capability: { cfg_type: 2, notify_multiplier: true }", to: "capability: { cfg_type: 2 }", code: "virtio-region", at: "  notify: |notify", path: "virtio.notify", says: "needs notify_multiplier: true" },
  { name: "virtio.common of the wrong type", from: "  common: common\n", to: "  common: cfg\n", code: "virtio-region", at: "  common: |cfg", path: "virtio.common", says: "cfg_type 1; region cfg has cfg_type 4" },
  { name: "virtio.common too small", from: "    size: 0x38", to: "    size: 0x20", code: "virtio-region", at: "  common: |common", path: "virtio.common", says: "0x38 bytes" },
  { name: "virtio names an unknown region", from: "  config: cfg\n", to: "  config: cfgg\n", code: "unknown-region", at: "  config: |cfgg", path: "virtio.config", says: 'unknown region "cfgg"' },
  { name: "PCI id of another device type", from: "device: 0x1042 }", to: "device: 0x1044 }", code: "virtio-device-id", at: "device: |0x1044", path: "match.pci[0].device", says: "virtio device type 4, but virtio.device_type is 2" },
  { name: "transitional PCI id", from: "device: 0x1042 }", to: "device: 0x1001 }", code: "virtio-device-id", at: "device: |0x1001", path: "match.pci[0].device", says: "transitional" },
  { name: "queue size not a power of two", from: "size: 128", to: "size: 100", code: "virtq-size", at: "size: |100", path: "queues.requestq.size", says: "not a power of two" },
  { name: "unknown header struct", from: "header: Hdr", to: "header: Hdrr", code: "unknown-struct", at: "header: |Hdrr", path: "queues.requestq.header", says: 'unknown struct "Hdrr"' },
  { name: "interrupt not MSI-X", from: "vq: { index: 1, kind: msix }", to: "vq: { index: 1, kind: msi }", code: "virtq-interrupt", at: "interrupt: |vq", path: "queues.requestq.interrupt", says: "an MSI-X vector" },
  { name: "an empty request", from: "    header: Hdr\n    footer: Status\n    segments: 4", to: "    segments: 0", code: "virtq-empty", at: "segments: |0", path: "queues.requestq.segments", says: "is empty" },
  { name: "a virtq without the virtio block", from: "virtio:\n  device_type: 2\n  common: common\n  notify: notify\n  config: cfg\n", to: "", code: "virtq-without-virtio", at: "    kind: |virtq-split", path: "queues.requestq.kind", says: "add a virtio block" },
  { name: "a command on a virtq", from: "    interrupt: vq\n", to: "    interrupt: vq\ncommands:\n  rd:\n    queue: requestq\n    params: {}\n", code: "virtq-command", at: "    queue: |requestq\n    params", path: "commands.rd.queue", says: "not supported" },
];

function position(text: string, marked: string): string {
  const spot = marked.indexOf("|");
  const plain = marked.replace("|", "");
  const at = text.indexOf(plain);
  if (at < 0 || text.indexOf(plain, at + 1) >= 0) throw new Error(`"${plain}" is not found exactly once`);
  const before = text.slice(0, at + spot);
  return `${before.split("\n").length}:${before.length - before.lastIndexOf("\n")}`;
}

describe("virtio in the DSL", () => {
  test("the good description builds capability regions, the virtio block and the virtq-split queue", () => {
    const r = loadDeviceSource("t.yaml", GOOD);
    expect(r.diagnostics).toEqual([]);
    const m = r.model!;
    expect(m.regions.map((x) => [x.name, x.index, x.capability])).toEqual([
      ["common", -1, { cfgType: 1, multiplier: false }],
      ["notify", -1, { cfgType: 2, multiplier: true }],
      ["cfg", -1, { cfgType: 4, multiplier: false }],
      ["bar0", 0, undefined],
    ]);
    expect(m.virtio).toMatchObject({ deviceType: 2, common: "common", notify: "notify", config: "cfg" });
    expect(m.queues[0]).toMatchObject({ kind: "virtq-split", name: "requestq", instances: { first: 0, last: 0 }, size: 128, header: "Hdr", footer: "Status", segments: 4, interrupt: "vq" });
  });

  for (const c of CASES) {
    test(`${c.name}: ${c.code}`, () => {
      expect(GOOD.split(c.from).length).toBe(2);
      const yaml = GOOD.replace(c.from, c.to);
      const r = loadDeviceSource("t.yaml", yaml);
      expect(r.model).toBeUndefined();
      const errors = r.diagnostics.filter((d) => d.severity === "error");
      expect(errors.map((d) => ({ code: d.code, at: `${d.line}:${d.column}`, path: d.path }))).toEqual([{ code: c.code, at: position(yaml, c.at), path: c.path }]);
      expect(errors[0]!.message).toContain(c.says);
    });
  }

  test("a virtio block without a virtqueue is a warning, and still generates", () => {
    const yaml = GOOD.slice(0, GOOD.indexOf("queues:"));
    const r = loadDeviceSource("t.yaml", yaml);
    expect(r.diagnostics.map((d) => [d.code, d.severity])).toEqual([["virtio-no-queue", "warning"]]);
    expect(r.model).toBeDefined();
  });
});
