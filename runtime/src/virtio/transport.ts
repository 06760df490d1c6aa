// The virtio 1.x PCI transport (virtio 1.2, 3.1 "Device Initialization", 4.1.4.3 common
// configuration): device status handshake, 64-bit feature negotiation through the select
// registers, virtqueue setup, and consistent reads of device configuration through the
// configuration generation counter.
//
// Initialization order (3.1.1), split over the driver's calls:
//   negotiate():  reset -> ACKNOWLEDGE -> DRIVER -> read features -> write the accepted ones ->
//                 FEATURES_OK -> re-read: the device may refuse the set (it clears FEATURES_OK)
//   setupQueue(): per queue (Device.requestQueue on a virtq-split queue)
//   driverOk():   DRIVER_OK, after which the device may use the queues
// The common configuration's registers are device memory: every value read is the device's word
// and is checked (a queue size that is not a power of two, a vector the device did not take).
import type { MappedRegion } from "../backend.ts";
import type { RegisterIo } from "../mem/io.ts";
import { checkBigInt, checkBoolean, checkOptions, optional } from "../args.ts";
import { ConfigError, TimeoutError, WarpDriveError } from "../errors.ts";
import {
  bit, COMMON, F_ACCESS_PLATFORM, F_EVENT_IDX, F_INDIRECT_DESC, F_VERSION_1, FEATURE_NAMES, MAX_QUEUE_SIZE, NO_VECTOR, STATUS_ACKNOWLEDGE, STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER, STATUS_DRIVER_OK, STATUS_FAILED, STATUS_FEATURES_OK,
} from "./constants.ts";

/** How long a reset may take before the device is declared stuck (QEMU answers at once). */
const RESET_TIMEOUT_MS = 1000;
/** Tries of a configuration read before a generation counter that never settles is an error. */
const CONFIG_TRIES = 100;

export interface NegotiateOptions {
  /** Device feature bits the driver can use (device type specific, bits 0..23 and others). */
  wanted?: bigint;
  /** Bits the driver cannot do without: refused with a ConfigError naming them when not offered. */
  required?: bigint;
  /** Use indirect descriptors when offered (default true). */
  indirect?: boolean;
  /** Use event-index notification suppression when offered (default true). */
  eventIdx?: boolean;
}

/** Where a queue's rings are and which vector it raises. */
export interface QueueSetup {
  size: number;
  desc: number;
  driver: number;
  device: number;
  /** MSI-X vector, or undefined for none. */
  vector: number | undefined;
}

export interface VirtioTransportParts {
  /** For messages: "virtio-blk at 0000:00:04.0". */
  label: string;
  common: MappedRegion;
  notify: MappedRegion;
  multiplier: number;
  isr?: MappedRegion;
  config?: MappedRegion;
  /** The device uses our IOVAs only when it negotiates ACCESS_PLATFORM (required on vfio). */
  needsAccessPlatform: boolean;
}

function featureList(bits: bigint): string {
  const names: string[] = [];
  for (let i = 0; i < 64; i++) if (bits & bit(i)) names.push(FEATURE_NAMES[i] ?? `bit ${i}`);
  return names.join(", ");
}

export class VirtioTransport {
  readonly label: string;
  readonly #io: RegisterIo;
  readonly #notify: MappedRegion;
  readonly #multiplier: number;
  readonly #isr: RegisterIo | undefined;
  readonly #config: RegisterIo | undefined;
  readonly #needsAccessPlatform: boolean;
  #offered: bigint | undefined;
  #features: bigint | undefined;
  #driverOk = false;
  /** Queue indices set up since the last reset: a live queue cannot be set up again (3.1.1). */
  readonly #setUp = new Set<number>();

  constructor(parts: VirtioTransportParts) {
    this.label = parts.label;
    this.#io = parts.common.io;
    this.#notify = parts.notify;
    this.#multiplier = parts.multiplier;
    this.#isr = parts.isr?.io;
    this.#config = parts.config?.io;
    this.#needsAccessPlatform = parts.needsAccessPlatform;
  }

  /** device_status as the device reports it. */
  get status(): number {
    return this.#io.read8(COMMON.deviceStatus);
  }

  /** Feature bits the device offers (read at the last negotiate). */
  get offered(): bigint | undefined {
    return this.#offered;
  }

  /** Feature bits in force after negotiate(); undefined before. */
  get features(): bigint | undefined {
    return this.#features;
  }

  /** Whether feature `n` was negotiated. */
  has(n: number): boolean {
    return this.#features !== undefined && (this.#features & bit(n)) !== 0n;
  }

  get numQueues(): number {
    return this.#io.read16(COMMON.numQueues);
  }

  /** Writes 0 to device_status and waits until the device reads back 0 (4.1.4.3.2). */
  reset(): void {
    this.#io.write8(COMMON.deviceStatus, 0);
    const t0 = performance.now();
    while (this.#io.read8(COMMON.deviceStatus) !== 0) {
      if (performance.now() - t0 > RESET_TIMEOUT_MS) throw new TimeoutError(`reset of ${this.label}`, RESET_TIMEOUT_MS, "device_status did not read back 0");
      Bun.sleepSync(1);
    }
    this.forget();
  }

  /** The device was reset behind the transport's back (Device.reset): nothing is negotiated any more. */
  forget(): void {
    this.#offered = undefined;
    this.#features = undefined;
    this.#driverOk = false;
    this.#setUp.clear();
  }

  #addStatus(bits: number): void {
    this.#io.write8(COMMON.deviceStatus, this.#io.read8(COMMON.deviceStatus) | bits);
  }

  #readFeatures(): bigint {
    this.#io.write32(COMMON.deviceFeatureSelect, 0);
    const lo = this.#io.read32(COMMON.deviceFeature);
    this.#io.write32(COMMON.deviceFeatureSelect, 1);
    const hi = this.#io.read32(COMMON.deviceFeature);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  #writeFeatures(f: bigint): void {
    this.#io.write32(COMMON.driverFeatureSelect, 0);
    this.#io.write32(COMMON.driverFeature, Number(f & 0xffffffffn));
    this.#io.write32(COMMON.driverFeatureSelect, 1);
    this.#io.write32(COMMON.driverFeature, Number((f >> 32n) & 0xffffffffn));
  }

  /**
   * Resets the device and negotiates: accepts what the device offers of `wanted` plus the transport
   * features this runtime implements (VERSION_1, ACCESS_PLATFORM, and INDIRECT_DESC / EVENT_IDX unless
   * turned off). Returns the features in force. A device without VERSION_1 (legacy only), one
   * missing a `required` bit, or one that clears FEATURES_OK is refused, with the status set to FAILED.
   */
  negotiate(optionsIn?: NegotiateOptions): bigint {
    const o = checkOptions(optionsIn, "options", `negotiate on ${this.label}`);
    const where = `negotiate on ${this.label}`;
    const wanted = optional(o?.wanted, (v) => checkBigInt(v, "options.wanted", 0n, (1n << 64n) - 1n, where)) ?? 0n;
    const required = optional(o?.required, (v) => checkBigInt(v, "options.required", 0n, (1n << 64n) - 1n, where)) ?? 0n;
    const indirect = optional(o?.indirect, (v) => checkBoolean(v, "options.indirect", where)) ?? true;
    const eventIdx = optional(o?.eventIdx, (v) => checkBoolean(v, "options.eventIdx", where)) ?? true;
    this.reset();
    this.#addStatus(STATUS_ACKNOWLEDGE);
    this.#addStatus(STATUS_DRIVER);
    const offered = this.#readFeatures();
    this.#offered = offered;
    const fail = (msg: string, hint?: string): never => {
      this.#addStatus(STATUS_FAILED);
      throw new ConfigError(`${this.label}: ${msg}`, { hint });
    };
    if ((offered & bit(F_VERSION_1)) === 0n) fail("the device does not offer VIRTIO_F_VERSION_1 (a legacy-only device)", "QEMU: add disable-legacy=on to the -device option");
    if (this.#needsAccessPlatform && (offered & bit(F_ACCESS_PLATFORM)) === 0n) {
      fail(
        "the device does not offer VIRTIO_F_ACCESS_PLATFORM: it would bypass the IOMMU and read guest-physical addresses, not the IOVAs VFIO maps",
        "QEMU: add iommu_platform=on to the -device option",
      );
    }
    const missing = required & ~offered;
    if (missing !== 0n) fail(`the device does not offer ${featureList(missing)}, which the driver requires`);
    let transport = bit(F_VERSION_1) | bit(F_ACCESS_PLATFORM);
    if (indirect) transport |= bit(F_INDIRECT_DESC);
    if (eventIdx) transport |= bit(F_EVENT_IDX);
    const accept = offered & (wanted | required | transport);
    this.#writeFeatures(accept);
    this.#addStatus(STATUS_FEATURES_OK);
    if ((this.#io.read8(COMMON.deviceStatus) & STATUS_FEATURES_OK) === 0) {
      fail(`the device did not accept the features ${featureList(accept)} (FEATURES_OK was cleared)`);
    }
    this.#features = accept;
    return accept;
  }

  /** The device's largest size for queue `index` (0: no such queue). */
  maxQueueSize(index: number): number {
    this.#io.write16(COMMON.queueSelect, index);
    return this.#io.read16(COMMON.queueSize);
  }

  /**
   * Programs queue `index` (3.1.1 step 7, 4.1.5.1.3): size, ring addresses, MSI-X vector, then
   * queue_enable. Returns the notification register's byte offset in the notify region.
   */
  setupQueue(index: number, q: QueueSetup): { notifyOffset: number; notify: MappedRegion } {
    if (this.#features === undefined) {
      throw new WarpDriveError(`${this.label}: queue ${index} cannot be set up before features are negotiated`, { hint: "call negotiate() first (the generated driver's open does)" });
    }
    if (this.#driverOk) {
      throw new WarpDriveError(`${this.label}: queue ${index} cannot be set up after DRIVER_OK`, { hint: "request every queue before driverOk(); reset() the device to start over" });
    }
    if (this.#setUp.has(index)) {
      throw new WarpDriveError(`${this.label}: queue ${index} was set up since the last reset; the device still holds its rings`, { hint: "reset the device (device.reset()) to set it up again" });
    }
    const io = this.#io;
    io.write16(COMMON.queueSelect, index);
    const max = io.read16(COMMON.queueSize);
    if (max === 0) throw new ConfigError(`${this.label}: the device has no queue ${index} (queue_size 0)`);
    if (q.size > max || q.size > MAX_QUEUE_SIZE) throw new ConfigError(`${this.label}: queue ${index} of ${q.size} entries is larger than the device's ${max}`);
    if (io.read16(COMMON.queueEnable) !== 0) throw new ConfigError(`${this.label}: queue ${index} is enabled already (the device was not reset)`);
    io.write16(COMMON.queueSize, q.size);
    // 64-bit fields as two 32-bit stores, low half first: what every transport implementation accepts
    write64(io, COMMON.queueDesc, q.desc);
    write64(io, COMMON.queueDriver, q.driver);
    write64(io, COMMON.queueDevice, q.device);
    const vector = q.vector ?? NO_VECTOR;
    io.write16(COMMON.queueMsixVector, vector);
    const got = io.read16(COMMON.queueMsixVector);
    if (got !== vector) throw new ConfigError(`${this.label}: the device did not take MSI-X vector ${vector} for queue ${index} (reads back ${got})`);
    const off = io.read16(COMMON.queueNotifyOff);
    const notifyOffset = off * this.#multiplier;
    if (notifyOffset + 2 > this.#notify.size) {
      throw new ConfigError(`${this.label}: queue ${index}'s notification address (${off} * ${this.#multiplier}) lies outside the ${this.#notify.size}-byte notify structure`);
    }
    io.write16(COMMON.queueEnable, 1);
    this.#setUp.add(index);
    return { notifyOffset, notify: this.#notify };
  }

  /** Sets DRIVER_OK: the device may now use the queues set up. */
  driverOk(): void {
    if (this.#features === undefined) throw new WarpDriveError(`${this.label}: driverOk() before negotiate()`);
    this.#addStatus(STATUS_DRIVER_OK);
    this.#driverOk = true;
    this.checkHealthy();
  }

  /** Throws when the device says it needs a reset (an error it cannot recover from by itself). */
  checkHealthy(): void {
    const s = this.#io.read8(COMMON.deviceStatus);
    if (s & STATUS_DEVICE_NEEDS_RESET) throw new WarpDriveError(`${this.label}: the device set DEVICE_NEEDS_RESET (status 0x${s.toString(16)})`, { hint: "reset the device and open it again" });
  }

  /** config_generation: changes whenever the device changes its configuration. */
  get generation(): number {
    return this.#io.read8(COMMON.configGeneration);
  }

  /**
   * Reads the device-specific configuration consistently (4.1.4.3.1 / 2.5.1): `read` runs until
   * the generation counter is the same before and after it, so a multi-field value (a 64-bit
   * capacity read in two halves) never mixes two configurations.
   */
  readConfig<T>(read: (config: RegisterIo) => T): T {
    const config = this.#config;
    if (config === undefined) throw new ConfigError(`${this.label} has no device-specific configuration region`);
    for (let i = 0; i < CONFIG_TRIES; i++) {
      const before = this.generation;
      const value = read(config);
      if (this.generation === before) return value;
    }
    throw new WarpDriveError(`${this.label}: the device configuration kept changing over ${CONFIG_TRIES} reads (config_generation)`);
  }

  /** ISR status (reading clears it): bit 0 a queue interrupt, bit 1 a configuration change. Only for INTx. */
  readIsr(): number {
    if (this.#isr === undefined) throw new ConfigError(`${this.label} has no ISR region`);
    return this.#isr.read8(0);
  }
}

function write64(io: RegisterIo, off: number, v: number): void {
  io.write32(off, v >>> 0);
  io.write32(off + 4, Math.floor(v / 0x100000000) >>> 0);
}
