// Semantic rules for match.uacce (kept apart from semantic.ts's rules): each region it places must
// exist, every region a queue's ring or registers live in must be placed (a queue the UACCE backend
// cannot map would fail only at open), api strings are not repeated, and the DUS address is
// page-aligned (the backend hands out buffers in whole pages from it). Each entry of match.uacce.queues
// names an sq-cq queue, and its doorbell word lies inside a region placed in mmio, 8-byte aligned.
import type { PathSegment } from "./diagnostics.ts";
import { entries, splitRegisterRef, type RawDevice, type RawRegion, isObj } from "./dsl.ts";

type Report = (path: PathSegment[], code: string, message: string, atKey?: boolean) => void;


/** The regions a queue touches: its ring's region and those of its registers. */
function queueRegions(q: Record<string, unknown>): { region: string; path: PathSegment[] }[] {
  const out: { region: string; path: PathSegment[] }[] = [];
  if (isObj(q.ring) && typeof q.ring.region === "string") out.push({ region: q.ring.region, path: ["ring", "region"] });
  for (const key of ["producer", "consumer", "doorbell"]) {
    const ref = q[key];
    if (typeof ref !== "string") continue;
    const parts = splitRegisterRef(ref);
    if (parts !== undefined) out.push({ region: parts.region, path: [key] });
  }
  for (const side of ["sq", "cq"]) {
    const s = q[side];
    if (isObj(s) && typeof s.doorbell === "string") {
      const parts = splitRegisterRef(s.doorbell);
      if (parts !== undefined) out.push({ region: parts.region, path: [side, "doorbell"] });
    }
  }
  return out;
}

export function checkUacceMatch(data: RawDevice, regions: Map<string, RawRegion>, report: Report): void {
  const u = isObj(data.match) ? data.match.uacce : undefined;
  if (!isObj(u)) return;
  const base: PathSegment[] = ["match", "uacce"];
  if (Array.isArray(u.api)) {
    const seen = new Set<string>();
    u.api.forEach((a, i) => {
      if (typeof a !== "string") return;
      if (seen.has(a)) report([...base, "api", i], "duplicate-api", `api "${a}" is listed twice`);
      seen.add(a);
    });
  }
  const placed = new Set<string>();
  for (const [name] of entries(isObj(u.regions) ? (u.regions as Record<string, unknown>) : undefined)) {
    placed.add(name);
    if (!regions.has(name)) {
      report([...base, "regions", name], "unknown-region", `unknown region "${name}" (regions: ${[...regions.keys()].join(", ") || "none"})`, true);
    }
  }
  const addr = u["dus-address"];
  if (typeof addr === "number" && Number.isInteger(addr) && addr % 4096 !== 0) {
    report([...base, "dus-address"], "misaligned", `dus-address 0x${addr.toString(16)} is not page-aligned (4096): buffers are carved in whole pages`);
  }
  checkUacceQueues(data, u, regions, report);
  for (const [qname, q] of entries(data.queues)) {
    if (!isObj(q)) continue;
    // a queue whose rings and doorbell match.uacce.queues places uses no registers of its own there
    if (isObj(u.queues) && isObj(u.queues[qname])) continue;
    for (const r of queueRegions(q)) {
      if (regions.has(r.region) && !placed.has(r.region)) {
        report([...base, "regions"], "uacce-region-unplaced", `queue ${qname} uses region ${r.region}, which match.uacce.regions does not place (mmio or dus)`, true);
        placed.add(r.region); // once per region
      }
    }
  }
}

/** match.uacce.queues: each names an sq-cq queue; its doorbell is a whole, aligned 64-bit word of an mmio-placed region. */
function checkUacceQueues(data: RawDevice, u: Record<string, unknown>, regions: Map<string, RawRegion>, report: Report): void {
  const placed = isObj(u.regions) ? (u.regions as Record<string, unknown>) : {};
  for (const [qname, q] of entries(isObj(u.queues) ? (u.queues as Record<string, unknown>) : undefined)) {
    const at: PathSegment[] = ["match", "uacce", "queues", qname];
    const mine = isObj(data.queues) ? (data.queues as Record<string, unknown>)[qname] : undefined;
    if (!isObj(mine)) {
      report(at, "unknown-queue", `unknown queue "${qname}" (queues: ${entries(data.queues).map(([n]) => n).join(", ") || "none"})`, true);
    } else if (mine.kind !== "sq-cq") {
      report(at, "uacce-queue-kind", `queue ${qname} is ${String(mine.kind)}: only sq-cq queues keep their rings in DUS`, true);
    }
    if (!isObj(q) || !isObj(q.doorbell)) continue;
    const db = q.doorbell;
    if (typeof db.region !== "string") continue;
    const region = regions.get(db.region);
    if (region === undefined) {
      report([...at, "doorbell", "region"], "unknown-region", `unknown region "${db.region}" (regions: ${[...regions.keys()].join(", ") || "none"})`);
      continue;
    }
    if (placed[db.region] !== "mmio") {
      report([...at, "doorbell", "region"], "uacce-doorbell-region", `the doorbell's region ${db.region} must be placed in mmio by match.uacce.regions`);
    }
    const off = db.offset;
    if (typeof off === "number" && Number.isInteger(off)) {
      if (off % 8 !== 0) report([...at, "doorbell", "offset"], "misaligned", `doorbell offset 0x${off.toString(16)} is not 8-byte aligned (one 64-bit store)`);
      const size = typeof region.size === "number" ? region.size : undefined;
      if (size !== undefined && off + 8 > size) {
        report([...at, "doorbell", "offset"], "out-of-region", `doorbell at 0x${off.toString(16)} (8 bytes) lies outside region ${db.region} (0x${size.toString(16)} bytes)`);
      }
    }
  }
}
