// Semantic rules for match.uacce (kept apart from semantic.ts's rules): each region it places must
// exist, every region a queue's ring or registers live in must be placed (a queue the UACCE backend
// cannot map would fail only at open), api strings are not repeated, and the DUS address is
// page-aligned (the backend hands out buffers in whole pages from it).
import type { PathSegment } from "./diagnostics.ts";
import { entries, splitRegisterRef, type RawDevice, type RawRegion } from "./dsl.ts";

type Report = (path: PathSegment[], code: string, message: string, atKey?: boolean) => void;

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

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
  for (const [qname, q] of entries(data.queues)) {
    if (!isObj(q)) continue;
    for (const r of queueRegions(q)) {
      if (regions.has(r.region) && !placed.has(r.region)) {
        report([...base, "regions"], "uacce-region-unplaced", `queue ${qname} uses region ${r.region}, which match.uacce.regions does not place (mmio or dus)`, true);
        placed.add(r.region); // once per region
      }
    }
  }
}
