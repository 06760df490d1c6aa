// Shapes shared by the queue engines and Device. The engines know nothing about backends: Device
// hands each queue a QueueHost with the few things a ring needs (register files, an interrupt line,
// DMA memory shared with the device, the device's DmaResolver).
import type { DeviceRings, IrqLine, MappedRegion, PortalPort, QueueSpec } from "../backend.ts";
import type { DmaBuffer, DmaResolver } from "../mem/index.ts";
import type { AsyncGate, EndKind } from "./common.ts";
import type { RemovalWatch } from "../removal.ts";
export type { DmaResolver };

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

/**
 * The queue API of the WarpDrive proposal, common to both engines (design.md "Device and queues"), and the engine API
 * generated clients use: reserve a slot, encode the request straight into it (the queue is the
 * encoder's DmaResolver, so every buffer the request names is checked and pinned for its slot),
 * publish it. Nothing is allocated per request.
 *
 *   const at = q.reserve();                       // byte offset in q.view; QueueFullError when full
 *   try { encode(q.view, at, req, q); } catch (e) { throw q.cancel(e); }
 *   const tag = q.publish();                      // visible to the device at the next flush
 *
 * and on the way back `q.take()` (a tag, or -1) with the entry at q.completionView/completionOffset.
 */
export interface Queue extends DmaResolver {
  /** "wd-dummy/cmd", "nvme/io[3]": used in every error about the queue. */
  readonly label: string;
  readonly name: string;
  readonly id: number;
  readonly depth: number;
  /** Requests sent and not yet received. */
  readonly inFlight: number;
  /** Where reserve() slots are: the ring (index ring) or the submission ring (sq-cq). */
  readonly view: DataView;
  /** Where completions are read: the ring (index ring) or the completion ring (sq-cq). */
  readonly completionView: DataView;
  /** After take() returned a tag: the byte offset of its entry in completionView. */
  readonly completionOffset: number;
  /** After take(): the done field's value (index ring) or the status word holding the phase bit. */
  readonly completionStatus: number;
  /** Reserves the next slot; returns its byte offset in `view`. The slot's bytes are whatever the
   *  ring held: the encoder writes every byte. QueueFullError when full; one reservation at a time. */
  reserve(): number;
  /** reserve(), or -1 when the queue is full. */
  tryReserve(): number;
  /** Makes the reserved request part of the next flush; returns its tag. */
  publish(): number;
  /** Drops the reservation and the pins its encoder took; returns `e` (named after the queue when it
   *  is a refusal of ours) so callers write `throw q.cancel(e)`. */
  cancel(e?: unknown): unknown;
  /** The next completion's tag, or -1; never blocks, allocates nothing. */
  take(): number;
  /** Waits up to `timeoutMs` for the next completion's tag (spin, then the interrupt). */
  takeSync(timeoutMs: number): number;
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
  /** The interrupt line its completions raise, if any. */
  readonly interrupt: IrqLine | undefined;
  /** Hands the queue to the async layer (AsyncQueue): from then on its sync methods refuse, and
   *  `onEnd` is told once when the queue is released or dies with its device (reset, close).
   *  Refused while requests sent with the sync methods are in flight, and a second time. */
  claimAsync(onEnd: (why: string, kind: EndKind, error?: Error) => void): AsyncGate;
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
  /** The descriptor store into a portal in region `name` (ConfigError when it cannot be made here). */
  portal(region: string, store: "movdir64b" | "enqcmd", size: number): PortalPort;
  /** Called once by release(): the queue id may be requested again. */
  onRelease(queue: Queue): void;
  /**
   * The rings of an sq-cq queue when its device keeps them (UACCE QM queues), as buffers claimed for
   * the queue (given back with freeShared) and the device's doorbell writes; undefined when the
   * engine allocates its own rings and rings the description's doorbell registers.
   */
  deviceRings?(spec: Extract<QueueSpec, { kind: "sq-cq" }>, id: number, depth: number | undefined, label: string): { sq: DmaBuffer; cq: DmaBuffer; rings: DeviceRings } | undefined;
  /** Present when the device can leave while open: queues tick it on flush/take and look after
   *  each sleep (see runtime/src/removal.ts). */
  readonly removal?: RemovalWatch;
}
