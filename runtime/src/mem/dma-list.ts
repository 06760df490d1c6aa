// A list of fixed-size entries in memory shared with a device, which one request points at (a
// batch descriptor naming an array of descriptors). Entries are encoded one after another with a
// generated encoder; the list remembers the DMA windows its entries name, so the request carrying
// the list can pin those buffers for as long as it is in flight, exactly like the buffers it names
// itself (the device reads the members while the batch runs).
import { DmaBuffer, describe, type DmaRef, type DmaResolver } from "./dma.ts";

/** How a generated encoder writes one entry (the shape of every generated `encode...`). */
export type ListEntryEncoder<A> = (view: DataView, offset: number, arg: A, dma: DmaResolver) => void;

export interface DmaListOptions {
  /** Bytes of one entry. */
  entrySize: number;
  /** Most entries the list holds (its memory: capacity * entrySize bytes from `offset`). */
  capacity: number;
  /** Byte offset of the first entry in the buffer (default 0). */
  offset?: number;
  /** The device's resolver: checks each address an entry names. */
  dma: DmaResolver;
  /** Shown in errors (default "dma list"). */
  name?: string;
}

export class DmaList {
  readonly buffer: DmaBuffer;
  readonly entrySize: number;
  readonly capacity: number;
  readonly offset: number;
  readonly name: string;
  readonly #dma: DmaResolver;
  #length = 0;
  /** Windows named by the entries so far, and by the entry being encoded (past #committed). */
  readonly #refs: DmaRef[] = [];
  #committed = 0;
  /** Records each window an entry's encoder resolves. */
  readonly #recorder: DmaResolver;

  constructor(buffer: DmaBuffer, options: DmaListOptions) {
    if (typeof options !== "object" || options === null) throw new TypeError(`DmaList: options must be an object, got ${String(options)}`);
    // each option read once
    const { entrySize, capacity, dma } = options;
    const offset = options.offset ?? 0;
    const name = options.name ?? "dma list";
    if (typeof buffer !== "object" || buffer === null || !DmaBuffer.isBuffer(buffer)) throw new TypeError(`${name}: expected a DmaBuffer, got ${describe(buffer)}`);
    if (typeof dma !== "object" || dma === null || typeof dma.addressOf !== "function") throw new TypeError(`${name}: options.dma must be a DmaResolver (device.dma), got ${describe(dma)}`);
    for (const [k, v, min] of [["entrySize", entrySize, 1], ["capacity", capacity, 1], ["offset", offset, 0]] as const) {
      if (typeof v !== "number") throw new TypeError(`${name}: options.${k} must be a number, got ${typeof v}`);
      if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name}: options.${k} must be an integer >= ${min}, got ${v}`);
    }
    if (offset + capacity * entrySize > buffer.size) {
      throw new RangeError(`${name}: ${capacity} entries of ${entrySize} bytes from offset ${offset} end past dma buffer ${buffer.name} (${buffer.size} bytes)`);
    }
    this.buffer = buffer;
    this.entrySize = entrySize;
    this.capacity = capacity;
    this.offset = offset;
    this.name = name;
    this.#dma = dma;
    this.#recorder = {
      addressOf: (ref, field, extent) => {
        const a = this.#dma.addressOf(ref, field, extent);
        this.#refs.push(ref);
        return a;
      },
    };
  }

  /** Entries written so far. */
  get length(): number {
    return this.#length;
  }

  /** Byte offset of entry `i` in the buffer. */
  offsetOf(i: number): number {
    if (!(Number.isInteger(i) && i >= 0 && i < this.#length)) throw new RangeError(`${this.name}: entry ${String(i)} is outside 0..${this.#length - 1}`);
    return this.offset + i * this.entrySize;
  }

  /**
   * Encodes the next entry with `encode` and returns its index. A full list is a RangeError; an
   * encoder that refuses its argument leaves the list as it was (the entry's bytes zeroed).
   */
  push<A>(encode: ListEntryEncoder<A>, arg: A): number {
    if (this.#length >= this.capacity) throw new RangeError(`${this.name} is full: it holds ${this.capacity} entries`);
    const at = this.offset + this.#length * this.entrySize;
    try {
      encode(this.buffer.view, at, arg, this.#recorder);
    } catch (e) {
      this.buffer.bytes.fill(0, at, at + this.entrySize);
      this.#refs.length = this.#committed;
      throw e;
    }
    this.#committed = this.#refs.length;
    return this.#length++;
  }

  /** Forgets every entry (the memory is reused by the next push). */
  clear(): void {
    this.#length = 0;
    this.#refs.length = 0;
    this.#committed = 0;
  }

  /** The window the device reads: the entries written so far. */
  ref(): DmaRef {
    return this.buffer.ref(this.offset, this.#length * this.entrySize);
  }

  /** The windows the entries name (each to be pinned by the request that carries the list). */
  get members(): readonly DmaRef[] {
    return this.#refs;
  }
}
