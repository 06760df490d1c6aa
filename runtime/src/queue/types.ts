// Shapes shared by the queue engines and Device. The engines know nothing about backends: Device
// hands each queue a QueueHost with the few things a ring needs (register files, an interrupt line,
// DMA memory shared with the device, the device's DmaResolver).
import type { IrqLine, MappedRegion } from "../backend.ts";
import type { DmaBuffer, DmaResolver } from "../mem/index.ts";

/** Writes one entry at `view[offset..offset+entrySize)`; the entry bytes are zero when it is called. */
export type Encoder = (view: DataView, offset: number, dma: DmaResolver) => void;

/**
 * One finished request. `view`/`offset` address the entry (index ring: the descriptor the device
 * wrote back; sq-cq: the completion entry) and stay valid only until the next call on the queue
 * (the slot is handed back to the device): decode it right away.
 */
export interface Completion {
  /** What send() returned for this request: the ring index (index ring) or the command tag (sq-cq). */
  readonly tag: number;
  readonly view: DataView;
  readonly offset: number;
  /** Index ring: the value of the done field. sq-cq: the raw status word holding the phase bit. */
  readonly status: number;
}

/** The seed's queue API, common to both engines (design.md "Device and queues"). */
export interface Queue {
  /** "wd-dummy/cmd", "nvme/io[3]": used in every error about the queue. */
  readonly label: string;
  readonly name: string;
  readonly id: number;
  readonly depth: number;
  /** Requests sent and not yet received. */
  readonly inFlight: number;
  send(encode: Encoder): number;
  trySend(encode: Encoder): number;
  flush(): void;
  recv(): Completion | null;
  recvSync(timeoutMs: number): Completion;
  release(): void;
  readonly released: boolean;
  /** Tags of the requests that were in flight when the device forgot the queue (Device.reset or
   *  close): they will never complete. Empty until then, and for a plain release(). */
  readonly abandoned: readonly number[];
  [Symbol.dispose](): void;
}

/** What Device gives a queue engine. */
export interface QueueHost {
  /** Device address, for messages ("sim:wd-dummy/1", "0000:00:04.0"). */
  readonly address: string;
  /** Region by its name in the spec (mapped). */
  region(name: string): MappedRegion;
  /** Interrupt line by index (enabled on first use). */
  irq(index: number): IrqLine;
  /** Page-aligned zeroed DMA memory shared with the device. */
  allocShared(size: number, name: string): DmaBuffer;
  /** Unshares and frees what allocShared returned. */
  freeShared(buf: DmaBuffer): void;
  readonly dma: DmaResolver;
  /** Called once by release(): the queue id may be requested again. */
  onRelease(queue: Queue): void;
  /** A request in flight on `queue` references `buf` (its encoder resolved it): unsharing or
   *  freeing `buf` is refused until the matching unpin. Counted: one pin per request. */
  pin(buf: DmaBuffer, queue: string): void;
  unpin(buf: DmaBuffer, queue: string): void;
}
