// IOVA allocation: where a buffer appears in the device's address space. The backend says which
// windows are usable (VFIO's IOVA-range capability; the sim takes anything); a device may narrow
// them further (edu masks DMA addresses to 28 bits). Allocations are page-aligned, first fit, and
// never at IOVA 0 so a zeroed descriptor can never name a valid buffer.
// Unified mode: IOVA == process address (what the sim uses, and what some users prefer for debugging);
// it only checks the address lies in a usable window.
import { DmaError } from "../errors.ts";

export interface IovaRange {
  start: number;
  /** Exclusive. */
  end: number;
}

export interface IovaAllocatorOptions {
  ranges: IovaRange[];
  pageSize: number;
  unified?: boolean;
  /** Highest usable IOVA + 1 (a device's addressing limit), applied to every range. */
  limit?: number;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** Ranges clipped to [0, limit), empty ones dropped, sorted. */
export function clipRanges(ranges: IovaRange[], limit = Number.MAX_SAFE_INTEGER): IovaRange[] {
  return ranges
    .map((r) => ({ start: r.start, end: Math.min(r.end, limit) }))
    .filter((r) => r.end > r.start)
    .sort((a, b) => a.start - b.start);
}

export class IovaAllocator {
  readonly pageSize: number;
  readonly unified: boolean;
  readonly ranges: IovaRange[];
  /** Free windows, sorted, non-adjacent. */
  #free: IovaRange[];
  readonly #used = new Map<number, number>();

  constructor(opts: IovaAllocatorOptions) {
    const page = opts.pageSize;
    if (!(Number.isInteger(page) && page > 0 && (page & (page - 1)) === 0)) {
      throw new DmaError(`IOVA page size ${page} is not a power of two`);
    }
    this.pageSize = page;
    this.unified = opts.unified ?? false;
    this.ranges = clipRanges(opts.ranges, opts.limit);
    // Align each window inward to pages and keep page 0 out.
    this.#free = this.ranges
      .map((r) => ({ start: Math.max(Math.ceil(r.start / page) * page, page), end: Math.floor(r.end / page) * page }))
      .filter((r) => r.end > r.start);
  }

  #describe(): string {
    return this.ranges.map((r) => `[${hex(r.start)}, ${hex(r.end)})`).join(" ") || "none";
  }

  /** Reserve `size` bytes (rounded to pages); `ptr` is the process address (required in unified mode). */
  alloc(size: number, ptr?: number): number {
    if (!(Number.isInteger(size) && size > 0)) throw new DmaError(`IOVA allocation of ${size} bytes`);
    const len = Math.ceil(size / this.pageSize) * this.pageSize;
    if (this.unified) {
      if (ptr === undefined) throw new DmaError("unified IOVA mode needs the buffer's process address");
      if (ptr % this.pageSize) throw new DmaError(`unified IOVA: address ${hex(ptr)} is not page-aligned`);
      if (!this.ranges.some((r) => ptr >= r.start && ptr + len <= r.end)) {
        throw new DmaError(`unified IOVA: [${hex(ptr)}, ${hex(ptr + len)}) is outside the device's IOVA ranges ${this.#describe()}`, {
          hint: "turn off unified mode so IOVAs are allocated inside the usable ranges",
        });
      }
      if (this.#used.has(ptr)) throw new DmaError(`unified IOVA: ${hex(ptr)} is already mapped`);
      this.#used.set(ptr, len);
      return ptr;
    }
    for (let i = 0; i < this.#free.length; i++) {
      const w = this.#free[i]!;
      if (w.end - w.start >= len) {
        const iova = w.start;
        w.start += len;
        if (w.start === w.end) this.#free.splice(i, 1);
        this.#used.set(iova, len);
        return iova;
      }
    }
    throw new DmaError(`no free IOVA window of ${len} bytes in ${this.#describe()}`, {
      hint: "free or unshare buffers, or use fewer/smaller ones",
    });
  }

  /** Return an allocation; `iova` must be what alloc returned. */
  free(iova: number): void {
    const len = this.#used.get(iova);
    if (len === undefined) throw new DmaError(`IOVA ${hex(iova)} is not allocated (double free?)`);
    this.#used.delete(iova);
    if (this.unified) return;
    const f = this.#free;
    let i = 0;
    while (i < f.length && f[i]!.start < iova) i++;
    f.splice(i, 0, { start: iova, end: iova + len });
    // Merge with neighbours so large allocations stay possible.
    if (i + 1 < f.length && f[i]!.end === f[i + 1]!.start) {
      f[i]!.end = f[i + 1]!.end;
      f.splice(i + 1, 1);
    }
    if (i > 0 && f[i - 1]!.end === f[i]!.start) {
      f[i - 1]!.end = f[i]!.end;
      f.splice(i, 1);
    }
  }

  /** Bytes currently allocated. */
  get used(): number {
    let n = 0;
    for (const v of this.#used.values()) n += v;
    return n;
  }
}
