// src/client.ts: the typed client. `XDevice` (over the runtime's TypedDevice) opens the spec through
// the runtime's Device and exposes one register block per region; `XQueue` (over the runtime's
// TypedQueue, which holds send/recv/reap/submit once) names the queue's structs and adds one method
// per command on the queue the command names. Nothing is allocated per request: send reserves a slot
// in the runtime queue, encodes the request straight into it (the queue is the encoder's
// DmaResolver: each buffer named is checked, extent included, and pinned for that request) and
// publishes it; reap returns one reused accessor over the completion.
import type { CommandModel, QueueModel, VirtqSplitQueueModel } from "../model.ts";
import { commandFunctionName, paramsTypeName } from "./commands.ts";
import { encodeRequestName, requestTypeName } from "./requests.ts";
import { regionClassName } from "./registers.ts";
import { TsFile } from "./ts.ts";
import { virtqQueueClass } from "./virtq.ts";
import { camel, docBlock, docText, memberDoc, pascal, str, type EmitContext } from "./util.ts";

const RT = "@warpdrive/runtime";

/** Members of a queue wrapper; a command with one of these names gets a `Command` suffix. */
const WRAPPER_MEMBERS = new Set(["queue", "send", "trySend", "sendWith", "sendCommand", "recv", "recvSync", "reap", "reapSync", "flush", "release", "released", "inFlight", "constructor", "async", "submit", "completions"]);

/** Members of the device class; a region with one of these names is `<name>Registers` instead. */
const DEVICE_MEMBERS = new Set(["device", "dma", "open", "alloc", "requestQueue", "close", "constructor", "virtio"]);

export function regionMemberName(name: string): string {
  const c = camel(name);
  return DEVICE_MEMBERS.has(c) ? `${c}Registers` : c;
}

export function clientClassName(ctx: EmitContext): string {
  return `${pascal(ctx.model.name)}Device`;
}
export function queueClassName(q: QueueModel): string {
  return `${pascal(q.name)}Queue`;
}
export function commandMethodName(c: CommandModel): string {
  const n = camel(c.name);
  return WRAPPER_MEMBERS.has(n) ? `${n}Command` : n;
}

/** Entry struct sent and struct received, per queue kind. */
function queueStructs(q: Exclude<QueueModel, VirtqSplitQueueModel>): { send: string; recv: string } {
  if (q.kind === "portal") return { send: q.descriptor, recv: q.completion.record };
  return q.kind === "index-ring" ? { send: q.entry, recv: q.entry } : { send: q.sq.entry, recv: q.cq.entry };
}

/** The runtime engine class behind a queue kind. */
function runtimeQueueClass(q: QueueModel): string {
  return q.kind === "index-ring" ? "IndexRingQueue" : q.kind === "portal" ? "PortalQueue" : q.kind === "virtq-split" ? "VirtqSplitQueue" : "SqCqQueue";
}

export function clientFile(ctx: EmitContext): TsFile {
  const f = new TsFile();
  const m = ctx.model;
  f.useForEffect("./version.ts"); // the runtime version check runs before the client exists
  f.use("./spec.ts", "spec");
  for (const q of m.queues) f.add(q.kind === "virtq-split" ? virtqQueueClass(ctx, f, q, queueClassName(q)) : queueClass(ctx, f, q));
  f.add(deviceClass(ctx, f));
  return f;
}

/** One class member as text: its doc (one line) and its code, indented one level. */
function member(doc: string, code: string[]): string {
  return [docBlock(memberDoc(doc)), ...code].map((l) => (l === "" ? l : `  ${l}`)).join("\n");
}

/**
 * A queue class: the runtime's TypedQueue over this queue's engine and structs (send, recv, reap,
 * submit... live there once), plus one method per command of the queue.
 */
function queueClass(ctx: EmitContext, f: TsFile, q: Exclude<QueueModel, VirtqSplitQueueModel>): string {
  const rtClass = runtimeQueueClass(q);
  f.use(RT, rtClass, true);
  f.use(RT, "TypedQueue");
  const { send, recv } = queueStructs(q);
  f.use("./structs.ts", send);
  f.use("./structs.ts", recv);
  f.use("./structs.ts", `${send}Init`, true);
  f.use("./structs.ts", `${recv}Data`, true);
  const commands = ctx.model.commands.filter((c) => c.queue === q.name);
  const members: string[] = [
    member(`Wraps a runtime queue opened for ${q.name} (see ${clientClassName(ctx)}.requestQueue).`, [`constructor(queue: ${rtClass}) {`, `  super(queue, ${send}, ${recv});`, `}`]),
  ];
  if (commands.length > 0) {
    f.use("./commands.ts", encodeRequestName(q));
    f.use("./commands.ts", requestTypeName(q), true);
    members.push(member(`Queues any command of ${q.name} given as a ${requestTypeName(q)} (\`{ command: "...", ...its params }\`); returns its tag.`, [`sendCommand(r: ${requestTypeName(q)}): number {`, `  return this.sendWith(${encodeRequestName(q)}, r);`, `}`]));
  }
  for (const c of commands) {
    f.use("./commands.ts", commandFunctionName(c));
    f.use("./commands.ts", paramsTypeName(c), true);
    const param = `p: ${paramsTypeName(c)}${c.params.length === 0 ? " = {}" : ""}`;
    members.push(member(`Queues the ${c.name} command (a ${c.struct}); returns its tag.${c.doc ? ` ${c.doc}` : ""}`, [`${commandMethodName(c)}(${param}): number {`, `  return this.sendWith(${commandFunctionName(c)}, p);`, `}`]));
  }
  const doc = docText(`Queue ${q.name} (${q.kind}): sends ${send}, receives ${recv}.${q.doc ? ` ${q.doc}` : ""}`, q.source, `queue ${q.name}`);
  return `${docBlock(doc)}\nexport class ${queueClassName(q)} extends TypedQueue<${rtClass}, ${send}Init, ${recv}Data, ${recv}> {\n${members.join("\n\n")}\n}`;
}

/**
 * The device class: the runtime's TypedDevice (device, dma, alloc, close) plus a register block per
 * region, `open()` over this package's spec and `requestQueue` typed by queue name.
 */
function deviceClass(ctx: EmitContext, f: TsFile): string {
  const m = ctx.model;
  f.use(RT, "Device");
  f.use(RT, "DeviceOptions", true);
  f.use(RT, "TypedDevice");
  const name = clientClassName(ctx);
  const members: string[] = [];
  for (const r of m.regions) {
    f.use("./registers.ts", regionClassName(r));
    members.push(member(`Registers of ${r.name}.`, [`readonly ${regionMemberName(r.name)}: ${regionClassName(r)};`]));
  }
  members.push(
    member("Wraps an opened Device whose spec is this package's spec.", [
      "constructor(device: Device) {",
      "  super(device);",
      ...m.regions.map((r) => `  this.${regionMemberName(r.name)} = new ${regionClassName(r)}(device.region(${str(r.name)}).io, device.dma);`),
      "}",
    ]),
    member(`Opens a ${m.name} on the sim or vfio backend (default from WD_BACKEND / WD_DEVICE).`, [
      `static async open(options?: DeviceOptions): Promise<${name}> {`,
      `  return new ${name}(await Device.open(spec, options));`,
      "}",
    ]),
  );
  if (m.queues.length > 0) {
    f.use(RT, "QueueOptions", true);
    const ids = (q: QueueModel) => (q.kind === "index-ring" ? "" : q.instances.first !== q.instances.last || q.kind === "sq-cq" ? ` (ids ${q.instances.first}..${q.instances.last})` : "");
    // one overload per queue when there are several: the name picks the class
    const overloads = m.queues.length > 1 ? m.queues.map((q) => [docBlock(memberDoc(`Opens queue ${q.name}${ids(q)}.`)), `requestQueue(name: ${str(q.name)}, options?: QueueOptions): ${queueClassName(q)};`]).flat() : [];
    const cases = m.queues.flatMap((q) => [`    case ${str(q.name)}:`, `      return new ${queueClassName(q)}(this.device.requestQueue(name, options) as ${runtimeQueueClass(q)});`]);
    const doc = m.queues.length > 1 ? "Opens one of the device's queues, typed by name." : `Opens queue ${m.queues[0]!.name}${ids(m.queues[0]!)}.`;
    members.push(
      [
        ...overloads.map((l) => `  ${l}`),
        member(doc, [
          `requestQueue(name: ${m.queues.map((q) => str(q.name)).join(" | ")}, options?: QueueOptions): ${m.queues.map(queueClassName).join(" | ")} {`,
          "  switch (name) {",
          ...cases,
          "  }",
          "  // Any other name (plain JavaScript): the runtime refuses it, naming the queues there are.",
          "  return this.device.requestQueue(name, options) as never;",
          "}",
        ]),
      ].join("\n"),
    );
  }
  if (m.virtio !== undefined) {
    f.use(RT, "VirtioTransport", true);
    members.push(member("The virtio transport: negotiate() features, then request the queues, then driverOk(); readConfig() reads the device configuration consistently.", ["get virtio(): VirtioTransport { return this.device.virtio; }"]));
  }
  const doc = docText(`${m.title}: the typed client.${m.doc ? ` ${m.doc}` : ""}`, m.source, `device ${m.name}`);
  return `${docBlock(doc)}\nexport class ${name} extends TypedDevice {\n${members.join("\n\n")}\n}`;
}
