// Validator rules for portal queues (a descriptor per 64-byte store, completion records) and for
// commands that fix bit fields (`fixed: { op_flags.opcode: 3 }`). Kept apart from semantic.ts,
// which calls them with a small host of its helpers (report, struct and field lookups).
import type { PathSegment } from "./diagnostics.ts";
import { entries, fitsUnsigned, hex, parseBits, parseInstances, type RawDevice, type RawPortalQueue, type RawRegion, type RawStruct, type RawStructField, isObj, isInt, isStr } from "./dsl.ts";

type Path = PathSegment[];

/** Bytes a portal store writes (MOVDIR64B and ENQCMD both write exactly 64). */
export const PORTAL_STORE_BYTES = 64;

/** A struct field resolved enough to check what refers to it (semantic.ts's FieldShape). */
export interface ShapeLike {
  name: string;
  offset: number;
  elemBytes: number;
  count: number;
  kind: "scalar" | "dma-address" | "reserved" | "struct";
}

export interface PortalRulesHost {
  readonly data: RawDevice;
  readonly regions: Map<string, RawRegion>;
  report(path: Path, code: string, message: string, atKey?: boolean, severity?: "error" | "warning"): void;
  structRef(path: Path, name: unknown): RawStruct | undefined;
  entryField(path: Path, struct: RawStruct | undefined, structName: unknown, field: unknown, role: string): ShapeLike | undefined;
  fieldShape(name: string, f: RawStructField): ShapeLike | undefined;
  interruptRef(path: Path, name: unknown): void;
  integer(path: Path): bigint | undefined;
  suggest(word: string, candidates: string[]): string;
}


export function checkPortalQueue(h: PortalRulesHost, base: Path, q: RawPortalQueue, idRanges: { name: string; first: number; last: number }[]): void {
  const qname = String(base[base.length - 1]);
  h.interruptRef([...base, "interrupt"], q.interrupt);
  let ids = { first: 0, last: 0 };
  if (isStr(q.instances) || isInt(q.instances)) {
    const r = parseInstances(q.instances);
    if ("error" in r) h.report([...base, "instances"], "bad-instances", r.error);
    else {
      ids = r;
      for (const other of idRanges) {
        if (r.first <= other.last && other.first <= r.last) {
          h.report([...base, "instances"], "queue-ids-overlap", `queue ids ${r.first}..${r.last} of ${qname} overlap ids ${other.first}..${other.last} of ${other.name}`);
        }
      }
      idRanges.push({ name: qname, ...r });
    }
  }
  const desc = h.structRef([...base, "descriptor"], q.descriptor);
  if (desc && isInt(desc.size) && desc.size !== PORTAL_STORE_BYTES) {
    h.report([...base, "descriptor"], "portal-descriptor-size", `descriptor ${String(q.descriptor)} is ${desc.size} bytes; a ${String(q.store ?? "portal")} store writes exactly ${PORTAL_STORE_BYTES}`);
  }
  // where the portals are
  if (isObj(q.portal) && isStr(q.portal.region)) {
    const p = q.portal;
    const region = h.regions.get(p.region);
    if (!region) {
      h.report([...base, "portal", "region"], "unknown-region", `unknown region "${p.region}"${h.suggest(p.region, [...h.regions.keys()])}`);
    } else {
      if (region.kind !== "mmio") h.report([...base, "portal", "region"], "portal-region-kind", `portals are device memory: region ${p.region} is ${String(region.kind)}, not mmio`);
      if (isInt(p.offset)) {
        if (p.offset % PORTAL_STORE_BYTES !== 0) h.report([...base, "portal", "offset"], "portal-misaligned", `portal offset ${hex(p.offset)} is not ${PORTAL_STORE_BYTES}-byte aligned (a 64-byte direct store needs an aligned destination)`);
        const n = ids.last - ids.first + 1;
        if (n > 1 && p.stride === undefined) {
          h.report([...base, "portal"], "portal-stride-missing", `queue ids ${ids.first}..${ids.last} each need their own portal: give stride (bytes between two queues' portals)`);
        } else {
          const stride = isInt(p.stride) ? p.stride : 0;
          if (n > 1 && stride < PORTAL_STORE_BYTES) h.report([...base, "portal", "stride"], "portal-stride-small", `stride ${hex(stride)} is below one ${PORTAL_STORE_BYTES}-byte store: queues would share a portal`);
          if (stride % PORTAL_STORE_BYTES !== 0) h.report([...base, "portal", "stride"], "portal-misaligned", `stride ${hex(stride)} is not ${PORTAL_STORE_BYTES}-byte aligned`);
          const end = p.offset + stride * ids.last + PORTAL_STORE_BYTES;
          if (isInt(region.size) && end > region.size) {
            h.report([...base, "portal", "offset"], "portal-outside-region", `the portal of queue ${ids.last} ends at ${hex(end)}, past the end of region ${p.region} (size ${hex(region.size)})`);
          }
        }
      }
    }
  }
  // the completion record
  if (!isObj(q.completion)) return;
  const c = q.completion;
  const cp: Path = [...base, "completion"];
  const record = h.structRef([...cp, "record"], c.record);
  const status = h.entryField([...cp, "status"], record, c.record, c.status, "status");
  if (status && isInt(c.pending)) {
    const pending = h.integer([...cp, "pending"]);
    if (pending !== undefined && !fitsUnsigned(pending, status.elemBytes * 8)) {
      h.report([...cp, "pending"], "value-too-wide", `pending value ${pending} does not fit the ${status.elemBytes * 8}-bit field "${status.name}"`);
    }
  }
  if (!desc || !isStr(c.address)) return;
  const raw = isObj(desc.fields) ? desc.fields[c.address] : undefined;
  if (!isObj(raw)) {
    h.report([...cp, "address"], "unknown-field", `struct ${String(q.descriptor)} has no field "${c.address}"${h.suggest(c.address, Object.keys(desc.fields ?? {}))}`);
    return;
  }
  if (raw.type !== "dma-address" || (isInt(raw.count) && raw.count > 1)) {
    h.report([...cp, "address"], "bad-field-type", `completion address field "${c.address}" must be one dma-address, not ${String(raw.type)}`);
    return;
  }
  // The record's size and alignment are stated on the address field, as for every DMA field.
  if (record && isInt(record.size) && raw.extent !== undefined && raw.extent !== record.size) {
    h.report([...cp, "address"], "completion-extent-mismatch", `field "${c.address}" says the device writes ${String(raw.extent)} bytes there, but record ${String(c.record)} is ${record.size} bytes: make its extent ${record.size}`);
  }
  if (raw.direction === "to-device") {
    h.report([...cp, "address"], "completion-direction", `field "${c.address}" is to-device, but the device writes the completion record (from-device)`);
  }
  if (record && isInt(record.size) && isInt(raw.align) && raw.align > record.size && raw.align % record.size !== 0) {
    h.report([...cp, "address"], "completion-align", `records are placed align-apart (${raw.align} bytes); ${record.size}-byte records must divide it`);
  }
}

/**
 * A fixed entry on a bit field (`op_flags.opcode: 3`) or a second entry on a field already fixed:
 * the field must hold bit fields, the bit field must exist and the value fit it, and a whole-field
 * fixed value cannot be combined with fixed bits of the same field.
 */
export function checkFixedBits(h: PortalRulesHost, path: Path, key: string, value: unknown, struct: RawStruct, sname: string, words: Map<string, string>): ShapeLike | undefined {
  const [fname, bname] = key.split(".") as [string, string | undefined];
  const raw = isObj(struct.fields) ? struct.fields[fname] : undefined;
  if (!isObj(raw)) {
    h.report(path, "unknown-field", `struct ${sname} has no field "${fname}"${h.suggest(fname, Object.keys(struct.fields ?? {}))}`, true);
    return undefined;
  }
  const before = words.get(fname);
  if (bname === undefined || before === "whole") {
    h.report(path, "fixed-overlap", `field "${fname}" is fixed both whole and by bit field; fix its bits one by one or the whole word, not both`, true);
    return undefined;
  }
  const shape = h.fieldShape(fname, raw);
  if (!shape) return undefined;
  const bits = isObj(raw.fields) ? raw.fields[bname] : undefined;
  if (!isObj(bits)) {
    h.report(path, "unknown-field", `field "${fname}" of ${sname} has no bit field "${bname}"${h.suggest(bname, Object.keys(raw.fields ?? {}))}`, true);
    return undefined;
  }
  const r = parseBits(bits.bits);
  if ("error" in r) return undefined; // reported at the struct
  const v = h.integer(path);
  const width = r.msb - r.lsb + 1;
  if (isInt(value) && v !== undefined && !fitsUnsigned(v, width)) {
    h.report(path, "fixed-value-too-wide", `fixed value ${hex(v)} does not fit the ${width}-bit field "${key}" (bits ${r.msb}:${r.lsb})`);
  }
  const first = before === undefined;
  words.set(fname, "bits");
  // the word is written once: report it for overlap checks with params only the first time
  return first ? shape : undefined;
}

/** The value a command writes into a field from its fixed bit fields, by field (build-model). */
export function foldFixed(fixed: Record<string, number> | undefined, struct: RawStruct): { field: string; value: number }[] {
  const out = new Map<string, bigint>();
  for (const [key, value] of entries(fixed)) {
    const [fname, bname] = key.split(".") as [string, string | undefined];
    if (bname === undefined) {
      out.set(fname, BigInt(value));
      continue;
    }
    const bits = parseBits(struct.fields[fname]!.fields![bname]!.bits) as { msb: number; lsb: number };
    out.set(fname, (out.get(fname) ?? 0n) | (BigInt(value) << BigInt(bits.lsb)));
  }
  return [...out].map(([field, v]) => ({ field, value: Number(v) }));
}
