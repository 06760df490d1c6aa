// AsyncQueue: awaitable requests on one queue, for apps on Bun's event loop.
//
//   const c = await q.submit(Sqe.encode, init, { signal, timeoutMs });
//   for await (const c of q.completions()) ...
//
// - Submission encodes straight into a ring slot (no copy of the request); when the ring is full
//   it waits for room, at most `maxWaiters` submissions, then BackpressureError.
// - Batching: every submission of one tick shares one doorbell (flush in a microtask).
// - Completions are found by polling the ring from the event loop (setImmediate rounds, so other
//   work runs between them) for a short adaptive budget while requests are in flight, then by
//   sleeping on the queue's interrupt eventfd through the process's watcher thread (irq-watch.ts).
//   Nothing is scheduled when nothing is in flight: idle queues cost no CPU and keep no process
//   alive.
// - Every promise settles: with the decoded completion, the check's error (device status), a
//   TimeoutError, the signal's reason, QueueClosedError when the queue is released or its
//   device reset or closed, or DeviceRemovedError when the device left.
// - A queue driven here refuses its sync methods (Queue.claimAsync); other queues of the same
//   device stay free for sync use.
import { BackpressureError, QueueClosedError, TimeoutError, WarpDriveError } from "../errors.ts";
import { describe } from "../mem/dma.ts";
import type { DmaResolver } from "../mem/index.ts";
import type { AsyncGate, EndKind } from "../queue/common.ts";
import type { Queue } from "../queue/types.ts";
import type { IrqLine } from "../backend.ts";
import { irqWatcher } from "./irq-watch.ts";

/** Writes request `arg` at `view[offset..]`, every byte of the entry (generated `Struct.encode`). */
export type RequestEncoder<R> = (view: DataView, offset: number, arg: R, dma: DmaResolver) => void;

export interface SubmitOptions {
  /** Rejects the submission with the signal's reason when it aborts. A request already on the
   *  device cannot be recalled: its promise rejects at once, its slot (and the buffers it names)
   *  stay in use until the device completes it. */
  signal?: AbortSignal;
  /** Rejects with TimeoutError after this many ms (waiting for room included); same caveat. */
  timeoutMs?: number;
}

export interface AsyncQueueOptions<C> {
  /** Decodes the completion just taken (q.completionView at q.completionOffset, q.completionStatus);
   *  called before anything else touches the queue. */
  decode: (q: Queue, tag: number) => C;
  /** The device's verdict: an error to reject with (a status the device reported), or undefined. */
  check?: (c: C, tag: number) => Error | undefined;
  /** Submissions that may wait for room when the ring is full (default 1024). */
  maxWaiters?: number;
  /** Default per-request timeout in ms (default none). */
  timeoutMs?: number;
}

/** Polling budget bounds (µs): how long the event loop polls the ring before sleeping. */
const BUDGET_MIN_US = 10;
const BUDGET_START_US = 50;
const BUDGET_MAX_US = 1000;
/** While asleep on an interrupt, look at the ring anyway this often (a device that completes
 *  without raising, a count another reader took); without an interrupt line, poll this often. */
const SLICE_MS = 10;
/** Longest the event loop is held by one polling round. */
const ROUND_MS = 0.05;
const NO_IRQ_SLICE_MS = 1;

interface Request<C> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  encode: RequestEncoder<any> | undefined;
  arg: unknown;
  resolve: (c: C) => void;
  reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  settled: boolean;
  /** In the line of waiters (until admitted or skipped). */
  queued: boolean;
}

interface Stream<C> {
  buffer: C[];
  /** next() calls waiting for a completion, oldest first. */
  wakes: ((r: IteratorResult<C>) => void)[];
  done: boolean;
}

const IDLE = 0;
const POLLING = 1;
const SLEEPING = 2;

export class AsyncQueue<C> {
  readonly queue: Queue;
  readonly label: string;
  readonly #gate: AsyncGate;
  readonly #decode: (q: Queue, tag: number) => C;
  readonly #check: ((c: C, tag: number) => Error | undefined) | undefined;
  readonly #irq: IrqLine | undefined;
  readonly #byTag: (Request<C> | undefined)[];
  // Waiting submissions, oldest at #waitHead (a head index, not shift(): thousands may wait).
  #waiters: Request<C>[] = [];
  #waitHead = 0;
  /** Of those, how many settled while waiting (timeout, abort): skipped at admission. */
  #waitGone = 0;
  readonly #streams = new Set<Stream<C>>();
  readonly #defaultTimeout: number | undefined;
  #maxWaiters: number;
  #ended: Error | undefined;
  #flushQueued = false;
  #mode = IDLE;
  #lastProgress = 0;
  #budgetMs = BUDGET_START_US / 1000;
  #sleptAt = 0;
  #slice: ReturnType<typeof setTimeout> | undefined;
  readonly #flushFn = () => {
    if (this.#flushQueued) this.#flush();
  };
  readonly #pollFn = () => this.#poll();
  readonly #wakeFn = () => this.#wake();
  readonly #stillWaiting = () => this.#drain() === 0 && this.queue.inFlight > 0 && this.#ended === undefined;

  /** Takes `queue` over for async use (its sync methods refuse from now on). */
  constructor(queue: Queue, options: AsyncQueueOptions<C>) {
    if (typeof queue !== "object" || queue === null || typeof queue.claimAsync !== "function") {
      throw new TypeError(`AsyncQueue: queue must be a runtime queue (IndexRingQueue, SqCqQueue), got ${describe(queue)}`);
    }
    if (typeof options !== "object" || options === null || typeof options.decode !== "function") {
      throw new TypeError(`AsyncQueue on queue ${queue?.label}: options.decode must be a function`);
    }
    const maxWaiters = options.maxWaiters ?? 1024;
    checkCount(`AsyncQueue on queue ${queue.label}: maxWaiters`, maxWaiters);
    const timeout = options.timeoutMs;
    if (timeout !== undefined) checkMs(`AsyncQueue on queue ${queue.label}: timeoutMs`, timeout);
    this.queue = queue;
    this.label = queue.label;
    this.#decode = options.decode;
    this.#check = options.check;
    this.#maxWaiters = maxWaiters;
    this.#defaultTimeout = timeout;
    this.#irq = queue.interrupt;
    this.#byTag = new Array<Request<C> | undefined>(queue.depth).fill(undefined);
    this.#gate = queue.claimAsync((why, kind, error) => this.#end(why, kind, error));
  }

  /** Requests in flight on the device (submitted and not completed, abandoned ones included). */
  get inFlight(): number {
    return this.queue.inFlight;
  }

  /** Submissions waiting for room in the ring. */
  get waiting(): number {
    return this.#waiters.length - this.#waitHead - this.#waitGone;
  }

  get depth(): number {
    return this.queue.depth;
  }

  get maxWaiters(): number {
    return this.#maxWaiters;
  }

  set maxWaiters(n: number) {
    checkCount(`AsyncQueue on queue ${this.label}: maxWaiters`, n);
    this.#maxWaiters = n;
  }

  /** True once the queue was released or its device reset or closed. */
  get closed(): boolean {
    return this.#ended !== undefined;
  }

  /**
   * Queues request `arg` (written by `encode`) and resolves with its decoded completion. Rejects
   * with an encoder's refusal (TypeError, RangeError, DmaError: nothing was queued), the check's
   * error, TimeoutError, the signal's reason, BackpressureError or QueueClosedError.
   */
  submit<R>(encode: RequestEncoder<R>, arg: R, options?: SubmitOptions): Promise<C> {
    let signal: AbortSignal | undefined;
    let timeoutMs = this.#defaultTimeout;
    try {
      if (typeof encode !== "function") throw new TypeError(`submit on queue ${this.label}: encode must be a function, got ${describe(encode)}`);
      if (options !== undefined) {
        if (typeof options !== "object" || options === null) throw new TypeError(`submit on queue ${this.label}: options must be an object, got ${describe(options)}`);
        const s = options.signal;
        const t = options.timeoutMs;
        if (s !== undefined && !(s instanceof AbortSignal)) throw new TypeError(`submit on queue ${this.label}: options.signal must be an AbortSignal, got ${describe(s)}`);
        if (t !== undefined) timeoutMs = checkMs(`submit on queue ${this.label}: options.timeoutMs`, t);
        signal = s;
      }
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#ended !== undefined) return Promise.reject(this.#ended);
    if (signal?.aborted) return Promise.reject(signal.reason);

    const { promise, resolve, reject } = Promise.withResolvers<C>();
    const req: Request<C> = { encode, arg, resolve, reject, timer: undefined, signal, onAbort: undefined, settled: false, queued: false };
    if (this.waiting === 0 && this.#tryStart(req)) {
      // on the ring
    } else if (req.settled) {
      return promise; // the encoder refused it
    } else if (this.waiting >= this.#maxWaiters) {
      return Promise.reject(new BackpressureError(this.label, this.queue.depth, this.waiting));
    } else {
      req.queued = true;
      this.#waiters.push(req);
    }
    if (timeoutMs !== undefined) {
      req.timer = setTimeout(() => this.#fail(req, new TimeoutError(`request on queue ${this.label}`, timeoutMs,
        "the device did not complete it in time (it stays on the device until it does)")), timeoutMs);
    }
    if (signal !== undefined) {
      req.onAbort = () => this.#fail(req, signal.reason);
      signal.addEventListener("abort", req.onAbort, { once: true });
    }
    return promise;
  }

  /**
   * Every completion of this queue from now on, decoded, in the order the device finished them
   * (whether or not the device reported an error status). Ends when the queue is released or its
   * device reset or closed. Completions are buffered until read: iterate while you submit.
   */
  completions(): AsyncIterableIterator<C> {
    const s: Stream<C> = { buffer: [], wakes: [], done: this.#ended !== undefined };
    if (!s.done) this.#streams.add(s);
    const streams = this.#streams;
    const it: AsyncIterableIterator<C> = {
      next(): Promise<IteratorResult<C>> {
        if (s.buffer.length > 0) return Promise.resolve({ value: s.buffer.shift()!, done: false });
        if (s.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          s.wakes.push(resolve);
        });
      },
      return(): Promise<IteratorResult<C>> {
        s.done = true;
        s.buffer.length = 0;
        streams.delete(s);
        for (const w of s.wakes.splice(0)) w({ value: undefined, done: true });
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }

  /** Encodes `req` into a free slot; false when the ring is full (or the encoder refused). */
  #tryStart(req: Request<C>): boolean {
    const q = this.queue;
    this.#gate.enter();
    try {
      const at = q.tryReserve();
      if (at < 0) return false;
      try {
        req.encode!(q.view, at, req.arg, q);
      } catch (e) {
        this.#settle(req);
        req.reject(q.cancel(e));
        return false;
      }
      const tag = q.publish();
      this.#byTag[tag % this.#byTag.length] = req;
      req.encode = undefined;
      req.arg = undefined;
    } finally {
      this.#gate.leave();
    }
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushFn);
    }
    return true;
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#ended !== undefined) return;
    this.#gate.enter();
    try {
      this.queue.flush();
    } catch (e) {
      this.#broken(e);
      return;
    } finally {
      this.#gate.leave();
    }
    if (this.#mode === IDLE && this.queue.inFlight > 0) {
      this.#mode = POLLING;
      this.#lastProgress = performance.now();
      setImmediate(this.#pollFn);
    }
  }

  /** Takes every finished completion, settles its request, admits waiters; returns how many. */
  #drain(): number {
    if (this.#ended !== undefined) return 0;
    const q = this.queue;
    let n = 0;
    this.#gate.enter();
    try {
      for (;;) {
        const tag = q.take();
        if (tag < 0) break;
        n++;
        const i = tag % this.#byTag.length;
        const req = this.#byTag[i];
        this.#byTag[i] = undefined;
        let c: C;
        let err: Error | undefined;
        try {
          c = this.#decode(q, tag);
          err = this.#check?.(c, tag);
        } catch (e) {
          if (req !== undefined && !req.settled) {
            this.#settle(req);
            req.reject(e);
          }
          continue;
        }
        if (this.#streams.size > 0) this.#toStreams(c);
        if (req === undefined || req.settled) continue; // timed out or aborted earlier
        this.#settle(req);
        if (err === undefined) req.resolve(c);
        else req.reject(err);
      }
    } catch (e) {
      // take() refused the device's completion (a tag not in flight...): nothing more can be
      // trusted on this queue until the device is reset
      this.#gate.leave();
      this.#broken(e);
      return n;
    }
    this.#gate.leave();
    while (this.#waitHead < this.#waiters.length && this.#ended === undefined) {
      const w = this.#waiters[this.#waitHead]!;
      if (w.settled) {
        this.#waitGone--;
      } else if (!this.#tryStart(w) && !w.settled) {
        break;
      }
      w.queued = false;
      this.#waiters[this.#waitHead++] = undefined as unknown as Request<C>;
    }
    if (this.#waitHead > 1024 && this.#waitHead * 2 > this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#waitHead);
      this.#waitHead = 0;
    }
    return n;
  }

  #toStreams(c: C): void {
    for (const s of this.#streams) {
      const w = s.wakes.shift();
      if (w !== undefined) {
        w({ value: c, done: false });
      } else {
        s.buffer.push(c);
      }
    }
  }

  #poll(): void {
    if (this.#mode !== POLLING) return;
    // One round: drain repeatedly for up to ROUND_MS (a round of the event loop costs tens of µs
    // on a busy machine, far more than a look at the ring), then yield so other callbacks run.
    const start = performance.now();
    for (;;) {
      const n = this.#drain();
      if (this.#mode !== POLLING) return; // ended while draining
      if (this.queue.inFlight === 0) {
        this.#mode = IDLE;
        return;
      }
      if (this.#flushQueued) this.#flush(); // admitted waiters: ring now, not after the round
      const now = performance.now();
      if (n > 0) this.#lastProgress = now;
      else if (now - this.#lastProgress >= this.#budgetMs) {
        this.#sleep();
        return;
      }
      if (now - start >= ROUND_MS) break;
    }
    setImmediate(this.#pollFn);
  }

  #sleep(): void {
    this.#mode = SLEEPING;
    this.#sleptAt = performance.now();
    if (this.#irq !== undefined) {
      let asleep: boolean;
      try {
        asleep = irqWatcher.sleep(this.#irq, this.#stillWaiting, this.#wakeFn);
      } catch {
        asleep = false; // no line to watch (64 slept on at once): fall back to timed looks
        this.#slice = setTimeout(this.#wakeFn, NO_IRQ_SLICE_MS);
        return;
      }
      if (!asleep) {
        // the last look found work (or nothing is left): keep polling, or go idle
        this.#mode = POLLING;
        this.#lastProgress = performance.now();
        if (this.queue.inFlight > 0 && this.#ended === undefined) setImmediate(this.#pollFn);
        else this.#mode = IDLE;
        return;
      }
      this.#slice = setTimeout(this.#wakeFn, SLICE_MS);
      this.#slice.unref(); // the watcher thread keeps the process alive while a line is armed
    } else {
      this.#slice = setTimeout(this.#wakeFn, NO_IRQ_SLICE_MS);
    }
  }

  #wake(): void {
    if (this.#mode !== SLEEPING) return;
    this.#stopSleeping();
    // Adapt the polling budget: a short sleep means polling a little longer would have caught the
    // completion without a wake-up; a long one means the device is slow and polling burns CPU.
    const slept = performance.now() - this.#sleptAt;
    if (slept < this.#budgetMs) this.#budgetMs = Math.min(BUDGET_MAX_US / 1000, this.#budgetMs * 2);
    else if (slept > 4 * this.#budgetMs) this.#budgetMs = Math.max(BUDGET_MIN_US / 1000, this.#budgetMs / 2);
    this.#mode = POLLING;
    this.#lastProgress = performance.now();
    this.#poll();
  }

  #stopSleeping(): void {
    if (this.#slice !== undefined) {
      clearTimeout(this.#slice);
      this.#slice = undefined;
    }
    if (this.#irq !== undefined) irqWatcher.cancel(this.#irq, this.#wakeFn);
  }

  #settle(req: Request<C>): void {
    req.settled = true;
    req.encode = undefined;
    req.arg = undefined;
    if (req.timer !== undefined) {
      clearTimeout(req.timer);
      req.timer = undefined;
    }
    if (req.onAbort !== undefined) {
      req.signal!.removeEventListener("abort", req.onAbort);
      req.onAbort = undefined;
    }
  }

  /** Timeout or abort: a waiting request leaves the line; one on the device is only forgotten. */
  #fail(req: Request<C>, e: unknown): void {
    if (req.settled) return;
    // a waiting one stays in the line, settled: admission skips it
    if (req.queued) this.#waitGone++;
    this.#settle(req);
    req.reject(e);
  }

  #rejectAll(e: Error): void {
    if (this.#mode === SLEEPING) this.#stopSleeping();
    this.#mode = IDLE;
    for (let i = 0; i < this.#byTag.length; i++) {
      const req = this.#byTag[i];
      this.#byTag[i] = undefined;
      if (req !== undefined && !req.settled) {
        this.#settle(req);
        req.reject(e);
      }
    }
    const waiters = this.#waiters.slice(this.#waitHead);
    this.#waiters = [];
    this.#waitHead = 0;
    this.#waitGone = 0;
    for (const req of waiters) {
      req.queued = false;
      if (req.settled) continue;
      this.#settle(req);
      req.reject(e);
    }
    for (const s of this.#streams) {
      s.done = true;
      for (const w of s.wakes.splice(0)) w({ value: undefined, done: true });
    }
    this.#streams.clear();
  }

  /** The queue ended (engine callback): settle everything, schedule nothing more. `error`: the
   *  device's own reason (DeviceRemovedError), given when the queue died because its device left. */
  #end(why: string, kind: EndKind, error?: Error): void {
    if (this.#ended !== undefined) return;
    const e = error ?? new QueueClosedError(this.label, kind === "removed" ? "closed" : kind, why);
    this.#ended = e;
    this.#rejectAll(e);
  }

  #broken(cause: unknown): void {
    const e = cause instanceof Error ? cause : new WarpDriveError(`queue ${this.label}: ${String(cause)}`);
    this.#ended ??= e;
    this.#rejectAll(e);
  }
}

function checkMs(what: string, v: unknown): number {
  if (typeof v !== "number") throw new TypeError(`${what} must be a number of milliseconds, got ${describe(v)}`);
  if (!(v >= 0 && v <= 0x7fffffff)) throw new RangeError(`${what} must be 0..${0x7fffffff} ms, got ${v}`);
  return v;
}

function checkCount(what: string, v: unknown): number {
  if (typeof v !== "number") throw new TypeError(`${what} must be a number, got ${describe(v)}`);
  if (!(Number.isInteger(v) && v >= 0)) throw new RangeError(`${what} must be an integer >= 0, got ${v}`);
  return v;
}
