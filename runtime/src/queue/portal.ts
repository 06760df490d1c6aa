// PortalQueue: a work queue fed through a portal, with completion records (DSA/IAA style).
//
// - Submission: the request is encoded into a staging descriptor in host memory, the engine sets
//   the descriptor's completion-record address to the record of the request's slot, marks that
//   record pending, and hands the descriptor to the backend's PortalPort, which writes it to the
//   portal in one store (MOVDIR64B on a mapped BAR; the sim's mailbox, which the model drains whole
//   descriptors from). There is no ring, no index and no doorbell: the store is the submission, so
//   flush() has nothing to do.
// - Depth: the work queue accepts `depth` descriptors; the engine never has more in flight, so a
//   dedicated queue is never overrun (the device drops a descriptor sent to a full dedicated queue
//   without telling anyone). A shared queue (ENQCMD) may still answer retry: publish() then refuses
//   with QueueFullError and the slot is free again.
// - Completion: one record per slot in DMA memory, aligned as the device requires. A request is done
//   when its record's status field differs from `pending`; the engine reads it with Atomics.load
//   (ordinary RAM: a load the JIT cannot hoist). Records may complete in any order: take() looks at
//   the slots in flight, oldest first from where it last stopped, and allocates nothing.
// - Tags are slot numbers (0..depth-1); a tag is reused only after take() returned it.
import type { IrqLine, PortalPort, PortalQueueSpec } from "../backend.ts";
import type { DmaBuffer, DmaRef, DmaResolver } from "../mem/index.ts";
import { ConfigError, QueueFullError, WarpDriveError } from "../errors.ts";
import { checkTimeout, isPowerOfTwo, Lifetime, refusal, SlotPins, type AsyncGate, type EndKind } from "./common.ts";
import type { Completion, Encoder, Queue, QueueHost } from "./types.ts";
import { waitForCompletion } from "./wait.ts";
import type { RemovalWatch } from "../removal.ts";

/** Alignment of the staging descriptor (MOVDIR64B reads its 64-byte source anywhere, but one cache line is cheaper). */
const STAGING_ALIGN = 64;

export class PortalQueue implements Queue {
  readonly name: string;
  readonly id: number;
  readonly label: string;
  readonly depth: number;
  readonly descriptorSize: number;
  /** Bytes between two completion records (the record size rounded up to its alignment). */
  readonly recordStride: number;
  /** Completion records (one per slot) followed by the staging descriptor; shared with the device. */
  readonly recordBuffer: DmaBuffer;
  /** How descriptors reach the portal ("movdir64b", "enqcmd", "sim"). */
  readonly primitive: string;

  readonly #host: QueueHost;
  readonly #life: Lifetime;
  readonly #removal: RemovalWatch | undefined;
  readonly #port: PortalPort;
  readonly #portalOffset: number;
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  readonly #staging: number; // byte offset of the staging descriptor in the buffer
  readonly #stagingPtr: number;
  readonly #staged: Uint8Array; // the staging descriptor's bytes
  readonly #recordIova: number;
  readonly #addressOffset: number;
  readonly #statusArr: Uint8Array | Uint16Array | Uint32Array;
  readonly #statusIndex: number; // element index of slot 0's status field in #statusArr
  readonly #statusStep: number; // elements between two slots' status fields
  readonly #statusWidth: 8 | 16 | 32;
  readonly #pending: number;
  readonly #irq: IrqLine | undefined;
  readonly #pins: SlotPins;
  readonly #dma: DmaResolver;
  readonly #take: () => number;
  // free slots (a stack) and which are out
  readonly #free: Uint16Array;
  #freeTop: number;
  readonly #out: Uint8Array;
  #inFlight = 0;
  #scan = 0; // where take() looks first
  #reserved = -1; // slot taken for the request being encoded, or -1
  #abandoned: readonly number[] = [];

  /** Byte offset of the last taken completion's record in `completionView`. */
  completionOffset = 0;
  /** The status field of the last taken completion. */
  completionStatus = 0;

  constructor(host: QueueHost, spec: PortalQueueSpec, id = 0) {
    this.name = spec.name;
    this.id = id;
    this.label = `${host.address}/${spec.name}${spec.first === spec.last ? "" : `[${id}]`}`;
    this.#life = new Lifetime(this.label);
    this.#removal = host.removal;
    const c = spec.completion;
    if (!Number.isInteger(spec.depth) || spec.depth < 1 || spec.depth > 0xffff) throw new ConfigError(`queue ${this.label}: depth ${spec.depth} is not 1..65535`);
    if (!isPowerOfTwo(c.align)) throw new ConfigError(`queue ${this.label}: completion record alignment ${c.align} is not a power of two`);
    if (c.statusOffset % (c.statusWidth / 8) !== 0 || c.statusOffset + c.statusWidth / 8 > c.size) {
      throw new ConfigError(`queue ${this.label}: status field at +${c.statusOffset} (${c.statusWidth} bits) does not fit the ${c.size}-byte record aligned`);
    }
    if (c.addressOffset % 8 !== 0 || c.addressOffset + 8 > spec.descriptorSize) {
      throw new ConfigError(`queue ${this.label}: completion address field at +${c.addressOffset} does not fit the ${spec.descriptorSize}-byte descriptor 8-byte aligned`);
    }
    this.#host = host;
    this.depth = spec.depth;
    this.descriptorSize = spec.descriptorSize;
    this.recordStride = Math.ceil(c.size / c.align) * c.align;
    this.#addressOffset = c.addressOffset;
    this.#pending = c.pending;
    this.#statusWidth = c.statusWidth;
    this.#portalOffset = spec.portal.offset + spec.portal.stride * id;
    const region = host.region(spec.portal.region);
    if (this.#portalOffset + spec.descriptorSize > region.size) {
      throw new ConfigError(`queue ${this.label}: portal at ${spec.portal.region}+0x${this.#portalOffset.toString(16)} lies outside the region (${region.size} bytes)`);
    }
    this.#port = host.portal(spec.portal.region, spec.store, spec.descriptorSize);
    this.primitive = this.#port.primitive;
    this.#irq = spec.interrupt === undefined ? undefined : host.irq(spec.interrupt);

    this.#staging = Math.ceil((this.recordStride * spec.depth) / STAGING_ALIGN) * STAGING_ALIGN;
    this.recordBuffer = host.allocShared(this.#staging + spec.descriptorSize, `${this.label} completion records`);
    try {
      // the records' bus address, once: the buffer is page aligned, so every record is aligned too
      this.#recordIova = host.dma.addressOf(this.recordBuffer.ref(0, this.recordStride * spec.depth), `${this.label} completion records`);
    } catch (e) {
      host.freeShared(this.recordBuffer);
      throw e;
    }
    this.#view = this.recordBuffer.view;
    this.#bytes = this.recordBuffer.bytes;
    this.#stagingPtr = this.recordBuffer.ptr + this.#staging;
    this.#staged = this.#bytes.subarray(this.#staging, this.#staging + spec.descriptorSize);
    const ab = this.#bytes.buffer;
    const base = this.#bytes.byteOffset;
    const w = c.statusWidth / 8;
    this.#statusArr =
      w === 4 ? new Uint32Array(ab, base, (this.recordStride * spec.depth) / 4)
      : w === 2 ? new Uint16Array(ab, base, (this.recordStride * spec.depth) / 2)
      : new Uint8Array(ab, base, this.recordStride * spec.depth);
    this.#statusIndex = c.statusOffset / w;
    this.#statusStep = this.recordStride / w;
    for (let s = 0; s < spec.depth; s++) Atomics.store(this.#statusArr, this.#statusIndex + s * this.#statusStep, this.#pending);
    this.#free = new Uint16Array(spec.depth);
    for (let i = 0; i < spec.depth; i++) this.#free[i] = spec.depth - 1 - i; // slot 0 on top
    this.#freeTop = spec.depth;
    this.#out = new Uint8Array(spec.depth);
    this.#pins = new SlotPins(spec.depth);
    this.#dma = host.dma;
    this.#take = () => this.take();
  }

  get released(): boolean {
    return this.#life.released;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get abandoned(): readonly number[] {
    return this.#abandoned;
  }

  /** The record buffer: reserve() returns the staging descriptor's offset in it. */
  get view(): DataView {
    return this.#view;
  }

  /** The record buffer: completionOffset is the finished request's completion record. */
  get completionView(): DataView {
    return this.#view;
  }

  tryReserve(): number {
    this.#life.check();
    if (this.#reserved >= 0) this.#nested();
    if (this.#freeTop === 0) return -1;
    this.#reserved = this.#free[--this.#freeTop]!;
    return this.#staging;
  }

  reserve(): number {
    const at = this.tryReserve();
    if (at < 0) throw new QueueFullError(this.label, this.depth);
    return at;
  }

  #nested(): never {
    throw new WarpDriveError(`queue ${this.label}: a request is being encoded already (a getter of the request called send?)`, {
      hint: "send requests one after the other; a nested send would share the staging descriptor of the outer one",
    });
  }

  /** DmaResolver for the request being encoded: checks the buffer and pins it for the request's slot. */
  addressOf(ref: DmaRef, field: string, extent?: number): number {
    const iova = this.#dma.addressOf(ref, field, extent);
    if (this.#reserved >= 0) this.#pins.add(this.#reserved, ref.buffer);
    return iova;
  }

  publish(): number {
    const slot = this.#reserved;
    if (slot < 0) throw new WarpDriveError(`queue ${this.label}: publish() without a reserve()`);
    // The record is pending before the device can see the descriptor that names it.
    Atomics.store(this.#statusArr, this.#statusIndex + slot * this.#statusStep, this.#pending);
    const record = this.#recordIova + slot * this.recordStride;
    const at = this.#staging + this.#addressOffset;
    this.#view.setUint32(at, record >>> 0, true);
    this.#view.setUint32(at + 4, Math.floor(record / 0x100000000), true);
    if (!this.#port.submit(this.#portalOffset, this.#staged, this.#stagingPtr)) {
      // a shared queue said retry: the request did not enter the device
      this.#reserved = -1;
      this.#pins.release(slot);
      this.#free[this.#freeTop++] = slot;
      throw new QueueFullError(this.label, this.depth);
    }
    this.#reserved = -1;
    this.#out[slot] = 1;
    this.#inFlight++;
    return slot;
  }

  cancel(e?: unknown): unknown {
    const slot = this.#reserved;
    if (slot >= 0) {
      this.#reserved = -1;
      this.#pins.release(slot);
      this.#free[this.#freeTop++] = slot;
    }
    return refusal(this.label, e);
  }

  trySend(encode: Encoder): number {
    const at = this.tryReserve();
    if (at < 0) return -1;
    // Encoder contract: the entry is zero when it is called.
    this.#staged.fill(0);
    try {
      encode(this.#view, at, this);
    } catch (e) {
      throw this.cancel(e);
    }
    return this.publish();
  }

  send(encode: Encoder): number {
    const t = this.trySend(encode);
    if (t < 0) throw new QueueFullError(this.label, this.depth);
    return t;
  }

  /** Nothing to publish: every descriptor went to the portal when it was sent. */
  flush(): void {
    this.#removal?.tick(); // may find the device gone and release this queue: checked next
    this.#life.check();
  }

  take(): number {
    this.#removal?.tick();
    this.#life.check();
    let left = this.#inFlight;
    if (left === 0) return -1;
    const n = this.depth;
    let s = this.#scan;
    for (let i = 0; i < n && left > 0; i++) {
      if (this.#out[s] === 1) {
        const status = Atomics.load(this.#statusArr, this.#statusIndex + s * this.#statusStep);
        if (status !== this.#pending) {
          this.#out[s] = 0;
          this.#inFlight--;
          this.#pins.release(s);
          this.#free[this.#freeTop++] = s;
          this.#scan = s + 1 === n ? 0 : s + 1;
          this.completionOffset = s * this.recordStride;
          this.completionStatus = status;
          return s;
        }
        left--;
      }
      s = s + 1 === n ? 0 : s + 1;
    }
    return -1;
  }

  recv(): Completion | null {
    const tag = this.take();
    if (tag < 0) return null;
    return { tag, view: this.#view, offset: this.completionOffset, status: this.completionStatus };
  }

  takeSync(timeoutMs: number): number {
    this.#life.check();
    const ms = checkTimeout(this.label, timeoutMs);
    if (this.#inFlight === 0) {
      throw new WarpDriveError(`recvSync on queue ${this.label}: nothing is in flight, no completion can come`, { hint: "send() a request first" });
    }
    return waitForCompletion(this.label, this.#take, () => {}, this.#irq, ms, this.#removal);
  }

  recvSync(timeoutMs: number): Completion {
    const tag = this.takeSync(timeoutMs);
    return { tag, view: this.#view, offset: this.completionOffset, status: this.completionStatus };
  }

  /** References to `buf` held by requests in flight on this queue. */
  pinsOf(buf: DmaBuffer): number {
    return this.#pins.countOf(buf);
  }

  release(): void {
    this.#life.end();
    this.#dispose();
    this.#host.onRelease(this);
  }

  /** Device.close/reset: the queue dies with the device's state; `why` ends up in later errors. */
  /** The interrupt line completions raise, if the queue has one (the async layer sleeps on it). */
  get interrupt(): IrqLine | undefined {
    return this.#irq;
  }

  /** For the async layer (AsyncQueue): from now on the sync methods refuse; `onEnd` is told when
   *  the queue is released or dies with its device. Refused while sync requests are in flight. */
  claimAsync(onEnd: (why: string, kind: EndKind, error?: Error) => void): AsyncGate {
    return this.#life.claim(this.inFlight, onEnd);
  }

  releaseFor(why: string, kind: EndKind = "closed", error?: Error): void {
    if (this.#life.released) return;
    const lost: number[] = [];
    for (let s = 0; s < this.depth; s++) if (this.#out[s] === 1) lost.push(s);
    this.#abandoned = Object.freeze(lost);
    this.#life.end(`released (${why})`, kind, error);
    this.#dispose();
    this.#host.onRelease(this);
  }

  #dispose(): void {
    this.#reserved = -1;
    this.#pins.clear();
    this.#out.fill(0);
    this.#inFlight = 0;
    this.#host.freeShared(this.recordBuffer);
  }

  [Symbol.dispose](): void {
    if (!this.#life.released) this.release();
  }
}
