// Validator rules for virtio descriptions: capability-located regions, the `virtio:` block and
// virtq-split queues. semantic.ts calls checkVirtio with its small host of helpers (the same one
// the portal rules use).
import type { PathSegment } from "./diagnostics.ts";
import { entries, hex, isPowerOfTwo, parseInstances, type RawVirtqSplitQueue, isObj, isInt, isStr } from "./dsl.ts";
import type { PortalRulesHost } from "./portal-rules.ts";

type Path = PathSegment[];

/** cfg_type of each transport structure (virtio 1.2, 4.1.4). */
const CFG_TYPES = { common: 1, notify: 2, isr: 3, config: 4 } as const;
/** Bytes of struct virtio_pci_common_cfg (virtio 1.0/1.1): the transport reads all of it. */
export const COMMON_CFG_BYTES = 0x38;
/** The virtio PCI vendor id and the first modern device id (0x1040 + device type). */
const VIRTIO_VENDOR = 0x1af4;
const MODERN_BASE = 0x1040;
const MAX_QUEUE_SIZE = 32768;


export function checkVirtio(h: PortalRulesHost): void {
  checkCapabilityRegions(h);
  checkVirtioBlock(h);
  const ids: { name: string; first: number; last: number }[] = [];
  for (const [qname, q] of entries(h.data.queues)) {
    if (isObj(q) && q.kind === "virtq-split") checkVirtqQueue(h, ["queues", qname], q as unknown as RawVirtqSplitQueue, ids);
  }
  for (const [cname, c] of entries(h.data.commands)) {
    if (!isObj(c) || !isStr(c.queue)) continue;
    const q = isObj(h.data.queues) ? h.data.queues[c.queue] : undefined;
    if (isObj(q) && q.kind === "virtq-split") {
      h.report(["commands", cname, "queue"], "virtq-command", `commands on a virtq-split queue are not supported: a request is a chain (header, data buffers, footer), sent with the queue's send(header, buffers)`);
    }
  }
}

/** A region has an index or a capability, never both or neither; a capability's fields make sense. */
function checkCapabilityRegions(h: PortalRulesHost): void {
  const byType = new Map<number, string>();
  for (const [rname, r] of entries(h.data.regions)) {
    if (!isObj(r)) continue;
    const base: Path = ["regions", rname];
    const cap = r.capability;
    if (cap === undefined) {
      if (r.index === undefined) h.report(base, "region-location", `region ${rname} needs "index" (a BAR or the config space) or "capability" (found through a PCI capability)`, true);
      continue;
    }
    if (r.index !== undefined) {
      h.report([...base, "index"], "region-location", `region ${rname} has both "index" and "capability": a capability-located region's BAR is the one its capability names`, true);
    }
    if (!isObj(cap) || !isInt(cap.cfg_type)) continue;
    const other = byType.get(cap.cfg_type);
    if (other !== undefined) {
      h.report([...base, "capability", "cfg_type"], "duplicate-capability", `regions ${other} and ${rname} both are the capability of cfg_type ${cap.cfg_type} (the first such capability is used: they would be the same window)`);
    } else byType.set(cap.cfg_type, rname);
    if (cap.notify_multiplier === true && cap.cfg_type !== CFG_TYPES.notify) {
      h.report([...base, "capability", "notify_multiplier"], "capability-multiplier", `only the notification capability (cfg_type ${CFG_TYPES.notify}) carries notify_off_multiplier; region ${rname} has cfg_type ${cap.cfg_type}`);
    }
  }
}

function checkVirtioBlock(h: PortalRulesHost): void {
  const v = h.data.virtio;
  const virtqs = entries(h.data.queues).filter(([, q]) => isObj(q) && q.kind === "virtq-split");
  if (!isObj(v)) {
    for (const [qname] of virtqs) {
      h.report(["queues", qname, "kind"], "virtq-without-virtio", `queue ${qname} is a virtq-split queue, set up through the virtio transport: add a virtio block (device_type, common, notify) naming its regions`);
    }
    return;
  }
  for (const role of ["common", "notify", "isr", "config"] as const) {
    const name = v[role];
    if (name === undefined) continue;
    const path: Path = ["virtio", role];
    if (!isStr(name)) continue;
    const r = h.regions.get(name);
    if (r === undefined) {
      h.report(path, "unknown-region", `unknown region "${name}"${h.suggest(name, [...h.regions.keys()])}`);
      continue;
    }
    const cap = isObj(r.capability) ? r.capability : undefined;
    const want = CFG_TYPES[role];
    if (cap === undefined || cap.cfg_type !== want) {
      h.report(path, "virtio-region", `the virtio ${role} structure is found through the capability of cfg_type ${want}; region ${name} ${cap === undefined ? "has no capability" : `has cfg_type ${String(cap.cfg_type)}`}`);
      continue;
    }
    if (role === "notify" && cap.notify_multiplier !== true) {
      h.report(path, "virtio-region", `region ${name} is the notification structure: its capability needs notify_multiplier: true (queue n notifies at queue_notify_off * multiplier)`);
    }
    if (role === "common" && isInt(r.size) && r.size < COMMON_CFG_BYTES) {
      h.report(path, "virtio-region", `region ${name} is the common configuration: it is ${hex(COMMON_CFG_BYTES)} bytes (struct virtio_pci_common_cfg), the description says ${hex(r.size)}`);
    }
  }
  // a modern virtio PCI function has device id 0x1040 + its device type
  if (isInt(v.device_type)) {
    const pci = isObj(h.data.match) && Array.isArray(h.data.match.pci) ? h.data.match.pci : [];
    pci.forEach((p, i) => {
      if (!isObj(p) || p.vendor !== VIRTIO_VENDOR || !isInt(p.device)) return;
      if (p.device >= MODERN_BASE && p.device - MODERN_BASE !== v.device_type) {
        h.report(["match", "pci", i, "device"], "virtio-device-id", `PCI device ${hex(p.device)} is virtio device type ${p.device - MODERN_BASE}, but virtio.device_type is ${v.device_type} (a modern device id is ${hex(MODERN_BASE + (v.device_type as number))})`);
      } else if (p.device < MODERN_BASE) {
        h.report(["match", "pci", i, "device"], "virtio-device-id", `PCI device ${hex(p.device)} is a transitional (legacy) virtio id; this transport drives modern devices: ${hex(MODERN_BASE + (v.device_type as number))} (QEMU: disable-legacy=on)`);
      }
    });
  }
  if (virtqs.length === 0) h.report(["virtio"], "virtio-no-queue", "a virtio device without a virtq-split queue has nothing to send requests through", true, "warning");
}

function checkVirtqQueue(h: PortalRulesHost, base: Path, q: RawVirtqSplitQueue, ids: { name: string; first: number; last: number }[]): void {
  const qname = String(base[base.length - 1]);
  h.interruptRef([...base, "interrupt"], q.interrupt);
  if (isStr(q.interrupt) && isObj(h.data.interrupts)) {
    const irq = h.data.interrupts[q.interrupt];
    if (isObj(irq) && irq.kind !== "msix") {
      h.report([...base, "interrupt"], "virtq-interrupt", `queue ${qname} raises interrupt ${q.interrupt}, which is ${String(irq.kind)}: a virtqueue names an MSI-X vector (queue_msix_vector)`);
    }
  }
  if (isStr(q.instances) || isInt(q.instances)) {
    const r = parseInstances(q.instances);
    if ("error" in r) h.report([...base, "instances"], "bad-instances", r.error);
    else {
      for (const other of ids) {
        if (r.first <= other.last && other.first <= r.last) {
          h.report([...base, "instances"], "queue-ids-overlap", `virtqueue indices ${r.first}..${r.last} of ${qname} overlap ${other.first}..${other.last} of ${other.name}`);
        }
      }
      ids.push({ name: qname, ...r });
    }
  }
  if (isInt(q.size) && (!isPowerOfTwo(q.size) || q.size > MAX_QUEUE_SIZE)) {
    h.report([...base, "size"], "virtq-size", `queue size ${q.size} is not a power of two up to ${MAX_QUEUE_SIZE} (a split virtqueue's size)`);
  }
  if (q.header !== undefined) h.structRef([...base, "header"], q.header);
  if (q.footer !== undefined) h.structRef([...base, "footer"], q.footer);
  if (q.header === undefined && q.footer === undefined && q.segments === 0) {
    h.report([...base, "segments"], "virtq-empty", `queue ${qname}: a request with no header, no footer and no data buffers is empty`);
  }
}
