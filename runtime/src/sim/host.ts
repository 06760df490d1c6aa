// The model's thread: a Worker that loads one device model module and runs device instances of it,
// one at a time, each until the client stops it. Started and pooled by pool.ts.
//
// The loop: poll() the model; after it has found nothing to do for SPIN_MS it sleeps on the
// control block's WAKE word with Atomics.wait, each time for 1/16 of the idle time so far (50 µs up
// to 1 ms). A doorbell written while the model sleeps is therefore seen at most ~1/16 of the idle
// gap late, and never more than ~1 ms (plus the kernel's timer slack, ~0.1 ms), and within one poll
// (well under a microsecond) while the device is busy; an idle device costs ~1000 short wake-ups a
// second instead of a core. The client never wakes the host on the
// request path (that would be a path real hardware does not have); it only wakes it for stop/reset.
import { toArrayBuffer, type Pointer } from "bun:ffi";
import { RamIo } from "../mem/io.ts";
import { libc, sys } from "../sys/libc.ts";
import {
  Cmd, CMD, DMA_COUNT, HOST_TID, DMA_ENTRY, DMA_SEQ, EPOCH, EPOCH_WAITERS, IRQ_BASE, IRQ_PENDING, J_ENTRIES, J_HEAD, J_TAIL, J_WAITERS, JOURNAL_SIZE, MAX_IRQS,
  RESET_DONE, State, STATE, WAKE,
  type HostMessage, type StartMessage,
} from "./control.ts";
import {
  DmaFault, type DeviceModel, type ModelContext, type ModelDmaEngine, type ModelRegion, type PortalLog, type RegisterWatch, type WriteHandler, type WriteLog,
} from "./model.ts";
import { MailboxReader } from "./portal-mailbox.ts";

declare const self: Worker;

/** Busy-poll window after the last work; WD_SIM_SPIN_MS overrides (benchmarks: never sleep). */
export const SPIN_MS = Number(process.env.WD_SIM_SPIN_MS ?? 1);
export const SLEEP_MIN_MS = 0.05;
/** WD_SIM_DEBUG=1: each instance reports on stderr how often it slept (tuning the idle policy). */
const DEBUG = process.env.WD_SIM_DEBUG === "1";
let sleeps = 0;
let wakes = 0;
export const SLEEP_MAX_MS = 1;

const post = (m: HostMessage) => self.postMessage(m);

class Region implements ModelRegion {
  readonly io: RamIo;
  readonly bytes: Uint8Array;
  constructor(readonly name: string, readonly index: number, readonly size: number, readonly kind: "mmio" | "ram", ptr: number, address: string) {
    const ab = toArrayBuffer(ptr as Pointer, 0, size);
    this.io = new RamIo(ab, 0, size, `${name} of ${address} (model side)`);
    this.bytes = new Uint8Array(ab);
  }
  read8(o: number) { return this.io.read8(o); }
  read16(o: number) { return this.io.read16(o); }
  read32(o: number) { return this.io.read32(o); }
  read64(o: number) { return this.io.read64(o); }
  // A model is the device: its stores wrap to the register width as hardware's would (RamIo itself
  // refuses values that do not fit, which is right for client calls, not for a model's `~x`).
  write8(o: number, v: number) { this.io.write8(o, v & 0xff); }
  write16(o: number, v: number) { this.io.write16(o, v & 0xffff); }
  write32(o: number, v: number) { this.io.write32(o, v >>> 0); }
  write64(o: number, v: bigint) { this.io.write64(o, BigInt.asUintN(64, v)); }
}

/** libc memmove for DMA copies: a copy between two mappings needs no view objects (see Dma.copy). */
const memmove = (() => {
  try {
    return libc().memmove;
  } catch {
    return undefined;
  }
})();

/** Reader side of the DMA table (the client edits it under a seqlock, see sim/backend.ts). */
class Dma implements ModelDmaEngine {
  #seq = -1;
  #iova: number[] = [];
  #size: number[] = [];
  #ptr: number[] = [];
  #views: (Uint8Array | undefined)[] = [];
  /** Entry of the last hit: a model works on a few buffers, so this is usually the one. */
  #last = 0;
  constructor(private readonly control: Int32Array, private readonly table: Float64Array) {}

  #refresh(): void {
    const c = this.control;
    for (;;) {
      const s1 = Atomics.load(c, DMA_SEQ);
      if (s1 === this.#seq) return;
      if (s1 & 1) continue; // the client is editing: it holds the lock for a few stores only
      const n = Atomics.load(c, DMA_COUNT);
      const iova: number[] = [], size: number[] = [], ptr: number[] = [];
      for (let i = 0; i < n; i++) {
        iova.push(this.table[i * DMA_ENTRY]!);
        size.push(this.table[i * DMA_ENTRY + 1]!);
        ptr.push(this.table[i * DMA_ENTRY + 2]!);
      }
      if (Atomics.load(c, DMA_SEQ) !== s1) continue;
      this.#seq = s1;
      this.#iova = iova;
      this.#size = size;
      this.#ptr = ptr;
      this.#views = new Array(n);
      this.#last = 0;
      return;
    }
  }

  /** Index of the mapping holding [a, a+length) in one piece, or -1 (the DMA check: nothing else reaches memory). */
  #entry(a: number, length: number): number {
    this.#refresh();
    if (!(Number.isSafeInteger(a) && length >= 0)) return -1;
    const iova = this.#iova, size = this.#size;
    let i = this.#last;
    if (i < iova.length && a >= iova[i]! && a + length <= iova[i]! + size[i]!) return i;
    for (i = 0; i < iova.length; i++) {
      if (a >= iova[i]! && a + length <= iova[i]! + size[i]!) {
        this.#last = i;
        return i;
      }
    }
    return -1;
  }

  /** The entry for a transfer, or the DmaFault the device would take. */
  #check(iova: number | bigint, length: number, write: boolean): number {
    const i = this.#entry(typeof iova === "bigint" ? Number(iova) : iova, length);
    if (i < 0) throw new DmaFault(BigInt(iova), length, write);
    return i;
  }

  /** The whole mapping `i` as bytes (made once per table version). */
  #whole(i: number): Uint8Array {
    return (this.#views[i] ??= new Uint8Array(toArrayBuffer(this.#ptr[i] as Pointer, 0, this.#size[i]!)));
  }

  read(iova: number | bigint, length: number): Uint8Array {
    const i = this.#check(iova, length, false);
    const at = Number(iova) - this.#iova[i]!;
    return this.#whole(i).slice(at, at + length);
  }
  write(iova: number | bigint, bytes: Uint8Array): void {
    const i = this.#check(iova, bytes.length, true);
    this.#whole(i).set(bytes, Number(iova) - this.#iova[i]!);
  }
  view(iova: number | bigint, length: number): Uint8Array {
    const i = this.#check(iova, length, false);
    const at = Number(iova) - this.#iova[i]!;
    return this.#whole(i).subarray(at, at + length);
  }
  mapped(iova: number | bigint, length: number): boolean {
    return this.#entry(typeof iova === "bigint" ? Number(iova) : iova, length) >= 0;
  }
  copy(dst: number | bigint, src: number | bigint, length: number): void {
    const s = this.#check(src, length, false);
    const d = this.#check(dst, length, true);
    const so = Number(src) - this.#iova[s]!;
    const dof = Number(dst) - this.#iova[d]!;
    if (length === 0) return;
    // Both ranges were just checked against the table, and the client unmaps nothing while we are
    // inside poll(): the pointers are valid for exactly `length` bytes each.
    if (memmove !== undefined) memmove((this.#ptr[d]! + dof) as Pointer, (this.#ptr[s]! + so) as Pointer, length);
    else if (s === d) this.#whole(d).copyWithin(dof, so, so + length);
    else this.#whole(d).set(this.#whole(s).subarray(so, so + length), dof);
  }
  drop(): void {
    this.#views = [];
    this.#seq = -1;
  }
}

class Fault extends Error {}

/** Reader side of a region's write journal (writer: sim/journal-io.ts). */
class Journal implements WriteLog {
  constructor(private readonly j: Int32Array) {}
  get pending(): number {
    return (Atomics.load(this.j, J_HEAD) - Atomics.load(this.j, J_TAIL)) | 0;
  }
  drain(fn: WriteHandler): number {
    const j = this.j;
    let t = Atomics.load(j, J_TAIL);
    const h = Atomics.load(j, J_HEAD);
    let n = 0;
    while (t !== h) {
      const at = J_ENTRIES + (t & (JOURNAL_SIZE - 1)) * 4;
      const value = (BigInt(j[at + 3]! >>> 0) << 32n) | BigInt(j[at + 2]! >>> 0);
      fn(j[at]!, value, j[at + 1] as 8 | 16 | 32 | 64);
      t = (t + 1) | 0;
      Atomics.store(j, J_TAIL, t); // acknowledged once its effects are in memory
      n++;
    }
    if (n > 0 && Atomics.load(j, J_WAITERS) !== 0) Atomics.notify(j, J_TAIL);
    return n;
  }
  /** Reset: writes made before it are void. */
  discard(): void {
    Atomics.store(this.j, J_TAIL, Atomics.load(this.j, J_HEAD));
    if (Atomics.load(this.j, J_WAITERS) !== 0) Atomics.notify(this.j, J_TAIL);
  }
}

class Watch implements RegisterWatch<number> {
  value: number;
  constructor(private readonly r: Region, private readonly off: number, private readonly width: 8 | 16 | 32) {
    this.value = this.#load();
  }
  #load(): number {
    return this.width === 32 ? this.r.read32(this.off) : this.width === 16 ? this.r.read16(this.off) : this.r.read8(this.off);
  }
  changed(): boolean {
    const v = this.#load();
    if (v === this.value) return false;
    this.value = v;
    return true;
  }
  consume(idle = 0): void {
    if (this.width === 32) this.r.write32(this.off, idle);
    else if (this.width === 16) this.r.write16(this.off, idle);
    else this.r.write8(this.off, idle);
    this.value = idle;
  }
}

class Watch64 implements RegisterWatch<bigint> {
  value: bigint;
  constructor(private readonly r: Region, private readonly off: number) {
    this.value = r.read64(off);
  }
  changed(): boolean {
    const v = this.r.read64(this.off);
    if (v === this.value) return false;
    this.value = v;
    return true;
  }
  consume(idle = 0n): void {
    this.r.write64(this.off, idle);
    this.value = idle;
  }
}

function makeContext(m: StartMessage, regions: Region[], dma: Dma, journals: Map<string, Journal>, portals: Map<string, MailboxReader>): ModelContext {
  const byName = new Map(regions.map((r) => [r.name, r]));
  const irqByName = new Map(m.spec.interrupts.map((i) => [i.name, i.index])); // raise("done") without a search per call
  const irqBuf = new Uint8Array(8);
  new DataView(irqBuf.buffer).setBigUint64(0, 1n, true);
  const region = (name: string): Region => {
    const r = byName.get(name);
    if (r === undefined) throw new Error(`model of ${m.address}: no region "${name}" (regions: ${[...byName.keys()].join(", ")})`);
    return r;
  };
  return {
    address: m.address,
    spec: m.spec,
    regions,
    region,
    dma,
    raise(irq: number | string): void {
      const index = typeof irq === "number" ? irq : irqByName.get(irq);
      if (index === undefined || index < 0 || index >= MAX_IRQS) throw new Error(`model of ${m.address}: no interrupt ${irq}`);
      const fd = Atomics.load(m.control, IRQ_BASE + index);
      if (fd < 0) return; // vector not enabled by the client: dropped, like a masked MSI
      // A plain load first: while the client polls memory the flag stays 1 and every raise ends
      // here without a locked read-modify-write; only the host sets it, so 0 -> 1 cannot race.
      if (Atomics.load(m.control, IRQ_PENDING + index) !== 0) return; // still unread
      if (Atomics.compareExchange(m.control, IRQ_PENDING + index, 0, 1) !== 0) return;
      try {
        sys.write(fd, irqBuf);
      } catch {
        // the client closed the line between our load and the write: same as a masked vector
      }
    },
    watch(name: string, offset: number, width: 8 | 16 | 32 = 32) {
      return new Watch(region(name), offset, width);
    },
    watch64(name: string, offset: number) {
      return new Watch64(region(name), offset);
    },
    writes(name: string): WriteLog {
      const j = journals.get(name);
      if (j === undefined) throw new Error(`model of ${m.address}: region "${name}" is not journaled (list it in the model's journal)`);
      return j;
    },
    portal(name: string): PortalLog {
      const p = portals.get(name);
      if (p === undefined) throw new Error(`model of ${m.address}: region "${name}" holds no portal of a portal queue (portal regions: ${[...portals.keys()].join(", ") || "none"})`);
      return p;
    },
    now: () => performance.now(),
    fault(message: string): never {
      throw new Fault(message);
    },
    log(message: string): void {
      process.stderr.write(`[${m.address}] ${message}\n`);
    },
  };
}

let model: DeviceModel<unknown> | undefined;

/** This thread's kernel id, so tools and tests can read its CPU time in /proc/self/task/<tid>/stat. */
const tid = (() => {
  try {
    return libc().gettid();
  } catch {
    return -1;
  }
})();

function run(m: StartMessage): void {
  const c = m.control;
  // Claim the instance; the client may have cancelled it (closed before we got here).
  if (Atomics.compareExchange(c, STATE, State.STARTING, State.RUNNING) !== State.STARTING) {
    post({ type: "stopped", address: m.address });
    return;
  }
  Atomics.store(c, HOST_TID, tid);
  const regions = m.regions.map((r) => new Region(r.name, r.index, r.size, r.kind, r.ptr, m.address));
  const dma = new Dma(c, m.dma);
  const journals = new Map(Object.entries(m.journals).map(([name, j]) => [name, new Journal(j)]));
  const journalList = [...journals.values()];
  const portals = new Map(Object.entries(m.portals).map(([name, p]) => [name, new MailboxReader(p)]));
  const ctx = makeContext(m, regions, dma, journals, portals);
  let state: unknown;
  let faulted: string | undefined;
  const fail = (e: unknown) => {
    faulted = e instanceof Fault ? e.message : e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : String(e);
  };
  try {
    state = model!.init(ctx);
  } catch (e) {
    fail(e);
  }
  if (faulted === undefined) post({ type: "started", address: m.address }); // else the fault message rejects the open

  let lastWork = performance.now();
  let idle = 0;
  while (faulted === undefined) {
    const cmd = Atomics.load(c, CMD);
    if (cmd === Cmd.STOP) break;
    if (cmd === Cmd.RESET) {
      Atomics.add(c, EPOCH, 1);
      try {
        for (const r of regions) r.bytes.fill(0);
        for (const j of journals.values()) j.discard();
        for (const p of portals.values()) p.discard();
        state = model!.reset ? model!.reset(ctx, state) : model!.init(ctx);
      } catch (e) {
        fail(e);
      }
      Atomics.add(c, EPOCH, 1);
      Atomics.compareExchange(c, CMD, Cmd.RESET, Cmd.RUN);
      Atomics.add(c, RESET_DONE, 1);
      Atomics.notify(c, RESET_DONE);
      lastWork = performance.now();
      continue;
    }
    Atomics.add(c, EPOCH, 1);
    let did = false;
    try {
      did = model!.poll(ctx, state);
    } catch (e) {
      fail(e);
    }
    Atomics.add(c, EPOCH, 1);
    if (Atomics.load(c, EPOCH_WAITERS) !== 0) Atomics.notify(c, EPOCH); // a client waiting to unmap DMA memory (rare)
    if (did) {
      idle = 0;
      lastWork = -1; // read the clock lazily: only once idle
      continue;
    }
    if ((++idle & 63) !== 0) continue;
    const now = performance.now();
    if (lastWork < 0) lastWork = now;
    if (now - lastWork < SPIN_MS) continue;
    // Load WAKE before the last checks: a client that journals a write or changes CMD after them
    // also bumps WAKE (or its write is seen here), so no wake-up is lost.
    const w = Atomics.load(c, WAKE);
    if (Atomics.load(c, CMD) !== Cmd.RUN) continue;
    if (journalList.some((j) => j.pending !== 0)) continue;
    if (portals.size > 0 && [...portals.values()].some((p) => p.pending !== 0)) continue;
    // Sleep a sixteenth of the idle time so far (50 µs .. 1 ms): a doorbell after an idle gap G is
    // noticed at most ~G/16 late, where doubling sleeps could add up to G/2 (a client descheduled
    // for 2 ms paid ~1 ms); an idle device still settles at 1 ms sleeps, after ~16 ms.
    const sleepMs = Math.min(SLEEP_MAX_MS, Math.max(SLEEP_MIN_MS, (now - lastWork) / 16));
    const slept = Atomics.wait(c, WAKE, w, sleepMs);
    if (DEBUG) {
      sleeps++;
      if (slept === "ok") wakes++;
    }
  }

  if (faulted === undefined) {
    try {
      model!.stop?.(ctx, state);
    } catch {
      // stopping anyway
    }
  }
  if (DEBUG) process.stderr.write(`[${m.address}] host slept ${sleeps} times, woken early ${wakes}\n`);
  dma.drop();
  for (const r of regions) r.io.release();
  // State first, then the message: whoever reads the message must find the state already set.
  Atomics.store(c, STATE, faulted === undefined ? State.STOPPED : State.FAULTED);
  Atomics.notify(c, STATE);
  if (faulted !== undefined) {
    process.stderr.write(`[${m.address}] device model fault: ${faulted}\n`);
    post({ type: "fault", address: m.address, message: faulted });
  } else {
    post({ type: "stopped", address: m.address });
  }
}

self.onmessage = async (e: MessageEvent) => {
  const m = e.data as { type: "load"; modelUrl: string } | StartMessage;
  if (m.type === "load") {
    try {
      const mod = await import(m.modelUrl);
      const candidate = (mod.default ?? mod.model) as DeviceModel<unknown> | undefined;
      if (!candidate || typeof candidate.init !== "function" || typeof candidate.poll !== "function") {
        throw new Error(`${m.modelUrl} does not export a device model (export default defineModel({ init, poll }))`);
      }
      model = candidate;
      post({ type: "loaded", journal: [...(candidate.journal ?? [])] });
    } catch (err) {
      post({ type: "load-error", message: err instanceof Error ? err.message : String(err) });
    }
    return;
  }
  run(m);
};
