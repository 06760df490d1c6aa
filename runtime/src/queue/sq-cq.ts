// SqCqQueue: a submission ring and a completion ring in host DMA memory, NVMe style.
//
// - Tags: the engine owns the tag (NVMe "cid") field of each submission; tags come from a free list
//   of min(sqDepth, cqDepth) - 1 values, so the device can never have more requests than the
//   completion ring can hold, and a completion names its request by tag (completions may come back
//   in any order).
// - Submission: `send` writes the entry at the SQ tail; `flush` (or recv/recvSync) publishes the
//   tail with one doorbell store for the whole batch. The SQ is full when tail + 1 == head; the head
//   is what the device last reported in a completion (sqHeadOffset), so the host never overwrites an
//   entry the device has not fetched.
// - Completion: an entry is new when its phase bit equals the phase the host expects; the expected
//   phase starts at 1 (the ring is zeroed) and flips each time the CQ head wraps. The phase word is
//   read with Atomics.load (the ring is ordinary RAM), a load the JIT cannot hoist.
// - The CQ head doorbell is written lazily: when recv finds nothing new, and in flush. Until then
//   the device sees those slots as still in use; it cannot stall on it, because a recv that finds
//   nothing (what every waiting client does) publishes the head first.
//
// Tags are written and read with the width and byte order the description declares (NVMe cid: 16
// bits little endian; hzip's SQE tag: 32 bits); phase is read as the spec's width, SQ head as 16 bits.
//
// Device-kept rings (QueueHost.deviceRings: UACCE queues of HiSilicon's queue manager): the device
// placed the rings in its own memory and chose their depth, and the doorbells are its own writes
// (the QM's 64-bit word) instead of the description's registers. Everything else is the same.
import type { DeviceRings, IrqLine, QueueSpec } from "../backend.ts";
import type { DmaBuffer, DmaRef, DmaResolver } from "../mem/index.ts";
import { ConfigError, QueueFullError, WarpDriveError } from "../errors.ts";
import { bindReg, checkTimeout, type AsyncGate, type EndKind, Lifetime, refusal, ringReg, SlotPins, type BoundReg } from "./common.ts";
import type { Completion, Encoder, Queue, QueueHost } from "./types.ts";
import { waitForCompletion } from "./wait.ts";
import type { RemovalWatch } from "../removal.ts";

type SqCqSpec = Extract<QueueSpec, { kind: "sq-cq" }>;

export interface SqCqOptions {
  /** Override both ring depths (the device is told the size by whoever creates the queue). */
  depth?: number;
  /** Interrupt index to wait on (default: the spec's; NVMe I/O queues often use vector = id). */
  irq?: number;
}

export class SqCqQueue implements Queue {
  readonly name: string;
  readonly id: number;
  readonly label: string;
  readonly sqDepth: number;
  readonly cqDepth: number;
  /** Submission ring memory, shared with the device (tell the device its address: ASQ, create-SQ). */
  readonly sqBuffer: DmaBuffer;
  /** Completion ring memory, shared with the device. */
  readonly cqBuffer: DmaBuffer;

  readonly #host: QueueHost;
  readonly #life: Lifetime;
  readonly #removal: RemovalWatch | undefined;
  readonly #sqEntry: number;
  readonly #cqEntry: number;
  readonly #sqTagOff: number;
  readonly #cqTagOff: number;
  readonly #sqTagWidth: 8 | 16 | 32;
  readonly #cqTagWidth: 8 | 16 | 32;
  readonly #sqTagLittle: boolean;
  readonly #cqTagLittle: boolean;
  readonly #sqHeadOff: number | undefined;
  readonly #sqView: DataView;
  readonly #sqBytes: Uint8Array;
  readonly #cqView: DataView;
  readonly #phaseArr: Uint8Array | Uint16Array | Uint32Array;
  readonly #phaseOff: number;
  readonly #phaseShift: number;
  readonly #phaseScale: number;
  readonly #sqDb: BoundReg | undefined;
  readonly #cqDb: BoundReg | undefined;
  /** The device's rings and doorbell writes, when it keeps the rings itself. */
  readonly #own: DeviceRings | undefined;
  /** The number the device knows this queue by: its id, or the device's own (the QM's sqn on UACCE). */
  readonly queueNumber: number;
  readonly #irq: IrqLine | undefined;

  // tag free list (a stack) and which tags are out
  readonly #free: Uint16Array;
  #freeTop: number;
  readonly #out: Uint8Array;
  readonly #pins: SlotPins;
  readonly #dma: DmaResolver;
  readonly #take: () => number;
  readonly #publishCqFn: () => void;
  #abandoned: readonly number[] = [];
  #reserved = -1; // tag taken for the request being encoded, or -1
  #reservedAt = 0; // its SQ slot's byte offset

  /** Byte offset of the last taken completion's entry in `completionView`. */
  completionOffset = 0;
  /** The status word (holding the phase bit) of the last taken completion. */
  completionStatus = 0;

  #sqTail = 0;
  #sqHead = 0;
  #sqPublished = 0;
  #cqHead = 0;
  #cqPublished = 0;
  #phase = 1;

  constructor(host: QueueHost, spec: SqCqSpec, id: number, options: SqCqOptions = {}) {
    this.name = spec.name;
    this.id = id;
    this.label = spec.first === spec.last ? `${host.address}/${spec.name}` : `${host.address}/${spec.name}[${id}]`;
    this.#life = new Lifetime(this.label);
    this.#removal = host.removal;
    this.#host = host;
    const own = host.deviceRings?.(spec, id, options.depth, this.label);
    this.#own = own?.rings;
    this.queueNumber = own?.rings.queueNumber ?? id;
    this.sqDepth = own?.rings.depth ?? options.depth ?? spec.sq.depth;
    this.cqDepth = own?.rings.depth ?? options.depth ?? spec.cq.depth;
    const ph = spec.cq.phase;
    const phBytes = ph.width / 8;
    try {
      for (const [what, d] of [["SQ", this.sqDepth], ["CQ", this.cqDepth]] as const) {
        if (!Number.isInteger(d) || d < 2 || d > 65536) throw new ConfigError(`queue ${this.label}: ${what} depth ${d} must be 2..65536`);
      }
      this.#sqEntry = spec.sq.entrySize;
      this.#cqEntry = spec.cq.entrySize;
      this.#sqTagOff = spec.sq.tagOffset;
      this.#cqTagOff = spec.cq.tagOffset;
      this.#sqTagWidth = spec.sq.tagWidth ?? 16;
      this.#cqTagWidth = spec.cq.tagWidth ?? 16;
      this.#sqTagLittle = spec.sq.tagBigEndian !== true;
      this.#cqTagLittle = spec.cq.tagBigEndian !== true;
      this.#sqHeadOff = spec.cq.sqHeadOffset;
      if (ph.offset % phBytes !== 0 || this.#cqEntry % phBytes !== 0) {
        throw new ConfigError(`queue ${this.label}: phase field at +${ph.offset} (${ph.width} bits) is not aligned`);
      }
      this.#sqDb = own === undefined ? bindReg(host, spec.sq.doorbell, id, `queue ${this.label} SQ tail doorbell`) : undefined;
      this.#cqDb = own === undefined ? bindReg(host, spec.cq.doorbell, id, `queue ${this.label} CQ head doorbell`) : undefined;
      const irq = options.irq ?? spec.interrupt;
      this.#irq = irq === undefined ? undefined : host.irq(irq);
    } catch (e) {
      if (own !== undefined) this.#giveBack(own);
      throw e;
    }

    if (own !== undefined) {
      this.sqBuffer = own.sq;
      this.cqBuffer = own.cq;
    } else {
      this.sqBuffer = host.allocShared(this.sqDepth * this.#sqEntry, `${this.label} SQ`);
      try {
        this.cqBuffer = host.allocShared(this.cqDepth * this.#cqEntry, `${this.label} CQ`);
      } catch (e) {
        host.freeShared(this.sqBuffer);
        throw e;
      }
    }
    this.#sqView = this.sqBuffer.view;
    this.#sqBytes = this.sqBuffer.bytes;
    this.#cqView = this.cqBuffer.view;
    const cb = this.cqBuffer.bytes;
    const n = (this.cqDepth * this.#cqEntry) / phBytes;
    this.#phaseArr =
      ph.width === 32 ? new Uint32Array(cb.buffer, cb.byteOffset, n)
      : ph.width === 16 ? new Uint16Array(cb.buffer, cb.byteOffset, n)
      : new Uint8Array(cb.buffer, cb.byteOffset, n);
    this.#phaseOff = ph.offset / phBytes;
    this.#phaseScale = this.#cqEntry / phBytes;
    this.#phaseShift = ph.bit;

    const tags = Math.min(this.sqDepth, this.cqDepth) - 1;
    const tagBits = Math.min(this.#sqTagWidth, this.#cqTagWidth);
    if (tags > 2 ** tagBits) {
      if (own !== undefined) this.#giveBack(own);
      else {
        host.freeShared(this.sqBuffer);
        host.freeShared(this.cqBuffer);
      }
      throw new ConfigError(`queue ${this.label}: ${tags} requests in flight need tags wider than ${tagBits} bits; use a smaller depth`);
    }
    this.#free = new Uint16Array(tags);
    for (let i = 0; i < tags; i++) this.#free[i] = tags - 1 - i; // pop order 0, 1, 2, ...
    this.#freeTop = tags;
    this.#out = new Uint8Array(tags);
    this.#pins = new SlotPins(tags);
    this.#dma = host.dma;
    this.#take = () => this.take();
    this.#publishCqFn = () => this.#publishCq();
  }

  get depth(): number {
    return this.sqDepth;
  }

  get released(): boolean {
    return this.#life.released;
  }

  get inFlight(): number {
    return this.#out.length - this.#freeTop;
  }

  get abandoned(): readonly number[] {
    return this.#abandoned;
  }

  /** The submission ring: reserve() offsets point into it. */
  get view(): DataView {
    return this.#sqView;
  }

  /** The completion ring. */
  get completionView(): DataView {
    return this.#cqView;
  }

  tryReserve(): number {
    this.#life.check();
    if (this.#reserved >= 0) this.#nested();
    const next = this.#sqTail + 1 === this.sqDepth ? 0 : this.#sqTail + 1;
    if (this.#freeTop === 0 || next === this.#sqHead) return -1;
    // The tag is taken now (the encoder's buffers are pinned under it) and given back by cancel().
    this.#reserved = this.#free[--this.#freeTop]!;
    return (this.#reservedAt = this.#sqTail * this.#sqEntry);
  }

  /** The tag the request being encoded (between reserve and publish) will get, or -1: lets an
   *  encoder keep per-request state by tag (a driver's PRP list page). */
  get reservedTag(): number {
    return this.#reserved;
  }

  reserve(): number {
    const at = this.tryReserve();
    if (at < 0) throw new QueueFullError(this.label, this.inFlight);
    return at;
  }

  #nested(): never {
    throw new WarpDriveError(`queue ${this.label}: a request is being encoded already (a getter of the request called send?)`, {
      hint: "send requests one after the other; a nested send would share the slot of the outer one",
    });
  }

  /** DmaResolver for the request being encoded: checks the buffer and pins it under the request's tag. */
  addressOf(ref: DmaRef, field: string, extent?: number): number {
    const iova = this.#dma.addressOf(ref, field, extent);
    if (this.#reserved >= 0) this.#pins.add(this.#reserved, ref.buffer);
    return iova;
  }

  publish(): number {
    const tag = this.#reserved;
    if (tag < 0) throw new WarpDriveError(`queue ${this.label}: publish() without a reserve()`);
    this.#reserved = -1;
    this.#out[tag] = 1;
    const at = this.#reservedAt + this.#sqTagOff;
    if (this.#sqTagWidth === 16) this.#sqView.setUint16(at, tag, this.#sqTagLittle);
    else if (this.#sqTagWidth === 32) this.#sqView.setUint32(at, tag, this.#sqTagLittle);
    else this.#sqView.setUint8(at, tag);
    this.#sqTail = this.#sqTail + 1 === this.sqDepth ? 0 : this.#sqTail + 1;
    return tag;
  }

  cancel(e?: unknown): unknown {
    const tag = this.#reserved;
    if (tag >= 0) {
      this.#reserved = -1;
      this.#pins.release(tag);
      this.#free[this.#freeTop++] = tag;
    }
    return refusal(this.label, e);
  }

  trySend(encode: Encoder): number {
    const at = this.tryReserve();
    if (at < 0) return -1;
    // Encoder contract: the entry is zero when it is called.
    this.#sqBytes.fill(0, at, at + this.#sqEntry);
    try {
      encode(this.#sqView, at, this);
    } catch (e) {
      throw this.cancel(e);
    }
    return this.publish();
  }

  send(encode: Encoder): number {
    const tag = this.trySend(encode);
    if (tag < 0) throw new QueueFullError(this.label, this.inFlight);
    return tag;
  }

  flush(): void {
    this.#removal?.tick(); // may find the device gone and release this queue: checked next
    this.#life.check();
    this.#publishSq();
    this.#publishCq();
  }

  #publishSq(): void {
    if (this.#sqTail !== this.#sqPublished) {
      this.#sqPublished = this.#sqTail;
      if (this.#own !== undefined) this.#own.ringSq(this.#sqTail);
      else ringReg(this.#sqDb!, this.#sqTail);
    }
  }

  #publishCq(): void {
    if (this.#cqHead !== this.#cqPublished) {
      this.#cqPublished = this.#cqHead;
      if (this.#own !== undefined) this.#own.ringCq(this.#cqHead);
      else ringReg(this.#cqDb!, this.#cqHead);
    }
  }

  /** True when the device keeps the rings itself (nothing to program: no ring addresses, no depths). */
  get deviceKeepsRings(): boolean {
    return this.#own !== undefined;
  }

  #giveBack(own: { sq: DmaBuffer; cq: DmaBuffer; rings: DeviceRings }): void {
    try {
      this.#host.freeShared(own.sq);
      this.#host.freeShared(own.cq);
    } finally {
      own.rings.release();
    }
  }

  take(): number {
    this.#removal?.tick();
    this.#life.check();
    this.#publishSq();
    const head = this.#cqHead;
    const word = Atomics.load(this.#phaseArr, head * this.#phaseScale + this.#phaseOff);
    if (((word >>> this.#phaseShift) & 1) !== this.#phase) {
      this.#publishCq(); // caught up: hand consumed slots back to the device
      return -1;
    }
    const off = head * this.#cqEntry;
    const tagAt = off + this.#cqTagOff;
    const tag =
      this.#cqTagWidth === 16 ? this.#cqView.getUint16(tagAt, this.#cqTagLittle)
      : this.#cqTagWidth === 32 ? this.#cqView.getUint32(tagAt, this.#cqTagLittle)
      : this.#cqView.getUint8(tagAt);
    // A completion is checked before anything is taken from it: a device writing garbage (a tag not
    // in flight, a duplicate, an SQ head it cannot have reached) is reported, not believed. The CQ
    // head does not move, so every later recv reports it again until the device is reset.
    if (tag >= this.#out.length || this.#out[tag] === 0) {
      throw new WarpDriveError(`queue ${this.label}: the device completed tag ${tag}, which is not in flight (CQ slot ${head})`,
        { hint: "the device and the host disagree about the queue: reset the device" });
    }
    let sqHead = this.#sqHead;
    if (this.#sqHeadOff !== undefined) {
      const h = this.#cqView.getUint16(off + this.#sqHeadOff, true);
      // the head may only move forward, and not past the tail the device was given
      const fetched = (h - this.#sqHead + this.sqDepth) % this.sqDepth;
      const published = (this.#sqPublished - this.#sqHead + this.sqDepth) % this.sqDepth;
      if (h >= this.sqDepth || fetched > published) {
        throw new WarpDriveError(`queue ${this.label}: the device reported SQ head ${h} (CQ slot ${head}), outside ${this.#sqHead}..${this.#sqPublished} of the ${this.sqDepth}-entry SQ`,
          { hint: "the device and the host disagree about the queue: reset the device" });
      }
      sqHead = h;
    }
    this.#out[tag] = 0;
    this.#free[this.#freeTop++] = tag;
    this.#pins.release(tag);
    if (this.#sqHeadOff !== undefined) {
      this.#sqHead = sqHead;
    } else {
      this.#sqHead = this.#sqHead + 1 === this.sqDepth ? 0 : this.#sqHead + 1;
    }
    if (head + 1 === this.cqDepth) {
      this.#cqHead = 0;
      this.#phase ^= 1;
    } else {
      this.#cqHead = head + 1;
    }
    this.completionOffset = off;
    this.completionStatus = word;
    return tag;
  }

  recv(): Completion | null {
    const tag = this.take();
    if (tag < 0) return null;
    return { tag, view: this.#cqView, offset: this.completionOffset, status: this.completionStatus };
  }

  takeSync(timeoutMs: number): number {
    this.#life.check();
    const ms = checkTimeout(this.label, timeoutMs);
    if (this.inFlight === 0) {
      throw new WarpDriveError(`recvSync on queue ${this.label}: nothing is in flight, no completion can come`, { hint: "send() a request first" });
    }
    return waitForCompletion(this.label, this.#take, this.#publishCqFn, this.#irq, ms, this.#removal);
  }

  recvSync(timeoutMs: number): Completion {
    const tag = this.takeSync(timeoutMs);
    return { tag, view: this.#cqView, offset: this.completionOffset, status: this.completionStatus };
  }

  /** The interrupt line completions raise, if the queue has one (the async layer sleeps on it). */
  get interrupt(): IrqLine | undefined {
    return this.#irq;
  }

  /** For the async layer (AsyncQueue): from now on the sync methods refuse; `onEnd` is told when
   *  the queue is released or dies with its device. Refused while sync requests are in flight. */
  claimAsync(onEnd: (why: string, kind: EndKind, error?: Error) => void): AsyncGate {
    return this.#life.claim(this.inFlight, onEnd);
  }

  /** References to `buf` held by requests in flight on this queue. */
  pinsOf(buf: DmaBuffer): number {
    return this.#pins.countOf(buf);
  }

  release(): void {
    this.#life.end();
    this.#dispose();
  }

  /** Device.close/reset: the queue dies with the device's state; `why` ends up in later errors. */
  releaseFor(why: string, kind: EndKind = "closed", error?: Error): void {
    if (this.#life.released) return;
    // what was in flight will never complete: report each tag once, here
    const lost: number[] = [];
    for (let t = 0; t < this.#out.length; t++) if (this.#out[t] === 1) lost.push(t);
    this.#abandoned = Object.freeze(lost);
    this.#life.end(`released (${why})`, kind, error);
    this.#dispose();
  }

  #dispose(): void {
    if (this.#reserved >= 0) this.cancel();
    this.#pins.clear();
    try {
      this.#host.freeShared(this.sqBuffer);
      this.#host.freeShared(this.cqBuffer);
    } finally {
      this.#own?.release();
    }
    this.#host.onRelease(this);
  }

  [Symbol.dispose](): void {
    if (!this.#life.released) this.release();
  }
}
