// The virtio parts of a package: a virtq-split queue's typed wrapper (client.ts), its spec literal,
// capability-located regions and the `virtio` block (spec.ts).
// A virtqueue request is a chain, not one entry: the wrapper takes the header struct's fields and
// the data buffers ({ ref, writable }) and hands both to the runtime's chain encoder, which writes
// the header into the slot and adds each buffer (checked and pinned like every DMA field). A
// completion is the used length and the footer struct, decoded.
import { StructureKind, type ClassDeclarationStructure, type MethodDeclarationStructure, type OptionalKind } from "ts-morph";
import type { DeviceModel, RegionModel, VirtqSplitQueueModel } from "../model.ts";
import { constStatement, objectLiteral, type TsFile } from "./ts.ts";
import { camel, docText, hex, str, type EmitContext } from "./util.ts";

const RT = "@warpdrive/runtime";

function chainName(q: VirtqSplitQueueModel): string {
  return `${camel(q.name)}Chain`;
}
function doneName(q: VirtqSplitQueueModel): string {
  return `${camel(q.name)}Done`;
}

/** The spec's queue entry: sizes of header and footer, segments, vector. */
export function virtqLiteral(q: VirtqSplitQueueModel): string {
  const irq = q.interruptDef;
  return objectLiteral([
    `kind: "virtq-split",`,
    `name: ${str(q.name)},`,
    `first: ${q.instances.first},`,
    `last: ${q.instances.last},`,
    `size: ${q.size},`,
    `header: ${q.headerDef?.size ?? 0},${q.header === undefined ? "" : ` // ${q.header}`}`,
    `footer: ${q.footerDef?.size ?? 0},${q.footer === undefined ? "" : ` // ${q.footer}`}`,
    `segments: ${q.segments},`,
    ...(irq === undefined ? [] : [`interrupt: ${irq.index}, // ${irq.name}`]),
  ]);
}

/** `capability: { cfgType, multiplier }` of a capability-located region, for its spec entry. */
export function capabilityLiteral(r: RegionModel): string {
  if (r.capability === undefined) return "";
  return `, capability: { cfgType: ${r.capability.cfgType}${r.capability.multiplier ? ", multiplier: true" : ""} }`;
}

/** `virtio: { deviceType, common, notify, isr, config }`. */
export function virtioLiteral(m: DeviceModel): string[] {
  const v = m.virtio;
  if (v === undefined) return [];
  const parts = [`deviceType: ${v.deviceType}`, `common: ${str(v.common)}`, `notify: ${str(v.notify)}`];
  if (v.isr !== undefined) parts.push(`isr: ${str(v.isr)}`);
  if (v.config !== undefined) parts.push(`config: ${str(v.config)}`);
  return [`virtio: { ${parts.join(", ")} },`];
}

/** Module-level helpers of one virtq-split queue: its chain encoder and its completion decoder. */
function helpers(f: TsFile, q: VirtqSplitQueueModel): void {
  f.use(RT, "chainEncoder");
  f.use(RT, "Queue", true);
  f.use(RT, "VirtqDone", true);
  const h = q.header;
  const footer = q.footer;
  if (h !== undefined) {
    f.use("./structs.ts", h);
    f.use("./structs.ts", `${h}Init`, true);
  }
  if (footer !== undefined) {
    f.use("./structs.ts", footer);
    f.use("./structs.ts", `${footer}Data`, true);
  }
  f.add(
    constStatement(
      docText(`Encodes one request of ${q.name}: ${h === undefined ? "no header" : `the ${h} header`}, then its data buffers.`, q.source),
      chainName(q),
      h === undefined ? "chainEncoder<never>(undefined)" : `chainEncoder<${h}Init>(${h}.encode)`,
      false,
    ),
  );
  const footerType = footer === undefined ? "undefined" : `${footer}Data`;
  f.add(
    constStatement(
      docText(`The finished request the queue just took: its tag, the used length${footer === undefined ? "" : ` and the ${footer} footer, decoded`}.`, q.source),
      doneName(q),
      `(q: Queue, tag: number): VirtqDone<${footerType}> => ({ tag, length: q.completionStatus, footer: ${footer === undefined ? "undefined" : `${footer}.decode(q.completionView, q.completionOffset)`} })`,
      false,
    ),
  );
}

/** The typed wrapper of a virtq-split queue. */
export function virtqQueueClass(ctx: EmitContext, f: TsFile, q: VirtqSplitQueueModel, className: string): OptionalKind<ClassDeclarationStructure> & { kind: StructureKind.Class } {
  helpers(f, q);
  f.use(RT, "VirtqSplitQueue", true);
  f.use(RT, "VirtqBuffer", true);
  f.use(RT, "AsyncQueue");
  f.use(RT, "SubmitOptions", true);
  const h = q.header;
  const footerType = q.footer === undefined ? "undefined" : `${q.footer}Data`;
  const done = `VirtqDone<${footerType}>`;
  const params = [
    ...(h === undefined ? [] : [{ name: "header", type: `${h}Init` }]),
    { name: "buffers", type: "readonly VirtqBuffer[]", initializer: h === undefined ? undefined : "[]" },
  ];
  const req = h === undefined ? "{ buffers }" : "{ header, buffers }";
  const what = `${h === undefined ? "" : `a ${h} header, `}up to ${q.segments} data buffer${q.segments === 1 ? "" : "s"} (device-readable ones first)${q.footer === undefined ? "" : ` and the ${q.footer} footer the device writes`}`;
  const sendBody = (tryOnly: boolean) => [
    "const q = this.queue;",
    tryOnly ? "const at = q.tryReserve();\nif (at < 0) return -1;" : "const at = q.reserve();",
    `try {\n  ${chainName(q)}(q.view, at, ${req}, q);\n} catch (e) {\n  throw q.cancel(e);\n}`,
    "return q.publish();",
  ];
  const methods: OptionalKind<MethodDeclarationStructure>[] = [
    {
      name: "send",
      docs: [docText(`Queues one request: ${what}; returns its tag. Not visible to the device until flush/recv. Throws QueueFullError when full; a refused request leaves the queue as it was.`, q.source)],
      parameters: params,
      returnType: "number",
      statements: sendBody(false),
    },
    {
      name: "trySend",
      docs: [docText("Like send, but returns -1 when the queue is full.", q.source)],
      parameters: params,
      returnType: "number",
      statements: sendBody(true),
    },
    {
      name: "recv",
      docs: [docText("The next finished request (tag, used length, footer), or null; never blocks. Publishes pending sends first.", q.source)],
      returnType: `${done} | null`,
      statements: ["const q = this.queue;", "q.flush();", "const tag = q.take();", `return tag < 0 ? null : ${doneName(q)}(q, tag);`],
    },
    {
      name: "recvSync",
      docs: [docText("Waits up to `timeoutMs` for the next finished request; throws TimeoutError.", q.source)],
      parameters: [{ name: "timeoutMs", type: "number" }],
      returnType: done,
      statements: ["const q = this.queue;", `return ${doneName(q)}(q, q.takeSync(timeoutMs));`],
    },
    {
      name: "submit",
      docs: [docText("Queues one request and resolves when the device used it. Submissions of one tick share one notification; rejects with the refusal, TimeoutError, the signal's reason, or QueueClosedError.", q.source)],
      parameters: [...params.map((p) => ({ ...p, initializer: undefined })), { name: "options", type: "SubmitOptions", hasQuestionToken: true }],
      returnType: `Promise<${done}>`,
      statements: [`return this.async.submit(${chainName(q)}, ${req}, options);`],
    },
    {
      name: "completions",
      docs: [docText("Every finished request from now on, in completion order; ends when the queue is released or its device reset or closed.", q.source)],
      returnType: `AsyncIterableIterator<${done}>`,
      statements: ["return this.async.completions();"],
    },
    { name: "flush", docs: [docText("Publishes pending sends and notifies the device once for the batch (when it asked to be).", q.source)], returnType: "void", statements: ["this.queue.flush();"] },
    { name: "release", docs: [docText("Gives the queue back; later use throws. The device keeps the rings until it is reset.", q.source)], returnType: "void", statements: ["this.queue.release();"] },
    {
      name: "[Symbol.dispose]",
      docs: [docText("release() on scope exit, unless release(), reset() or close() already did.", q.source)],
      returnType: "void",
      statements: ["if (!this.queue.released) this.release();"],
    },
  ];
  return {
    kind: StructureKind.Class,
    isExported: true,
    name: className,
    docs: [docText(`Queue ${q.name} (virtq-split): each request is ${what}.${q.doc ? ` ${q.doc}` : ""}`, q.source, `queue ${q.name}`)],
    properties: [
      { name: "queue", isReadonly: true, type: "VirtqSplitQueue", docs: [docText("The runtime queue underneath (size, depth, inFlight, the ring buffer).", q.source)] },
      { name: "#async", type: `AsyncQueue<${done}> | undefined`, docs: [docText("The async layer, made on first use of submit/completions.", q.source)] },
    ],
    ctors: [{ docs: [docText(`Wraps a runtime queue opened for ${q.name}.`, q.source)], parameters: [{ name: "queue", type: "VirtqSplitQueue" }], statements: ["this.queue = queue;"] }],
    getAccessors: [
      { name: "inFlight", returnType: "number", docs: [docText("Requests sent and not yet received.", q.source)], statements: ["return this.queue.inFlight;"] },
      {
        name: "async",
        returnType: `AsyncQueue<${done}>`,
        docs: [docText("The queue's async layer (made on first use): from then on the queue is async only.", q.source)],
        statements: [`return (this.#async ??= new AsyncQueue<${done}>(this.queue, { decode: ${doneName(q)} }));`],
      },
    ],
    methods,
  };
}

/** README lines for the virtio block. */
export function virtioReadme(m: DeviceModel): string[] {
  const v = m.virtio;
  if (v === undefined) return [];
  const regions = [`common \`${v.common}\``, `notify \`${v.notify}\``, ...(v.isr ? [`ISR \`${v.isr}\``] : []), ...(v.config ? [`device configuration \`${v.config}\``] : [])];
  return ["", "## Virtio", "", `Virtio device type ${v.deviceType} (modern PCI device id ${hex(0x1040 + v.deviceType, 4)}). Transport structures: ${regions.join(", ")}.`, `Open, then \`dev.virtio.negotiate({ wanted })\`, request the queues, \`dev.virtio.driverOk()\`.`];
}
