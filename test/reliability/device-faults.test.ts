// Device faults on the sim, with the faulty test device (models/): a device that never completes,
// completions with an error status, a reset with requests in flight, and a device that writes
// garbage into its completion ring. The host must time out naming the queue, report errors as they
// are, account for every request exactly once, and believe nothing inconsistent.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Device, IndexRingQueue, TimeoutError, UseAfterReleaseError, WarpDriveError, type SqCqQueue } from "@warpdrive/runtime";
import { FAULTY, faultySpec } from "./models/specs.ts";
import { bar, closeSqCq, code, echo, openSqCq, release, result, ringEntry, setMode } from "./helpers.ts";

let dev: Device;
beforeEach(async () => {
  dev = await Device.open(faultySpec(), { backend: "sim" });
});
afterEach(() => dev.close());

/** Waits (bounded) until the device has fetched `n` commands in all, so a mode switch comes after. */
function fetched(n: number): void {
  const t0 = performance.now();
  while (bar(dev).read32(FAULTY.FETCHED) < n) {
    if (performance.now() - t0 > 10_000) throw new Error(`the device fetched ${bar(dev).read32(FAULTY.FETCHED)} of ${n} commands`);
    Bun.sleepSync(1);
  }
}

describe("a device that never completes", () => {
  test("sq/cq: recvSync throws TimeoutError naming the queue; after a reset the queue is requested again and works", () => {
    setMode(dev, FAULTY.MODE_SILENT);
    const q = openSqCq(dev, "io", 2);
    const tag = q.send(echo(1));
    q.flush();
    let err: unknown;
    try {
      q.recvSync(30);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toContain(`${dev.address}/io[2]`);
    expect(q.inFlight).toBe(1); // nothing was invented
    const lost = dev.reset();
    expect(lost).toEqual([{ queue: q.label, tags: [tag] }]);
    expect(() => q.recv()).toThrow(UseAfterReleaseError);
    expect(() => q.recv()).toThrow("reset");
    // the same queue id, afresh (the reset zeroed MODE: the device behaves again)
    const again = openSqCq(dev, "io", 2);
    again.send(echo(5));
    expect(result(again.recvSync(5000))).toBe(15);
  });

  test("index ring: TimeoutError names the ring; the device is reset and the ring reused", () => {
    setMode(dev, FAULTY.MODE_SILENT);
    const q = dev.requestQueue("ring") as IndexRingQueue;
    q.send(ringEntry(7));
    expect(() => q.recvSync(30)).toThrow(TimeoutError);
    expect(() => q.recvSync(30)).toThrow(`${dev.address}/ring`);
    expect(q.inFlight).toBe(1);
    expect(dev.reset()).toEqual([{ queue: q.label, tags: [0] }]);
    const r = dev.requestQueue("ring");
    r.send(ringEntry(7));
    const c = r.recvSync(5000);
    expect([c.status, c.view.getUint32(c.offset + 4, true)]).toEqual([1, 21]);
  });

  test("without a reset: a queue that timed out keeps working once the device answers", () => {
    setMode(dev, FAULTY.MODE_HOLD);
    const q = openSqCq(dev, "admin");
    const tag = q.send(echo(4));
    expect(() => q.recvSync(20)).toThrow(TimeoutError);
    release(dev, 1);
    const c = q.recvSync(5000);
    expect([c.tag, result(c)]).toEqual([tag, 12]);
    setMode(dev, FAULTY.MODE_OK);
    q.send(echo(6));
    expect(result(q.recvSync(5000))).toBe(18);
  });
});

describe("completions with an error status", () => {
  test("sq/cq: every request completes once, with the device's status code, and the queue goes on", () => {
    setMode(dev, FAULTY.MODE_ERROR);
    const q = openSqCq(dev, "io", 1);
    const tags = new Set([q.send(echo(1)), q.send(echo(2)), q.send(echo(3))]);
    q.flush();
    for (let i = 0; i < 3; i++) {
      const c = q.recvSync(5000);
      expect(code(c)).toBe(FAULTY.ERR_CODE);
      expect(tags.delete(c.tag)).toBe(true); // each tag once
    }
    expect(q.recv()).toBeNull();
    setMode(dev, FAULTY.MODE_OK);
    q.send(echo(9));
    const ok = q.recvSync(5000);
    expect([code(ok), result(ok)]).toEqual([0, 27]);
  });

  test("index ring: the done field carries the error status", () => {
    setMode(dev, FAULTY.MODE_ERROR);
    const q = dev.requestQueue("ring");
    q.send(ringEntry(1));
    q.send(ringEntry(2));
    expect([q.recvSync(5000).status, q.recvSync(5000).status]).toEqual([2, 2]);
  });
});

describe("a reset with requests in flight", () => {
  test("every request is reported exactly once: completed before the reset, or abandoned by it", () => {
    setMode(dev, FAULTY.MODE_HOLD);
    const queues = [openSqCq(dev, "admin"), openSqCq(dev, "io", 1), openSqCq(dev, "io", 2), openSqCq(dev, "io", 3)];
    const sent = new Map<SqCqQueue, Set<number>>();
    let total = 0;
    for (const q of queues) {
      const tags = new Set<number>();
      for (let k = 0; k < q.sqDepth - 1; k++) tags.add(q.send(echo(k)));
      q.flush();
      sent.set(q, tags);
      total += tags.size;
    }
    fetched(total);
    // some complete before the reset (the device releases them in fetch order, across queues)
    release(dev, 7);
    const done = new Map<SqCqQueue, number[]>(queues.map((q) => [q, []]));
    let got = 0;
    const t0 = performance.now();
    while (got < 7) {
      for (const q of queues) {
        const c = q.recv();
        if (c !== null) {
          done.get(q)!.push(c.tag);
          got++;
        }
      }
      if (performance.now() - t0 > 10_000) throw new Error(`only ${got} of 7 released completions arrived`);
    }
    const lost = dev.reset();
    for (const q of queues) {
      const abandoned = lost.find((l) => l.queue === q.label)?.tags ?? [];
      expect([...q.abandoned]).toEqual([...abandoned]);
      const all = [...done.get(q)!, ...abandoned];
      // none twice, none lost: completed + abandoned is exactly what was sent
      expect(new Set(all).size).toBe(all.length);
      expect(new Set(all)).toEqual(sent.get(q)!);
      expect(() => q.recv()).toThrow(UseAfterReleaseError);
    }
    expect(lost.reduce((n, l) => n + l.tags.length, 0)).toBe(total - 7);
    // a second reset has nothing left to report
    expect(dev.reset()).toEqual([]);
    // and the device works afresh
    const q = openSqCq(dev, "io", 1);
    q.send(echo(2));
    expect(result(q.recvSync(5000))).toBe(6);
  });
});

describe("garbage in the completion ring is detected, not trusted", () => {
  /** recv() must throw a WarpDriveError saying `what`, twice (the bad entry is not consumed), and the
   *  queue's books must not change. */
  function refused(q: SqCqQueue, what: string): void {
    const inFlight = q.inFlight;
    const t0 = performance.now();
    let err: unknown;
    while (err === undefined && performance.now() - t0 < 10_000) {
      try {
        if (q.recv() !== null) throw new Error("a garbage completion was accepted");
      } catch (e) {
        err = e;
      }
    }
    expect(err).toBeInstanceOf(WarpDriveError);
    expect((err as Error).message).toContain(what);
    expect((err as Error).message).toContain(q.label);
    expect(() => q.recv()).toThrow(what);
    expect(q.inFlight).toBe(inFlight);
  }

  test("a completion for a tag that is not in flight", () => {
    setMode(dev, FAULTY.MODE_BAD_TAG);
    const q = openSqCq(dev, "io", 1);
    q.send(echo(1));
    refused(q, "not in flight");
  });

  test("the same completion posted twice: the second is refused", () => {
    setMode(dev, FAULTY.MODE_DUPLICATE);
    const q = openSqCq(dev, "io", 1);
    const tag = q.send(echo(3));
    const c = q.recvSync(5000);
    expect([c.tag, result(c)]).toEqual([tag, 9]);
    refused(q, `tag ${tag}, which is not in flight`);
  });

  test("an SQ head outside the ring", () => {
    setMode(dev, FAULTY.MODE_BAD_SQHD);
    const q = openSqCq(dev, "io", 1);
    q.send(echo(1));
    refused(q, "SQ head");
  });

  test("an SQ head that moves backwards (claims entries the host never published)", () => {
    setMode(dev, FAULTY.MODE_SQHD_BACKWARDS);
    const q = openSqCq(dev, "io", 1);
    q.send(echo(1));
    refused(q, "SQ head");
  });

  test("a completion in the wrong slot: the phase bit of the expected slot says nothing new, so nothing is taken", () => {
    setMode(dev, FAULTY.MODE_WRONG_SLOT);
    const q = openSqCq(dev, "io", 1);
    q.send(echo(1));
    q.flush();
    fetched(1);
    expect(() => q.recvSync(30)).toThrow(TimeoutError);
    expect(q.inFlight).toBe(1);
  });

  test("index ring: done marks on slots never sent and a consumer index past the producer give nothing extra", () => {
    setMode(dev, FAULTY.MODE_RING_GARBAGE);
    const q = dev.requestQueue("ring");
    const tag = q.send(ringEntry(2));
    const c = q.recvSync(5000);
    expect([c.tag, c.view.getUint32(c.offset + 4, true)]).toEqual([tag, 6]);
    // The model marks the real slot done before it writes the garbage (all slots done, a consumer
    // index 5 ahead): wait until the garbage is there, or the checks below would prove nothing.
    const io = dev.region("ring").io;
    for (const t0 = performance.now(); io.read32(FAULTY.RING_TAIL) !== 6 && performance.now() - t0 < 10_000; ) Bun.sleepSync(0);
    expect(io.read32(FAULTY.RING_TAIL)).toBe(6);
    // the other seven slots read "done" and the consumer register is ahead: still nothing in flight
    expect(q.recv()).toBeNull();
    expect(q.inFlight).toBe(0);
    // a new request takes the next slot afresh (the engine writes it pending before the doorbell)
    setMode(dev, FAULTY.MODE_HOLD);
    q.send(ringEntry(3));
    q.flush();
    expect(q.recv()).toBeNull();
    expect(q.inFlight).toBe(1);
  });

  test("after garbage, a reset brings the queue back", () => {
    setMode(dev, FAULTY.MODE_BAD_TAG);
    const q = openSqCq(dev, "io", 3);
    q.send(echo(1));
    refused(q, "not in flight");
    dev.reset();
    const again = openSqCq(dev, "io", 3);
    again.send(echo(4));
    expect(result(again.recvSync(5000))).toBe(12);
    closeSqCq(dev, again);
  });
});
