// PCI capability list walk over a device's configuration space, and the vendor-specific capability
// layout virtio 1.x uses to say where its register structures live (virtio 1.2, 4.1.4 "Virtio
// Structure PCI Capabilities"):
//
//   +0 cap_vndr (0x09)  +1 cap_next  +2 cap_len  +3 cfg_type  +4 bar  +5 id  +6 padding[2]
//   +8 offset (le32)    +12 length (le32)        [+16 notify_off_multiplier (le32), cfg_type 2 only]
//
// The configuration space comes as a RegisterIo (vfio: region 7 through pread; sim: a register file
// the backend fills). Everything read from it is the device's word, so each pointer and length is
// checked before it is followed: a loop in the list or a capability past the end is an error, never
// a hang or an out-of-range read.
import type { RegisterIo } from "../mem/io.ts";
import { ConfigError } from "../errors.ts";

export const PCI_STATUS = 0x06;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_CAP_ID_VNDR = 0x09;
/** Standard configuration space: capabilities live below 256 bytes. */
const CONFIG_SIZE = 256;
/** A list longer than this loops (256 bytes hold at most 48 four-byte-aligned capabilities). */
const MAX_CAPS = 48;

export interface PciCapability {
  /** Capability id (0x09: vendor specific). */
  id: number;
  /** Byte offset of the capability in configuration space. */
  offset: number;
}

/** The capabilities in list order; [] when the device has no list. */
export function walkCapabilities(config: RegisterIo, what: string): PciCapability[] {
  if ((config.read16(PCI_STATUS) & PCI_STATUS_CAP_LIST) === 0) return [];
  const out: PciCapability[] = [];
  let at = config.read8(PCI_CAPABILITY_LIST) & 0xfc;
  while (at !== 0) {
    if (at < 0x40 || at + 2 > CONFIG_SIZE) throw new ConfigError(`${what}: PCI capability pointer 0x${at.toString(16)} lies outside the capability area (0x40..0xff)`);
    if (out.length === MAX_CAPS) throw new ConfigError(`${what}: the PCI capability list does not end (more than ${MAX_CAPS} entries: a loop)`);
    out.push({ id: config.read8(at), offset: at });
    at = config.read8(at + 1) & 0xfc;
  }
  return out;
}

/** One virtio_pci_cap: where a structure of type `cfgType` lives. */
export interface VendorCapability {
  cfgType: number;
  bar: number;
  /** The capability's id byte (several structures of one type are told apart by it). */
  capId: number;
  offset: number;
  length: number;
  /** notify_off_multiplier, when the capability carries one (cap_len >= 20). */
  multiplier?: number;
  /** Where the capability itself is in configuration space. */
  at: number;
}

/** Every vendor-specific capability in the virtio_pci_cap layout, in list order. */
export function vendorCapabilities(config: RegisterIo, what: string): VendorCapability[] {
  const out: VendorCapability[] = [];
  for (const c of walkCapabilities(config, what)) {
    if (c.id !== PCI_CAP_ID_VNDR) continue;
    const len = config.read8(c.offset + 2);
    if (len < 16 || c.offset + len > CONFIG_SIZE) continue; // not the virtio layout: some other vendor's
    const cap: VendorCapability = {
      cfgType: config.read8(c.offset + 3),
      bar: config.read8(c.offset + 4),
      capId: config.read8(c.offset + 5),
      offset: config.read32(c.offset + 8),
      length: config.read32(c.offset + 12),
      at: c.offset,
    };
    if (len >= 20) cap.multiplier = config.read32(c.offset + 16);
    out.push(cap);
  }
  return out;
}

/**
 * Writes a configuration space holding `caps` as a capability list (for simulated devices): ids,
 * the status bit, the list pointer and each capability in the virtio_pci_cap layout from 0x40 on.
 */
export function writeVendorCapabilities(
  config: RegisterIo,
  ids: { vendor: number; device: number },
  caps: readonly Omit<VendorCapability, "at">[],
): void {
  config.write16(0x00, ids.vendor);
  config.write16(0x02, ids.device);
  config.write16(PCI_STATUS, PCI_STATUS_CAP_LIST);
  let at = 0x40;
  config.write8(PCI_CAPABILITY_LIST, caps.length === 0 ? 0 : at);
  caps.forEach((c, i) => {
    const len = c.multiplier === undefined ? 16 : 20;
    const next = i + 1 < caps.length ? at + 24 : 0;
    config.write8(at, PCI_CAP_ID_VNDR);
    config.write8(at + 1, next);
    config.write8(at + 2, len);
    config.write8(at + 3, c.cfgType);
    config.write8(at + 4, c.bar);
    config.write8(at + 5, c.capId);
    config.write32(at + 8, c.offset);
    config.write32(at + 12, c.length);
    if (c.multiplier !== undefined) config.write32(at + 16, c.multiplier);
    at = next;
  });
}
