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
// Tags are 16-bit fields (NVMe cid); phase and SQ head are read as the spec's widths (SQ head: 16).
import type { IrqLine, QueueSpec } from "../backend.ts";
import type { DmaBuffer } from "../mem/index.ts";
import { ConfigError, QueueFullError, WarpDriveError } from "../errors.ts";
import { bindReg, InFlightRefs, isPowerOfTwo, Lifetime, ringReg, type BoundReg } from "./common.ts";
import type { Completion, Encoder, Queue, QueueHost } from "./types.ts";
import { waitForCompletion } from "./wait.ts";

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
  readonly #sqEntry: number;
  readonly #cqEntry: number;
  readonly #sqTagOff: number;
  readonly #cqTagOff: number;
  readonly #sqHeadOff: number | undefined;
  readonly #sqView: DataView;
  readonly #sqBytes: Uint8Array;
  readonly #cqView: DataView;
  readonly #phaseArr: Uint8Array | Uint16Array | Uint32Array;
  readonly #phaseOff: number;
  readonly #phaseShift: number;
  readonly #phaseScale: number;
  readonly #sqDb: BoundReg;
  readonly #cqDb: BoundReg;
  readonly #irq: IrqLine | undefined;

  // tag free list (a stack) and which tags are out
  readonly #free: Uint16Array;
  #freeTop: number;
  readonly #out: Uint8Array;
  readonly #refs: InFlightRefs;
  #abandoned: readonly number[] = [];

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
    this.#host = host;
    this.sqDepth = options.depth ?? spec.sq.depth;
    this.cqDepth = options.depth ?? spec.cq.depth;
    for (const [what, d] of [["SQ", this.sqDepth], ["CQ", this.cqDepth]] as const) {
      if (!Number.isInteger(d) || d < 2 || d > 65536) throw new ConfigError(`queue ${this.label}: ${what} depth ${d} must be 2..65536`);
    }
    this.#sqEntry = spec.sq.entrySize;
    this.#cqEntry = spec.cq.entrySize;
    this.#sqTagOff = spec.sq.tagOffset;
    this.#cqTagOff = spec.cq.tagOffset;
    this.#sqHeadOff = spec.cq.sqHeadOffset;
    const ph = spec.cq.phase;
    const phBytes = ph.width / 8;
    if (ph.offset % phBytes !== 0 || this.#cqEntry % phBytes !== 0) {
      throw new ConfigError(`queue ${this.label}: phase field at +${ph.offset} (${ph.width} bits) is not aligned`);
    }
    this.#sqDb = bindReg(host, spec.sq.doorbell, id, `queue ${this.label} SQ tail doorbell`);
    this.#cqDb = bindReg(host, spec.cq.doorbell, id, `queue ${this.label} CQ head doorbell`);
    const irq = options.irq ?? spec.interrupt;
    this.#irq = irq === undefined ? undefined : host.irq(irq);

    this.sqBuffer = host.allocShared(this.sqDepth * this.#sqEntry, `${this.label} SQ`);
    try {
      this.cqBuffer = host.allocShared(this.cqDepth * this.#cqEntry, `${this.label} CQ`);
    } catch (e) {
      host.freeShared(this.sqBuffer);
      throw e;
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
    this.#free = new Uint16Array(tags);
    for (let i = 0; i < tags; i++) this.#free[i] = tags - 1 - i; // pop order 0, 1, 2, ...
    this.#freeTop = tags;
    this.#out = new Uint8Array(tags);
    this.#refs = new InFlightRefs(host, tags, this.label);
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

  trySend(encode: Encoder): number {
    this.#life.check();
    const next = this.#sqTail + 1 === this.sqDepth ? 0 : this.#sqTail + 1;
    if (this.#freeTop === 0 || next === this.#sqHead) return -1;
    const off = this.#sqTail * this.#sqEntry;
    this.#sqBytes.fill(0, off, off + this.#sqEntry);
    this.#refs.begin();
    encode(this.#sqView, off, this.#refs.resolver);
    // the tag is taken only once the encoder succeeded: a refused DmaRef leaves the queue as it was
    const tag = this.#free[--this.#freeTop]!;
    this.#out[tag] = 1;
    this.#refs.commit(tag);
    this.#sqView.setUint16(off + this.#sqTagOff, tag, true);
    this.#sqTail = next;
    return tag;
  }

  send(encode: Encoder): number {
    const tag = this.trySend(encode);
    if (tag < 0) throw new QueueFullError(this.label, this.inFlight);
    return tag;
  }

  flush(): void {
    this.#life.check();
    this.#publishSq();
    this.#publishCq();
  }

  #publishSq(): void {
    if (this.#sqTail !== this.#sqPublished) {
      this.#sqPublished = this.#sqTail;
      ringReg(this.#sqDb, this.#sqTail);
    }
  }

  #publishCq(): void {
    if (this.#cqHead !== this.#cqPublished) {
      this.#cqPublished = this.#cqHead;
      ringReg(this.#cqDb, this.#cqHead);
    }
  }

  recv(): Completion | null {
    this.#life.check();
    this.#publishSq();
    const head = this.#cqHead;
    const word = Atomics.load(this.#phaseArr, head * this.#phaseScale + this.#phaseOff);
    if (((word >>> this.#phaseShift) & 1) !== this.#phase) {
      this.#publishCq(); // caught up: hand consumed slots back to the device
      return null;
    }
    const off = head * this.#cqEntry;
    const tag = this.#cqView.getUint16(off + this.#cqTagOff, true);
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
    this.#refs.done(tag);
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
    return { tag, view: this.#cqView, offset: off, status: word };
  }

  recvSync(timeoutMs: number): Completion {
    this.#life.check();
    if (this.inFlight === 0) {
      throw new WarpDriveError(`recvSync on queue ${this.label}: nothing is in flight, no completion can come`, { hint: "send() a request first" });
    }
    return waitForCompletion(this.label, () => this.recv(), () => this.#publishCq(), this.#irq, timeoutMs);
  }

  release(): void {
    this.#life.end();
    this.#dispose();
  }

  /** Device.close/reset: the queue dies with the device's state; `why` ends up in later errors. */
  releaseFor(why: string): void {
    if (this.#life.released) return;
    // what was in flight will never complete: report each tag once, here
    const lost: number[] = [];
    for (let t = 0; t < this.#out.length; t++) if (this.#out[t] === 1) lost.push(t);
    this.#abandoned = Object.freeze(lost);
    this.#life.end(`released (${why})`);
    this.#dispose();
  }

  #dispose(): void {
    this.#refs.clear();
    this.#host.freeShared(this.sqBuffer);
    this.#host.freeShared(this.cqBuffer);
    this.#host.onRelease(this);
  }

  [Symbol.dispose](): void {
    if (!this.#life.released) this.release();
  }
}
