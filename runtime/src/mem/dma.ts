// DmaBuffer: host memory a device may read and write. Page-aligned (IOMMU maps whole pages), zeroed
// (anonymous mmap), pinned with mlock where the limit allows (VFIO pins it again on MAP_DMA anyway),
// and never reachable through a stale view: free() unmaps it from every device first, then detaches
// the ArrayBuffer (all views read as empty afterwards instead of crashing the process), then munmaps.
//
// Sharing: `buf.share(domain)` asks the domain (the Device) to map the buffer and remembers the IOVA
// it got; a `DmaResolver` turns a `DmaRef` into that IOVA after checking bounds. Generated code calls
// `dma.addressOf(ref, field)` for every dma-address field, so an unshared buffer never reaches a device.
import { toArrayBuffer, type Pointer } from "bun:ffi";
import { checkBoolean, checkInt, checkOptions, checkString, describe as describeValue, optional } from "../args.ts";
import { DmaError, UseAfterReleaseError } from "../errors.ts";
import { detach } from "./detach.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, sys as realSys, type Sys } from "../sys/libc.ts";

/**
 * A window of a DmaBuffer: what a dma-address field points at. Made only by `DmaBuffer.ref()`, checked
 * there once, and immutable: the fields are private, so a look-alike object, a Proxy or a subclass
 * with changing getters is refused by the resolver (`DmaRef.is`), and what was checked is what the
 * device is told.
 */
export class DmaRef {
  readonly #buffer: DmaBuffer;
  readonly #offset: number;
  readonly #length: number;

  /** @internal DmaBuffer.ref() is the constructor users call. */
  constructor(token: typeof REF_TOKEN, buffer: DmaBuffer, offset: number, length: number) {
    if (token !== REF_TOKEN) throw new TypeError("a DmaRef is made by DmaBuffer.ref(offset, length)");
    this.#buffer = buffer;
    this.#offset = offset;
    this.#length = length;
  }

  /** True only for DmaRefs made by DmaBuffer.ref() (a brand check on the private field). */
  static is(x: unknown): x is DmaRef {
    return typeof x === "object" && x !== null && #buffer in x;
  }

  get buffer(): DmaBuffer {
    return this.#buffer;
  }
  get offset(): number {
    return this.#offset;
  }
  get length(): number {
    return this.#length;
  }
  toString(): string {
    return `[${this.#offset}, ${this.#offset}+${this.#length}) of dma buffer ${this.#buffer.name}`;
  }
}

const REF_TOKEN = Symbol("DmaRef");

/** The device's check-and-translate for DMA addresses (see SharedResolver). */
export interface DmaResolver {
  /**
   * IOVA of ref's first byte; throws DmaError naming `field` and the buffer when not allowed. With
   * `extent`, the number of bytes the device is told to move from there: it must fit the window.
   */
  addressOf(ref: DmaRef, field: string, extent?: number): number;
}

/** Something a buffer can be shared with: a Device maps it into its IOMMU domain and returns the IOVA. */
export interface DmaDomain {
  readonly name: string;
  /** Make [buf.ptr, buf.ptr + buf.size) reachable by the device; returns its IOVA. */
  dmaAttach(buf: DmaBuffer): number;
  /** Undo dmaAttach (called by unshare and by free). */
  dmaDetach(buf: DmaBuffer, iova: number): void;
  /** Why `buf` may not be unshared now (a queued request references it), or undefined. Asked by
   *  unshare and free before they change anything. */
  dmaInUse?(buf: DmaBuffer): string | undefined;
}

export interface DmaAllocOptions {
  /** Shown in errors ("dma buffer rx-ring"); default "dma#<n>". */
  name?: string;
  /**
   * mlock the pages (default true; failure is tolerated, see `locked`). VFIO's MAP_DMA pins the pages
   * itself and charges them to RLIMIT_MEMLOCK too, so for an unprivileged process (no CAP_IPC_LOCK)
   * mlock + MAP_DMA counts each page twice against the limit: pass false for buffers VFIO will map.
   */
  lock?: boolean;
  /** Syscall layer (tests). */
  sys?: Sys;
}

let serial = 0;
let live = 0;

export class DmaBuffer {
  readonly name: string;
  /** Bytes mapped: the requested size rounded up to whole pages. */
  readonly size: number;
  /** Whether mlock succeeded (memlock limit permitting). */
  readonly locked: boolean;
  #ptr: number;
  #ab: ArrayBuffer | undefined;
  #bytes: Uint8Array | undefined;
  #view: DataView | undefined;
  readonly #sys: Sys;
  readonly #shares = new Map<DmaDomain, number>();
  /** Set while something that outlives a call holds the buffer (a queue's ring): who, and its key. */
  #owner: { what: string; key: symbol } | undefined;
  // Nearly every buffer is shared with one device: its IOVA is found without a Map lookup.
  #firstDomain: DmaDomain | undefined;
  #firstIova = 0;
  #pins = 0;
  /** Memory this buffer does not own (device-provided): given back here instead of munmap. */
  readonly #giveBack: (() => void) | undefined;

  private constructor(sys: Sys, ptr: number, size: number, name: string, locked: boolean, giveBack?: () => void) {
    this.#sys = sys;
    this.#ptr = ptr;
    this.size = size;
    this.name = name;
    this.locked = locked;
    this.#giveBack = giveBack;
    this.#ab = toArrayBuffer(ptr as Pointer, 0, size);
  }

  /**
   * A buffer over memory someone else provides (a device's pool: UACCE's DUS region). Everything
   * else is as for alloc (views, sharing, free detaching every view first); free() calls `giveBack`
   * instead of munmap. `ptr` must be page-aligned and `size` a page multiple.
   */
  static fromProvided(ptr: number, size: number, options: { name?: string; giveBack: () => void; sys?: Sys }): DmaBuffer {
    const sys = options.sys ?? realSys;
    const name = options.name ?? `dma#${++serial}`;
    if (!Number.isInteger(ptr) || ptr <= 0 || ptr % sys.pageSize !== 0 || !Number.isInteger(size) || size <= 0 || size % sys.pageSize !== 0) {
      throw new RangeError(`DmaBuffer.fromProvided (${name}): memory [${ptr}, +${size}) is not whole pages`);
    }
    live++;
    return new DmaBuffer(sys, ptr, size, name, false, options.giveBack);
  }

  /** Page-aligned, zeroed, pinned where possible. `size` is rounded up to a page multiple. */
  static alloc(size: number, optionsIn?: DmaAllocOptions): DmaBuffer {
    // each option read once; 4 GiB is what a single view can cover
    const o = checkOptions(optionsIn, "options", "DmaBuffer.alloc") ?? {};
    const nameIn = o.name;
    const lockIn = o.lock;
    const sysIn = o.sys;
    const where = `DmaBuffer.alloc${typeof nameIn === "string" ? ` (${nameIn})` : ""}`;
    checkInt(size, "size", 1, 0x1_0000_0000, where);
    const name = optional(nameIn, (v) => checkString(v, "options.name", where)) ?? `dma#${++serial}`;
    const lock = optional(lockIn, (v) => checkBoolean(v, "options.lock", where));
    const sys = (sysIn as Sys | undefined) ?? realSys;
    const page = sys.pageSize;
    const rounded = Math.ceil(size / page) * page;
    const ptr = sys.mmap(rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, `dma buffer ${name}`);
    let locked = false;
    if (lock !== false) locked = sys.mlock(ptr, rounded);
    live++;
    return new DmaBuffer(sys, ptr, rounded, name, locked);
  }

  /** True for a DmaBuffer made by this module (a brand check: no Proxy or faked prototype passes). */
  static isBuffer(v: object): v is DmaBuffer {
    return #shares in v;
  }

  /** Buffers allocated and not yet freed in this process (leak checks). */
  static get liveCount(): number {
    return live;
  }

  get freed(): boolean {
    return this.#ab === undefined;
  }

  #gone(): never {
    throw new UseAfterReleaseError(`dma buffer ${this.name}`, "freed");
  }

  /** Process address of the first byte. */
  get ptr(): number {
    if (this.#ab === undefined) this.#gone();
    return this.#ptr;
  }

  /** The whole buffer as bytes (zero-copy). Detached (length 0) after free. */
  get bytes(): Uint8Array {
    if (this.#ab === undefined) this.#gone();
    return (this.#bytes ??= new Uint8Array(this.#ab));
  }

  /** The whole buffer as a DataView (zero-copy). Detached after free. */
  get view(): DataView {
    if (this.#ab === undefined) this.#gone();
    return (this.#view ??= new DataView(this.#ab));
  }

  /** The backing ArrayBuffer (for other typed views; they are detached on free). */
  get arrayBuffer(): ArrayBuffer {
    if (this.#ab === undefined) this.#gone();
    return this.#ab;
  }

  /** A window [offset, offset+length) of this buffer, checked (default: from offset to the end). */
  ref(offset: number = 0, length?: number): DmaRef {
    if (this.#ab === undefined) this.#gone();
    // Each argument is read once, as a primitive: nothing is coerced.
    const o = offset;
    const l = length;
    if (typeof o !== "number") throw new TypeError(`dma buffer ${this.name}: ref offset must be a number, got ${describe(o)}`);
    if (l !== undefined && typeof l !== "number") throw new TypeError(`dma buffer ${this.name}: ref length must be a number, got ${describe(l)}`);
    if (!Number.isInteger(o) || o < 0 || o > this.size) {
      throw new RangeError(`dma buffer ${this.name}: ref offset ${o} is not an integer in 0..${this.size}`);
    }
    const len = l ?? this.size - o;
    if (!Number.isInteger(len) || len < 0 || o + len > this.size) {
      throw new RangeError(`dma buffer ${this.name}: ref length ${len} at offset ${o} does not fit its ${this.size} bytes`);
    }
    return new DmaRef(REF_TOKEN, this, o, len);
  }

  /** Requests in flight that reference this buffer (all devices). A pinned buffer is neither
   *  unshared nor freed: the device may still read or write it. */
  get pins(): number {
    return this.#pins;
  }

  /** @internal Queue engines: one more / one fewer request in flight references this buffer. */
  pin(): void {
    this.#pins++;
  }
  /** @internal */
  unpin(): void {
    if (this.#pins > 0) this.#pins--;
  }

  /** Map this buffer for `domain` (a Device); idempotent. Returns the IOVA. */
  share(domain: DmaDomain): number {
    if (typeof domain !== "object" || domain === null) {
      throw new TypeError(`share of dma buffer ${this.name}: domain must be a Device, got ${describe(domain)}`);
    }
    if (this.#ab === undefined) this.#gone();
    const have = this.#shares.get(domain);
    if (have !== undefined) return have;
    const attach = domain.dmaAttach; // read once
    if (typeof attach !== "function") throw new TypeError(`share of dma buffer ${this.name}: domain must be a Device (a DmaDomain with dmaAttach)`);
    const iova = attach.call(domain, this);
    this.#shares.set(domain, iova);
    if (this.#firstDomain === undefined) {
      this.#firstDomain = domain;
      this.#firstIova = iova;
    }
    return iova;
  }

  /** Remove the device's mapping; no-op when not shared. Refused (DmaError) while a request the
   *  device has not completed references the buffer. */
  unshare(domain: DmaDomain): void {
    const iova = this.#shares.get(domain);
    if (iova === undefined) return;
    this.#refuseOwned(`unshared from ${domain.name}`);
    this.#refuseInUse(domain, "unshared from");
    this.#shares.delete(domain);
    if (this.#firstDomain === domain) this.#firstDomain = undefined;
    domain.dmaDetach(this, iova);
  }

  /**
   * Marks the buffer as held by `owner` (a queue's SQ, CQ or index ring: "SQ of queue
   * sim:nvme/1/io[1]"): until `disown(key)` with the key returned here, `free()` and `unshare()`
   * throw DmaError naming the owner, so a caller cannot pull a live queue's ring from under it.
   * One owner at a time (a second claim is a bug: DmaError).
   */
  claim(owner: string): symbol {
    checkString(owner, "owner", `claim of dma buffer ${this.name}`);
    if (this.#ab === undefined) this.#gone();
    if (this.#owner !== undefined) {
      throw new DmaError(`dma buffer ${this.name} is already held as the ${this.#owner.what}`, { buffer: this.name });
    }
    const key = Symbol(owner);
    this.#owner = { what: owner, key };
    return key;
  }

  /** Ends a claim (the owner is about to free the buffer, or gives it back). Idempotent for the
   *  holder; a key that is not the current claim's is refused. */
  disown(key: symbol): void {
    if (this.#owner === undefined) return;
    if (key !== this.#owner.key) {
      throw new DmaError(`dma buffer ${this.name}: only its owner (the ${this.#owner.what}) can give it up`, { buffer: this.name });
    }
    this.#owner = undefined;
  }

  /** Who holds the buffer (claim), or undefined. */
  get owner(): string | undefined {
    return this.#owner?.what;
  }

  #refuseOwned(what: string): void {
    if (this.#owner === undefined) return;
    throw new DmaError(`dma buffer ${this.name} cannot be ${what}: it is the ${this.#owner.what}`, {
      buffer: this.name,
      hint: "release() the queue (or close the device); its rings go with it",
    });
  }

  #refuseInUse(domain: DmaDomain, what: string): void {
    const why = domain.dmaInUse?.(this);
    if (why !== undefined) {
      throw new DmaError(`dma buffer ${this.name} cannot be ${what} ${domain.name}: ${why}`, {
        buffer: this.name,
        hint: "recv() the completions of those requests first (or reset/close the device, which abandons them)",
      });
    }
  }

  /** The IOVA this buffer has in `domain`, or undefined when not shared with it. */
  iovaIn(domain: DmaDomain): number | undefined {
    if (domain === this.#firstDomain) return this.#firstIova;
    return this.#shares.get(domain);
  }

  /** The domains this buffer is currently shared with. */
  get sharedWith(): DmaDomain[] {
    return [...this.#shares.keys()];
  }

  /**
   * Unshare from every device, detach all views, munlock, munmap. Idempotent. If a device refuses
   * to unmap, the memory is still freed (VFIO keeps its own page references) and the error is rethrown.
   */
  free(): void {
    if (this.#ab === undefined) return;
    this.#refuseOwned("freed");
    // all or nothing: a buffer a device may still write is neither unshared nor unmapped
    for (const d of this.#shares.keys()) this.#refuseInUse(d, "freed while shared with");
    let first: unknown;
    for (const d of [...this.#shares.keys()]) {
      try {
        this.unshare(d);
      } catch (e) {
        first ??= e;
      }
    }
    const ab = this.#ab;
    this.#ab = undefined;
    this.#bytes = undefined;
    this.#view = undefined;
    detach(ab); // detaches every view made from it: stale views read as empty, never the old pages
    if (this.locked) this.#sys.munlock(this.#ptr, this.size);
    live--;
    try {
      if (this.#giveBack !== undefined) this.#giveBack();
      else this.#sys.munmap(this.#ptr, this.size, `dma buffer ${this.name}`);
    } catch (e) {
      first ??= e;
    }
    if (first !== undefined) throw first;
  }

  [Symbol.dispose](): void {
    this.free();
  }
}

/**
 * The standard DmaResolver of a domain: the buffer must be live and shared with it, and the window
 * must lie inside the buffer. Device uses `new SharedResolver(this)` as its `dma`.
 */
export class SharedResolver implements DmaResolver {
  constructor(readonly domain: DmaDomain) {}
  addressOf(ref: DmaRef, field: string, extent?: number): number {
    if (!DmaRef.is(ref)) {
      throw new DmaError(`${field}: expected a DmaRef from DmaBuffer.ref(), got ${describe(ref)}`, { field });
    }
    const buf = ref.buffer;
    if (buf.freed) {
      throw new DmaError(`${field}: dma buffer ${buf.name} was freed`, { field, buffer: buf.name });
    }
    const iova = buf.iovaIn(this.domain);
    if (iova === undefined) {
      throw new DmaError(`${field}: dma buffer ${buf.name} is not shared with ${this.domain.name}`, {
        field,
        buffer: buf.name,
        hint: "allocate it with device.alloc() or call device.share(buffer) first",
      });
    }
    // The window was checked against the buffer when ref() made it (and buffers never shrink); what
    // is left is the extent: the bytes the device will move from this address must fit the window.
    if (extent !== undefined && extent > ref.length) {
      throw new DmaError(
        `${field}: the device would ${extent === 1 ? "touch 1 byte" : `touch ${extent} bytes`} at [${ref.offset}, ${ref.offset}+${extent}) of dma buffer ${buf.name}, but the DmaRef window is [${ref.offset}, ${ref.offset}+${ref.length})`,
        { field, buffer: buf.name, hint: "pass a larger window (buffer.ref(offset, length)) or a smaller size" },
      );
    }
    return iova + ref.offset;
  }
}

/** A caller's value in an error message, without calling its toString or valueOf (args.ts's
 *  describe, which also knows a DmaRef). */
export function describe(v: unknown): string {
  return DmaRef.is(v) ? "a DmaRef" : describeValue(v);
}
