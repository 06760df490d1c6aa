// IndexRingQueue: a ring of fixed-size entries with a producer index the host advances and a
// consumer index the device advances (the WarpDrive dummy's queue page).
//
// Indices are free-running counters (mod 2^32, or 2^16/2^8 for narrower registers); an entry lives
// in slot `index % depth`. The host knows an entry is finished when the device changed the entry's
// done field away from `pending`; it never reads the consumer register on the hot path. A slot is
// reused only after the host saw it done, so the ring can never be overwritten: `send` on a ring
// with `depth` requests in flight throws QueueFullError.
//
// Hot path: reserve = one comparison; the encoder writes the slot; publish = one store of the done
// field; flush = one producer store (+ one doorbell store when the doorbell is a separate register);
// take = one load of the done field. No system call, no allocation. Loads of the done field go through RegisterIo (ring in a region) or Atomics.load
// (ring in DMA memory): both are loads the JIT cannot hoist out of a polling loop.
import { toArrayBuffer } from "bun:ffi";
import type { IrqLine, QueueSpec } from "../backend.ts";
import type { DmaBuffer, DmaRef, DmaResolver, RegisterIo } from "../mem/index.ts";
import { ConfigError, QueueFullError, WarpDriveError } from "../errors.ts";
import { detach } from "../mem/detach.ts";
import { bindReg, checkTimeout, type AsyncGate, type EndKind, isPowerOfTwo, Lifetime, readReg, refusal, ringReg, sameReg, SlotPins, type BoundReg } from "./common.ts";
import type { Completion, Encoder, Queue, QueueHost } from "./types.ts";
import { waitForCompletion } from "./wait.ts";
import type { RemovalWatch } from "../removal.ts";

type IndexRingSpec = Extract<QueueSpec, { kind: "index-ring" }>;

/** How long requestQueue waits for a previous owner's requests to drain before giving up. */
const DRAIN_MS = 200;

export class IndexRingQueue implements Queue {
  readonly name: string;
  readonly id: number;
  readonly label: string;
  readonly depth: number;
  readonly entrySize: number;
  /** The ring's memory when it lives in DMA memory (spec ring: "dma"); the device must be told its address. */
  readonly ringBuffer: DmaBuffer | undefined;

  readonly #host: QueueHost;
  readonly #life: Lifetime;
  readonly #removal: RemovalWatch | undefined;
  readonly #mask: number;
  readonly #idxMask: number;
  readonly #view: DataView;
  readonly #producer: BoundReg;
  readonly #consumer: BoundReg;
  readonly #doorbell: BoundReg | undefined;
  readonly #irq: IrqLine | undefined;
  // done-field access: through the region's RegisterIo, or Atomics on the DMA ring
  readonly #doneIo: RegisterIo | undefined;
  readonly #doneField: number; // offset of the done field inside an entry
  readonly #ringOffset: number; // offset of the ring inside its region (0 for a DMA ring)
  readonly #bytes: Uint8Array;
  readonly #ab: ArrayBuffer | undefined; // the region view's buffer, detached on release
  readonly #doneWidth: 8 | 16 | 32;
  readonly #doneArr: Uint8Array | Uint16Array | Uint32Array | undefined;
  readonly #pending: number;
  readonly #pins: SlotPins;
  readonly #dma: DmaResolver;
  readonly #take: () => number;
  #abandoned: readonly number[] = [];

  #head = 0; // next index to write (host's copy of the producer)
  #next = 0; // next index to complete (oldest in flight)
  #published = 0; // producer value last written
  #reserved = -1; // ring slot reserved for the request being encoded, or -1

  /** Byte offset of the last taken completion's entry in `completionView`. */
  completionOffset = 0;
  /** The done field's value of the last taken completion. */
  completionStatus = 0;

  constructor(host: QueueHost, spec: IndexRingSpec, id = 0) {
    this.name = spec.name;
    this.id = id;
    this.label = `${host.address}/${spec.name}`;
    this.#life = new Lifetime(this.label);
    this.#removal = host.removal;
    if (!isPowerOfTwo(spec.depth)) throw new ConfigError(`queue ${this.label}: depth ${spec.depth} is not a power of two`);
    if (spec.done.offset + spec.done.width / 8 > spec.entrySize || spec.done.offset % (spec.done.width / 8) !== 0) {
      throw new ConfigError(`queue ${this.label}: done field at +${spec.done.offset} (${spec.done.width} bits) does not fit the ${spec.entrySize}-byte entry aligned`);
    }
    this.#host = host;
    this.depth = spec.depth;
    this.entrySize = spec.entrySize;
    this.#mask = spec.depth - 1;
    this.#pending = spec.done.pending;
    this.#doneField = spec.done.offset;
    this.#doneWidth = spec.done.width;
    this.#producer = bindReg(host, spec.producer, id, `queue ${this.label} producer`);
    this.#consumer = bindReg(host, spec.consumer, id, `queue ${this.label} consumer`);
    this.#doorbell = sameReg(spec.doorbell, spec.producer) ? undefined : bindReg(host, spec.doorbell, id, `queue ${this.label} doorbell`);
    this.#idxMask = this.#producer.width >= 32 ? 0xffffffff : 2 ** this.#producer.width - 1;
    if (this.#idxMask + 1 < 2 * spec.depth) throw new ConfigError(`queue ${this.label}: a ${this.#producer.width}-bit index cannot count a ring of ${spec.depth}`);
    this.#irq = spec.interrupt === undefined ? undefined : host.irq(spec.interrupt);

    const bytes = spec.depth * spec.entrySize;
    if (spec.ring === "dma") {
      this.ringBuffer = host.allocShared(bytes, `${this.label} ring`);
      this.#view = this.ringBuffer.view;
      const ab = this.ringBuffer.bytes.buffer;
      const base = this.ringBuffer.bytes.byteOffset;
      this.#doneArr =
        this.#doneWidth === 32 ? new Uint32Array(ab, base, bytes / 4)
        : this.#doneWidth === 16 ? new Uint16Array(ab, base, bytes / 2)
        : new Uint8Array(ab, base, bytes);
      this.#ringOffset = 0;
    } else {
      const region = host.region(spec.ring.region);
      if (spec.ring.offset + bytes > region.size) {
        throw new ConfigError(`queue ${this.label}: ring ${spec.ring.region}+0x${spec.ring.offset.toString(16)} (${bytes} bytes) overruns the region (${region.size} bytes)`);
      }
      if (!region.ptr) throw new ConfigError(`queue ${this.label}: region ${spec.ring.region} cannot be mapped, so the ring in it cannot be written`);
      this.#ab = toArrayBuffer(region.ptr, spec.ring.offset, bytes);
      this.#view = new DataView(this.#ab);
      this.#doneIo = region.io;
      this.#ringOffset = spec.ring.offset;
    }
    this.#bytes = new Uint8Array(this.#view.buffer, this.#view.byteOffset, bytes);
    this.#pins = new SlotPins(spec.depth);
    this.#dma = host.dma;
    this.#take = () => this.take();
    this.#attach();
  }

  /** Picks up where the device is: both indices must agree (a previous owner's requests drained). */
  #attach(): void {
    const t0 = performance.now();
    for (;;) {
      const p = this.#wrap(readReg(this.#producer));
      const c = this.#wrap(readReg(this.#consumer));
      if (p === c) {
        this.#head = this.#next = this.#published = p;
        return;
      }
      if (performance.now() - t0 > DRAIN_MS) {
        this.#dispose();
        throw new WarpDriveError(`queue ${this.label}: ${this.#wrap(p - c)} requests of a previous owner are still in flight (producer ${p}, consumer ${c})`,
          { hint: "reset the device (dev.reset()) to start the ring afresh" });
      }
      Bun.sleepSync(1);
    }
  }

  get released(): boolean {
    return this.#life.released;
  }

  get inFlight(): number {
    return this.#wrap(this.#head - this.#next);
  }

  get abandoned(): readonly number[] {
    return this.#abandoned;
  }

  /** An index modulo the index register's range, as a non-negative number (tags are never -1). */
  #wrap(x: number): number {
    return this.#idxMask === 0xffffffff ? x >>> 0 : x & this.#idxMask;
  }

  /** The done field's current value in the slot of ring index `index`. */
  #done(index: number): number {
    const at = (index & this.#mask) * this.entrySize + this.#doneField;
    if (this.#doneArr !== undefined) return Atomics.load(this.#doneArr, at / (this.#doneWidth / 8));
    const off = this.#ringOffset + at;
    const io = this.#doneIo!;
    return this.#doneWidth === 32 ? io.read32(off) : this.#doneWidth === 16 ? io.read16(off) : io.read8(off);
  }

  /** The ring: reserve() offsets point into it. */
  get view(): DataView {
    return this.#view;
  }

  /** The ring again: the device writes its results back into the descriptor. */
  get completionView(): DataView {
    return this.#view;
  }

  tryReserve(): number {
    this.#life.check();
    if (this.#reserved >= 0) this.#nested();
    const index = this.#head;
    if (this.#wrap(index - this.#next) >= this.depth) return -1;
    const slot = index & this.#mask;
    this.#reserved = slot;
    return slot * this.entrySize;
  }

  reserve(): number {
    const at = this.tryReserve();
    if (at < 0) throw new QueueFullError(this.label, this.depth);
    return at;
  }

  #nested(): never {
    throw new WarpDriveError(`queue ${this.label}: a request is being encoded already (a getter of the request called send?)`, {
      hint: "send requests one after the other; a nested send would share the slot of the outer one",
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
    this.#reserved = -1;
    // the done field is written last: the device takes the entry as new work only once head moves,
    // and finds it pending
    this.#writeDone(slot * this.entrySize);
    const index = this.#head;
    this.#head = this.#wrap(index + 1);
    return index;
  }

  cancel(e?: unknown): unknown {
    const slot = this.#reserved;
    if (slot >= 0) {
      this.#reserved = -1;
      this.#pins.release(slot);
    }
    return refusal(this.label, e);
  }

  trySend(encode: Encoder): number {
    const at = this.tryReserve();
    if (at < 0) return -1;
    // Encoder contract: the entry is zero when it is called.
    this.#bytes.fill(0, at, at + this.entrySize);
    try {
      encode(this.#view, at, this);
    } catch (e) {
      throw this.cancel(e);
    }
    return this.publish();
  }

  #writeDone(entryOff: number): void {
    const at = entryOff + this.#doneField;
    if (this.#doneWidth === 32) this.#view.setUint32(at, this.#pending, true);
    else if (this.#doneWidth === 16) this.#view.setUint16(at, this.#pending, true);
    else this.#view.setUint8(at, this.#pending);
  }

  send(encode: Encoder): number {
    const i = this.trySend(encode);
    if (i < 0) throw new QueueFullError(this.label, this.depth);
    return i;
  }

  flush(): void {
    this.#removal?.tick(); // may find the device gone and release this queue: checked next
    this.#life.check();
    this.#publish();
  }

  #publish(): void {
    const head = this.#head;
    if (head === this.#published) return;
    this.#published = head;
    ringReg(this.#producer, head);
    if (this.#doorbell !== undefined) ringReg(this.#doorbell, head);
  }

  take(): number {
    this.#removal?.tick();
    this.#life.check();
    if (this.#head !== this.#published) this.#publish();
    const index = this.#next;
    if (index === this.#head) return -1;
    const status = this.#done(index);
    if (status === this.#pending) return -1;
    this.#next = this.#wrap(index + 1);
    const slot = index & this.#mask;
    this.#pins.release(slot);
    this.completionOffset = slot * this.entrySize;
    this.completionStatus = status;
    return index;
  }

  recv(): Completion | null {
    const tag = this.take();
    if (tag < 0) return null;
    return { tag, view: this.#view, offset: this.completionOffset, status: this.completionStatus };
  }

  takeSync(timeoutMs: number): number {
    this.#life.check();
    const ms = checkTimeout(this.label, timeoutMs);
    if (this.inFlight === 0) {
      throw new WarpDriveError(`recvSync on queue ${this.label}: nothing is in flight, no completion can come`, { hint: "send() a request first" });
    }
    return waitForCompletion(this.label, this.#take, () => {}, this.#irq, ms, this.#removal);
  }

  recvSync(timeoutMs: number): Completion {
    const tag = this.takeSync(timeoutMs);
    return { tag, view: this.#view, offset: this.completionOffset, status: this.completionStatus };
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
    this.#host.onRelease(this);
  }

  /** Device.close/reset: the queue dies with the device's state; `why` ends up in later errors. */
  releaseFor(why: string, kind: EndKind = "closed", error?: Error): void {
    if (this.#life.released) return;
    // what was in flight will never complete: report each tag once, here
    const lost: number[] = [];
    for (let i = this.#next; i !== this.#head; i = this.#wrap(i + 1)) lost.push(i);
    this.#abandoned = Object.freeze(lost);
    this.#life.end(`released (${why})`, kind, error);
    this.#dispose();
    this.#host.onRelease(this);
  }

  #dispose(): void {
    this.#reserved = -1;
    this.#pins.clear();
    if (this.ringBuffer !== undefined) this.#host.freeShared(this.ringBuffer);
    // detach the view over the region so a kept Completion cannot touch it after the device unmaps
    if (this.#ab !== undefined) detach(this.#ab);
  }

  [Symbol.dispose](): void {
    if (!this.#life.released) this.release();
  }
}
