// How the sim backend delivers portal stores to a model whole. On hardware a portal write is one
// 64-byte store the device receives as a unit (MOVDIR64B / ENQCMD); the sim's regions are ordinary
// shared memory, where another thread could read a descriptor half written. So a portal region of a
// sim device gets a mailbox beside it (a SharedArrayBuffer, one per region): the client copies the
// descriptor into the next entry, then publishes it with one seq-cst store of HEAD; the model reads
// entries up to HEAD and acknowledges each with TAIL after it has acted on it. The model can only
// ever see complete descriptors, in the order they were stored.
//
// Layout (Int32 words): HEAD, TAIL, WAITERS, then SLOTS entries of ENTRY_WORDS words from
// FIRST_ENTRY: the portal offset, the descriptor size, padding, the descriptor at word 16 (byte 64).
import { TimeoutError } from "../errors.ts";
import type { PortalPort } from "../backend.ts";
import type { PortalHandler, PortalLog } from "./model.ts";

const HEAD = 0;
const TAIL = 1;
const WAITERS = 2;
const FIRST_ENTRY = 16;
const ENTRY_WORDS = 32;
const DATA = 16;
/** Descriptors the mailbox holds (a work queue deeper than this never waits on the mailbox for long:
 *  the model drains it every poll). */
export const MAILBOX_SLOTS = 256;
export const MAX_DESCRIPTOR = 64;
const WAIT_MS = 2000;

export function newMailbox(): Int32Array {
  return new Int32Array(new SharedArrayBuffer((FIRST_ENTRY + MAILBOX_SLOTS * ENTRY_WORDS) * 4));
}

/** The client's side: a PortalPort that stores into the mailbox. */
export class MailboxPort implements PortalPort {
  readonly primitive = "sim";
  readonly #m: Int32Array;
  readonly #u8: Uint8Array;
  readonly #shared: boolean;
  readonly #wake: () => void;

  /** `shared`: a shared queue (ENQCMD), which answers retry when full instead of waiting. */
  constructor(mailbox: Int32Array, shared: boolean, wake: () => void) {
    this.#m = mailbox;
    this.#u8 = new Uint8Array(mailbox.buffer);
    this.#shared = shared;
    this.#wake = wake;
  }

  submit(offset: number, src: Uint8Array, _srcPtr = 0): boolean {
    const m = this.#m;
    // HEAD is read from the mailbox, not cached: every queue of the region (each its own port, all
    // on the client's thread) appends to the same mailbox.
    const head = Atomics.load(m, HEAD);
    if (((head - Atomics.load(m, TAIL)) | 0) >= MAILBOX_SLOTS) {
      if (this.#shared) return false;
      this.#waitRoom(head);
    }
    const at = FIRST_ENTRY + (head & (MAILBOX_SLOTS - 1)) * ENTRY_WORDS;
    m[at] = offset;
    m[at + 1] = src.length;
    this.#u8.set(src, (at + DATA) * 4);
    Atomics.store(m, HEAD, (head + 1) | 0); // publishes the whole entry
    return true;
  }

  #waitRoom(head: number): void {
    const m = this.#m;
    this.#wake();
    const t0 = performance.now();
    Atomics.add(m, WAITERS, 1);
    try {
      for (;;) {
        const t = Atomics.load(m, TAIL);
        if (((head - t) | 0) < MAILBOX_SLOTS) return;
        Atomics.wait(m, TAIL, t, 1);
        if (performance.now() - t0 > WAIT_MS) throw new TimeoutError("the device model to take portal descriptors", WAIT_MS, "the model does not drain its portal (ctx.portal(region).drain)");
      }
    } finally {
      Atomics.sub(m, WAITERS, 1);
    }
  }
}

/** The model's side (sim/host.ts gives it out as ctx.portal(region)). */
export class MailboxReader implements PortalLog {
  readonly #m: Int32Array;
  readonly #views: DataView[];
  constructor(mailbox: Int32Array) {
    this.#m = mailbox;
    // one view per entry, made once: draining allocates nothing
    this.#views = Array.from({ length: MAILBOX_SLOTS }, (_, i) => new DataView(mailbox.buffer, (FIRST_ENTRY + i * ENTRY_WORDS + DATA) * 4, MAX_DESCRIPTOR));
  }
  get pending(): number {
    return (Atomics.load(this.#m, HEAD) - Atomics.load(this.#m, TAIL)) | 0;
  }
  drain(fn: PortalHandler, max = MAILBOX_SLOTS): number {
    const m = this.#m;
    let t = Atomics.load(m, TAIL);
    const h = Atomics.load(m, HEAD);
    let n = 0;
    while (t !== h && n < max) {
      const slot = t & (MAILBOX_SLOTS - 1);
      const at = FIRST_ENTRY + slot * ENTRY_WORDS;
      fn(m[at]!, this.#views[slot]!, m[at + 1]!);
      t = (t + 1) | 0;
      Atomics.store(m, TAIL, t);
      n++;
    }
    if (n > 0 && Atomics.load(m, WAITERS) !== 0) Atomics.notify(m, TAIL);
    return n;
  }
  /** Reset: descriptors stored before it are void. */
  discard(): void {
    Atomics.store(this.#m, TAIL, Atomics.load(this.#m, HEAD));
    if (Atomics.load(this.#m, WAITERS) !== 0) Atomics.notify(this.#m, TAIL);
  }
}
