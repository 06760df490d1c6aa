// The rings a device allocated for its live queues, each with the key of its claim on the buffer
// (DmaBuffer.claim). While a ring is listed here the caller's free() or unshare() of it is refused
// with a DmaError naming the queue, instead of detaching memory the device still reads and writes.
// Device keeps one of these; the queue engines reach it only through QueueHost.allocShared /
// freeShared, so a ring is claimed exactly when it is handed to a queue and given back exactly when
// the queue frees it (or when the device closes with queues whose release failed).
import type { DmaBuffer } from "./mem/dma.ts";

export class RingClaims {
  readonly #keys = new Map<DmaBuffer, symbol>();

  /** Claims `buf` as the memory of queue `name`; it stays claimed until release(). */
  claim(buf: DmaBuffer, name: string): void {
    const key = buf.claim(`queue memory "${name}"`);
    this.#keys.set(buf, key);
  }

  /** Gives `buf` back (its owner may free it now); a buffer not claimed here is left alone. */
  release(buf: DmaBuffer): void {
    const key = this.#keys.get(buf);
    if (key === undefined) return;
    this.#keys.delete(buf);
    buf.disown(key);
  }

  /** Gives every buffer back, each through `attempt` (closing goes on past a failure). */
  releaseAll(attempt: (fn: () => void) => void): void {
    for (const buf of [...this.#keys.keys()]) attempt(() => this.release(buf));
    this.#keys.clear();
  }

  /** How many rings are claimed (for tests and leak checks). */
  get size(): number {
    return this.#keys.size;
  }
}
