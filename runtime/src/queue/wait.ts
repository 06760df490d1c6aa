// recvSync's waiting strategy, shared by both engines.
//
// 1. Spin on recv() for SPIN_US: a device that is already working answers within a few hundred
//    nanoseconds (a ring round trip between threads measured ~200 ns in Bun), far less than
//    the ~2-5 µs a poll()+read() on the eventfd costs, so sleeping early would only add latency.
// 2. Then sleep on the queue's interrupt eventfd (IrqLine.wait = poll + read). A completion that
//    lands between the last recv() and the poll() is not lost: the eventfd counter is already
//    non-zero and poll() returns at once. Slices are capped at SLICE_MS so a device that completes
//    without raising (or an interrupt shared with another queue, whose count someone else took) is
//    still seen within a slice.
// 3. No interrupt configured: sleep in short slices and poll.
// After each sleep the device's removal signal is read (RemovalWatch.look): a device that left
// releases the queue, and the next take() throws DeviceRemovedError instead of waiting on.
import { TimeoutError } from "../errors.ts";
import type { IrqLine } from "../backend.ts";
import type { RemovalWatch } from "../removal.ts";

export const SPIN_US = 50;
export const SLICE_MS = 10;

/** Waits for `take()` to return a tag (>= 0); `timeoutMs` was checked by the caller. */
export function waitForCompletion(
  label: string,
  take: () => number,
  beforeSleep: () => void,
  irq: IrqLine | undefined,
  timeoutMs: number,
  removal?: RemovalWatch,
): number {
  const start = performance.now();
  const spinEnd = start + Math.min(SPIN_US / 1000, timeoutMs);
  // Spin: check the clock every 32 polls (performance.now costs about as much as one poll).
  for (;;) {
    for (let i = 0; i < 32; i++) {
      const t = take();
      if (t >= 0) return t;
    }
    if (performance.now() >= spinEnd) break;
  }
  const deadline = start + timeoutMs;
  for (;;) {
    const t = take();
    if (t >= 0) return t;
    const left = deadline - performance.now();
    if (left <= 0) {
      throw new TimeoutError(`a completion on queue ${label}`, timeoutMs,
        "the device did not complete a request in time: is it running (sim model alive, vfio device bound and enabled)?");
    }
    beforeSleep();
    // Sleep at least 1 ms when waiting on poll (its unit), but never past the deadline by more than that.
    const slice = Math.max(1, Math.min(SLICE_MS, Math.ceil(left)));
    if (irq !== undefined) irq.wait(slice);
    else Bun.sleepSync(Math.min(1, left));
    removal?.look();
  }
}
