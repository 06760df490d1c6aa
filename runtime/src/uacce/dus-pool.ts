// The DMA pool of a UACCE queue without SVA: the part of its DUS (device user share) region that no
// description region occupies. The device reaches only this memory, at `deviceBase + offset in DUS`;
// buffers are carved first-fit in whole pages and zeroed when handed out (freed memory may hold an
// earlier buffer's bytes).
import { toArrayBuffer, type Pointer } from "bun:ffi";
import type { DeviceMemory } from "../backend.ts";
import { detach } from "../mem/detach.ts";

export class DusPool implements DeviceMemory {
  readonly mode = "pool" as const;
  readonly #describe: string;
  #retired: string | undefined;
  /** Free extents [start, end) as offsets in the pool, sorted, never adjacent. */
  #free: { start: number; end: number }[];
  /** Handed-out blocks: process address -> bytes. */
  readonly #used = new Map<number, number>();
  #bytes: Uint8Array | undefined;

  /**
   * @param ptr   process address of the pool's first byte (page-aligned, inside the DUS mapping)
   * @param size  bytes in the pool (a page multiple)
   * @param deviceBase device address of the pool's first byte
   */
  constructor(
    readonly ptr: number,
    readonly size: number,
    readonly deviceBase: number,
    readonly pageSize: number,
    owner: string,
  ) {
    this.#describe = `the ${size} bytes of DUS memory of ${owner}`;
    this.#free = size > 0 ? [{ start: 0, end: size }] : [];
    this.#bytes = size > 0 ? new Uint8Array(toArrayBuffer(ptr as Pointer, 0, size)) : new Uint8Array(0);
  }

  /** What the device reaches, for refusals (and why nothing is handed out any more, once retired). */
  get describe(): string {
    return this.#retired === undefined ? this.#describe : `${this.#describe}, which is gone (${this.#retired})`;
  }

  /** Bytes not handed out. */
  get available(): number {
    return this.#free.reduce((n, f) => n + f.end - f.start, 0);
  }

  alloc(size: number): { ptr: number; size: number } | undefined {
    if (this.#bytes === undefined || !Number.isInteger(size) || size <= 0) return undefined;
    const len = Math.ceil(size / this.pageSize) * this.pageSize;
    const i = this.#free.findIndex((f) => f.end - f.start >= len);
    if (i < 0) return undefined;
    const f = this.#free[i];
    const start = f.start;
    if (f.end - f.start === len) this.#free.splice(i, 1);
    else f.start += len;
    this.#bytes.fill(0, start, start + len);
    this.#used.set(this.ptr + start, len);
    return { ptr: this.ptr + start, size: len };
  }

  free(ptr: number): void {
    const len = this.#used.get(ptr);
    if (len === undefined) return;
    this.#used.delete(ptr);
    const start = ptr - this.ptr;
    const end = start + len;
    let i = this.#free.findIndex((f) => f.start > start);
    if (i < 0) i = this.#free.length;
    this.#free.splice(i, 0, { start, end });
    // merge with the neighbours so large buffers fit again
    if (i + 1 < this.#free.length && this.#free[i].end === this.#free[i + 1].start) {
      this.#free[i].end = this.#free[i + 1].end;
      this.#free.splice(i + 1, 1);
    }
    if (i > 0 && this.#free[i - 1].end === this.#free[i].start) {
      this.#free[i - 1].end = this.#free[i].end;
      this.#free.splice(i, 1);
    }
  }

  /** Only a block this pool handed out (all of it inside one block) is reachable. */
  deviceAddress(ptr: number, size: number): number | undefined {
    if (this.#bytes === undefined) return undefined;
    const len = this.#used.get(ptr);
    if (len === undefined || !(size > 0 && size <= len)) return undefined;
    return this.deviceBase + (ptr - this.ptr);
  }

  /** Before the DUS mapping goes away: the zeroing view is detached, nothing more is handed out. */
  retire(reason = "the queue was closed"): void {
    this.#retired ??= reason;
    if (this.#bytes !== undefined && this.#bytes.byteLength > 0) detach(this.#bytes.buffer as ArrayBuffer);
    this.#bytes = undefined;
  }
}

/** SVA: the device walks the process's page table, so every address is its own device address. */
export class SvaMemory implements DeviceMemory {
  readonly mode = "va" as const;
  readonly describe = "process memory (SVA)";
  deviceAddress(ptr: number, size: number): number | undefined {
    return Number.isInteger(ptr) && ptr > 0 && Number.isInteger(size) && size > 0 ? ptr : undefined;
  }
}
