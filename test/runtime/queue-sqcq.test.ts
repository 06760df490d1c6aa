// SqCqQueue against the sq/cq test sim device (test/sim/models): tags from the free list, phase
// bit across wrap-arounds, out-of-order completions, SQ head from the CQE, CQ head doorbell,
// batching, full/empty, timeouts and release semantics.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Device, QueueFullError, SqCqQueue, TimeoutError, UseAfterReleaseError } from "@warpdrive/runtime";
import { SQCQ, sqcqSpec } from "../sim/models/specs.ts";

const cmd = (value: number, op: number = SQCQ.OP_ECHO) => (v: DataView, o: number) => {
  v.setUint8(o, op);
  v.setUint32(o + 4, value, true);
};
const result = (c: { view: DataView; offset: number }) => c.view.getUint32(c.offset, true);

describe("SqCqQueue", () => {
  let dev: Device;
  const bar = () => dev.region("bar0").io;
  const pause = (on: boolean) => bar().write32(SQCQ.CTL, on ? 1 : 0);

  /** Requests queue `name` id and tells the device where its rings are (what NVMe's create commands do). */
  function open(name: "admin" | "io", id?: number, depth?: number): SqCqQueue {
    const q = dev.requestQueue(name, { id, depth }) as SqCqQueue;
    const cfg = SQCQ.QBASE + q.id * SQCQ.QSTRIDE;
    bar().write64(cfg + SQCQ.SQ_BASE, BigInt(dev.dma.addressOf(q.sqBuffer.ref(), "sq_base")));
    bar().write64(cfg + SQCQ.CQ_BASE, BigInt(dev.dma.addressOf(q.cqBuffer.ref(), "cq_base")));
    bar().write32(cfg + SQCQ.SQ_DEPTH, q.sqDepth);
    bar().write32(cfg + SQCQ.CQ_DEPTH, q.cqDepth);
    bar().write32(cfg + SQCQ.ENABLE, 1);
    return q;
  }
  function close(q: SqCqQueue): void {
    const cfg = SQCQ.QBASE + q.id * SQCQ.QSTRIDE;
    bar().write32(cfg + SQCQ.ENABLE, 0);
    // Wait until the model has deleted the queue (as NVMe's delete command completes): an enable
    // written right after could otherwise land before the model ever saw the 0.
    for (const t0 = performance.now(); bar().read32(cfg + SQCQ.ACTIVE) !== 0 && performance.now() - t0 < 10_000; ) Bun.sleepSync(0);
    expect(bar().read32(cfg + SQCQ.ACTIVE)).toBe(0);
    q.release();
  }

  beforeEach(async () => {
    dev = await Device.open(sqcqSpec(), { backend: "sim" });
  });
  afterEach(() => dev.close());

  test("one command: the completion carries the tag send returned", () => {
    const q = open("admin");
    const tag = q.send(cmd(5));
    q.flush();
    const c = q.recvSync(5000);
    expect(c.tag).toBe(tag);
    expect(result(c)).toBe(15);
    expect(q.inFlight).toBe(0);
    expect(q.recv()).toBeNull();
  });

  test("the engine writes the tag into the entry, whatever the encoder wrote there", () => {
    const q = open("admin");
    q.send((v, o) => {
      v.setUint8(o, SQCQ.OP_ECHO);
      v.setUint16(o + 2, 0xbeef, true); // overwritten by the engine
      v.setUint32(o + 4, 2, true);
    });
    const c = q.recvSync(5000);
    expect(c.tag).toBeLessThan(q.sqDepth);
    expect(c.view.getUint16(c.offset + 12, true)).toBe(c.tag);
  });

  test("capacity is min(depth) - 1; full throws QueueFullError naming the queue and trySend gives -1", () => {
    const q = open("admin"); // depth 4: 3 in flight at most
    pause(true);
    const tags = [q.send(cmd(1)), q.send(cmd(2)), q.send(cmd(3))];
    expect(new Set(tags).size).toBe(3);
    expect(q.trySend(cmd(4))).toBe(-1);
    expect(() => q.send(cmd(4))).toThrow(QueueFullError);
    expect(() => q.send(cmd(4))).toThrow(`${dev.address}/admin`);
    q.flush();
    pause(false);
    const got = [q.recvSync(5000), q.recvSync(5000), q.recvSync(5000)].map((c) => [c.tag, result(c)]);
    expect(got).toEqual([[tags[0], 3], [tags[1], 6], [tags[2], 9]]);
  });

  test("phase bit and tags across many wrap-arounds of both rings, batches of every size", () => {
    const q = open("io", 1);
    let sent = 0;
    let received = 0;
    for (let round = 0; round < 300; round++) {
      const batch = 1 + (round % (q.sqDepth - 1));
      const want = new Map<number, number>();
      for (let i = 0; i < batch; i++) {
        const tag = q.send(cmd(sent));
        want.set(tag, sent * 3);
        sent++;
      }
      q.flush();
      for (let i = 0; i < batch; i++) {
        const c = q.recvSync(5000);
        expect(want.get(c.tag)).toBe(result(c));
        want.delete(c.tag);
        received++;
      }
      expect(want.size).toBe(0);
    }
    expect(received).toBe(sent);
    expect(sent).toBeGreaterThan(q.cqDepth * 100);
  });

  test("out-of-order completions free the right tags", () => {
    const q = open("io", 2);
    const held = q.send(cmd(7, SQCQ.OP_HOLD));
    const quick = q.send(cmd(8));
    q.flush();
    const first = q.recvSync(5000);
    const second = q.recvSync(5000);
    expect([first.tag, result(first)]).toEqual([quick, 24]);
    expect([second.tag, result(second)]).toEqual([held, 21]);
    // both tags are free again: a full window of new commands fits
    for (let i = 0; i < q.sqDepth - 1; i++) q.send(cmd(i));
    q.flush();
    for (let i = 0; i < q.sqDepth - 1; i++) q.recvSync(5000);
  });

  test("many in flight with a small CQ: the lazily written CQ head never stalls the device", () => {
    const q = open("io", 3, 4);
    let sent = 0;
    let got = 0;
    while (got < 3000) {
      while (sent < 3000 && q.trySend(cmd(sent)) >= 0) sent++;
      q.flush();
      const c = q.recvSync(5000);
      expect(result(c) % 3).toBe(0);
      got++;
    }
  });

  test("queues are independent: admin and two io queues interleaved", () => {
    const a = open("admin");
    const b = open("io", 1);
    const c = open("io", 2);
    for (let i = 0; i < 100; i++) {
      a.send(cmd(i));
      b.send(cmd(i + 1000));
      c.send(cmd(i + 2000));
      a.flush();
      b.flush();
      c.flush();
      expect(result(c.recvSync(5000))).toBe((i + 2000) * 3);
      expect(result(a.recvSync(5000))).toBe(i * 3);
      expect(result(b.recvSync(5000))).toBe((i + 1000) * 3);
    }
  });

  test("recvSync timeout names the queue; the command completes later", () => {
    const q = open("io", 1);
    pause(true);
    q.send(cmd(4));
    expect(() => q.recvSync(25)).toThrow(TimeoutError);
    expect(() => q.recvSync(25)).toThrow(`queue ${dev.address}/io[1]`);
    pause(false);
    expect(result(q.recvSync(5000))).toBe(12);
  });

  test("ids: outside the instances, twice, and again after release", () => {
    expect(() => dev.requestQueue("io", { id: 0 })).toThrow(RangeError);
    expect(() => dev.requestQueue("io", { id: 4 })).toThrow(/options\.id must be an integer in 1\.\.3, got 4/);
    const q = open("io", 1);
    expect(() => dev.requestQueue("io", { id: 1 })).toThrow(/io id 1 .* already in use/);
    const other = dev.requestQueue("io", { id: 2 });
    other.release();
    close(q);
    const again = open("io", 1);
    again.send(cmd(1));
    expect(result(again.recvSync(5000))).toBe(3);
  });

  test("release twice / use after release; rings are freed (unshared) on release", () => {
    const q = open("admin");
    const sq = q.sqBuffer;
    close(q);
    expect(sq.freed).toBe(true);
    expect(() => q.release()).toThrow(UseAfterReleaseError);
    expect(() => q.send(cmd(1))).toThrow(/admin was used after it was released/);
    expect(() => q.recvSync(1)).toThrow(UseAfterReleaseError);
    q[Symbol.dispose]();
  });

  test("bad depth is refused", () => {
    expect(() => dev.requestQueue("io", { id: 1, depth: 1 })).toThrow(/options\.depth must be an integer in 2\.\.65536, got 1/);
  });
});
