// Small pieces both engines use: register locations, width-exact loads/stores through RegisterIo,
// and the released/label bookkeeping.
import type { RegLoc } from "../backend.ts";
import type { DmaBuffer, RegisterIo } from "../mem/index.ts";
import { checkNumber } from "../args.ts";
import { ConfigError, UseAfterReleaseError, WarpDriveError } from "../errors.ts";
import { isRequestError } from "../codec.ts";
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

/**
 * A doorbell-ordered write: every earlier store (ring entries) is visible before it. Each backend
 * uses the cheapest ordering that is correct on x86-64 and arm64 (RegisterIo.doorbell):
 * - a mapped BAR (vfio): the native helper's wd_db32, a compiler barrier on x86-64 (TSO keeps
 *   stores in order, also towards uncached MMIO) and `dmb oshst` on arm64, then one 32-bit store;
 *   the argument is written beside the C code (runtime/native/mmio.c).
 * - ordinary memory shared with another thread or process (the sim's register files, an mdev queue
 *   page): Atomics.store. JavaScript has no release-only store, and a plain typed-array store is
 *   not ordered against the ring entries for another agent at all, so the sequentially consistent
 *   store (xchg on x86-64, stlr on arm64) is the cheapest correct one. It is paid once per flush,
 *   not per request: batching amortises it.
 * 8/16/64-bit doorbells go through the plain width-exact stores: ordered on x86-64 (TSO, and the
 * FFI call is a compiler barrier), not fenced on arm64 — every shipped description uses 32-bit
 * doorbells.
 */
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

/** The async layer's key to a queue it drives (Queue.claimAsync): its own calls go through. */
export interface AsyncGate {
  /** Lets the queue's methods run (the async layer is calling them). */
  enter(): void;
  /** Refuses them again to everyone else. */
  leave(): void;
}

/** Why a queue ended, for the async layer: released by its owner, or with its device. */
export type EndKind = "released" | "reset" | "closed" | "removed";

const RELEASED = 1;
const ASYNC = 2;

/**
 * Released-state bookkeeping with messages that say why the queue is gone, and the refusal of
 * sync calls on a queue the async layer drives (one state word, so the hot path's check stays one
 * comparison).
 */
export class Lifetime {
  #state = 0;
  #why = "released";
  /** Thrown by every later call instead of UseAfterReleaseError (the device was removed). */
  #error: Error | undefined;
  #claimed = false;
  #onEnd: ((why: string, kind: EndKind, error?: Error) => void) | undefined;
  constructor(readonly label: string) {}
  get released(): boolean {
    return (this.#state & RELEASED) !== 0;
  }
  check(): void {
    if (this.#state !== 0) this.#refuse();
  }
  #refuse(): never {
    if (this.#error !== undefined) throw this.#error;
    if ((this.#state & RELEASED) !== 0) throw new UseAfterReleaseError(`queue ${this.label}`, this.#why);
    throw new WarpDriveError(`queue ${this.label} is driven asynchronously (submit/completions): its sync methods cannot be used on it`, {
      hint: "use submit() on this queue, or request another queue of the device for sync use",
    });
  }
  /** Marks released; throws if it already was (release twice is a bug in the caller). `error`:
   *  what every later call (and the async layer's pending requests) fails with instead. */
  end(why = "released", kind: EndKind = "released", error?: Error): void {
    if ((this.#state & RELEASED) !== 0) this.#refuse();
    this.#state = RELEASED;
    this.#why = why;
    this.#error = error;
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.(why, kind, error);
  }
  /** Hands the queue to the async layer; `inFlight`: requests sent through the sync methods. */
  claim(inFlight: number, onEnd: (why: string, kind: EndKind, error?: Error) => void): AsyncGate {
    if ((this.#state & RELEASED) === 0 && this.#claimed) throw new WarpDriveError(`queue ${this.label} is already driven asynchronously`);
    this.check();
    if (inFlight > 0) {
      throw new WarpDriveError(`queue ${this.label}: ${inFlight} request(s) sent with the sync methods are in flight; sync and async cannot be mixed on one queue`, {
        hint: "receive them first, or request another queue of the device for async use",
      });
    }
    this.#claimed = true;
    this.#onEnd = onEnd;
    this.#state = ASYNC;
    return {
      enter: () => {
        this.#state &= ~ASYNC;
      },
      leave: () => {
        if (this.#state === 0) this.#state = ASYNC;
      },
    };
  }
}

/**
 * The DMA buffers each in-flight request references, per slot (a ring index or a tag). Each
 * reference counts one pin on its DmaBuffer (`buf.pins`), so a buffer a queued request points at
 * cannot be unshared or freed under the device (it would DMA into memory the process reuses).
 * Storage is fixed when the queue opens: PER_SLOT buffers per slot in one flat array, and a reused
 * overflow array for a request naming more; pinning and unpinning allocate nothing.
 */
export class SlotPins {
  static readonly PER_SLOT = 4;
  readonly #bufs: (DmaBuffer | undefined)[];
  readonly #count: Uint8Array;
  readonly #more: (DmaBuffer[] | undefined)[];

  constructor(slots: number) {
    this.#bufs = new Array<DmaBuffer | undefined>(slots * SlotPins.PER_SLOT).fill(undefined);
    this.#count = new Uint8Array(slots);
    this.#more = new Array<DmaBuffer[] | undefined>(slots).fill(undefined);
  }

  add(slot: number, buf: DmaBuffer): void {
    buf.pin();
    const n = this.#count[slot]!;
    if (n < SlotPins.PER_SLOT) {
      this.#bufs[slot * SlotPins.PER_SLOT + n] = buf;
      this.#count[slot] = n + 1;
    } else {
      (this.#more[slot] ??= []).push(buf);
    }
  }

  /** The request in `slot` completed, was refused, or the device forgot it: unpin its buffers. */
  release(slot: number): void {
    const n = this.#count[slot]!;
    if (n === 0) return;
    const base = slot * SlotPins.PER_SLOT;
    for (let k = 0; k < n; k++) {
      this.#bufs[base + k]!.unpin();
      this.#bufs[base + k] = undefined;
    }
    this.#count[slot] = 0;
    const more = this.#more[slot];
    if (more !== undefined && more.length > 0) {
      for (const b of more) b.unpin();
      more.length = 0;
    }
  }

  /** How many references in flight point at `buf` (slow path: unshare/free refusal messages). */
  countOf(buf: DmaBuffer): number {
    let n = 0;
    for (const b of this.#bufs) if (b === buf) n++;
    for (const m of this.#more) if (m !== undefined) for (const b of m) if (b === buf) n++;
    return n;
  }

  /** Every slot released (queue released). */
  clear(): void {
    for (let i = 0; i < this.#count.length; i++) this.release(i);
  }
}

/** A request refused while it was being encoded: the error, with the queue's name when it is ours. */
export function refusal(label: string, e: unknown): unknown {
  if (isRequestError(e) && !e.message.startsWith(`queue ${label}`)) e.message = `queue ${label}: ${e.message}`;
  return e;
}

/** recvSync's timeout: a number of milliseconds, read once, never coerced. */
export function checkTimeout(label: string, timeoutMs: unknown): number {
  return checkNumber(timeoutMs, "timeoutMs", 0, Infinity, `recvSync on queue ${label}`);
}
