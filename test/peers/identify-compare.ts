// Identify data as nvme-cli prints it (`nvme id-ctrl -o json`, `nvme id-ns -o json`), so that what our
// client decoded can be compared field by field with what the kernel path reported, and the same
// self-consistency rules can be applied to either side (and to the sim model on the host).
//
// Our decoded structs are rendered into nvme-cli's JSON shape from the generated LAYOUT tables:
// numbers become bigints, bit-field objects are packed back into their byte, byte arrays become what
// nvme-cli prints for that field (text up to the first NUL, the IEEE OUI as one number, 128-bit
// counters in decimal, EUI64/NGUID in hex, FGUID as a UUID). Only fields both sides name are
// compared; the caller also names fields that must be present on both.
import { IdentifyController, IdentifyNamespace, LbaFormat, PowerStateDescriptor } from "@warpdrive/nvme-generated/structs";
import type { IdentifyControllerData, IdentifyNamespaceData } from "@warpdrive/nvme-generated/structs";

export type CliValue = bigint | string | CliRecord[];
export interface CliRecord {
  [field: string]: CliValue;
}

interface FieldLayout {
  offset: number;
  size: number;
  count: number;
  type: string;
  bits?: Record<string, { lsb: number; width: number }>;
}
type Layout = Record<string, FieldLayout>;

/** nvme-cli's JSON names for fields our description names differently. */
const CLI_NAME: Record<string, string> = {
  nvscc: "icsvscc", // byte 530: NVM (1.4) / I/O command set (2.0) vendor specific command configuration
};

/** Power state descriptor: our field -> nvme-cli's key (and which bit field, if any). */
const PSD_FIELDS: [string, string, string?][] = [
  ["mp", "max_power"],
  ["flags", "flags"],
  ["enlat", "entry_lat"],
  ["exlat", "exit_lat"],
  ["rrt", "read_tput"],
  ["rrl", "read_lat"],
  ["rwt", "write_tput"],
  ["rwl", "write_lat"],
  ["idlp", "idle_power"],
  ["ips", "idle_scale", "ips"],
  ["actp", "active_power"],
  ["apw", "active_power_work", "apw"],
  ["apw", "active_scale", "aps"],
];

/** A bit-field object (or plain number) back to its integer, using the layout's bit positions. */
function pack(value: unknown, f: FieldLayout): bigint {
  if (typeof value === "number" || typeof value === "bigint") return BigInt(value);
  if (f.bits === undefined || value === null || typeof value !== "object") throw new Error(`cannot pack ${String(value)}`);
  let v = 0n;
  for (const [name, b] of Object.entries(f.bits)) {
    const x = BigInt((value as Record<string, number>)[name] ?? 0) & ((1n << BigInt(b.width)) - 1n);
    v |= x << BigInt(b.lsb);
  }
  return v;
}

/** Text up to the first NUL, every byte kept (nvme-cli prints space padding as it is). */
export function textUpToNul(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    if (b === 0) break;
    s += String.fromCharCode(b);
  }
  return s;
}

function littleEndian(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function uuid(bytes: Uint8Array): string {
  const h = hex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** How nvme-cli prints each byte-array field we decode. */
function bytesAsCli(name: string, bytes: Uint8Array): CliValue | undefined {
  switch (name) {
    case "sn":
    case "mn":
    case "fr":
    case "subnqn":
      return textUpToNul(bytes);
    case "ieee":
      return littleEndian(bytes);
    case "tnvmcap":
    case "unvmcap":
    case "nvmcap":
      return littleEndian(bytes).toString();
    case "fguid":
      return uuid(bytes);
    case "eui64":
    case "nguid":
      return hex(bytes);
    default:
      return undefined; // vendor specific areas: nvme-cli's JSON leaves them out
  }
}

function scalars(data: Record<string, unknown>, layout: Layout, skip: Set<string>): CliRecord {
  const out: CliRecord = {};
  for (const [name, f] of Object.entries(layout)) {
    if (skip.has(name)) continue;
    const value = data[name];
    const key = CLI_NAME[name] ?? name;
    if (value instanceof Uint8Array) {
      const v = bytesAsCli(name, value);
      if (v !== undefined) out[key] = v;
    } else {
      out[key] = pack(value, f);
    }
  }
  return out;
}

/** Our Identify Controller in nvme-cli's `id-ctrl -o json` shape. */
export function controllerAsCli(id: IdentifyControllerData): CliRecord {
  const out = scalars(id as unknown as Record<string, unknown>, IdentifyController.LAYOUT as unknown as Layout, new Set(["psd", "vs"]));
  const psdLayout = PowerStateDescriptor.LAYOUT as unknown as Layout;
  out.psds = id.psd.slice(0, id.npss + 1).map((p) => {
    const r: CliRecord = {};
    const ps = p as unknown as Record<string, unknown>;
    for (const [ours, cli, bit] of PSD_FIELDS) {
      const v = ps[ours];
      r[cli] = bit === undefined ? pack(v, psdLayout[ours]!) : BigInt((v as Record<string, number>)[bit]!);
    }
    return r;
  });
  return out;
}

/** Our Identify Namespace in nvme-cli's `id-ns -o json` shape. */
export function namespaceAsCli(ns: IdentifyNamespaceData): CliRecord {
  const out = scalars(ns as unknown as Record<string, unknown>, IdentifyNamespace.LAYOUT as unknown as Layout, new Set(["lbaf", "vs"]));
  const lbafLayout = LbaFormat.LAYOUT as unknown as Layout;
  out.lbafs = ns.lbaf.slice(0, ns.nlbaf + 1).map((f) => ({
    ms: BigInt(f.ms),
    ds: BigInt(f.lbads),
    rp: pack(f.rp, lbafLayout.rp!),
  }));
  return out;
}

/** nvme-cli's JSON with every number as a bigint (digits taken from the text: no 2^53 rounding). */
export function parseCliJson(text: string): CliRecord {
  // Integers become tagged strings before JSON.parse so that 64-bit values keep every digit.
  const tagged = text.replace(/(:\s*)(-?\d+)(\s*[,}\]\n])/g, '$1"@@int:$2"$3');
  const walk = (v: unknown): CliValue => {
    if (typeof v === "string") return v.startsWith("@@int:") ? BigInt(v.slice(6)) : v;
    if (typeof v === "number") return BigInt(Math.round(v));
    if (Array.isArray(v)) return v.map((e) => walk(e) as unknown as CliRecord) as CliRecord[];
    if (v !== null && typeof v === "object") {
      const r: CliRecord = {};
      for (const [k, x] of Object.entries(v)) r[k] = walk(x);
      return r as unknown as CliValue;
    }
    return String(v);
  };
  return walk(JSON.parse(tagged)) as unknown as CliRecord;
}

export interface Side {
  /** "ours" / "kernel". */
  name: string;
  /** The command that produced the data, shown with every mismatch. */
  command: string;
  data: CliRecord;
}

export interface Comparison {
  compared: string[];
  mismatches: string[];
  onlyIn: Record<string, string[]>;
}

const show = (v: CliValue | undefined): string =>
  v === undefined ? "(absent)" : typeof v === "string" ? JSON.stringify(v) : typeof v === "bigint" ? `${v} (0x${v.toString(16)})` : JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x));

/**
 * Every field both sides report must be equal; `required` fields must be reported by both. Each
 * mismatch names the field, both values and the command behind each.
 */
export function compareRecords(what: string, a: Side, b: Side, required: string[]): Comparison {
  const res: Comparison = { compared: [], mismatches: [], onlyIn: { [a.name]: [], [b.name]: [] } };
  const visit = (path: string, x: CliRecord, y: CliRecord) => {
    for (const key of Object.keys(x)) if (!(key in y)) res.onlyIn[a.name]!.push(`${path}${key}`);
    for (const key of Object.keys(y)) if (!(key in x)) res.onlyIn[b.name]!.push(`${path}${key}`);
    for (const key of Object.keys(x)) {
      if (!(key in y)) continue;
      const u = x[key]!;
      const v = y[key]!;
      const field = `${path}${key}`;
      if (Array.isArray(u) || Array.isArray(v)) {
        if (!Array.isArray(u) || !Array.isArray(v) || u.length !== v.length) {
          res.mismatches.push(mismatch(what, field, a, show(u), b, show(v)));
          continue;
        }
        u.forEach((e, i) => visit(`${field}[${i}].`, e, v[i]!));
        continue;
      }
      res.compared.push(field);
      if (typeof u !== typeof v || u !== v) res.mismatches.push(mismatch(what, field, a, show(u), b, show(v)));
    }
  };
  visit("", a.data, b.data);
  for (const r of required) {
    if (!(r in a.data)) res.mismatches.push(`${what}: required field ${r} missing from ${a.name} (${a.command})`);
    if (!(r in b.data)) res.mismatches.push(`${what}: required field ${r} missing from ${b.name} (${b.command})`);
  }
  return res;
}

function mismatch(what: string, field: string, a: Side, av: string, b: Side, bv: string): string {
  return `${what} field ${field}: ${a.name} ${av} [${a.command}] != ${b.name} ${bv} [${b.command}]`;
}

export const REQUIRED_CTRL = ["vid", "ssvid", "sn", "mn", "fr", "rab", "ieee", "mdts", "cntlid", "ver", "oacs", "sqes", "cqes", "nn", "oncs", "vwc", "subnqn", "psds"];
export const REQUIRED_NS = ["nsze", "ncap", "nuse", "nsfeat", "nlbaf", "flbas", "lbafs"];

const num = (r: CliRecord, k: string): bigint => {
  const v = r[k];
  if (typeof v !== "bigint") throw new Error(`field ${k} is ${v === undefined ? "absent" : `not a number (${show(v)})`}`);
  return v;
};

/**
 * Rules any sane controller meets, in nvme-cli's shape: so that QEMU (seen by either path) and the
 * sim model are held to the same expectations. Returns the broken rules (empty when all hold).
 */
export function identifyProblems(label: string, ctrl: CliRecord, ns: CliRecord): string[] {
  const p: string[] = [];
  const rule = (ok: boolean, msg: string) => {
    if (!ok) p.push(`${label}: ${msg}`);
  };
  try {
    rule(num(ctrl, "vid") !== 0n, "VID is 0");
    for (const [k, len] of [["sn", 20], ["mn", 40], ["fr", 8]] as const) {
      const s = ctrl[k];
      rule(typeof s === "string" && s.length === len, `${k} ${show(s)} is not ${len} characters (space padded)`);
      rule(typeof s === "string" && /^[\x20-\x7e]+$/.test(s) && s.trim().length > 0, `${k} ${show(s)} is not printable ASCII text`);
    }
    const ver = num(ctrl, "ver");
    rule(ver === 0n || ver >> 16n === 1n, `VER 0x${ver.toString(16)} is not 1.x`);
    const sqes = num(ctrl, "sqes");
    const cqes = num(ctrl, "cqes");
    rule((sqes & 0xfn) <= 6n && sqes >> 4n >= 6n, `SQES 0x${sqes.toString(16)} does not allow 64-byte entries`);
    rule((cqes & 0xfn) <= 4n && cqes >> 4n >= 4n, `CQES 0x${cqes.toString(16)} does not allow 16-byte entries`);
    rule(num(ctrl, "nn") >= 1n, "NN is 0");
    const mdts = num(ctrl, "mdts");
    rule(mdts <= 20n, `MDTS ${mdts} is implausible`);
    const npss = num(ctrl, "npss");
    const psds = ctrl.psds;
    rule(Array.isArray(psds) && BigInt(psds.length) === npss + 1n, `${Array.isArray(psds) ? psds.length : "no"} power states for NPSS ${npss}`);
    const subnqn = ctrl.subnqn;
    rule(typeof subnqn === "string" && (subnqn === "" || subnqn.startsWith("nqn.")), `SUBNQN ${show(subnqn)} does not start with nqn.`);

    const nsze = num(ns, "nsze");
    const ncap = num(ns, "ncap");
    const nuse = num(ns, "nuse");
    rule(nsze > 0n, "NSZE is 0");
    rule(ncap <= nsze, `NCAP ${ncap} > NSZE ${nsze}`);
    rule(nuse <= ncap, `NUSE ${nuse} > NCAP ${ncap}`);
    const nlbaf = num(ns, "nlbaf");
    rule(nlbaf < 16n, `NLBAF ${nlbaf} > 15`);
    const lbafs = ns.lbafs;
    rule(Array.isArray(lbafs) && BigInt(lbafs.length) === nlbaf + 1n, `${Array.isArray(lbafs) ? lbafs.length : "no"} LBA formats for NLBAF ${nlbaf}`);
    const format = num(ns, "flbas") & 0xfn;
    rule(format <= nlbaf, `FLBAS format ${format} > NLBAF ${nlbaf}`);
    if (Array.isArray(lbafs) && lbafs[Number(format)] !== undefined) {
      const ds = num(lbafs[Number(format)]!, "ds");
      rule(ds >= 9n && ds <= 16n, `LBA format ${format} has LBADS ${ds} (block of ${2 ** Number(ds)} bytes)`);
    }
  } catch (e) {
    p.push(`${label}: ${(e as Error).message}`);
  }
  return p;
}

/** A record as nvme-cli's JSON text (bigints as bare integers): lets the host test the parser. */
export function renderCliJson(r: CliRecord): string {
  return JSON.stringify(r, (_, v) => (typeof v === "bigint" ? `@@raw:${v}` : v), 2).replace(/"@@raw:(-?\d+)"/g, "$1");
}
