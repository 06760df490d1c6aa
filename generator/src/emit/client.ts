// src/client.ts: the typed client. `XDevice.open()` opens the spec through the runtime's Device,
// exposes one register block per region and typed queue wrappers whose send/recv take and return the
// structs of the description, with one method per command on the queue the command names.
// Wrappers allocate nothing per request: send reserves a slot in the runtime queue, encodes the request
// straight into it (the queue is the encoder's DmaResolver: each buffer named is checked, extent
// included, and pinned for that request) and publishes it; reap returns one reused accessor over the
// completion.
import { StructureKind, type ClassDeclarationStructure, type MethodDeclarationStructure, type OptionalKind } from "ts-morph";
import type { CommandModel, QueueModel, VirtqSplitQueueModel } from "../model.ts";
import { commandFunctionName, paramsTypeName } from "./commands.ts";
import { encodeRequestName, requestTypeName } from "./requests.ts";
import { regionClassName } from "./registers.ts";
import { TsFile } from "./ts.ts";
import { virtqQueueClass } from "./virtq.ts";
import { camel, docText, pascal, str, type EmitContext } from "./util.ts";

const RT = "@warpdrive/runtime";

/** Members of a queue wrapper; a command with one of these names gets a `Command` suffix. */
const WRAPPER_MEMBERS = new Set(["queue", "send", "trySend", "sendCommand", "recv", "recvSync", "reap", "reapSync", "flush", "release", "released", "inFlight", "constructor", "async", "submit", "completions"]);

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

/** `sendCommand(r)`: any command of the queue as its discriminated union, one method for all. */
function requestMethod(f: TsFile, q: QueueModel, commands: CommandModel[]): OptionalKind<MethodDeclarationStructure>[] {
  if (commands.length === 0) return [];
  f.use("./commands.ts", encodeRequestName(q));
  f.use("./commands.ts", requestTypeName(q), true);
  return [
    {
      name: "sendCommand",
      docs: [docText(`Queues any command of ${q.name} given as a ${requestTypeName(q)} (\`{ command: "...", ...its params }\`); returns its tag.`, q.source)],
      parameters: [{ name: "r", type: requestTypeName(q) }],
      returnType: "number",
      statements: sendBody(encodeRequestName(q), "r", false),
    },
  ];
}

/** The body of a send-like method: reserve (or try), encode into the slot, publish. */
function sendBody(encode: string, arg: string, tryOnly: boolean): string[] {
  return [
    "const q = this.queue;",
    tryOnly ? "const at = q.tryReserve();\nif (at < 0) return -1;" : "const at = q.reserve();",
    `try {\n  ${encode}(q.view, at, ${arg}, q);\n} catch (e) {\n  throw q.cancel(e);\n}`,
    "return q.publish();",
  ];
}

function queueClass(ctx: EmitContext, f: TsFile, q: Exclude<QueueModel, VirtqSplitQueueModel>): OptionalKind<ClassDeclarationStructure> & { kind: StructureKind.Class } {
  const rtClass = runtimeQueueClass(q);
  f.use(RT, rtClass, true);
  const { send, recv } = queueStructs(q);
  f.use("./structs.ts", send);
  f.use("./structs.ts", recv);
  f.use("./structs.ts", `${send}Init`, true);
  f.use("./structs.ts", `${recv}Data`, true);
  const commands = ctx.model.commands.filter((c) => c.queue === q.name);
  for (const c of commands) {
    f.use("./commands.ts", commandFunctionName(c));
    f.use("./commands.ts", paramsTypeName(c), true);
  }
  const methods: OptionalKind<MethodDeclarationStructure>[] = [
    {
      name: "send",
      docs: [docText(`Queues one ${send}; returns its tag. Not visible to the device until flush/recv. Throws QueueFullError when full; a refused request leaves the queue as it was.`, q.source)],
      parameters: [{ name: "init", type: `${send}Init` }],
      returnType: "number",
      statements: sendBody(`${send}.encode`, "init", false),
    },
    {
      name: "trySend",
      docs: [docText(`Like send, but returns -1 when the queue is full.`, q.source)],
      parameters: [{ name: "init", type: `${send}Init` }],
      returnType: "number",
      statements: sendBody(`${send}.encode`, "init", true),
    },
    ...requestMethod(f, q, commands),
    ...commands.map((c) => ({
      name: commandMethodName(c),
      docs: [docText(`Queues the ${c.name} command (a ${c.struct}); returns its tag.${c.doc ? ` ${c.doc}` : ""}`, c.source, `command ${c.name}`)],
      parameters: [{ name: "p", type: paramsTypeName(c), initializer: c.params.length === 0 ? "{}" : undefined }],
      returnType: "number",
      statements: sendBody(commandFunctionName(c), "p", false),
    })),
    {
      name: "recv",
      docs: [docText(`The next finished ${recv}, decoded into a new object, or null; never blocks. Publishes pending sends first.`, q.source)],
      returnType: `${recv}Data | null`,
      statements: ["const q = this.queue;", `return q.take() < 0 ? null : ${recv}.decode(q.completionView, q.completionOffset);`],
    },
    {
      name: "reap",
      docs: [docText(`The next finished ${recv} as a live accessor over its slot, or null; allocates nothing. The accessor is reused: read what you need before the next call on this queue.`, q.source)],
      returnType: `${recv} | null`,
      statements: ["const q = this.queue;", "return q.take() < 0 ? null : this.#done.moveTo(q.completionOffset);"],
    },
    {
      name: "recvSync",
      docs: [docText(`Waits up to \`timeoutMs\` for the next finished ${recv}, decoded; throws TimeoutError.`, q.source)],
      parameters: [{ name: "timeoutMs", type: "number" }],
      returnType: `${recv}Data`,
      statements: ["const q = this.queue;", "q.takeSync(timeoutMs);", `return ${recv}.decode(q.completionView, q.completionOffset);`],
    },
    {
      name: "reapSync",
      docs: [docText(`Like recvSync, but returns the reused accessor (see reap).`, q.source)],
      parameters: [{ name: "timeoutMs", type: "number" }],
      returnType: recv,
      statements: ["const q = this.queue;", "q.takeSync(timeoutMs);", "return this.#done.moveTo(q.completionOffset);"],
    },
    ...asyncMethods(f, q, send, recv),
    {
      name: "flush",
      docs: [docText("Publishes pending sends and rings the doorbell once for the batch.", q.source)],
      returnType: "void",
      statements: ["this.queue.flush();"],
    },
    {
      name: "release",
      docs: [docText("Gives the queue back to the device; later use throws.", q.source)],
      returnType: "void",
      statements: ["this.queue.release();"],
    },
    {
      name: "[Symbol.dispose]",
      docs: [docText("release() on scope exit (`using q = dev.requestQueue(...)`), unless release(), reset() or close() already did.", q.source)],
      returnType: "void",
      statements: ["if (!this.queue.released) this.release();"],
    },
  ];
  return {
    kind: StructureKind.Class,
    isExported: true,
    name: queueClassName(q),
    docs: [docText(`Queue ${q.name} (${q.kind}): sends ${send}, receives ${recv}.${q.doc ? ` ${q.doc}` : ""}`, q.source, `queue ${q.name}`)],
    properties: [
      { name: "queue", isReadonly: true, type: rtClass, docs: [docText("The runtime queue underneath (depth, inFlight, ring buffers).", q.source)] },
      { name: "#done", isReadonly: true, type: recv, docs: [docText("The accessor reap() points at each completion.", q.source)] },
      { name: "#async", type: `AsyncQueue<${recv}Data> | undefined`, docs: [docText("The async layer, made on first use of submit/completions.", q.source)] },
    ],
    ctors: [
      {
        docs: [docText(`Wraps a runtime queue opened for ${q.name} (see ${clientClassName(ctx)}.requestQueue).`, q.source)],
        parameters: [{ name: "queue", type: rtClass }],
        statements: ["this.queue = queue;", `this.#done = new ${recv}(queue.completionView);`],
      },
    ],
    getAccessors: [
      { name: "inFlight", returnType: "number", docs: [docText("Requests sent and not yet received.", q.source)], statements: ["return this.queue.inFlight;"] },
      {
        name: "async",
        returnType: `AsyncQueue<${recv}Data>`,
        docs: [docText("The queue's async layer (made on first use): from then on the queue is async only, its sync methods refuse. Other queues of the device stay free for sync use.", q.source)],
        statements: [`return (this.#async ??= new AsyncQueue<${recv}Data>(this.queue, { decode: (q) => ${recv}.decode(q.completionView, q.completionOffset) }));`],
      },
    ],
    methods,
  };
}

/** The awaitable side (runtime AsyncQueue): submit one request, or read the stream of completions. */
function asyncMethods(f: TsFile, q: QueueModel, send: string, recv: string): OptionalKind<MethodDeclarationStructure>[] {
  f.use(RT, "AsyncQueue");
  f.use(RT, "SubmitOptions", true);
  return [
    {
      name: "submit",
      docs: [docText(`Queues one ${send} and resolves with its ${recv}, decoded. Submissions of one tick share one doorbell; a full ring makes it wait for room (BackpressureError past async.maxWaiters). Rejects with the encoder's refusal, TimeoutError, the signal's reason, or QueueClosedError on release/reset/close.`, q.source)],
      parameters: [
        { name: "init", type: `${send}Init` },
        { name: "options", type: "SubmitOptions", hasQuestionToken: true },
      ],
      returnType: `Promise<${recv}Data>`,
      statements: [`return this.async.submit(${send}.encode, init, options);`],
    },
    {
      name: "completions",
      docs: [docText(`Every ${recv} from now on, decoded, in completion order; ends when the queue is released or its device reset or closed.`, q.source)],
      returnType: `AsyncIterableIterator<${recv}Data>`,
      statements: ["return this.async.completions();"],
    },
  ];
}

function deviceClass(ctx: EmitContext, f: TsFile): OptionalKind<ClassDeclarationStructure> & { kind: StructureKind.Class } {
  const m = ctx.model;
  f.use(RT, "Device");
  f.use(RT, "DeviceOptions", true);
  f.use(RT, "DmaBuffer", true);
  f.use(RT, "DmaResolver", true);
  const name = clientClassName(ctx);
  const props = m.regions.map((r) => {
    f.use("./registers.ts", regionClassName(r));
    return { name: regionMemberName(r.name), isReadonly: true, type: regionClassName(r), docs: [docText(`Registers of ${r.name}.`, r.source, `region ${r.name}`)] };
  });
  const methods: OptionalKind<MethodDeclarationStructure>[] = [
    {
      name: "open",
      isStatic: true,
      isAsync: true,
      docs: [docText(`Opens a ${m.name} on the sim or vfio backend (default from WD_BACKEND / WD_DEVICE).`, m.source)],
      parameters: [{ name: "options", type: "DeviceOptions", hasQuestionToken: true }],
      returnType: `Promise<${name}>`,
      statements: [`return new ${name}(await Device.open(spec, options));`],
    },
    {
      name: "alloc",
      docs: [docText("Page-aligned zeroed DMA memory shared with the device.", m.source)],
      parameters: [
        { name: "size", type: "number" },
        { name: "name", type: "string", hasQuestionToken: true },
      ],
      returnType: "DmaBuffer",
      statements: ["return this.device.alloc(size, name);"],
    },
  ];
  if (m.queues.length > 0) {
    f.use(RT, "QueueOptions", true);
    for (const q of m.queues) {
      methods.push({
        name: "requestQueue",
        kind: StructureKind.Method,
        docs: [docText(`Opens queue ${q.name}${q.kind !== "index-ring" && q.instances.first !== q.instances.last ? ` (ids ${q.instances.first}..${q.instances.last})` : q.kind === "sq-cq" ? ` (ids ${q.instances.first}..${q.instances.last})` : ""}.`, q.source, `queue ${q.name}`)],
        parameters: [
          { name: "name", type: str(q.name) },
          { name: "options", type: "QueueOptions", hasQuestionToken: true },
        ],
        returnType: queueClassName(q),
      });
    }
    // ts-morph prints overloads from `overloads`; the implementation is the last declaration.
    const impl = methods.splice(methods.length - m.queues.length);
    const union = m.queues.map((q) => queueClassName(q)).join(" | ");
    const cases = m.queues.map((q) => {
      const rt = runtimeQueueClass(q);
      return `case ${str(q.name)}:\n  return new ${queueClassName(q)}(this.device.requestQueue(name, options) as ${rt});`;
    });
    methods.push({
      name: "requestQueue",
      docs: [docText("Opens one of the device's queues, typed by name.", m.source)],
      // One queue needs no overloads: the signature below is already exact.
      overloads: impl.length > 1 ? impl.map((o) => ({ docs: o.docs, parameters: o.parameters, returnType: o.returnType })) : [],
      parameters: [
        { name: "name", type: m.queues.map((q) => str(q.name)).join(" | ") },
        { name: "options", type: "QueueOptions", hasQuestionToken: true },
      ],
      returnType: union,
      statements: [
        `switch (name) {\n${cases.map((c) => c.split("\n").map((l) => `  ${l}`).join("\n")).join("\n")}\n}`,
        "// Any other name (plain JavaScript): the runtime refuses it, naming the queues there are.",
        "return this.device.requestQueue(name, options) as never;",
      ],
    });
  }
  methods.push(
    { name: "close", docs: [docText("Releases queues, frees shared memory and closes the device. Idempotent.", m.source)], returnType: "void", statements: ["this.device.close();"] },
    { name: "[Symbol.dispose]", docs: [docText("close() on scope exit (`using dev = await ...open()`).", m.source)], returnType: "void", statements: ["this.close();"] },
  );
  return {
    kind: StructureKind.Class,
    isExported: true,
    name,
    docs: [docText(`${m.title}: the typed client.${m.doc ? ` ${m.doc}` : ""}`, m.source, `device ${m.name}`)],
    properties: [{ name: "device", isReadonly: true, type: "Device", docs: [docText("The runtime device (regions, IRQs, DMA, reset).", m.source)] }, ...props],
    ctors: [
      {
        docs: [docText(`Wraps an opened Device whose spec is this package's spec.`, m.source)],
        parameters: [{ name: "device", type: "Device" }],
        statements: ["this.device = device;", ...m.regions.map((r) => `this.${regionMemberName(r.name)} = new ${regionClassName(r)}(device.region(${str(r.name)}).io, device.dma);`)],
      },
    ],
    getAccessors: [
      { name: "dma", returnType: "DmaResolver", docs: [docText("Checks and translates DmaRefs for this device.", m.source)], statements: ["return this.device.dma;"] },
      ...(m.virtio === undefined ? [] : [virtioGetter(ctx, f)]),
    ],
    methods,
  };
}

/** `virtio`: the device's virtio transport (negotiate, driverOk, configuration reads). */
function virtioGetter(ctx: EmitContext, f: TsFile) {
  f.use(RT, "VirtioTransport", true);
  return {
    name: "virtio",
    returnType: "VirtioTransport",
    docs: [docText("The virtio transport: negotiate() features, then request the queues, then driverOk(); readConfig() reads the device configuration consistently.", ctx.model.virtio!.source, "virtio")],
    statements: ["return this.device.virtio;"],
  };
}
