// Sleeping on interrupt eventfds without blocking the event loop.
//
// One Worker per process blocks in poll() on every armed eventfd (irq-thread.ts) and posts a
// message when one becomes readable; the main thread then reads the counter (IrqLine.take) and
// wakes every queue sleeping on that line. Why a thread and not fd readiness through Bun's APIs:
// docs/design.md, "Async queues".
//
// Lines are shared: hzip's four queue pairs raise one vector. A line is armed exactly while some
// queue sleeps on it, and its counter is read only (a) when the first sleeper arms it, before that
// sleeper's last look at its ring, and (b) when it fires, before every sleeper is woken. So no
// completion is missed: one landing after a sleeper's last look signals the eventfd, which stays
// readable (nobody reads it while the line is armed) until the thread sees it.
//
// The Worker is referenced only while a line is armed: a process whose queues are idle exits
// when the app is done, and one waiting for a device does not.
import type { IrqLine } from "../backend.ts";
import { EventFd } from "../sys/eventfd.ts";

/** Lines watched at once (eventfds polled by the thread). */
const MAX_LINES = 64;

interface Watched {
  readonly line: IrqLine;
  readonly slot: number;
  readonly sleepers: Set<() => void>;
}

class IrqWatcher {
  #worker: Worker | undefined;
  #ctl: EventFd | undefined;
  readonly #words = new Int32Array(new SharedArrayBuffer(4 * (MAX_LINES + 1)));
  readonly #byFd = new Map<number, Watched>();
  #armed = 0;
  /** Wake-ups delivered (tests and measurements). */
  wakeups = 0;

  #start(): void {
    if (this.#worker !== undefined) return;
    this.#ctl = new EventFd("irq watcher control");
    Atomics.store(this.#words, 0, this.#ctl.fd);
    const w = new Worker(new URL("./irq-thread.ts", import.meta.url).href);
    w.onmessage = (ev: MessageEvent<number | { started: true }>) => {
      if (typeof ev.data === "number") this.#fired(ev.data);
    };
    w.postMessage({ words: this.#words.buffer });
    w.unref();
    this.#worker = w;
  }

  /**
   * Sleeps `wake` on `line` until it fires, unless `stillWaiting` (called after the line's counter
   * was reset, so it takes the last look at the ring) says there is nothing to wait for. Returns
   * whether it went to sleep.
   */
  sleep(line: IrqLine, stillWaiting: () => boolean, wake: () => void): boolean {
    let w = this.#byFd.get(line.fd);
    if (w === undefined || w.sleepers.size === 0) {
      line.take(); // reset the counter (and the sim's pending flag) before the last look
      if (!stillWaiting()) return false;
      if (w === undefined) {
        const slot = this.#freeSlot();
        w = { line, slot, sleepers: new Set() };
        this.#byFd.set(line.fd, w);
      }
      w.sleepers.add(wake);
      this.#arm(w);
      return true;
    }
    if (!stillWaiting()) return false;
    w.sleepers.add(wake);
    return true;
  }

  /** Takes `wake` off `line` (its queue closed or found work); disarms the line when nobody sleeps. */
  cancel(line: IrqLine, wake: () => void): void {
    const w = this.#byFd.get(line.fd);
    if (w === undefined || !w.sleepers.delete(wake) || w.sleepers.size > 0) return;
    this.#disarm(w);
  }

  #freeSlot(): number {
    const used = new Set([...this.#byFd.values()].map((w) => w.slot));
    for (let s = 1; s <= MAX_LINES; s++) if (!used.has(s)) return s;
    // Lines are forgotten when nobody sleeps on them, so only 64 lines slept on at once get here.
    throw new RangeError(`irq watcher: more than ${MAX_LINES} interrupt lines slept on at once`);
  }

  #arm(w: Watched): void {
    this.#start();
    Atomics.store(this.#words, w.slot, w.line.fd + 1);
    if (this.#armed++ === 0) this.#worker!.ref();
    this.#ctl!.signal();
  }

  #disarm(w: Watched): void {
    Atomics.store(this.#words, w.slot, 0);
    this.#byFd.delete(w.line.fd);
    if (--this.#armed === 0) this.#worker!.unref();
    this.#ctl!.signal(); // the thread drops the fd before anyone closes it
  }

  #fired(fd: number): void {
    const w = this.#byFd.get(fd);
    if (w === undefined || w.sleepers.size === 0) return; // cancelled meanwhile
    // The thread disarmed the slot already; forget the line, then wake everyone who slept on it.
    Atomics.store(this.#words, w.slot, 0);
    this.#byFd.delete(fd);
    if (--this.#armed === 0) this.#worker!.unref();
    this.wakeups++;
    try {
      w.line.take();
    } catch {
      // the line's device closed between the poll and now: its queues are being released anyway
    }
    for (const wake of [...w.sleepers]) wake();
  }
}

/** The process's watcher (one thread for every device). */
export const irqWatcher = new IrqWatcher();
