// VirtqSplitQueue: a virtio split virtqueue (virtio 1.2, 2.7) driven from user space.
//
// Memory: one DMA buffer holds the descriptor table (16-byte entries), the available ring (flags,
// idx, ring[size], used_event), the used ring (flags, idx, ring[size] of (id, len), avail_event)
// and, per request slot, the header struct the device reads first, the footer struct it writes
// last and (with VIRTIO_F_INDIRECT_DESC) the slot's indirect descriptor table.
//
// A request is a descriptor chain: [header] + data buffers + [footer]. Device-readable descriptors
// come before device-writable ones (2.7.4.2); addBuffer() refuses the other order.
// - Indirect: every request is one descriptor in the ring, flagged INDIRECT, pointing at its slot's
//   table, so `size` requests fit in flight and a chain never runs out of ring entries.
// - Direct: slot k owns descriptors [k*C, k*C + C) (C = the longest chain), linked with NEXT, so
//   size / C requests fit in flight. Slots never share descriptors: no free list to corrupt.
// Tags are slot numbers; completions may come in any order (the used ring names the chain head).
//
// Notifications (2.7.7, 2.7.10): flush() publishes avail.idx with a sequentially consistent store
// (the entries and descriptors before it are visible first), then, after that full barrier, asks
// whether the device wants a notification: with VIRTIO_F_EVENT_IDX when avail.idx passed the
// device's avail_event, otherwise unless the device set USED_F_NO_NOTIFY. Interrupts are always
// asked for (recvSync and the async layer sleep on them): with EVENT_IDX each take() moves
// used_event to the next entry, otherwise avail.flags stays 0.
//
// The used ring is the device's word: an id that heads no request in flight, or a length beyond
// the writable bytes of the chain, is reported as an error, never trusted.
import type { IrqLine, MappedRegion, VirtqSplitQueueSpec } from "../backend.ts";
import type { DmaBuffer, DmaRef, DmaResolver } from "../mem/index.ts";
import { checkBoolean, checkString, describe } from "../args.ts";
import { ConfigError, DmaError, QueueFullError, WarpDriveError } from "../errors.ts";
import {
  availBytes, DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, DESC_SIZE, F_EVENT_IDX, F_INDIRECT_DESC, MAX_QUEUE_SIZE, needEvent, USED_F_NO_NOTIFY, usedBytes,
} from "../virtio/constants.ts";
import { checkTimeout, isPowerOfTwo, Lifetime, refusal, SlotPins, type AsyncGate, type EndKind } from "./common.ts";
import type { Completion, Encoder, Queue, QueueHost } from "./types.ts";
import { waitForCompletion } from "./wait.ts";
import type { RemovalWatch } from "../removal.ts";

/** What the engine needs of the virtio transport (runtime/src/virtio/transport.ts). */
export interface VirtqTransport {
  readonly label: string;
  has(feature: number): boolean;
  maxQueueSize(index: number): number;
  setupQueue(index: number, q: { size: number; desc: number; driver: number; device: number; vector: number | undefined }): { notifyOffset: number; notify: MappedRegion };
}

/** One data buffer of a request: a window of shared memory the device reads or (`writable`) writes. */
export interface VirtqBuffer {
  readonly ref: DmaRef;
  readonly writable: boolean;
}

/** A request as the generated clients take it: the header struct's fields and the data buffers. */
export interface VirtqRequest<H> {
  header?: H;
  buffers?: readonly VirtqBuffer[];
}

/** A finished request: its tag, the bytes the device wrote into it (the used length) and its footer, decoded. */
export interface VirtqDone<F> {
  tag: number;
  length: number;
  footer: F;
}

/**
 * The encoder of a whole chain, for `VirtqSplitQueue.send`-like wrappers and the async layer's
 * submit: writes the header (the struct's encoder, when the queue has one) into the slot, then adds
 * each buffer. Reads `header`, `buffers`, its length and each element once; refuses what is not a
 * request with a TypeError (the caller cancels the slot, so nothing reaches the ring).
 */
export function chainEncoder<H>(
  encodeHeader: ((view: DataView, offset: number, init: H, dma: DmaResolver) => void) | undefined,
): (view: DataView, offset: number, r: VirtqRequest<H>, dma: DmaResolver) => void {
  return (view, offset, r, dma) => {
    if (!(dma instanceof VirtqSplitQueue)) throw new TypeError("a virtqueue request is encoded into a VirtqSplitQueue");
    const where = `request on queue ${dma.label}`;
    if (typeof r !== "object" || r === null || Array.isArray(r)) throw new TypeError(`${where}: the request must be an object { header?, buffers? }, got ${describe(r)}`);
    const header = r.header;
    const buffers = r.buffers;
    if (encodeHeader !== undefined) encodeHeader(view, offset, (header ?? {}) as H, dma);
    else if (header !== undefined) throw new TypeError(`${where}: this queue's requests have no header, got ${describe(header)}`);
    if (buffers === undefined) return;
    if (!Array.isArray(buffers)) throw new TypeError(`${where}: buffers must be an array of { ref, writable }, got ${describe(buffers)}`);
    const n = buffers.length;
    for (let i = 0; i < n; i++) {
      const b: unknown = buffers[i];
      if (typeof b !== "object" || b === null) throw new TypeError(`${where}: buffers[${i}] must be { ref, writable }, got ${describe(b)}`);
      const { ref, writable } = b as VirtqBuffer;
      dma.addBuffer(ref, writable, `buffers[${i}]`);
    }
  };
}

export interface VirtqOptions {
  /** Queue size (entries); default the spec's, capped by the device's queue_size. */
  depth?: number;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;
/** Footer bytes are set to this before the device sees a request: a device that reports completion
 *  without writing its status shows as 0xff, not as a zero "success". */
const FOOTER_FILL = 0xff;

export class VirtqSplitQueue implements Queue {
  readonly name: string;
  readonly id: number;
  readonly label: string;
  /** Entries in the rings (the queue size programmed into the device). */
  readonly size: number;
  /** Requests that fit in flight. */
  readonly depth: number;
  /** Descriptors one request may use: header + segments + footer. */
  readonly chain: number;
  readonly indirect: boolean;
  readonly eventIdx: boolean;
  /** The rings and the per-slot areas; shared with the device. */
  readonly ringBuffer: DmaBuffer;
  /** Byte offsets of the parts in ringBuffer. */
  readonly layout: { desc: number; avail: number; used: number; slots: number; slotStride: number };

  readonly #host: QueueHost;
  readonly #life: Lifetime;
  readonly #removal: RemovalWatch | undefined;
  readonly #dma: DmaResolver;
  readonly #view: DataView;
  readonly #u16: Uint16Array;
  readonly #iova: number;
  readonly #irq: IrqLine | undefined;
  readonly #notify: MappedRegion;
  readonly #notifyOffset: number;
  readonly #header: number;
  readonly #footer: number;
  readonly #footerAt: number; // footer's offset inside a slot area
  readonly #tableAt: number; // indirect table's offset inside a slot area
  readonly #segments: number;
  readonly #pins: SlotPins;
  readonly #take: () => number;
  // per-slot state of the request being built / in flight
  readonly #count: Uint16Array; // data buffers added
  readonly #sawWritable: Uint8Array;
  readonly #writable: Float64Array; // device-writable bytes of the chain (the used length's bound)
  readonly #free: Uint16Array;
  #freeTop: number;
  readonly #out: Uint8Array;
  #inFlight = 0;
  #reserved = -1;
  #availShadow = 0; // avail.idx including published, unflushed requests
  #availFlushed = 0;
  #lastUsed = 0;
  #abandoned: readonly number[] = [];

  completionOffset = 0;
  /** After take(): the used element's len (bytes the device wrote into the chain). */
  completionStatus = 0;

  constructor(host: QueueHost, spec: VirtqSplitQueueSpec, id: number, transport: VirtqTransport, options: VirtqOptions = {}) {
    this.name = spec.name;
    this.id = id;
    this.label = `${host.address}/${spec.name}${spec.first === spec.last ? "" : `[${id}]`}`;
    this.#life = new Lifetime(this.label);
    this.#removal = host.removal;
    this.#host = host;
    this.#dma = host.dma;
    if (!Number.isInteger(spec.segments) || spec.segments < 0 || spec.segments > 1024) throw new ConfigError(`queue ${this.label}: segments ${spec.segments} is not 0..1024`);
    this.#header = spec.header;
    this.#footer = spec.footer;
    this.#segments = spec.segments;
    this.chain = spec.segments + (spec.header > 0 ? 1 : 0) + (spec.footer > 0 ? 1 : 0);
    if (this.chain === 0) throw new ConfigError(`queue ${this.label}: a request of no header, no footer and no data buffers is empty`);
    const max = transport.maxQueueSize(id);
    if (max === 0) throw new ConfigError(`queue ${this.label}: the device has no virtqueue ${id} (queue_size 0)`);
    const want = options.depth ?? Math.min(spec.size, max);
    if (!isPowerOfTwo(want) || want > MAX_QUEUE_SIZE) throw new ConfigError(`queue ${this.label}: size ${want} is not a power of two up to ${MAX_QUEUE_SIZE}`);
    if (want > max) throw new ConfigError(`queue ${this.label}: size ${want} is larger than the device's ${max}`);
    this.size = want;
    this.indirect = transport.has(F_INDIRECT_DESC) && this.chain > 1;
    this.eventIdx = transport.has(F_EVENT_IDX);
    this.depth = this.indirect ? want : Math.floor(want / this.chain);
    if (this.depth < 1) throw new ConfigError(`queue ${this.label}: a ${this.chain}-descriptor request does not fit a ${want}-entry ring without indirect descriptors`);
    if (this.depth > 0xffff) throw new ConfigError(`queue ${this.label}: ${this.depth} slots need tags wider than 16 bits`);

    const desc = 0;
    const avail = align(desc + DESC_SIZE * want, 2);
    const used = align(avail + availBytes(want), 4);
    const slots = align(used + usedBytes(want), 16);
    this.#footerAt = align(spec.header, 16);
    this.#tableAt = this.#footerAt + align(spec.footer, 16);
    const slotStride = this.#tableAt + (this.indirect ? DESC_SIZE * this.chain : 0);
    this.layout = { desc, avail, used, slots, slotStride };
    this.#irq = spec.interrupt === undefined ? undefined : host.irq(spec.interrupt);
    this.ringBuffer = host.allocShared(slots + slotStride * this.depth, `${this.label} rings`);
    try {
      this.#iova = host.dma.addressOf(this.ringBuffer.ref(), `${this.label} rings`);
      const set = transport.setupQueue(id, { size: want, desc: this.#iova + desc, driver: this.#iova + avail, device: this.#iova + used, vector: spec.interrupt });
      this.#notify = set.notify;
      this.#notifyOffset = set.notifyOffset;
    } catch (e) {
      host.freeShared(this.ringBuffer);
      throw e;
    }
    this.#view = this.ringBuffer.view;
    const bytes = this.ringBuffer.bytes;
    this.#u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.byteLength / 2));
    this.#count = new Uint16Array(this.depth);
    this.#sawWritable = new Uint8Array(this.depth);
    this.#writable = new Float64Array(this.depth);
    this.#free = new Uint16Array(this.depth);
    for (let i = 0; i < this.depth; i++) this.#free[i] = this.depth - 1 - i;
    this.#freeTop = this.depth;
    this.#out = new Uint8Array(this.depth);
    this.#pins = new SlotPins(this.depth);
    this.#take = () => this.take();
    if (this.indirect) {
      // ring descriptor k is slot k's indirect table, for good: only its length changes per request
      for (let k = 0; k < this.depth; k++) this.#writeDesc(desc + k * DESC_SIZE, this.#iova + this.#slotAt(k) + this.#tableAt, 0, DESC_F_INDIRECT, 0);
    }
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
  /** The ring buffer: reserve() returns the slot's header offset in it. */
  get view(): DataView {
    return this.#view;
  }
  /** The ring buffer: completionOffset is the finished request's footer. */
  get completionView(): DataView {
    return this.#view;
  }
  get interrupt(): IrqLine | undefined {
    return this.#irq;
  }

  #slotAt(slot: number): number {
    return this.layout.slots + slot * this.layout.slotStride;
  }

  /** Byte offset of the footer of `slot` in view (where the device writes its status). */
  footerOffset(slot: number): number {
    return this.#slotAt(slot) + this.#footerAt;
  }

  #writeDesc(at: number, addr: number, len: number, flags: number, next: number): void {
    const v = this.#view;
    v.setUint32(at, addr >>> 0, true);
    v.setUint32(at + 4, Math.floor(addr / 0x100000000), true);
    v.setUint32(at + 8, len, true);
    v.setUint16(at + 12, flags, true);
    v.setUint16(at + 14, next, true);
  }

  /** Byte offset of descriptor `i` of `slot`'s chain (in its indirect table or its block of the ring). */
  #chainDesc(slot: number, i: number): number {
    return this.indirect ? this.#slotAt(slot) + this.#tableAt + i * DESC_SIZE : this.layout.desc + (slot * this.chain + i) * DESC_SIZE;
  }

  /** Index the NEXT field of descriptor `i` of the chain names for i + 1. */
  #nextIndex(slot: number, i: number): number {
    return this.indirect ? i + 1 : slot * this.chain + i + 1;
  }

  tryReserve(): number {
    this.#life.check();
    if (this.#reserved >= 0) this.#nested();
    if (this.#freeTop === 0) return -1;
    const slot = this.#free[--this.#freeTop]!;
    this.#reserved = slot;
    this.#count[slot] = 0;
    this.#sawWritable[slot] = 0;
    this.#writable[slot] = 0;
    return this.#slotAt(slot);
  }

  reserve(): number {
    const at = this.tryReserve();
    if (at < 0) throw new QueueFullError(this.label, this.depth);
    return at;
  }

  #nested(): never {
    throw new WarpDriveError(`queue ${this.label}: a request is being built already (a getter of the request called send?)`, {
      hint: "send requests one after the other",
    });
  }

  /** DmaResolver for the header's own DMA fields: checks the buffer and pins it for the request's slot. */
  addressOf(ref: DmaRef, field: string, extent?: number): number {
    const iova = this.#dma.addressOf(ref, field, extent);
    if (this.#reserved >= 0) this.#pins.add(this.#reserved, ref.buffer);
    return iova;
  }

  /**
   * Adds a data buffer to the request being built (after reserve()): the whole window of `ref`,
   * which the device reads (`writable` false) or writes (true). Checked and pinned like a DMA field;
   * device-readable buffers come first. `field` names it in refusals.
   */
  addBuffer(ref: DmaRef, writable: boolean, field = "data"): void {
    const w = checkBoolean(writable, "writable", `addBuffer on queue ${this.label}`);
    const name = checkString(field, "field", `addBuffer on queue ${this.label}`);
    this.#life.check();
    const slot = this.#reserved;
    if (slot < 0) throw new WarpDriveError(`queue ${this.label}: addBuffer() without a reserve()`);
    const n = this.#count[slot]!;
    if (n >= this.#segments) throw new RangeError(`queue ${this.label}: ${name}: a request takes at most ${this.#segments} data buffer${this.#segments === 1 ? "" : "s"}`);
    if (!w && this.#sawWritable[slot] === 1) {
      throw new RangeError(`queue ${this.label}: ${name}: a device-readable buffer cannot follow a device-writable one (virtio 2.7.4.2)`);
    }
    const iova = this.#dma.addressOf(ref, name); // a DmaRef of a buffer shared with this device, or a DmaError
    const len = ref.length;
    if (len < 1 || len > 0xffffffff) throw new DmaError(`queue ${this.label}: ${name}: a descriptor holds 1..4294967295 bytes, got ${len}`, { field: name });
    this.#pins.add(slot, ref.buffer);
    const i = (this.#header > 0 ? 1 : 0) + n;
    this.#writeDesc(this.#chainDesc(slot, i), iova, len, w ? DESC_F_WRITE : 0, 0);
    this.#count[slot] = n + 1;
    if (w) {
      this.#sawWritable[slot] = 1;
      this.#writable[slot] += len;
    }
  }

  /** Links the chain of the reserved request and makes it part of the next flush; returns its tag. */
  publish(): number {
    const slot = this.#reserved;
    if (slot < 0) throw new WarpDriveError(`queue ${this.label}: publish() without a reserve()`);
    const base = this.#iova + this.#slotAt(slot);
    let n = 0;
    if (this.#header > 0) this.#writeDesc(this.#chainDesc(slot, n++), base, this.#header, 0, 0);
    n += this.#count[slot]!;
    if (this.#footer > 0) {
      new Uint8Array(this.#view.buffer, this.#view.byteOffset + this.#slotAt(slot) + this.#footerAt, this.#footer).fill(FOOTER_FILL);
      this.#writeDesc(this.#chainDesc(slot, n++), base + this.#footerAt, this.#footer, DESC_F_WRITE, 0);
      this.#writable[slot] += this.#footer;
    }
    if (n === 0) throw new WarpDriveError(`queue ${this.label}: a request needs at least one buffer (addBuffer)`);
    // NEXT links: every descriptor but the last
    for (let i = 0; i + 1 < n; i++) {
      const at = this.#chainDesc(slot, i);
      this.#view.setUint16(at + 12, this.#view.getUint16(at + 12, true) | DESC_F_NEXT, true);
      this.#view.setUint16(at + 14, this.#nextIndex(slot, i), true);
    }
    let head: number;
    if (this.indirect) {
      head = slot;
      this.#view.setUint32(this.layout.desc + slot * DESC_SIZE + 8, n * DESC_SIZE, true);
    } else {
      head = slot * this.chain;
    }
    const a = this.layout.avail;
    this.#view.setUint16(a + 4 + 2 * (this.#availShadow & (this.size - 1)), head, true);
    this.#availShadow = (this.#availShadow + 1) & 0xffff;
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
    new Uint8Array(this.#view.buffer, this.#view.byteOffset + at, this.#header).fill(0); // encoder contract: a zeroed entry
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

  /** Publishes avail.idx and notifies the device when it asked to be (one notification per batch). */
  flush(): void {
    this.#removal?.tick(); // may find the device gone and release this queue: checked next
    this.#life.check();
    const next = this.#availShadow;
    const old = this.#availFlushed;
    if (next === old) return;
    const a = (this.layout.avail >> 1) + 1; // avail.idx as a u16 element
    Atomics.store(this.#u16, a, next); // sequentially consistent: entries first, and a full barrier before the loads below
    this.#availFlushed = next;
    let kick: boolean;
    if (this.eventIdx) {
      const availEvent = Atomics.load(this.#u16, (this.layout.used + 4 + 8 * this.size) >> 1);
      kick = needEvent(availEvent, next, old);
    } else {
      kick = (Atomics.load(this.#u16, this.layout.used >> 1) & USED_F_NO_NOTIFY) === 0;
    }
    if (kick) this.#notify.io.write16(this.#notifyOffset, this.id);
  }

  take(): number {
    this.#removal?.tick();
    this.#life.check();
    if (this.#inFlight === 0) return -1;
    const usedIdx = Atomics.load(this.#u16, (this.layout.used >> 1) + 1);
    if (usedIdx === this.#lastUsed) return -1;
    const at = this.layout.used + 4 + 8 * (this.#lastUsed & (this.size - 1));
    const id = this.#view.getUint32(at, true);
    const len = this.#view.getUint32(at + 4, true);
    const slot = this.indirect ? id : id / this.chain;
    if (!Number.isInteger(slot) || slot >= this.depth || this.#out[slot] !== 1) {
      throw new WarpDriveError(`queue ${this.label}: the device used descriptor ${id}, which heads no request in flight (used ring entry ${this.#lastUsed})`, {
        hint: "the device is misbehaving; reset it",
      });
    }
    if (len > this.#writable[slot]!) {
      throw new WarpDriveError(`queue ${this.label}: the device reports ${len} bytes written into request ${slot}, whose chain has ${this.#writable[slot]} writable bytes`, {
        hint: "the device is misbehaving; reset it",
      });
    }
    this.#lastUsed = (this.#lastUsed + 1) & 0xffff;
    // ask for an interrupt at the next used entry (only read by an EVENT_IDX device)
    if (this.eventIdx) Atomics.store(this.#u16, (this.layout.avail + 4 + 2 * this.size) >> 1, this.#lastUsed);
    this.#out[slot] = 0;
    this.#inFlight--;
    this.#pins.release(slot);
    this.#free[this.#freeTop++] = slot;
    this.completionOffset = this.#slotAt(slot) + this.#footerAt;
    this.completionStatus = len;
    return slot;
  }

  recv(): Completion | null {
    this.flush();
    const tag = this.take();
    if (tag < 0) return null;
    return { tag, view: this.#view, offset: this.completionOffset, status: this.completionStatus };
  }

  takeSync(timeoutMs: number): number {
    this.#life.check();
    const ms = checkTimeout(this.label, timeoutMs);
    this.flush();
    if (this.#inFlight === 0) {
      throw new WarpDriveError(`recvSync on queue ${this.label}: nothing is in flight, no completion can come`, { hint: "send() a request first" });
    }
    return waitForCompletion(this.label, this.#take, () => {}, this.#irq, ms, this.#removal);
  }

  recvSync(timeoutMs: number): Completion {
    const tag = this.takeSync(timeoutMs);
    return { tag, view: this.#view, offset: this.completionOffset, status: this.completionStatus };
  }

  pinsOf(buf: DmaBuffer): number {
    return this.#pins.countOf(buf);
  }

  claimAsync(onEnd: (why: string, kind: EndKind, error?: Error) => void): AsyncGate {
    return this.#life.claim(this.inFlight, onEnd);
  }

  release(): void {
    this.#life.end();
    this.#dispose();
    this.#host.onRelease(this);
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
    this.#host.freeShared(this.ringBuffer);
  }

  [Symbol.dispose](): void {
    if (!this.#life.released) this.release();
  }
}
