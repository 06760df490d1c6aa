// The argument checks of Device's public methods (device.ts calls these first thing). Each reads
// the caller's options object once per property and returns a plain copy of checked values, which
// is all Device uses afterwards: a getter or Proxy cannot answer one thing to the check and another
// to the code that acts on it.
import { checkBoolean, checkInt, checkOneOf, checkOptions, checkString, describe, optional } from "./args.ts";
import type { Backend, DeviceSpec } from "./backend.ts";

/** Device.open's options after the checks (see DeviceOptions in device.ts for their meaning). */
export interface CheckedDeviceOptions {
  backend?: "sim" | "vfio" | "uacce" | Backend;
  address?: string;
  unified?: boolean;
  iovaLimit?: number;
}

/** Highest IOVA limit: a JavaScript number is exact up to 2^53, and IOVAs are numbers. */
const MAX_IOVA = 2 ** 53;

/** The spec a generated package exports: checked for shape only (its contents come from the generator). */
export function checkSpec(spec: unknown, where: string): DeviceSpec {
  if (typeof spec !== "object" || spec === null) {
    throw new TypeError(`${where}: spec must be a DeviceSpec (the \`spec\` a generated package exports), got ${describe(spec)}`);
  }
  const s = spec as Partial<DeviceSpec>;
  if (typeof s.name !== "string" || !Array.isArray(s.regions) || !Array.isArray(s.interrupts) || !Array.isArray(s.queues)) {
    throw new TypeError(`${where}: spec must be a DeviceSpec with name, regions, interrupts and queues (the \`spec\` a generated package exports)`);
  }
  return spec as DeviceSpec;
}

/** A Backend object (tests, other transports): its kind and open read once. */
function checkBackend(value: object, where: string): Backend {
  const b = value as Partial<Backend>;
  const kind = b.kind;
  const open = b.open;
  if ((kind !== "sim" && kind !== "vfio" && kind !== "uacce") || typeof open !== "function") {
    throw new TypeError(`${where}: options.backend must be "sim", "vfio", "uacce" or a Backend object ({ kind, open }), got an object without them`);
  }
  return { kind, open: (spec, address) => open.call(value, spec, address) };
}

export function checkDeviceOptions(options: unknown, where = "Device.open"): CheckedDeviceOptions {
  const o = checkOptions(options, "options", where);
  if (o === undefined) return {};
  const backendIn = o.backend;
  const address = o.address;
  const unified = o.unified;
  const iovaLimit = o.iovaLimit;
  let backend: CheckedDeviceOptions["backend"];
  if (typeof backendIn === "object" && backendIn !== null) backend = checkBackend(backendIn, where);
  else if (backendIn !== undefined) {
    if (typeof backendIn === "string" && backendIn !== "sim" && backendIn !== "vfio" && backendIn !== "uacce") {
      throw new RangeError(`${where}: options.backend must be "sim", "vfio", "uacce" or a Backend object: unknown backend ${JSON.stringify(backendIn)}`);
    }
    backend = checkOneOf(backendIn, "options.backend", ["sim", "vfio", "uacce"] as const, where);
  }
  return {
    backend,
    address: optional(address, (v) => checkString(v, "options.address", where)),
    unified: optional(unified, (v) => checkBoolean(v, "options.unified", where)),
    iovaLimit: optional(iovaLimit, (v) => checkInt(v, "options.iovaLimit", 1, MAX_IOVA, where)),
  };
}

/** requestQueue's options after the checks; `id` and `depth` ranges depend on the queue (device.ts). */
export interface CheckedQueueOptions {
  id?: number;
  depth?: number;
  irq?: number;
}

export function checkQueueOptions(options: unknown, where: string, ids: { first: number; last: number }): CheckedQueueOptions {
  const o = checkOptions(options, "options", where);
  if (o === undefined) return {};
  const id = o.id;
  const depth = o.depth;
  const irq = o.irq;
  return {
    id: optional(id, (v) => checkInt(v, "options.id", ids.first, ids.last, where)),
    // 2..65536: the range either engine can hold (a 16-bit tag, a ring of at least two slots)
    depth: optional(depth, (v) => checkInt(v, "options.depth", 2, 65536, where)),
    irq: optional(irq, (v) => checkInt(v, "options.irq", 0, 2047, where)), // MSI-X has at most 2048 vectors
  };
}
