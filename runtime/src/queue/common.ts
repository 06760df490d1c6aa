// Small pieces both engines use: register locations, width-exact loads/stores through RegisterIo,
// and the released/label bookkeeping.
import type { RegLoc } from "../backend.ts";
import type { DmaBuffer, DmaRef, DmaResolver, RegisterIo } from "../mem/index.ts";
import { ConfigError, UseAfterReleaseError } from "../errors.ts";
import type { QueueHost } from "./types.ts";

/** A register resolved to its region's RegisterIo and a byte offset (queue id applied for arrays). */
export interface BoundReg {
  readonly io: RegisterIo;
  readonly offset: number;
  readonly width: 8 | 16 | 32 | 64;
  readonly what: string;
}

export function bindReg(host: QueueHost, loc: RegLoc, id: number, what: string): BoundReg {
  const region = host.region(loc.region);
  const offset = loc.offset + (loc.stride ?? 0) * id;
  const bytes = loc.width / 8;
  if (offset < 0 || offset + bytes > region.size) {
    throw new ConfigError(`${what}: register at ${loc.region}+0x${offset.toString(16)} lies outside the region (${region.size} bytes)`);
  }
  return { io: region.io, offset, width: loc.width, what };
}

export function readReg(r: BoundReg): number {
  switch (r.width) {
    case 8: return r.io.read8(r.offset);
    case 16: return r.io.read16(r.offset);
    case 32: return r.io.read32(r.offset);
    default: return Number(r.io.read64(r.offset));
  }
}

/** A doorbell-ordered write: every earlier store (ring entries) is visible before it. */
export function ringReg(r: BoundReg, value: number): void {
  if (r.width === 32) r.io.doorbell(r.offset, value >>> 0);
  else if (r.width === 16) r.io.write16(r.offset, value & 0xffff);
  else if (r.width === 8) r.io.write8(r.offset, value & 0xff);
  else r.io.write64(r.offset, BigInt(value));
}

export function sameReg(a: RegLoc, b: RegLoc): boolean {
  return a.region === b.region && a.offset === b.offset && (a.stride ?? 0) === (b.stride ?? 0);
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Released-state bookkeeping with messages that say why the queue is gone. */
export class Lifetime {
  #released = false;
  #why = "released";
  constructor(readonly label: string) {}
  get released(): boolean {
    return this.#released;
  }
  check(): void {
    if (this.#released) throw new UseAfterReleaseError(`queue ${this.label}`, this.#why);
  }
  /** Marks released; throws if it already was (release twice is a bug in the caller). */
  end(why = "released"): void {
    this.check();
    this.#released = true;
    this.#why = why;
  }
}

/**
 * The DMA buffers each in-flight request references. Encoders get `resolver`, which resolves through
 * the device's own resolver (the shared-with-this-device and bounds checks) and notes each buffer;
 * `commit(slot)` pins the noted buffers on the device for that request, `done(slot)` unpins them when
 * its completion is taken. So a buffer a queued request points at cannot be unshared or freed under
 * the device (it would DMA into memory the process reuses). Requests without DMA fields cost nothing.
 */
export class InFlightRefs {
  readonly resolver: DmaResolver;
  readonly #host: QueueHost;
  readonly #label: string;
  readonly #noted: DmaBuffer[] = [];
  readonly #slots: (DmaBuffer[] | undefined)[];

  constructor(host: QueueHost, slots: number, label: string) {
    this.#host = host;
    this.#label = label;
    this.#slots = new Array(slots).fill(undefined);
    const noted = this.#noted;
    this.resolver = {
      addressOf(ref: DmaRef, field: string): number {
        const iova = host.dma.addressOf(ref, field); // throws before anything is noted
        noted.push(ref.buffer);
        return iova;
      },
    };
  }

  /** Before an encoder runs: forget what a failed earlier encode noted. */
  begin(): void {
    this.#noted.length = 0;
  }

  /** The encoder succeeded and the request takes `slot`: pin what it referenced. */
  commit(slot: number): void {
    const noted = this.#noted;
    const n = noted.length;
    if (n === 0) return;
    // One pin per buffer per request, however many of its fields point into the buffer. A request
    // names a handful of buffers: a scan of the slot's own (reused) array allocates nothing per
    // request, where a Set and a new array per send were the client's largest cost.
    const bufs = (this.#slots[slot] ??= []);
    bufs.length = 0;
    for (let i = 0; i < n; i++) {
      const b = noted[i]!;
      let k = 0;
      while (k < bufs.length && bufs[k] !== b) k++;
      if (k === bufs.length) bufs.push(b);
    }
    noted.length = 0;
    for (let k = 0; k < bufs.length; k++) this.#host.pin(bufs[k]!, this.#label);
  }

  /** The request in `slot` completed (or the device forgot it): unpin. */
  done(slot: number): void {
    const bufs = this.#slots[slot];
    if (bufs === undefined) return;
    for (let k = 0; k < bufs.length; k++) this.#host.unpin(bufs[k]!, this.#label);
    bufs.length = 0; // the slot's "nothing pinned" mark
  }

  /** Every request's pins dropped (queue released). */
  clear(): void {
    for (let i = 0; i < this.#slots.length; i++) this.done(i);
  }
}
