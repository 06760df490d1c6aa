// src/spec.ts: the runtime's DeviceSpec, with every queue resolved to offsets and register locations
// (entry sizes, tag/phase/done offsets, doorbells with their array stride).
import type { DeviceModel, InterruptModel, PortalQueueModel, RegisterRef } from "../model.ts";
import { constStatement, objectLiteral, TsFile } from "./ts.ts";
import { docText, hex, str, type EmitContext } from "./util.ts";
import { capabilityLiteral, virtioLiteral, virtqLiteral } from "./virtq.ts";

/** `{ region: "bar0", offset: 0x1000, width: 32, stride: 8 }` */
export function regLoc(ref: RegisterRef): string {
  const reg = ref.def;
  const stride = reg.count > 1 ? `, stride: ${reg.stride}` : "";
  return `{ region: ${str(ref.region)}, offset: ${hex(reg.offset)}, width: ${reg.width}${stride} }`;
}

function irqIndex(irq: InterruptModel | undefined): string[] {
  return irq === undefined ? [] : [`interrupt: ${irq.index}, // ${irq.name}`];
}

/** A portal queue: where its portals are, the store they take, where the completion record's status is. */
function portalLiteral(q: PortalQueueModel): string {
  const address = q.completion.addressDef;
  const status = q.completion.statusDef;
  return objectLiteral([
    `kind: "portal",`,
    `name: ${str(q.name)},`,
    `first: ${q.instances.first},`,
    `last: ${q.instances.last},`,
    `descriptorSize: ${q.descriptorDef.size}, // ${q.descriptor}`,
    `depth: ${q.depth},`,
    `portal: { region: ${str(q.portal.region)}, offset: ${hex(q.portal.offset)}, stride: ${hex(q.portal.stride)} },`,
    `store: ${str(q.store)},`,
    `completion: ${objectLiteral([
      `size: ${q.completion.recordDef.size}, // ${q.completion.record}`,
      `align: ${q.completion.align},`,
      `addressOffset: ${address.offset}, // ${q.descriptor}.${q.completion.address}`,
      `statusOffset: ${status.offset}, // ${q.completion.record}.${q.completion.status}`,
      `statusWidth: ${(status.size / status.count) * 8},`,
      `pending: ${q.completion.pending},`,
    ])},`,
    ...irqIndex(q.interruptDef),
  ]);
}

function queueLiteral(q: DeviceModel["queues"][number]): string {
  if (q.kind === "portal") return portalLiteral(q);
  if (q.kind === "virtq-split") return virtqLiteral(q);
  if (q.kind === "index-ring") {
    const done = q.done.def;
    const ring = q.ring.kind === "dma" ? `"dma"` : `{ region: ${str(q.ring.region)}, offset: ${hex(q.ring.offset)} }`;
    return objectLiteral([
      `kind: "index-ring",`,
      `name: ${str(q.name)},`,
      `entrySize: ${q.entryDef.size}, // ${q.entry}`,
      `depth: ${q.depth},`,
      `ring: ${ring},`,
      `producer: ${regLoc(q.producer)},`,
      `consumer: ${regLoc(q.consumer)},`,
      `doorbell: ${regLoc(q.doorbell)},`,
      `done: { offset: ${done.offset}, width: ${(done.size / done.count) * 8}, pending: ${q.done.pending} }, // ${q.entry}.${q.done.field}`,
      ...irqIndex(q.interruptDef),
    ]);
  }
  const sqTag = q.sq.tagDef;
  const cqTag = q.cq.tagDef;
  const phase = q.cq.phase.def;
  const sqHead = q.cq.sqHeadDef === undefined ? [] : [`sqHeadOffset: ${q.cq.sqHeadDef.offset}, // ${q.cq.entry}.${q.cq.sqHead}`];
  return objectLiteral([
    `kind: "sq-cq",`,
    `name: ${str(q.name)},`,
    `first: ${q.instances.first},`,
    `last: ${q.instances.last},`,
    `sq: ${objectLiteral([
      `entrySize: ${q.sq.entryDef.size}, // ${q.sq.entry}`,
      `depth: ${q.sq.depth},`,
      `doorbell: ${regLoc(q.sq.doorbell)},`,
      `tagOffset: ${sqTag.offset}, // ${q.sq.entry}.${q.sq.tag}`,
      ...tagShape(sqTag),
    ])},`,
    `cq: ${objectLiteral([
      `entrySize: ${q.cq.entryDef.size}, // ${q.cq.entry}`,
      `depth: ${q.cq.depth},`,
      `doorbell: ${regLoc(q.cq.doorbell)},`,
      `tagOffset: ${cqTag.offset}, // ${q.cq.entry}.${q.cq.tag}`,
      ...tagShape(cqTag),
      `phase: { offset: ${phase.offset}, width: ${(phase.size / phase.count) * 8}, bit: ${q.cq.phase.bit} }, // ${q.cq.entry}.${q.cq.phase.field}`,
      ...sqHead,
    ])},`,
    ...irqIndex(q.interruptDef),
  ]);
}

/** `uacce: { api, regions (by index), dusAddress, queues? }` for the UACCE backend. */
function uacceLiteral(m: DeviceModel): string {
  const u = m.match.uacce!;
  const regions = u.regions.map((r) => `  { index: ${r.index}, qfr: ${str(r.qfr)} }, // ${r.region}`);
  return [
    "uacce: {",
    `  api: [${u.api.map(str).join(", ")}],`,
    `  regions: [${regions.length ? `\n${regions.map((l) => `  ${l}`).join("\n")}\n  ` : ""}],`,
    `  dusAddress: ${hex(u.dusAddress)},`,
    ...(u.queues.length === 0 ? [] : [
      "  queues: [",
      ...u.queues.map((q) =>
        `    { queue: ${str(q.queue)}, rings: ${str(q.rings)}, depth: ${q.depth}, doorbell: { format: ${str(q.doorbell.format)}, region: ${q.doorbell.index}, offset: ${hex(q.doorbell.offset)} } }, // doorbell in ${q.doorbell.region}`),
      "  ],",
    ]),
    "},",
  ].join("\n");
}

/** The tag field's width, and its byte order when big endian (the engine writes and reads it so). */
function tagShape(f: { size: number; count: number; endian: string }): string[] {
  return [`tagWidth: ${(f.size / f.count) * 8},`, ...(f.endian === "big" && f.size > 1 ? ["tagBigEndian: true,"] : [])];
}

export function specFile(ctx: EmitContext): TsFile {
  const m = ctx.model;
  const f = new TsFile();
  f.use("@warpdrive/runtime", "DeviceSpec", true);
  const pci = m.match.pci.map((p) => `{ vendor: ${hex(p.vendor, 4)}, device: ${hex(p.device, 4)} },`);
  const regions = m.regions.map((r) => `{ name: ${str(r.name)}, kind: ${str(r.kind)}, index: ${r.index}, size: ${hex(r.size)}${capabilityLiteral(r)} },`);
  const irqs = m.interrupts.map((i) => `{ name: ${str(i.name)}, index: ${i.index}, kind: ${str(i.kind)} },`);
  const queues = m.queues.map((q) => `${queueLiteral(q)},`);
  const entries = [
    `name: ${str(m.name)},`,
    `title: ${str(m.title)},`,
    `version: ${str(m.version)},`,
    `pci: [${pci.length ? `\n${pci.map((l) => `  ${l}`).join("\n")}\n` : ""}],`,
    `regions: [${regions.length ? `\n${regions.map((l) => `  ${l}`).join("\n")}\n` : ""}],`,
    `interrupts: [${irqs.length ? `\n${irqs.map((l) => `  ${l}`).join("\n")}\n` : ""}],`,
    `queues: [${queues.length ? `\n${queues.map((l) => l.split("\n").map((x) => `  ${x}`).join("\n")).join("\n")}\n` : ""}],`,
  ];
  if (m.match.uacce !== undefined) entries.push(uacceLiteral(m));
  entries.push(...virtioLiteral(m));
  // A package specifier, not a path: the model lives in the driver package, which depends on this
  // one (never the other way round); the runtime resolves it when a sim device opens.
  if (m.handFiles.includes("model.ts")) entries.push(`model: ${str(`@warpdrive/${m.name}/model`)},`);
  f.add(
    `${constStatement(docText(`What the runtime needs to open ${m.name}: ids, regions, interrupts and resolved queues.`, m.source, `device ${m.name}`), "spec", objectLiteral(entries)).replace("export const spec =", "export const spec: DeviceSpec =")}`,
  );
  return f;
}
