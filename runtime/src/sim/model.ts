// The contract between the sim backend and a device model (`devices/<dev>/model.ts`).
//
// A model is the device's behaviour written in TypeScript. The sim backend runs it in a Worker,
// concurrently with the client, over the very register memory the client maps (memfd + MAP_SHARED):
// the client's code path is the hardware path, so the model cannot intercept accesses. It sees
// the *effects* of the client's stores and reacts, the way a device notices a doorbell write:
//
//   export default defineModel({
//     name: "wd-dummy",
//     init(ctx) {                       // regions are zeroed; set reset values, return the state
//       return { db: ctx.watch("queue", 0x08) };
//     },
//     poll(ctx, s) {                    // called over and over; return true when it did work
//       if (!s.db.changed()) return false;
//       ... ctx.dma.read(iova, n) / ctx.dma.write(iova, bytes) ... ctx.raise(0);
//       return true;
//     },
//   });
//
// Rules a model must keep:
// - Touch register memory only through `ModelRegion` accessors (Atomics on the shared page: a load
//   the JIT cannot hoist out of the host's polling loop) and host memory only through `ctx.dma`.
// - Views from `ctx.dma.view` and `region.bytes` are valid during the current `poll` call only:
//   between calls the client may unshare and free the memory (the backend waits for the model to
//   leave `poll` before unmapping anything, so within one call they are safe).
// - Never block inside `poll` (no Atomics.wait, no sleeping): the host decides when to idle.
//   Return `true` while work is pending (e.g. a timed operation not yet due), `false` when idle.
// - A DMA to an iova the client has not shared throws `DmaFault`; catch it and report it the way
//   the device would (a status code in a descriptor); an uncaught error, or `ctx.fault(msg)`,
//   stops the model as a hung device and is reported on the client side with the device address.
//
// Register writes, two ways:
// - Watching (`ctx.watch`): compare a register with the value seen last time. Enough for doorbells
//   and indices that only move forward; blind to a store of the value already there.
// - The write journal (`journal: ["bar0"]` in the model): every client store to that region becomes
//   an event (offset, width, value) the model drains in order with `ctx.writes("bar0").drain(fn)`,
//   and the model alone writes the region's memory (what reads return). A client read waits until
//   the model has drained the client's earlier writes, as a PCIe read flushes posted writes: write
//   factorial, then read status, sees "computing", as on hardware. Use it for register-file devices
//   whose writes have side effects (edu, NVMe's CC); the region's RegisterIo then costs a journal
//   append per write and, after writes, a model round trip per read.
//
// Idling: after `poll` returns false for a while (spin window ~1 ms after the last work) the host
// sleeps in Atomics.wait with a timeout of 1/16 of the idle time so far (50 µs to 1 ms), so an idle device costs ~1000
// wake-ups a second and the first request after a long idle period is noticed within ~1 ms; while
// busy the doorbell is noticed within one poll (sub-microsecond). See sim/host.ts.
import type { DeviceSpec } from "../backend.ts";

/** A register file (region) as the model sees it: width-exact, atomic loads and stores on the shared page. */
export interface ModelRegion {
  readonly name: string;
  readonly index: number;
  readonly size: number;
  readonly kind: "mmio" | "ram";
  read8(offset: number): number;
  read16(offset: number): number;
  read32(offset: number): number;
  read64(offset: number): bigint;
  write8(offset: number, value: number): void;
  write16(offset: number, value: number): void;
  write32(offset: number, value: number): void;
  write64(offset: number, value: bigint): void;
  /** Raw bytes of the region (plain loads; for bulk copies, e.g. an on-board buffer). Valid during this poll. */
  readonly bytes: Uint8Array;
}

/** Access to host memory through the DMA translation table (iova -> the client's shared buffers). */
export interface ModelDma {
  /** Copy `length` bytes at `iova` out of host memory. Throws DmaFault when unmapped. */
  read(iova: number | bigint, length: number): Uint8Array;
  /** Copy `bytes` into host memory at `iova`. Throws DmaFault when unmapped. */
  write(iova: number | bigint, bytes: Uint8Array): void;
  /** A live view of host memory (zero-copy), valid during this poll call only. Throws DmaFault. */
  view(iova: number | bigint, length: number): Uint8Array;
  /** True when [iova, iova+length) is mapped in one piece. */
  mapped(iova: number | bigint, length: number): boolean;
}

/** What `ctx.dma` offers beyond ModelDma: the host-memory-to-host-memory transfer of a DMA engine. */
export interface ModelDmaEngine extends ModelDma {
  /** Copies `length` bytes from `src` to `dst` (overlap allowed), both checked like read/write;
   *  throws DmaFault (nothing copied) when either is unmapped. Allocates nothing. */
  copy(dst: number | bigint, src: number | bigint, length: number): void;
}

/** A DMA to or from an iova range the client has not shared with this device. */
export class DmaFault extends Error {
  readonly iova: bigint;
  readonly length: number;
  readonly write: boolean;
  constructor(iova: bigint, length: number, write: boolean) {
    super(`DMA ${write ? "write" : "read"} fault at iova 0x${iova.toString(16)} (+${length} bytes): not mapped`);
    this.name = "DmaFault";
    this.iova = iova;
    this.length = length;
    this.write = write;
  }
}

/**
 * Notices stores to one register by value: `changed()` is true once for each new value seen.
 * Two stores of the same value (or of different values faster than one poll) look like one; a
 * model that must count writes (an "ack" register) should `consume()` after acting, which puts
 * `idle` back so the next store of any non-idle value is seen.
 */
export interface RegisterWatch<T extends number | bigint = number> {
  /** Loads the register; true when it differs from the value last seen (and remembers it). */
  changed(): boolean;
  /** The value seen by the last `changed()` call. */
  readonly value: T;
  /** Writes `idle` (default 0) back to the register and remembers it as seen. */
  consume(idle?: T): void;
}

/** One client store to a journaled region. `value` is the stored value (zero-extended). */
export type WriteHandler = (offset: number, value: bigint, width: 8 | 16 | 32 | 64) => void;

/** The write journal of one region (see the file comment). */
export interface WriteLog {
  /** Calls `fn` for every write not yet seen, oldest first, and acknowledges them; returns how many. */
  drain(fn: WriteHandler): number;
  /** Writes waiting to be drained. */
  readonly pending: number;
}

/** One descriptor a client stored into a portal: its offset in the region, the bytes (a view valid
 *  during the handler only) and their count. */
export type PortalHandler = (offset: number, descriptor: DataView, size: number) => void;

/** The descriptors stored into one portal region, whole and in order (see sim/portal-mailbox.ts). */
export interface PortalLog {
  /** Calls `fn` for up to `max` descriptors not yet seen, oldest first; returns how many. */
  drain(fn: PortalHandler, max?: number): number;
  /** Descriptors waiting. */
  readonly pending: number;
}

export interface ModelContext {
  /** The device address the client sees, e.g. "sim:wd-dummy/3"; use it in log and fault messages. */
  readonly address: string;
  readonly spec: DeviceSpec;
  readonly regions: readonly ModelRegion[];
  /** A region by its name in the device description; throws naming the region if absent. */
  region(name: string): ModelRegion;
  readonly dma: ModelDmaEngine;
  /** Raises interrupt `index` (or the named interrupt): one write to its eventfd. Dropped when the
   *  client has not enabled that vector, as a masked MSI would be. */
  raise(irq: number | string): void;
  /** Watches a 32-bit (or narrower) register. */
  watch(region: string, offset: number, width?: 8 | 16 | 32): RegisterWatch<number>;
  /** Watches a 64-bit register. */
  watch64(region: string, offset: number): RegisterWatch<bigint>;
  /** The write journal of a region the model listed in `journal`. */
  writes(region: string): WriteLog;
  /** Descriptors stored into the portals of a region that a portal queue of the spec names. */
  portal(region: string): PortalLog;
  /** Milliseconds, monotonic (performance.now of the model's thread). */
  now(): number;
  /** Stops the model as a hung device; the message reaches the client side (stderr and close()). */
  fault(message: string): never;
  /** A line on stderr prefixed with the device address (for debugging a model). */
  log(message: string): void;
}

export interface DeviceModel<S = unknown> {
  /** Shown in messages; defaults to the spec's device name. */
  readonly name?: string;
  /** Regions whose client stores reach the model as a journal of writes (see the file comment). */
  readonly journal?: readonly string[];
  /** Power-on: regions are zeroed; write reset values and return the model's state. */
  init(ctx: ModelContext): S;
  /** One round of work; true when something was done or is still pending. Never blocks. */
  poll(ctx: ModelContext, state: S): boolean;
  /** Device reset: regions are zeroed again; default re-runs `init`. Returns the new state. */
  reset?(ctx: ModelContext, state: S): S;
  /** The device is closed; release anything the model holds. */
  stop?(ctx: ModelContext, state: S): void;
}

/** Identity helper that gives `S` its type: `export default defineModel({ init, poll })`. */
export function defineModel<S>(model: DeviceModel<S>): DeviceModel<S> {
  return model;
}
