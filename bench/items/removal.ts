// What listening for removal costs the hot path. The vfio backend gives a device a removal signal
// (REQ/ERR eventfds); Device then watches it, and every queue ticks the watch on flush and take
// (runtime/src/removal.ts: a decrement per call, a clock read every 64 calls, at most one poll(2)
// every 2 ms). Measured on the native wd-dummy consumer (bench/native), two devices open at once:
// one whose backend device carries a vfio-like removal signal (an eventfd that never fires, read
// with poll(2) as the vfio backend reads REQ/ERR) and one without (the reference). Same generated
// client, same loops (each case its own function), samples interleaved.
import { sys, type RemovalSignal } from "@warpdrive/runtime";
import { DescStatus, RING_DEPTH, WdDummyDevice } from "@warpdrive/wd-dummy";
import { NativeWdDummy } from "../native/backend.ts";
import { consumerLib } from "../native/lib.ts";
import { ratioGoal, type BenchEntry, type BenchResult } from "../report.ts";
import { interleaved, type Spread } from "../stats.ts";

type CmdQueue = ReturnType<WdDummyDevice["requestQueue"]>;
type Window = ReturnType<ReturnType<WdDummyDevice["alloc"]>["ref"]>;

const COPY = 64;
const DONE = DescStatus.DONE;

/** A REQ-like eventfd nobody signals, read the way the vfio backend reads REQ/ERR (poll, timeout 0). */
class QuietSignal implements RemovalSignal {
  readonly #ev = new sys.EventFd("bench removal signal");
  /** poll(2) calls made: how often the watch really looked. */
  looks = 0;
  get fds(): readonly number[] {
    return [this.#ev.fd];
  }
  poll(): undefined {
    this.looks++;
    const [rev] = sys.sys.poll([{ fd: this.#ev.fd, events: sys.POLLIN }], 0);
    if (rev !== 0) throw new Error("bench removal signal fired: nobody writes it");
    return undefined;
  }
  close(): void {
    this.#ev.close();
  }
}

class WatchedNative extends NativeWdDummy {
  readonly removal = new QuietSignal();
  override close(): void {
    super.close();
    this.removal.close();
  }
}

// ---- one loop function per case (identical bodies: no shared call site between the devices) ----

function batch32Watched(q: CmdQueue, s: Window, d: Window, n: number): number {
  let sent = 0, done = 0, bad = 0;
  const t0 = Bun.nanoseconds();
  while (done < n) {
    while (sent < n && q.inFlight + 32 <= RING_DEPTH) {
      for (let b = 0; b < 32; b++) q.send({ src: s, dst: d, size: COPY, cookie: sent++ });
      q.flush();
    }
    for (let c = q.reap(); c !== null; c = q.reap()) {
      if (c.status !== DONE) bad++;
      done++;
    }
  }
  const ns = (Bun.nanoseconds() - t0) / n;
  if (bad) throw new Error(`watched device, batch 32: ${bad} requests did not complete DONE`);
  return ns;
}

function batch32Plain(q: CmdQueue, s: Window, d: Window, n: number): number {
  let sent = 0, done = 0, bad = 0;
  const t0 = Bun.nanoseconds();
  while (done < n) {
    while (sent < n && q.inFlight + 32 <= RING_DEPTH) {
      for (let b = 0; b < 32; b++) q.send({ src: s, dst: d, size: COPY, cookie: sent++ });
      q.flush();
    }
    for (let c = q.reap(); c !== null; c = q.reap()) {
      if (c.status !== DONE) bad++;
      done++;
    }
  }
  const ns = (Bun.nanoseconds() - t0) / n;
  if (bad) throw new Error(`plain device, batch 32: ${bad} requests did not complete DONE`);
  return ns;
}

function roundTripWatched(q: CmdQueue, s: Window, d: Window, n: number): number {
  let bad = 0;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) {
    q.send({ src: s, dst: d, size: COPY, cookie: i });
    q.flush();
    let c = q.reap();
    while (c === null) c = q.reap();
    if (c.status !== DONE) bad++;
  }
  const ns = (Bun.nanoseconds() - t0) / n;
  if (bad) throw new Error(`watched device, round trip: ${bad} requests did not complete DONE`);
  return ns;
}

function roundTripPlain(q: CmdQueue, s: Window, d: Window, n: number): number {
  let bad = 0;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) {
    q.send({ src: s, dst: d, size: COPY, cookie: i });
    q.flush();
    let c = q.reap();
    while (c === null) c = q.reap();
    if (c.status !== DONE) bad++;
  }
  const ns = (Bun.nanoseconds() - t0) / n;
  if (bad) throw new Error(`plain device, round trip: ${bad} requests did not complete DONE`);
  return ns;
}

function entry(id: string, what: string, [ours, ref]: Spread[], looks: number, requests: number): BenchResult {
  const ratio = ref.median / ours.median;
  return {
    id, what, value: ours.median, unit: "ns/req", reference: { what: "same client and loop, device without a removal signal", value: ref.median, unit: "ns/req" },
    ratio, ...ratioGoal(ratio, 0.95), spread: { value: ours, reference: ref },
    note: "the watch: a decrement per flush/take, a clock read per 64, a poll(2) at most every 2 ms",
    extra: { pollsPer1000Requests: (1000 * looks) / requests },
  };
}

export async function benchRemoval(scale = 1, runs = 7): Promise<BenchEntry[]> {
  const ids = ["removal.watch.batch32", "removal.watch.roundtrip"];
  const lib = consumerLib();
  if (typeof lib === "string") return ids.map((id) => ({ id, what: id, skipped: `no native consumer: ${lib}` }));
  let watchedDevice: WatchedNative | undefined;
  using watched = await WdDummyDevice.open({ backend: { kind: "vfio", open: (spec) => (watchedDevice = new WatchedNative(spec)) } });
  using plain = await WdDummyDevice.open({ backend: { kind: "sim", open: (spec) => new NativeWdDummy(spec) } });
  const signal = watchedDevice!.removal;
  using ws = watched.alloc(4096, "watched source");
  using wd = watched.alloc(4096, "watched destination");
  using ps = plain.alloc(4096, "plain source");
  using pd = plain.alloc(4096, "plain destination");
  const nB32 = Math.max(3200, Math.round(320_000 * scale));
  const nRt = Math.max(1000, Math.round(50_000 * scale));
  const sample = (dev: WdDummyDevice, s: Window, d: Window, loop: (q: CmdQueue, s: Window, d: Window, n: number) => number, n: number, count: boolean) => () => {
    using q = dev.requestQueue("cmd");
    const before = signal.looks;
    const ns = loop(q, s, d, n);
    if (count) looked += signal.looks - before;
    return ns;
  };
  let looked = 0;
  const b32 = interleaved(runs, [
    sample(watched, ws.ref(0, COPY), wd.ref(0, COPY), batch32Watched, nB32, true),
    sample(plain, ps.ref(0, COPY), pd.ref(0, COPY), batch32Plain, nB32, false),
  ]);
  const b32Looks = looked;
  looked = 0;
  const rt = interleaved(runs, [
    sample(watched, ws.ref(0, COPY), wd.ref(0, COPY), roundTripWatched, nRt, true),
    sample(plain, ps.ref(0, COPY), pd.ref(0, COPY), roundTripPlain, nRt, false),
  ]);
  // interleaved runs one warm-up round per sampler before the measured ones
  return [
    entry(ids[0]!, "wd-dummy, ring full, doorbell per 32: device with a removal signal (vfio-like)", b32, b32Looks, nB32 * (runs + 1)),
    entry(ids[1]!, "wd-dummy round trip, one at a time: device with a removal signal (vfio-like)", rt, looked, nRt * (runs + 1)),
  ];
}
