// `wd new <name>`: the starting point for describing new hardware. Writes into `dir` (normally the
// repository's devices/):
//   <name>.yaml           a commented, valid description of a small memcpy-style engine: one shared
//                         queue page with producer/consumer indices, a descriptor ring, a doorbell,
//                         an interrupt and one command; every section is there to be edited
//   <name>/               the driver package @warpdrive/<name>, written by hand on top of the
//                         generated package @warpdrive/<name>-generated:
//     package.json        its name, exports and dependencies
//     index.ts            re-exports the generated package and the behaviour
//     behavior.ts         a helper class over the generated client (open, copy, wait)
//     model.ts            a sim model that already works (it copies), to be replaced by the device's
//                         real behaviour
// so that `wd validate`, `wd generate` and a first sim run all work before anything was changed,
// and each later edit can be checked the same way. Nothing is ever overwritten.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pascalCase } from "./dsl.ts";
import { projectRoot, RUNTIME_RANGE, runtimeIsWorkspaceMember, SCHEMA_FILE } from "./project.ts";

/** The schema's device-name rule (generator/schema/device.schema.json, `device`). */
export const DEVICE_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Names already taken by the SDK's own packages (@warpdrive/runtime, @warpdrive/generator, ...). */
const RESERVED = new Set(["runtime", "generator", "bench", "warpdrive"]);

/** Where installing @warpdrive/generator into a project puts its schema, relative to the project. */
const INSTALLED_SCHEMA = "node_modules/@warpdrive/generator/schema/device.schema.json";

/** A scaffold that cannot be written: bad name, or a file that is already there. */
export class ScaffoldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScaffoldError";
  }
}

/** Why `name` cannot be a device name, or undefined when it can. */
export function checkDeviceName(name: string): string | undefined {
  if (!DEVICE_NAME.test(name)) {
    return `"${name}" is not a device name: use kebab-case, lower-case letters and digits in dash-separated words starting with a letter (e.g. "my-accel")`;
  }
  if (RESERVED.has(name)) return `"${name}" is taken by an SDK package (@warpdrive/${name}); choose another name`;
  if (name.endsWith("-generated")) return `"${name}" ends in -generated, the suffix of every device's generated package; choose another name`;
  return undefined;
}

/**
 * Writes `<dir>/<name>.yaml` and the driver package `<dir>/<name>/` (package.json, index.ts,
 * behavior.ts, model.ts); returns their paths. Throws ScaffoldError for a bad name or when any of
 * them exists (nothing is written then: it checks them all first).
 */
export function scaffoldDevice(name: string, dir: string): string[] {
  const bad = checkDeviceName(name);
  if (bad !== undefined) throw new ScaffoldError(bad);
  const yaml = join(dir, `${name}.yaml`);
  const pkg = join(dir, name, "package.json");
  const index = join(dir, name, "index.ts");
  const behavior = join(dir, name, "behavior.ts");
  const model = join(dir, name, "model.ts");
  const existing = [yaml, pkg, index, behavior, model].filter((p) => existsSync(p));
  if (existing.length > 0) {
    throw new ScaffoldError(`refusing to overwrite ${existing.join(", ")}: remove ${existing.length === 1 ? "it" : "them"} first, or choose another name`);
  }
  const files: [string, string][] = [
    [yaml, yamlTemplate(name, schemaReference(dir).reference)],
    [pkg, driverPackageJson(name, runtimeIsWorkspaceMember(resolve(dir)) ? "workspace:*" : RUNTIME_RANGE)],
    [index, indexTemplate(name)],
    [behavior, behaviorTemplate(name)],
    [model, modelTemplate(name)],
  ];
  for (const [path, text] of files) {
    mkdirSync(dirname(path), { recursive: true });
    // "wx": fail rather than clobber a file that appeared since the check above
    writeFileSync(path, text, { flag: "wx" });
  }
  return files.map(([p]) => p);
}

/**
 * The `$schema` reference of a description written into `dir`: always a path relative to the file,
 * so that it means the same in every clone of the user's project and names nothing of this machine.
 * It is the schema of this very generator when that lies inside the same project (the SDK's own
 * checkout, or a project that installed @warpdrive/generator), else where installing the generator
 * into that project will put it. `found` says whether the file is there now.
 */
export function schemaReference(dir: string): { reference: string; found: boolean } {
  const abs = resolve(dir);
  const root = projectRoot(abs);
  const inside = SCHEMA_FILE.startsWith(root === sep ? root : root + sep);
  const target = inside ? SCHEMA_FILE : join(root, INSTALLED_SCHEMA);
  return { reference: relative(abs, target).split("\\").join("/"), found: existsSync(target) };
}

function yamlTemplate(name: string, schema: string): string {
  return `# yaml-language-server: $schema=${schema}
#
# ${name}: a starter description written by \`wd new\`. It describes a small, complete device (a
# memcpy engine behind one descriptor ring, like the SDK's wd-dummy) so that everything works
# before you change anything:
#   bunx wd validate <this file>
#   bunx wd generate <this file> [--out DIR]     # the package @warpdrive/${name}-generated
#   bunx wd generate --watch                     # again on every save
# Then replace it, section by section, with what your datasheet says. warpdrive's docs/dsl.md is
# the reference (the SDK's nvme description shows submission/completion queue pairs with a phase bit).
device: ${name}
title: ${name} accelerator
version: 0.1.0
doc: >
  What the device does, in a sentence or two: this text becomes the package's README and doc comments.

# PCI ids the client drives over vfio (lspci -nn shows them as [vendor:device]). 0x1234 is QEMU's
# vendor id, used here as a placeholder: put your device's ids.
match:
  pci:
    - { vendor: 0x1234, device: 0x0001 }

# Named numbers: exported as TypeScript constants.
constants:
  RING_DEPTH: { value: 64, doc: Descriptors in the ring (a power of two). }
  RING_OFFSET: { value: 0x100, doc: Offset of the descriptor ring in the queue page. }
  MAX_LENGTH: { value: 0x100000, doc: Largest transfer one descriptor may ask for (1 MiB). }
  DEVICE_ID: { value: 0x00010001, doc: What the id register reads. }

# Enums type struct fields and register fields (values the device defines).
enums:
  DescStatus:
    doc: What the device writes back into a descriptor.
    values:
      PENDING: { value: 0, doc: Not processed yet (the host queues descriptors with this). }
      DONE: { value: 1, doc: Completed. }
      DMA_FAULT: { value: 2, doc: An address is not memory shared with the device. }
      BAD_LENGTH: { value: 3, doc: "length is 0 or above MAX_LENGTH." }

# Register files. kind mmio = device memory (a PCI BAR; index n is BAR n); kind ram = an ordinary
# page shared with the device. Registers: offset, width (8/16/32/64), access (ro wo rw w1c w1s rc),
# reset, and bit fields ("msb:lsb").
regions:
  queue:
    kind: ram
    index: 0
    size: 0x1000
    doc: The queue page shared by host and device.
    registers:
      id:
        offset: 0x00
        access: ro
        reset: 0x00010001
        doc: Device identification (DEVICE_ID).
        fields:
          minor: { bits: "15:0" }
          major: { bits: "31:16" }
      head:
        offset: 0x04
        access: rw
        reset: 0
        doc: Producer index; the host advances it after writing descriptors.
      tail:
        offset: 0x08
        access: ro
        reset: 0
        doc: Consumer index; the device advances it after finishing descriptors.
      doorbell:
        offset: 0x0c
        access: wo
        doc: The host writes the new head here to tell the device there is work.

# Byte layouts of what goes through the rings. dma-address fields take memory shared with the device.
structs:
  Descriptor:
    size: 32
    doc: One request; the device writes status when it is done.
    fields:
      src: { offset: 0, type: dma-address, extent: length, direction: to-device, doc: Bus address to read from. }
      dst: { offset: 8, type: dma-address, extent: length, direction: from-device, doc: Bus address to write to. }
      length: { offset: 16, type: u32, doc: "Bytes to move: 1 to MAX_LENGTH." }
      status: { offset: 20, type: u32, enum: DescStatus, doc: Written by the device. }
      cookie: { offset: 24, type: u32, doc: Free for the host; the device leaves it alone. }

# Rings between host and device. index-ring: producer/consumer indices (this one); sq-cq: NVMe-style
# submission/completion pairs with a phase bit.
queues:
  cmd:
    kind: index-ring
    doc: The request ring.
    entry: Descriptor
    depth: 64
    ring: { region: queue, offset: 0x100 }
    producer: queue.head
    consumer: queue.tail
    doorbell: queue.doorbell
    done: { field: status, pending: 0 }
    interrupt: done

# Named requests: typed methods on the queue (cmd.copy({ src, dst, length })).
commands:
  copy:
    queue: cmd
    doc: Copies length bytes from src to dst.
    params:
      src: { field: src }
      dst: { field: dst }
      length: { field: length }

interrupts:
  done:
    index: 0
    kind: msi
    doc: Raised once after the device finished a batch of descriptors.
`;
}

/**
 * The driver package's package.json: `.` is index.ts, `./model` the sim model (the generated spec
 * names it as `@warpdrive/<name>/model`). The generated package is a sibling workspace.
 */
export function driverPackageJson(name: string, runtimeDependency: string): string {
  const pkg = {
    name: `@warpdrive/${name}`,
    version: "0.1.0",
    description: `${name}: driver on top of the generated @warpdrive/${name}-generated`,
    type: "module",
    exports: { ".": "./index.ts", "./model": "./model.ts" },
    types: "./index.ts",
    files: ["index.ts", "behavior.ts", "model.ts"],
    dependencies: { [`@warpdrive/${name}-generated`]: "workspace:*", "@warpdrive/runtime": runtimeDependency },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

function indexTemplate(name: string): string {
  return `// @warpdrive/${name}: the generated package (client, registers, structs, commands, spec) and the
// behaviour written by hand on top of it. The sim model is reached as @warpdrive/${name}/model.
export * from "@warpdrive/${name}-generated";
export * from "./behavior.ts";
`;
}

function behaviorTemplate(name: string): string {
  const P = pascalCase(name);
  return `// ${name}: what a program does with the device beyond single register accesses, on top of the
// generated client (@warpdrive/${name}-generated). Written by \`wd new\` for the starter description;
// keep the shape (a class that opens the device and offers its operations) and replace the
// operations. index.ts re-exports it: applications import it from @warpdrive/${name}.
import { WarpDriveError, type DeviceOptions, type DmaRef } from "@warpdrive/runtime";
import { ${P}Device, type CmdQueue } from "@warpdrive/${name}-generated/client";
import { DEVICE_ID } from "@warpdrive/${name}-generated/constants";
import { DescStatus } from "@warpdrive/${name}-generated/enums";

export class ${P} {
  readonly client: ${P}Device;
  readonly cmd: CmdQueue;

  private constructor(client: ${P}Device) {
    this.client = client;
    this.cmd = client.requestQueue("cmd");
  }

  /** Opens the device (sim backend by default, see DeviceOptions) and checks that it is one. */
  static async open(options?: DeviceOptions): Promise<${P}> {
    const client = await ${P}Device.open(options);
    try {
      const id = client.queue.id.read();
      if (id !== DEVICE_ID) {
        throw new WarpDriveError(\`\${client.device.address} does not look like ${name}: id reads 0x\${id.toString(16)}\`);
      }
      return new ${P}(client);
    } catch (e) {
      client.close();
      throw e;
    }
  }

  /** Copies src to dst (both memory shared with the device, same length) and waits for it. */
  copy(src: DmaRef, dst: DmaRef, timeoutMs = 5000): void {
    if (src.length !== dst.length) throw new RangeError(\`copy: src has \${src.length} bytes, dst \${dst.length}\`);
    this.cmd.copy({ src, dst, length: src.length });
    const done = this.cmd.recvSync(timeoutMs);
    if (done.status !== DescStatus.DONE) {
      throw new WarpDriveError(\`${name} copy failed with status \${done.status}\`);
    }
  }

  close(): void {
    this.client.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
`;
}

function modelTemplate(name: string): string {
  return `// ${name}: the sim model, the device's behaviour in TypeScript (@warpdrive/runtime/sim/model has the
// rules). Written by \`wd new\` for the starter description: it copies, one descriptor at a time,
// so the package runs end to end on the sim backend from the start. Replace the work in run()
// with what your device does. The generated spec names it as @warpdrive/${name}/model, and the
// runtime loads it in a Worker for \`backend: "sim"\`.
import { defineModel, DmaFault, type ModelContext, type ModelRegion, type RegisterWatch } from "@warpdrive/runtime/sim/model";
import { DEVICE_ID, MAX_LENGTH, RING_DEPTH, RING_OFFSET } from "@warpdrive/${name}-generated/constants";
import { DescStatus } from "@warpdrive/${name}-generated/enums";
import { QueueOffsets } from "@warpdrive/${name}-generated/registers";
import { Descriptor } from "@warpdrive/${name}-generated/structs";

interface State {
  q: ModelRegion;
  doorbell: RegisterWatch<number>;
  /** Next descriptor to process: the device's own counter, never read back from the page. */
  tail: number;
  /** Producer index seen at the last doorbell. */
  target: number;
}

function powerOn(ctx: ModelContext): State {
  const q = ctx.region("queue");
  q.write32(QueueOffsets.id, DEVICE_ID); // reset values: regions start zeroed
  return { q, doorbell: ctx.watch("queue", QueueOffsets.doorbell), tail: 0, target: 0 };
}

/** A little-endian 64-bit bus address (exact below 2^53, which covers every IOVA). */
function address(q: ModelRegion, at: number): number {
  return q.read32(at + 4) * 0x100000000 + q.read32(at);
}

/** The work of one descriptor at byte \`at\` of the queue page; returns its status. */
function run(ctx: ModelContext, q: ModelRegion, at: number): DescStatus {
  const length = q.read32(at + Descriptor.LAYOUT.length.offset);
  if (length === 0 || length > MAX_LENGTH) return DescStatus.BAD_LENGTH;
  try {
    const src = ctx.dma.view(address(q, at + Descriptor.LAYOUT.src.offset), length);
    ctx.dma.write(address(q, at + Descriptor.LAYOUT.dst.offset), src);
    return DescStatus.DONE;
  } catch (e) {
    // memory the process did not share: report it the way the device would
    if (e instanceof DmaFault) return DescStatus.DMA_FAULT;
    throw e;
  }
}

export default defineModel<State>({
  name: "${name}",
  init: powerOn,
  reset: (ctx) => powerOn(ctx),
  poll(ctx, s) {
    if (s.doorbell.changed()) s.target = s.q.read32(QueueOffsets.head);
    if (s.tail === s.target) return false;
    while (s.tail !== s.target) {
      const at = RING_OFFSET + (s.tail % RING_DEPTH) * Descriptor.SIZE;
      // status last: it is what the host polls
      s.q.write32(at + Descriptor.LAYOUT.status.offset, run(ctx, s.q, at));
      s.tail = (s.tail + 1) >>> 0;
    }
    s.q.write32(QueueOffsets.tail, s.tail);
    ctx.raise("done");
    return true;
  },
});
`;
}
