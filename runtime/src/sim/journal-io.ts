// RegisterIo of a journaled sim region (see model.ts, "Register writes"): every store is appended to
// the region's write journal for the model instead of going to memory, and a read first waits until
// the model has drained this client's earlier writes, so it sees their side effects (the ordering a
// PCIe read gives over posted writes). No system call while the model keeps up: appends and the
// read-side wait are Atomics on shared memory; only a read that finds the model asleep wakes it.
import { TimeoutError, UseAfterReleaseError } from "../errors.ts";
import { accessError, valueError, type RegisterIo } from "../mem/io.ts";
import { J_ENTRIES, J_HEAD, J_TAIL, J_WAITERS, JOURNAL_SIZE, State, STATE, WAKE } from "./control.ts";

const MASK = JOURNAL_SIZE - 1;
const U32 = 0xffffffffn;
const U64 = (1n << 64n) - 1n;
/** How long a read waits for the model before giving up (a hung model, not a slow one). */
const SYNC_TIMEOUT_MS = 2000;

export class JournalIo implements RegisterIo {
  readonly name: string;
  readonly #mem: RegisterIo & { release(): void };
  readonly #j: Int32Array;
  readonly #control: Int32Array;
  #size: number;
  #head: number;

  constructor(mem: RegisterIo & { release(): void }, size: number, journal: Int32Array, control: Int32Array, name: string) {
    this.#mem = mem;
    this.#size = size;
    this.#j = journal;
    this.#control = control;
    this.name = name;
    this.#head = Atomics.load(journal, J_HEAD);
  }

  #bad(off: unknown, bytes: number): never {
    if (this.#size === 0) throw new UseAfterReleaseError(`region ${this.name}`, "unmapped");
    throw accessError(this.name, this.#size, off, bytes);
  }

  #push(off: number, bytes: number, lo: number, hi: number): void {
    if (typeof off !== "number" || off >>> 0 !== off || off + bytes > this.#size || off & (bytes - 1)) this.#bad(off, bytes);
    const j = this.#j;
    if (this.#head - Atomics.load(j, J_TAIL) >= JOURNAL_SIZE) this.#waitDrained(this.#head - JOURNAL_SIZE + 1);
    const at = J_ENTRIES + (this.#head & MASK) * 4;
    j[at] = off;
    j[at + 1] = bytes * 8;
    j[at + 2] = lo | 0;
    j[at + 3] = hi | 0;
    this.#head = (this.#head + 1) | 0;
    Atomics.store(j, J_HEAD, this.#head); // publishes the entry (seq-cst store)
  }

  /** Reads wait for the model to have taken every write this client made. */
  #sync(): void {
    if (Atomics.load(this.#j, J_TAIL) !== this.#head) this.#waitDrained(this.#head);
  }

  #waitDrained(upTo: number): void {
    const j = this.#j;
    const c = this.#control;
    for (let i = 0; i < 4000; i++) if (((Atomics.load(j, J_TAIL) - upTo) | 0) >= 0) return;
    // The model is asleep or busy: wake it (stop/reset use the same word) and wait on the tail.
    Atomics.add(c, WAKE, 1);
    Atomics.notify(c, WAKE);
    const t0 = performance.now();
    Atomics.add(j, J_WAITERS, 1); // before loading the tail we wait on: see J_WAITERS in control.ts
    try {
      for (;;) {
        const t = Atomics.load(j, J_TAIL);
        if (((t - upTo) | 0) >= 0) return;
        if (Atomics.load(c, STATE) !== State.RUNNING) return; // a dead device: reads see what is there
        Atomics.wait(j, J_TAIL, t, 1);
        if (performance.now() - t0 > SYNC_TIMEOUT_MS) {
          throw new TimeoutError(`the device model to take the writes to ${this.name}`, SYNC_TIMEOUT_MS, "the model does not drain its write journal");
        }
      }
    } finally {
      Atomics.sub(j, J_WAITERS, 1);
    }
  }

  read8(off: number): number {
    this.#sync();
    return this.#mem.read8(off);
  }
  read16(off: number): number {
    this.#sync();
    return this.#mem.read16(off);
  }
  read32(off: number): number {
    this.#sync();
    return this.#mem.read32(off);
  }
  read64(off: number): bigint {
    this.#sync();
    return this.#mem.read64(off);
  }
  // The value is checked before #push checks the offset; a refused store appends nothing, and when
  // both are bad the offset is what is reported (as by the other RegisterIo kinds).
  write8(off: number, v: number): void {
    if (typeof v !== "number" || (v & 0xff) !== v) this.#badValue(off, v, 8);
    this.#push(off, 1, v, 0);
  }
  write16(off: number, v: number): void {
    if (typeof v !== "number" || (v & 0xffff) !== v) this.#badValue(off, v, 16);
    this.#push(off, 2, v, 0);
  }
  write32(off: number, v: number): void {
    if (typeof v !== "number" || v >>> 0 !== v) this.#badValue(off, v, 32);
    this.#push(off, 4, v, 0);
  }
  write64(off: number, v: bigint): void {
    if (typeof v !== "bigint" || v < 0n || v > U64) this.#badValue(off, v, 64);
    this.#push(off, 8, Number(v & U32), Number(v >> 32n));
  }
  doorbell(off: number, v: number): void {
    this.write32(off, v);
  }
  /** A bad offset is reported before a bad value, as by the other RegisterIo kinds. */
  #badValue(off: unknown, v: unknown, bits: 8 | 16 | 32 | 64): never {
    if (typeof off !== "number" || off >>> 0 !== off || off + bits / 8 > this.#size || off & (bits / 8 - 1)) this.#bad(off, bits / 8);
    throw valueError(this.name, off, v, bits);
  }
  release(): void {
    this.#size = 0;
    this.#mem.release();
  }
}
