// 1. Queue hot path on wd-dummy (sim): round trip and one-way throughput at batch 1 and 32,
//    against the same ring layout and protocol in C (client and device as two pthreads).
// 5. wd-dummy memcpy throughput for 4 KiB..4 MiB requests against TypedArray.set in process.
import { DescStatus, MAX_COPY_SIZE, WdDummyDevice } from "@warpdrive/wd-dummy";
import type { BenchEntry } from "../report.ts";
import { buildC, runJson } from "../native.ts";
import { median, medianOf } from "../stats.ts";

type CmdQueue = ReturnType<WdDummyDevice["requestQueue"]>;
type Shared = ReturnType<WdDummyDevice["alloc"]>;

const COPY = 64; // bytes per request: small, so the ring (not memcpy) is what is measured

function expectDone(status: number, what: string): void {
  if (status !== DescStatus.DONE) throw new Error(`${what}: descriptor finished with status ${status}`);
}

/** One request at a time: send, doorbell, spin on recv until it is back. Returns ns per round trip. */
function roundTrip(q: CmdQueue, src: Shared, dst: Shared, n: number): number {
  const s = src.ref(0, COPY);
  const d = dst.ref(0, COPY);
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) {
    q.send({ src: s, dst: d, size: COPY, cookie: i });
    q.flush();
    let c = q.recv();
    while (c === null) c = q.recv();
    expectDone(c.status, "round trip");
  }
  return (Bun.nanoseconds() - t0) / n;
}

/** Keeps the ring full, one doorbell per `batch` requests. Returns requests per second. */
function oneWay(q: CmdQueue, src: Shared, dst: Shared, n: number, batch: number): number {
  const s = src.ref(0, COPY);
  const d = dst.ref(0, COPY);
  const depth = q.queue.depth;
  let sent = 0;
  let done = 0;
  const t0 = Bun.nanoseconds();
  while (done < n) {
    while (sent < n && q.inFlight + batch <= depth) {
      for (let b = 0; b < batch; b++) q.send({ src: s, dst: d, size: COPY, cookie: sent + b });
      sent += batch;
      q.flush();
    }
    for (let c = q.recv(); c !== null; c = q.recv()) {
      expectDone(c.status, "one-way");
      done++;
    }
  }
  return n / ((Bun.nanoseconds() - t0) / 1e9);
}

/** Copies `bytes` from src to dst through the device, in descriptors of at most MAX_COPY_SIZE. */
function deviceCopy(q: CmdQueue, src: Shared, dst: Shared, bytes: number): void {
  const chunk = Math.min(bytes, MAX_COPY_SIZE);
  let sent = 0;
  let done = 0;
  const pieces = Math.ceil(bytes / chunk);
  while (done < pieces) {
    while (sent < pieces && q.inFlight < q.queue.depth) {
      const off = sent * chunk;
      const len = Math.min(chunk, bytes - off);
      q.send({ src: src.ref(off, len), dst: dst.ref(off, len), size: len, cookie: sent++ });
    }
    q.flush();
    // Completions come back in ring order: the cookie proves each one is the request expected.
    for (let c: ReturnType<CmdQueue["recv"]> = q.recv() ?? q.recvSync(10_000); c !== null; c = q.recv()) {
      expectDone(c.status, `copy of ${bytes} bytes`);
      if (c.cookie !== done) throw new Error(`copy of ${bytes} bytes: completion ${c.cookie} arrived when ${done} was due`);
      done++;
    }
  }
}

export async function benchQueue(scale = 1): Promise<BenchEntry[]> {
  const entries: BenchEntry[] = [];
  using dev = await WdDummyDevice.open({ backend: "sim" });
  using q = dev.requestQueue("cmd");
  using src = dev.alloc(4 << 20, "bench source");
  using dst = dev.alloc(4 << 20, "bench destination");
  src.bytes.fill(0xa5);

  const rtN = Math.round(50_000 * scale);
  const owN = Math.round(400_000 * scale);
  // Warm up every measured loop (JIT tiers on both threads, the model's poll loop): the figures are
  // steady state, like the C reference's; a cold first sample would otherwise be one of the three.
  roundTrip(q, src, dst, rtN / 5);
  oneWay(q, src, dst, owN / 5, 1);
  oneWay(q, src, dst, owN / 5, 32);
  const rt = medianOf(3, () => roundTrip(q, src, dst, rtN));
  const b1 = medianOf(3, () => oneWay(q, src, dst, owN, 1));
  const b32 = medianOf(3, () => oneWay(q, src, dst, owN, 32));

  const c = buildC("ring-ref");
  if ("missing" in c) {
    for (const id of ["roundtrip", "batch1", "batch32"]) {
      entries.push({ id: `queue.${id}`, what: `wd-dummy ${id}`, skipped: c.missing });
    }
  } else {
    const refs = Array.from({ length: 3 }, () =>
      runJson<{ roundTripNs: number; batch1PerSec: number; batch32PerSec: number }>(c.path, [rtN, owN, COPY]),
    );
    const ref = {
      rt: median(refs.map((r) => r.roundTripNs)),
      b1: median(refs.map((r) => r.batch1PerSec)),
      b32: median(refs.map((r) => r.batch32PerSec)),
    };
    entries.push(
      { id: "queue.roundtrip", what: "wd-dummy send+recv round trip", value: rt, unit: "ns",
        reference: { what: "C, 2 pthreads", value: ref.rt, unit: "ns" }, ratio: ref.rt / rt },
      { id: "queue.batch1", what: "wd-dummy one-way, doorbell per request", value: b1, unit: "req/s",
        reference: { what: "C, 2 pthreads", value: ref.b1, unit: "req/s" }, ratio: b1 / ref.b1 },
      { id: "queue.batch32", what: "wd-dummy one-way, doorbell per 32", value: b32, unit: "req/s",
        reference: { what: "C, 2 pthreads", value: ref.b32, unit: "req/s" }, ratio: b32 / ref.b32 },
    );
  }

  // Memcpy throughput: the device's copy against the same copy done in process.
  for (const size of [4 << 10, 64 << 10, 1 << 20, 4 << 20]) {
    const reps = Math.max(4, Math.round((scale * (64 << 20)) / size));
    for (let i = 0; i < Math.min(reps, 64); i++) deviceCopy(q, src, dst, size); // warm up (see above)
    const ours = medianOf(3, () => {
      const t0 = Bun.nanoseconds();
      for (let i = 0; i < reps; i++) deviceCopy(q, src, dst, size);
      return (reps * size) / (Bun.nanoseconds() - t0);
    });
    const a = src.bytes.subarray(0, size);
    const b = dst.bytes.subarray(0, size);
    const ref = medianOf(3, () => {
      const t0 = Bun.nanoseconds();
      for (let i = 0; i < reps; i++) b.set(a);
      return (reps * size) / (Bun.nanoseconds() - t0);
    });
    const label = size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`;
    entries.push({ id: `memcpy.${size}`, what: `wd-dummy memcpy ${label}`, value: ours, unit: "GB/s",
      reference: { what: "TypedArray.set", value: ref, unit: "GB/s" }, ratio: ours / ref });
  }
  return entries;
}
