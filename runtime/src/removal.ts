// RemovalWatch: notices that an open device is leaving (BackendDevice.removal) and tells Device once.
//
// The backend's signal costs a system call to read (vfio: a poll of the REQ/ERR eventfds), so it
// is looked at where that is cheap next to what the process is doing anyway:
// - every TIMER_MS from the event loop (an unref'd timer: it never keeps a process alive), which
//   covers idle devices and the async layer;
// - after each sleep of a waiting recvSync/takeSync (the vfio interrupt line also wakes on the
//   signal's files, so a waiter learns of a removal at once);
// - every EVERY-th flush/take of a queue (`tick`), for a sync loop that holds the event loop and
//   never sleeps; there at most once per MIN_GAP_MS, so a tight loop pays one decrement per call
//   and a clock read every EVERY calls, and a system call at most every MIN_GAP_MS.
import type { RemovalSignal } from "./backend.ts";
import type { RemovalEvent } from "./errors.ts";

export const TIMER_MS = 25;
export const EVERY = 64;
export const MIN_GAP_MS = 2;

export class RemovalWatch {
  readonly #signal: RemovalSignal;
  readonly #onFire: (event: RemovalEvent) => void;
  #countdown = EVERY;
  #last = 0;
  #done = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(signal: RemovalSignal, onFire: (event: RemovalEvent) => void) {
    this.#signal = signal;
    this.#onFire = onFire;
    this.#timer = setInterval(() => this.look(), TIMER_MS);
    this.#timer.unref();
  }

  /** The signal's files (a sleeping waiter polls them too). */
  get fds(): readonly number[] {
    return this.#done ? [] : this.#signal.fds;
  }

  /** Hot path: one decrement; every EVERY-th call a look, at most one per MIN_GAP_MS. */
  tick(): void {
    if (--this.#countdown === 0) {
      this.#countdown = EVERY;
      const now = performance.now();
      if (now - this.#last >= MIN_GAP_MS) {
        this.#last = now;
        this.look();
      }
    }
  }

  /** Reads the signal now; fires onFire once when the device is leaving. */
  look(): void {
    if (this.#done) return;
    const event = this.#signal.poll();
    if (event === undefined) return;
    this.stop();
    this.#onFire(event);
  }

  /** No more looks (the device was closed, or the removal was handled). Idempotent. */
  stop(): void {
    this.#done = true;
    if (this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
