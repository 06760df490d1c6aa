// The base of every generated struct class: a struct laid over bytes that something else owns (a
// ring slot, a completion, a DMA buffer). The generated subclass adds one getter (and, for a struct
// the host writes, one setter) per field at a constant offset from `offset`; the base holds the
// view, the offset and the resolver that bus-address setters check a DmaRef with.
import type { DmaResolver } from "../mem/dma.ts";

export abstract class StructView {
  /** The memory holding the entry. */
  protected readonly view: DataView;
  /** Byte offset of the entry in `view`. */
  protected offset: number;
  /** Resolves DmaRefs given to bus-address setters (structs the host writes). */
  protected readonly dma: DmaResolver | undefined;

  /** The struct at byte `offset` of `view`; `dma` resolves what bus-address setters are given. */
  constructor(view: DataView, offset = 0, dma?: DmaResolver) {
    this.view = view;
    this.offset = offset;
    this.dma = dma;
  }

  /** Points this accessor at the entry at `offset` of the same view (a queue reuses one accessor for every completion). */
  moveTo(offset: number): this {
    this.offset = offset;
    return this;
  }
}
