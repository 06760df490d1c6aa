// Regions located through PCI capabilities (a description's `capability:` regions): the
// vendor-specific capability of the region's cfg_type names a BAR, an offset and a length, and the
// region is that window of the BAR. Used by Device.region for such regions, on every backend (the
// sim backend writes the capabilities into its configuration space, so the walk is the same code).
import type { BackendDevice, DeviceSpec, MappedRegion } from "../backend.ts";
import { ConfigError } from "../errors.ts";
import { mmioIo, RamIo, type RegisterIo } from "../mem/io.ts";
import { vendorCapabilities, type VendorCapability } from "./capabilities.ts";

/** PCI configuration space is region 7 on vfio-pci (and on the sim backend). */
export const CONFIG_REGION_INDEX = 7;
/** Memory BARs a capability may name (0..5; anything else is reserved). */
const MAX_BAR = 5;

export interface LocatedRegion {
  readonly region: MappedRegion;
  readonly capability: VendorCapability;
  /** Detaches the window (before the BAR is unmapped); later accesses are UseAfterReleaseErrors. */
  release(): void;
}

type RegionSpec = DeviceSpec["regions"][number];

/**
 * Finds `r` through its capability and returns the window. The first capability of the cfg_type
 * that names a memory BAR this device maps is used (virtio 4.1.4: a driver uses the first it can);
 * one shorter than the description's size (its registers would not fit) is refused.
 */
export function locateRegion(bd: BackendDevice, r: RegionSpec, label: string): LocatedRegion {
  const want = r.capability!;
  const config = bd.region(CONFIG_REGION_INDEX).io;
  const caps = vendorCapabilities(config, `configuration space of ${label}`).filter((c) => c.cfgType === want.cfgType);
  if (caps.length === 0) {
    throw new ConfigError(`${label}: region ${r.name}: no vendor-specific PCI capability of cfg_type ${want.cfgType} (is this the device the description is for?)`);
  }
  let why = "";
  for (const cap of caps) {
    if (cap.bar > MAX_BAR) {
      why = `BAR ${cap.bar} is reserved`;
      continue;
    }
    if (cap.length < r.size) {
      why = `the capability gives ${cap.length} bytes, the description's registers need ${r.size}`;
      continue;
    }
    if (want.multiplier === true && cap.multiplier === undefined) {
      why = "the capability carries no notify_off_multiplier";
      continue;
    }
    const bar = bd.region(cap.bar);
    if (cap.offset + cap.length > bar.size || cap.offset + cap.length < cap.offset) {
      why = `BAR ${cap.bar} + 0x${cap.offset.toString(16)} (+${cap.length}) lies outside the BAR (${bar.size} bytes)`;
      continue;
    }
    return window(bar, cap, r, label);
  }
  throw new ConfigError(`${label}: region ${r.name} (capability cfg_type ${want.cfgType}): ${why}`);
}

/** Offsets shifted into a BAR's RegisterIo, bounds checked against the window (an unmapped BAR: pread/pwrite). */
class OffsetIo implements RegisterIo {
  #size: number;
  constructor(private readonly io: RegisterIo, private readonly base: number, size: number, readonly name: string) {
    this.#size = size;
  }
  #at(off: number, bytes: number): number {
    if (typeof off !== "number" || !Number.isInteger(off) || off < 0 || off + bytes > this.#size) {
      throw new ConfigError(`${this.name}: ${bytes * 8}-bit access at ${String(off)} outside the region (${this.#size} bytes)`);
    }
    return this.base + off;
  }
  read8(o: number) { return this.io.read8(this.#at(o, 1)); }
  read16(o: number) { return this.io.read16(this.#at(o, 2)); }
  read32(o: number) { return this.io.read32(this.#at(o, 4)); }
  read64(o: number) { return this.io.read64(this.#at(o, 8)); }
  write8(o: number, v: number) { this.io.write8(this.#at(o, 1), v); }
  write16(o: number, v: number) { this.io.write16(this.#at(o, 2), v); }
  write32(o: number, v: number) { this.io.write32(this.#at(o, 4), v); }
  write64(o: number, v: bigint) { this.io.write64(this.#at(o, 8), v); }
  doorbell(o: number, v: number) { this.io.doorbell(this.#at(o, 4), v); }
  release(): void {
    this.#size = 0;
  }
}

function window(bar: MappedRegion, cap: VendorCapability, r: RegionSpec, label: string): LocatedRegion {
  const name = `${r.name} of ${label}`;
  // The whole BAR: the backend's own region (the sim's journaled register files stay journaled).
  if (cap.offset === 0 && cap.length === bar.size) return { region: bar, capability: cap, release: () => {} };
  let io: RegisterIo & { release(): void };
  if (bar.ptr !== 0) io = bar.kind === "ram" ? RamIo.fromPointer(bar.ptr + cap.offset, cap.length, name) : mmioIo(bar.ptr + cap.offset, cap.length, name);
  else io = new OffsetIo(bar.io, cap.offset, cap.length, name);
  const region: MappedRegion = { index: bar.index, size: cap.length, ptr: bar.ptr === 0 ? 0 : bar.ptr + cap.offset, kind: r.kind, io };
  return { region, capability: cap, release: () => io.release() };
}
