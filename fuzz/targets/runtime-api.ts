// Runtime-API fuzzer: the public entry points of the runtime and of generated clients, called the
// way an untyped caller could call them. Each input is a short list of calls; each argument is a
// "shape" (JSON, so a failing input can be saved and replayed): a good value for that argument, or
// undefined, null, strings, numeric strings, BigInt, NaN, ±Infinity, 2^53, -0, booleans, symbols,
// functions, arrays, objects with getters or a valueOf that answers differently on each call,
// frozen objects, and Proxies that count their reads.
//
// Properties checked after every call and input:
//   1. nothing crashes or hangs (the engine's watchdog);
//   2. a thrown error is one of ours (WarpDriveError and its kinds) or a TypeError/RangeError whose
//      message says which argument (`<arg> must be ...`); an argument of the wrong type must be
//      refused, and a non-integer number where an integer belongs too (no silent coercion);
//   3. nothing is coerced: no valueOf/toString/toPrimitive of the caller's objects runs, and no
//      property of the caller's objects is read more than once;
//   4. a refused call wrote nothing (the registers and the scratch area it could reach are
//      unchanged);
//   5. nothing leaked: DMA buffers, memfd register files and their mappings, eventfds;
//   6. the devices still work: a good copy through the wd-dummy queue completes and is correct, and
//      an edu register still answers.
// The devices (a wd-dummy and an edu on the sim backend) are opened once per fuzz worker.
import { Device, DmaBuffer, WarpDriveError, type IndexRingQueue } from "@warpdrive/runtime";
import { QemuEduDevice } from "@warpdrive/qemu-edu";
import { DescStatus, type CmdQueue, spec as wdSpec, WdDummyDevice } from "@warpdrive/wd-dummy";
import { ourFdCount, ourMapLines } from "../../test/helpers/proc.ts";
import type { Rng } from "../prng.ts";

// ---- shapes ------------------------------------------------------------------------------------

/** A JSON description of an argument value. */
export type Shape =
  | { t: "good" }
  | { t: "undef" }
  | { t: "null" }
  | { t: "num"; v: number | "NaN" | "Infinity" | "-Infinity" | "-0" }
  | { t: "str"; v: string }
  | { t: "big"; v: string }
  | { t: "bool"; v: boolean }
  | { t: "sym" }
  | { t: "fn" }
  | { t: "arr" }
  /** An object whose valueOf/toString/Symbol.toPrimitive answer seq[0], seq[1], ... (last repeats). */
  | { t: "valueOf"; seq: Shape[] }
  /** An object with these properties: plain, frozen, behind a Proxy, or as getters whose answers change. */
  | { t: "obj"; props: Record<string, Shape[]>; wrap: "plain" | "frozen" | "proxy" | "getters" };

/** What an argument is: decides its good value and which shapes are of the wrong type. */
type Kind = "int" | "optInt" | "number" | "bigint" | "string" | "optString" | "options" | "object" | "fn" | "buffer";

interface ArgSpec {
  name: string;
  kind: Kind;
  /** Numbers to try instead of the general pool (offsets that must not land on a live register). */
  nums?: readonly Extract<Shape, { t: "num" }>["v"][];
  /** Property names an object of this argument may have (options, request fields, register fields). */
  keys?: readonly string[];
}

/** Reads and coercions of the caller's objects during one call. */
interface Audit {
  reads: Map<string, number>;
  coerced: string[];
}

function num(v: Extract<Shape, { t: "num" }>["v"]): number {
  return v === "NaN" ? NaN : v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : v === "-0" ? -0 : v;
}

/** The JavaScript value of a shape; `good` builds the argument's good value, `audit` records reads. */
function materialize(s: Shape, good: () => unknown, audit: Audit, path: string, goodProp: (key: string) => unknown): unknown {
  switch (s.t) {
    case "good": return good();
    case "undef": return undefined;
    case "null": return null;
    case "num": return num(s.v);
    case "str": return s.v;
    case "big": return BigInt(s.v);
    case "bool": return s.v;
    case "sym": return Symbol("fuzz");
    case "fn": return () => 0;
    case "arr": return [1, 2, 3];
    case "valueOf": {
      let i = 0;
      const next = () => {
        audit.coerced.push(path);
        const v = materialize(s.seq[Math.min(i++, s.seq.length - 1)]!, good, audit, path, goodProp);
        return typeof v === "object" && v !== null ? 0 : v;
      };
      return { valueOf: next, toString: () => String(next()), [Symbol.toPrimitive]: next };
    }
    case "obj": {
      const target: Record<string, unknown> = {};
      for (const [k, seq] of Object.entries(s.props)) {
        const at = `${path}.${k}`;
        const values = seq.map((x) => materialize(x, () => goodProp(k), audit, at, goodProp));
        if (s.wrap === "getters") {
          let i = 0;
          Object.defineProperty(target, k, {
            enumerable: true,
            get() {
              audit.reads.set(at, (audit.reads.get(at) ?? 0) + 1);
              return values[Math.min(i++, values.length - 1)];
            },
          });
        } else target[k] = values[0];
      }
      if (s.wrap === "frozen") return Object.freeze(target);
      if (s.wrap === "proxy") {
        return new Proxy(target, {
          get(t, k, r) {
            if (typeof k === "string") audit.reads.set(`${path}.${k}`, (audit.reads.get(`${path}.${k}`) ?? 0) + 1);
            return Reflect.get(t, k, r);
          },
        });
      }
      return target;
    }
  }
}

/** The type a shape has in JavaScript ("good" takes the argument's own type). */
function typeOfShape(s: Shape): string {
  switch (s.t) {
    case "undef": return "undefined";
    case "null": return "null";
    case "num": return "number";
    case "str": return "string";
    case "big": return "bigint";
    case "bool": return "boolean";
    case "sym": return "symbol";
    case "fn": return "function";
    case "arr": return "array";
    case "valueOf": case "obj": return "object";
    case "good": return "good";
  }
}

/** True when the shape cannot be a valid value of `kind` whatever the range: the call must refuse it. */
function mustRefuse(kind: Kind, s: Shape): boolean {
  const t = typeOfShape(s);
  if (t === "good") return false;
  const nonInteger = s.t === "num" && !Number.isInteger(num(s.v));
  switch (kind) {
    case "int": return t !== "number" || nonInteger;
    case "optInt": return (t !== "number" && t !== "undefined") || nonInteger;
    case "number": return t !== "number" || (s.t === "num" && Number.isNaN(num(s.v)));
    case "bigint": return t !== "bigint";
    case "string": return t !== "string";
    case "optString": return t !== "string" && t !== "undefined";
    case "options": return t !== "object" && t !== "undefined";
    case "object": return t !== "object";
    case "fn": return t !== "function";
    case "buffer": return true; // only the good value (our buffer, our device) is one of ours
  }
}

// ---- the entry points --------------------------------------------------------------------------

export interface World {
  wd: WdDummyDevice;
  dev: Device;
  cmd: CmdQueue;
  edu: QemuEduDevice;
  /** Copy source/destination for the health check, and a buffer shared for share/unshare/ref. */
  src: DmaBuffer;
  dst: DmaBuffer;
  scratch: DmaBuffer;
  /** Bytes 0x900..0x1000 of the wd-dummy queue page: past the ring, nothing reads them. */
  spare: Uint8Array;
}

const SPARE = 0x900;
/** Offsets for raw io writes: in the spare area, or not valid offsets at all (never the ring or its registers). */
const WRITE_OFFSETS: readonly Extract<Shape, { t: "num" }>["v"][] = [SPARE, SPARE + 8, 0xff8, 0x1000, 0x1004, -4, -1, 1.5, "NaN", "Infinity", "-Infinity", 2 ** 53, 2 ** 32, 0x7fff_0000];

interface Entry {
  name: string;
  args: ArgSpec[];
  /** A good value for argument i (and for property `key` of an object argument). */
  good(w: World, i: number, key?: string): unknown;
  /** The call; may be async (Device.open). Returns something to clean up, or nothing. */
  call(w: World, args: unknown[]): unknown;
  /** Releases what a successful call returned (a device, a buffer, a queue). */
  cleanup?(w: World, result: unknown): void;
  /** State a refused call must leave alone (compared before/after). */
  state?(w: World): string;
  /** Entry points with known failures (see HOT_PATH_ENTRIES): run by `bun run fuzz`, kept out of the bounded run. */
  hotPath?: boolean;
}

const DEVICE_OPTIONS = ["backend", "address", "unified", "iovaLimit"] as const;
const QUEUE_OPTIONS = ["id", "depth", "irq"] as const;
const INIT_FIELDS = ["src", "dst", "size", "cookie", "status"] as const;

const regState = (w: World) => `${w.edu.bar0.liveness.read()} ${w.edu.bar0.dmaCount.read()} ${w.edu.bar0.status.read()}`;
const spareState = (w: World) => Buffer.from(w.spare).toString("hex");

/** A request that copies 64 bytes from src to dst. */
const goodInit = (w: World, key?: string): unknown => {
  const init = { src: w.src.ref(0, 64), dst: w.dst.ref(0, 64), size: 64 } as Record<string, unknown>;
  return key === undefined ? init : init[key];
};

const ENTRIES: Entry[] = [
  {
    name: "Device.open",
    args: [{ name: "spec", kind: "object", keys: ["name"] }, { name: "options", kind: "options", keys: DEVICE_OPTIONS }],
    good: (_w, i, key) => (i === 0 ? wdSpec : key === undefined ? { backend: "sim" } : ({ backend: "sim", unified: false, iovaLimit: 2 ** 40 } as Record<string, unknown>)[key]),
    call: (_w, a) => Device.open(a[0] as never, a[1] as never),
    cleanup: (_w, d) => (d as Device).close(),
  },
  {
    name: "Device.alloc",
    args: [{ name: "size", kind: "int" }, { name: "name", kind: "optString" }],
    good: (_w, i) => (i === 0 ? 4096 : "fuzz"),
    call: (w, a) => w.dev.alloc(a[0] as never, a[1] as never),
    cleanup: (_w, b) => (b as DmaBuffer).free(),
  },
  {
    name: "Device.share",
    args: [{ name: "buffer", kind: "buffer" }],
    good: (w) => w.scratch,
    call: (w, a) => w.dev.share(a[0] as never),
  },
  {
    name: "Device.unshare",
    args: [{ name: "buffer", kind: "buffer" }],
    good: (w) => w.scratch,
    call: (w, a) => w.dev.unshare(a[0] as never),
    cleanup: (w) => w.dev.share(w.scratch), // back to shared for the next input
  },
  {
    name: "Device.requestQueue",
    args: [{ name: "name", kind: "string" }, { name: "options", kind: "options", keys: QUEUE_OPTIONS }],
    good: (_w, i, key) => (i === 0 ? "cmd" : key === undefined ? {} : ({ id: 0, depth: 64 } as Record<string, unknown>)[key]),
    call: (w, a) => w.dev.requestQueue(a[0] as never, a[1] as never),
    cleanup: (_w, q) => (q as IndexRingQueue).release(),
  },
  {
    name: "client.requestQueue",
    args: [{ name: "name", kind: "string" }, { name: "options", kind: "options", keys: QUEUE_OPTIONS }],
    good: (_w, i, key) => (i === 0 ? "cmd" : key === undefined ? {} : ({ id: 0 } as Record<string, unknown>)[key]),
    call: (w, a) => {
      const q = w.wd.requestQueue(a[0] as never, a[1] as never);
      if (q === undefined) throw new FuzzFinding("requestQueue returned undefined instead of throwing");
      return q;
    },
    cleanup: (_w, q) => (q as CmdQueue).release(),
  },
  {
    name: "DmaBuffer.share",
    args: [{ name: "domain", kind: "buffer" }],
    good: (w) => w.dev,
    call: (w, a) => w.scratch.share(a[0] as never),
  },
  {
    name: "Device.region",
    args: [{ name: "name", kind: "string" }],
    good: () => "queue",
    call: (w, a) => w.dev.region(a[0] as never),
  },
  {
    name: "DmaBuffer.ref",
    args: [{ name: "offset", kind: "optInt" }, { name: "length", kind: "optInt" }],
    good: (_w, i) => (i === 0 ? 0 : 64),
    call: (w, a) => w.scratch.ref(a[0] as never, a[1] as never),
  },
  {
    name: "register.write",
    args: [{ name: "value", kind: "int" }],
    good: () => 0x1234,
    call: (w, a) => w.edu.bar0.liveness.write(a[0] as never),
    state: regState,
  },
  {
    name: "register.write64",
    args: [{ name: "value", kind: "bigint" }],
    good: () => 16n,
    call: (w, a) => w.edu.bar0.dmaCount.write(a[0] as never),
    state: regState,
  },
  {
    name: "register.modify",
    args: [{ name: "field", kind: "object", keys: ["irqOnFactorial"] }],
    good: (_w, _i, key) => (key === undefined ? { irqOnFactorial: 0 } : 0),
    call: (w, a) => w.edu.bar0.status.modify(a[0] as never),
    state: regState,
  },
  {
    name: "register.writeFields",
    args: [{ name: "field", kind: "object", keys: ["irqOnFactorial", "computing"] }],
    good: (_w, _i, key) => (key === undefined ? { irqOnFactorial: 1 } : 0),
    call: (w, a) => w.edu.bar0.status.writeFields(a[0] as never),
    state: regState,
  },
  {
    name: "register.get",
    args: [{ name: "field", kind: "string" }],
    good: () => "computing",
    call: (w, a) => w.edu.bar0.status.get(a[0] as never),
  },
  {
    name: "io.write32",
    args: [{ name: "offset", kind: "int", nums: WRITE_OFFSETS }, { name: "value", kind: "int" }],
    good: (_w, i) => (i === 0 ? SPARE + 8 : 0xfeedf00d),
    call: (w, a) => w.dev.region("queue").io.write32(a[0] as never, a[1] as never),
    state: spareState,
  },
  {
    name: "io.write64",
    args: [{ name: "offset", kind: "int", nums: WRITE_OFFSETS }, { name: "value", kind: "bigint" }],
    good: (_w, i) => (i === 0 ? SPARE + 16 : 0x1122334455667788n),
    call: (w, a) => w.dev.region("queue").io.write64(a[0] as never, a[1] as never),
    state: spareState,
  },
  {
    name: "io.read8",
    args: [{ name: "offset", kind: "int" }],
    good: () => SPARE + 3,
    call: (w, a) => w.dev.region("queue").io.read8(a[0] as never),
  },
  {
    name: "queue.send",
    args: [{ name: "request", kind: "object", keys: INIT_FIELDS }], // send(init): errors call it the request
    good: (w, _i, key) => goodInit(w, key),
    call: (w, a) => w.cmd.send(a[0] as never),
  },
  {
    name: "queue.trySend",
    args: [{ name: "request", kind: "object", keys: INIT_FIELDS }], // send(init): errors call it the request
    good: (w, _i, key) => goodInit(w, key),
    call: (w, a) => w.cmd.trySend(a[0] as never),
  },
  {
    name: "runtime queue.send",
    args: [{ name: "encode", kind: "fn" }],
    good: () => (view: DataView, offset: number) => view.setUint32(offset + 24, 7, true), // size 0: completes as BAD_SIZE
    call: (w, a) => w.cmd.queue.send(a[0] as never),
  },
  {
    name: "queue.recvSync",
    args: [{ name: "timeoutMs", kind: "number" }],
    good: () => 5000,
    call: (w, a) => {
      w.cmd.send(goodInit(w) as never); // something in flight, so the timeout is what is looked at
      return w.cmd.recvSync(a[0] as never);
    },
  },
  {
    name: "queue.flush+recv",
    args: [],
    good: () => undefined,
    call: (w) => {
      w.cmd.flush();
      return w.cmd.recv();
    },
  },
  {
    name: "Device.reset",
    args: [],
    good: () => undefined,
    call: (w) => {
      w.dev.reset();
      w.cmd = w.wd.requestQueue("cmd"); // reset released the queue
    },
  },
];

export const ENTRY_NAMES = ENTRIES.map((e) => e.name);
/** Entry points with known failures, owned by the generator and the request encoders: the generated
 *  requestQueue returns undefined for an unknown name; send/trySend accept an array as a request. */
export const HOT_PATH_ENTRIES = ENTRIES.filter((e) => e.hotPath).map((e) => e.name);

/** A property the fuzzer itself found wrong (returned instead of throwing). */
class FuzzFinding extends Error {}

// ---- inputs ------------------------------------------------------------------------------------

export interface RuntimeApiInput {
  calls: { entry: string; args: Shape[] }[];
}

const NUMS: Extract<Shape, { t: "num" }>["v"][] = [0, 1, -1, 1.5, "NaN", "Infinity", "-Infinity", 2 ** 53, 2 ** 32, "-0", 64, 4096, 0x904, 0x1000, 0xffff_ffff, -(2 ** 31)];
const STRS = ["", "5", "4096", "0x10", "cmd", "nope", "sim", "vfio", "queue", "1e3", " 64 ", "toString", "__proto__"];
const BIGS = ["0", "1", "-1", "4096", "18446744073709551616", "9007199254740993"];

function scalar(rng: Rng, nums: readonly Extract<Shape, { t: "num" }>["v"][] = NUMS): Shape {
  switch (rng.int(9)) {
    case 0: return { t: "undef" };
    case 1: return { t: "null" };
    case 2: case 3: return { t: "num", v: rng.pick(nums) };
    case 4: return { t: "str", v: rng.pick(STRS) };
    case 5: return { t: "big", v: rng.pick(BIGS) };
    case 6: return { t: "bool", v: rng.chance(0.5) };
    case 7: return rng.pick<Shape>([{ t: "sym" }, { t: "fn" }, { t: "arr" }]);
    default: return { t: "good" };
  }
}

function shape(rng: Rng, arg: ArgSpec | undefined, depth: number): Shape {
  const r = rng.int(10);
  if (r < 3) return { t: "good" };
  if (r < 7 || depth > 0) return scalar(rng, arg?.nums);
  if (r === 7) return { t: "valueOf", seq: [scalar(rng, arg?.nums), scalar(rng, arg?.nums)] };
  const keys = arg?.keys ?? ["x"];
  const props: Record<string, Shape[]> = {};
  for (const k of keys) {
    if (rng.chance(0.5)) continue;
    const n = rng.chance(0.3) ? 2 : 1; // two answers: a getter that changes between reads
    props[k] = Array.from({ length: n }, () => shape(rng, undefined, depth + 1));
  }
  if (rng.chance(0.2)) props[rng.pick(["nope", "toString", "constructor"])] = [scalar(rng)];
  return { t: "obj", props, wrap: rng.pick(["plain", "frozen", "proxy", "getters"] as const) };
}

export function runtimeApiInput(rng: Rng, entries: readonly string[] = ENTRY_NAMES): RuntimeApiInput {
  const calls: RuntimeApiInput["calls"] = [];
  const n = rng.range(1, 3);
  for (let i = 0; i < n; i++) {
    const name = rng.pick(entries);
    const e = ENTRIES.find((x) => x.name === name)!;
    const args = e.args.map((a) => shape(rng, a, 0));
    if (rng.chance(0.1)) args.push(scalar(rng)); // an extra argument nobody asked for
    calls.push({ entry: e.name, args });
  }
  return { calls };
}

// ---- the check ---------------------------------------------------------------------------------

export async function openWorld(): Promise<World> {
  // Warm the sim model pool: an input may open a device beside ours, and the pool's first extra
  // model thread brings its own event-loop descriptor; that is the pool growing once, not a leak.
  for (const d of await Promise.all([0, 1].map(() => WdDummyDevice.open({ backend: "sim" })))) d.close();
  const wd = await WdDummyDevice.open({ backend: "sim" });
  const edu = await QemuEduDevice.open({ backend: "sim" });
  const dev = wd.device;
  const page = dev.region("queue");
  const { toArrayBuffer } = await import("bun:ffi");
  return {
    wd, dev, edu,
    cmd: wd.requestQueue("cmd"),
    src: wd.alloc(4096, "fuzz-src"),
    dst: wd.alloc(4096, "fuzz-dst"),
    scratch: wd.alloc(4096, "fuzz-scratch"),
    spare: new Uint8Array(toArrayBuffer(page.ptr as never, SPARE, 0x1000 - SPARE)),
  };
}

export function closeWorld(w: World): void {
  w.wd.close();
  w.edu.close();
}

interface Baseline {
  buffers: number;
  fds: number;
  maps: number;
}
const baseline = (): Baseline => ({ buffers: DmaBuffer.liveCount, fds: ourFdCount(), maps: ourMapLines().length });

/** Is `e` an acceptable refusal of a call to `entry`? null when it is, else why not. */
function judgeError(entry: Entry, e: unknown): string | null {
  if (e instanceof FuzzFinding) return e.message;
  if (e instanceof WarpDriveError) return null;
  if (e instanceof TypeError || e instanceof RangeError) {
    // the argument by name, or (objects) the property of it that was wrong: "Descriptor.size: ..."
    const names = entry.args.flatMap((a) => [a.name, ...(a.keys ?? [])]);
    const named = names.some((n) => new RegExp(`\\b${n.replace(/\./g, "\\.")}\\b`).test(e.message));
    return named ? null : `${e.name} that names no argument (${names.join(", ") || "none"}): ${e.message}`;
  }
  return `not one of our errors: ${e instanceof Error ? `${e.name}: ${e.message}` : typeof e}`;
}

/** The devices still work: a copy completes correctly; an edu register answers. */
function health(w: World, i: number): string | null {
  try {
    if (w.cmd.queue.released) w.cmd = w.wd.requestQueue("cmd");
    while (w.cmd.inFlight > 0) w.cmd.recvSync(5000); // what the input left in flight completes
    w.src.bytes.fill(i & 0xff, 0, 64);
    w.dst.bytes.fill(0, 0, 64);
    w.cmd.send({ src: w.src.ref(0, 64), dst: w.dst.ref(0, 64), size: 64 });
    const d = w.cmd.recvSync(5000);
    if (d.status !== DescStatus.DONE) return `a good copy completed with status ${d.status}`;
    if (w.dst.bytes[63] !== (i & 0xff)) return "a good copy did not copy";
    w.edu.bar0.liveness.write(i >>> 0);
    if (w.edu.bar0.liveness.read() !== ~i >>> 0) return "edu liveness does not answer";
    return null;
  } catch (e) {
    return `the device no longer works: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
}

export async function checkRuntimeApi(w: World, input: RuntimeApiInput): Promise<string | null> {
  const before = baseline();
  for (const [k, c] of input.calls.entries()) {
    const entry = ENTRIES.find((e) => e.name === c.entry);
    if (entry === undefined) return `unknown entry ${c.entry}`;
    const audit: Audit = { reads: new Map(), coerced: [] };
    const args = c.args.map((s, i) => materialize(s, () => entry.good(w, i), audit, entry.args[i]?.name ?? `arg${i}`, (key) => entry.good(w, i, key)));
    const refuse = c.args.some((s, i) => entry.args[i] !== undefined && mustRefuse(entry.args[i]!.kind, s));
    const state0 = entry.state?.(w);
    const where = `call ${k} ${entry.name}(${c.args.map((s) => JSON.stringify(s)).join(", ")})`;
    let result: unknown;
    let error: unknown;
    let threw = false;
    try {
      result = await entry.call(w, args);
    } catch (e) {
      threw = true;
      error = e;
    }
    if (audit.coerced.length > 0) return `${where}: coerced ${audit.coerced[0]} (valueOf/toString ran)`;
    for (const [path, n] of audit.reads) if (n > 1) return `${where}: read ${path} ${n} times`;
    if (threw) {
      const bad = judgeError(entry, error);
      if (bad !== null) return `${where}: ${bad}`;
      if (state0 !== undefined && entry.state!(w) !== state0) return `${where}: refused, but wrote`;
    } else {
      try {
        entry.cleanup?.(w, result);
      } catch (e) {
        return `${where}: cleaning up after it failed: ${e instanceof Error ? e.message : String(e)}`;
      }
      if (refuse) return `${where}: accepted an argument of the wrong type (or a non-integer) instead of refusing it`;
    }
    if (w.cmd.queue.released) w.cmd = w.wd.requestQueue("cmd");
    while (w.cmd.inFlight > 0) {
      try {
        w.cmd.recvSync(5000);
      } catch (e) {
        return `${where}: a request it queued never completed: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
  }
  const sick = health(w, input.calls.length);
  if (sick !== null) return `after ${input.calls.map((c) => c.entry).join(", ")}: ${sick}`;
  const after = baseline();
  // growth only: a Worker of an earlier test may close its own event-loop descriptor meanwhile
  if (after.buffers > before.buffers) return `DMA buffers leaked: ${before.buffers} -> ${after.buffers}`;
  if (after.maps > before.maps) return `register file mappings leaked: ${before.maps} -> ${after.maps}`;
  if (after.fds > before.fds) return `file descriptors leaked: ${before.fds} -> ${after.fds}`;
  return null;
}
