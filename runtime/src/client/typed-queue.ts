// The base of every generated queue class: a runtime queue engine with the device's structs on
// both sides. Sending reserves a slot, encodes the request straight into it (the engine is the
// encoder's DmaResolver: every buffer named is checked, extent included, and pinned for that
// request) and publishes it; receiving decodes a copy (recv) or points one reused accessor at the
// completion (reap, allocation-free). The generated subclass adds only its constructor and one
// method per command (`this.sendWith(encodeIdentify, p)`).
import { AsyncQueue, type RequestEncoder, type SubmitOptions } from "../async/async-queue.ts";
import type { DmaResolver } from "../mem/dma.ts";
import type { Queue } from "../queue/types.ts";
import type { StructView } from "./struct-view.ts";

/** What a generated struct class offers a queue: its encoder (structs the host writes). */
export interface SendStruct<I> {
  encode(view: DataView, offset: number, init: I, dma?: DmaResolver): void;
}

/** What a generated struct class offers a queue: its decoder and its accessor over a view. */
export interface RecvStruct<D, V extends StructView> {
  decode(view: DataView, offset: number): D;
  new (view: DataView, offset?: number): V;
}

export abstract class TypedQueue<Q extends Queue, I, D, V extends StructView> {
  /** The runtime queue underneath (depth, inFlight, ring buffers). */
  readonly queue: Q;
  readonly #send: SendStruct<I>;
  readonly #recv: RecvStruct<D, V>;
  /** The accessor reap() points at each completion. */
  readonly #done: V;
  /** The async layer, made on first use of submit/completions. */
  #async: AsyncQueue<D> | undefined;

  /** Wraps a runtime queue whose requests are `send` structs and whose completions are `recv` structs. */
  constructor(queue: Q, send: SendStruct<I>, recv: RecvStruct<D, V>) {
    this.queue = queue;
    this.#send = send;
    this.#recv = recv;
    this.#done = new recv(queue.completionView);
  }

  /** Requests sent and not yet received. */
  get inFlight(): number {
    return this.queue.inFlight;
  }

  /**
   * The queue's async layer (made on first use): from then on the queue is async only, its sync
   * methods refuse. Other queues of the device stay free for sync use.
   */
  get async(): AsyncQueue<D> {
    const recv = this.#recv;
    return (this.#async ??= new AsyncQueue<D>(this.queue, { decode: (q) => recv.decode(q.completionView, q.completionOffset) }));
  }

  /**
   * Queues one request written by `encode` (a struct's or a command's encoder); returns its tag.
   * Not visible to the device until flush/recv. Throws QueueFullError when full; a refused request
   * leaves the queue as it was.
   */
  protected sendWith<P>(encode: RequestEncoder<P>, p: P): number {
    const q = this.queue;
    const at = q.reserve();
    try {
      encode(q.view, at, p, q);
    } catch (e) {
      throw q.cancel(e);
    }
    return q.publish();
  }

  /** Queues one request; returns its tag. Not visible to the device until flush/recv. Throws QueueFullError when full. */
  send(init: I): number {
    return this.sendWith(this.#send.encode, init);
  }

  /** Like send, but returns -1 when the queue is full. */
  trySend(init: I): number {
    const q = this.queue;
    const at = q.tryReserve();
    if (at < 0) return -1;
    try {
      this.#send.encode(q.view, at, init, q);
    } catch (e) {
      throw q.cancel(e);
    }
    return q.publish();
  }

  /** The next finished completion, decoded into a new object, or null; never blocks. Publishes pending sends first. */
  recv(): D | null {
    const q = this.queue;
    return q.take() < 0 ? null : this.#recv.decode(q.completionView, q.completionOffset);
  }

  /**
   * The next finished completion as a live accessor over its slot, or null; allocates nothing. The
   * accessor is reused: read what you need before the next call on this queue.
   */
  reap(): V | null {
    const q = this.queue;
    return q.take() < 0 ? null : this.#done.moveTo(q.completionOffset);
  }

  /** Waits up to `timeoutMs` for the next finished completion, decoded; throws TimeoutError. */
  recvSync(timeoutMs: number): D {
    const q = this.queue;
    q.takeSync(timeoutMs);
    return this.#recv.decode(q.completionView, q.completionOffset);
  }

  /** Like recvSync, but returns the reused accessor (see reap). */
  reapSync(timeoutMs: number): V {
    const q = this.queue;
    q.takeSync(timeoutMs);
    return this.#done.moveTo(q.completionOffset);
  }

  /**
   * Queues one request and resolves with its completion, decoded. Submissions of one tick share one
   * doorbell; a full ring makes it wait for room (BackpressureError past async.maxWaiters). Rejects
   * with the encoder's refusal, TimeoutError, the signal's reason, or QueueClosedError on
   * release/reset/close.
   */
  submit(init: I, options?: SubmitOptions): Promise<D> {
    return this.async.submit(this.#send.encode, init, options);
  }

  /** Every completion from now on, decoded, in completion order; ends when the queue is released or its device reset or closed. */
  completions(): AsyncIterableIterator<D> {
    return this.async.completions();
  }

  /** Publishes pending sends and rings the doorbell once for the batch. */
  flush(): void {
    this.queue.flush();
  }

  /** Gives the queue back to the device; later use throws. */
  release(): void {
    this.queue.release();
  }

  /** release() on scope exit (`using q = dev.requestQueue(...)`), unless release(), reset() or close() already did. */
  [Symbol.dispose](): void {
    if (!this.queue.released) this.release();
  }
}
