// RoundRobin: spreads submissions over several queues of a device (hzip's four queue pairs), in
// turn, as UADK's round-robin scheduler spreads requests over its contexts. A queue whose ring is
// full is skipped while another has room, so one slow queue does not hold requests back; when all
// are full, the submission waits on the queue with the fewest waiters.
import { describe } from "../mem/dma.ts";
import type { RequestEncoder, SubmitOptions } from "./async-queue.ts";

/** What RoundRobin needs of a queue (AsyncQueue has it). */
export interface Submitter<C> {
  readonly label: string;
  readonly depth: number;
  readonly inFlight: number;
  readonly waiting: number;
  readonly closed: boolean;
  submit<R>(encode: RequestEncoder<R>, arg: R, options?: SubmitOptions): Promise<C>;
}

export class RoundRobin<C> {
  readonly queues: readonly Submitter<C>[];
  #next = 0;

  constructor(queues: readonly Submitter<C>[]) {
    if (!Array.isArray(queues) || queues.length === 0) throw new TypeError(`RoundRobin: queues must be a non-empty array, got ${describe(queues)}`);
    for (const [i, q] of queues.entries()) {
      if (typeof q?.submit !== "function") throw new TypeError(`RoundRobin: queues[${i}] has no submit(), got ${describe(q)}`);
    }
    this.queues = [...queues];
  }

  /** Requests in flight over all queues. */
  get inFlight(): number {
    let n = 0;
    for (const q of this.queues) n += q.inFlight;
    return n;
  }

  /** The queue the next submission goes to. */
  pick(): Submitter<C> {
    const qs = this.queues;
    let best: Submitter<C> | undefined;
    for (let k = 0; k < qs.length; k++) {
      const i = (this.#next + k) % qs.length;
      const q = qs[i]!;
      if (q.closed) continue;
      if (q.waiting === 0 && q.inFlight < q.depth - 1) {
        this.#next = i + 1;
        return q;
      }
      if (best === undefined || q.waiting < best.waiting) best = q;
    }
    if (best === undefined) return qs[this.#next++ % qs.length]!; // all closed: it rejects with why
    this.#next++;
    return best;
  }

  submit<R>(encode: RequestEncoder<R>, arg: R, options?: SubmitOptions): Promise<C> {
    return this.pick().submit(encode, arg, options);
  }
}
