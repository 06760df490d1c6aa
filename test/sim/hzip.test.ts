// hzip on the sim backend, what only the sim's register model has: queue-pair setup through the
// context registers, several pairs of one device side by side, ring depths the host chooses (rings
// that wrap many times at depth 4), and the refusals before anything opens. The device's behaviour
// (round trips, statuses) is test/hw/hzip.test.ts, which runs here too and on UACCE in the guest.
import { describe, expect, test } from "bun:test";
import { gunzipSync, inflateRawSync } from "node:zlib";
import { Hzip, statusName } from "@warpdrive/hzip";
import { HzipDevice } from "@warpdrive/hzip-generated/client";
import { QUEUE_PAIRS, VERSION_VALUE } from "@warpdrive/hzip-generated/constants";
import { ZipAlgorithm } from "@warpdrive/hzip-generated/enums";
import { Sqe } from "@warpdrive/hzip-generated/structs";
import { same, sample } from "../hw/hzip-samples.ts";

describe("hzip on the sim: host-chosen depths", () => {
  test("gzip members from compressChunked form one file; the rings wrap many times (depth 4)", async () => {
    using small = await Hzip.open({ backend: "sim", depth: 4 });
    const data = sample(300_000, "text", 5);
    const seen: number[] = [];
    const gz = small.compressChunked(data, { chunkSize: 3000, inFlight: 8, onChunk: (i) => seen.push(i) });
    expect(seen.length).toBe(100);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(same(gunzipSync(gz), data)).toBe(true);
    // one decompress request reads all 100 members
    expect(same(small.decompress(gz, "gzip"), data)).toBe(true);
  });
});

describe("hzip registers and queue pairs", () => {
  test("identity registers; stores to read-only registers are dropped", async () => {
    using dev = await HzipDevice.open({ backend: "sim" });
    expect(dev.qm.version.read()).toBe(VERSION_VALUE);
    expect(dev.qm.qpNum.read()).toBe(QUEUE_PAIRS);
    expect(dev.qm.maxDepth.read()).toBe(1024);
    dev.device.region("qm").io.write32(0x004, 77);
    expect(dev.qm.qpNum.read()).toBe(QUEUE_PAIRS);
  });

  test("enable with a depth out of range or rings not set: q_status.bad_config, pair stays off", async () => {
    using dev = await HzipDevice.open({ backend: "sim" });
    const r = dev.qm;
    r.qDepth.at(1).writeFields({ sqDepth: 63, cqDepth: 63 });
    r.qCtrl.at(1).writeFields({ en: 1 }); // bases never written: address 0 is not shared
    expect(r.qStatus.at(1).fields()).toEqual({ enabled: 0, badConfig: 1 });
    const q = dev.requestQueue("qp", { id: 1 });
    r.sqBase.at(1).write(q.queue.sqBuffer.ref());
    r.cqBase.at(1).write(q.queue.cqBuffer.ref());
    r.qDepth.at(1).writeFields({ sqDepth: 2047, cqDepth: 63 }); // 2048 entries > MAX_QUEUE_DEPTH
    r.qCtrl.at(1).write(0);
    r.qCtrl.at(1).writeFields({ en: 1 });
    expect(r.qStatus.at(1).fields()).toEqual({ enabled: 0, badConfig: 1 });
    r.qDepth.at(1).writeFields({ sqDepth: 63, cqDepth: 63 });
    r.qCtrl.at(1).writeFields({ en: 1, irqEn: 1 });
    expect(r.qStatus.at(1).fields()).toEqual({ enabled: 1, badConfig: 0 });
    r.qCtrl.at(1).write(0);
    expect(r.qStatus.at(1).fields()).toEqual({ enabled: 0, badConfig: 0 });
  });

  test("four pairs of one device work side by side; each completion names its pair", async () => {
    using dev = await HzipDevice.open({ backend: "sim" });
    const r = dev.qm;
    const pairs = Array.from({ length: QUEUE_PAIRS }, (_, id) => {
      const q = dev.requestQueue("qp", { id });
      r.sqBase.at(id).write(q.queue.sqBuffer.ref());
      r.cqBase.at(id).write(q.queue.cqBuffer.ref());
      r.qDepth.at(id).writeFields({ sqDepth: q.queue.sqDepth - 1, cqDepth: q.queue.cqDepth - 1 });
      r.qCtrl.at(id).writeFields({ en: 1, irqEn: 1 });
      return q;
    });
    const inputs = pairs.map((_, id) => sample(30_000 + id, "text", id + 40));
    using buf = dev.alloc(4 * 65_536 * 2);
    pairs.forEach((q, id) => {
      buf.bytes.set(inputs[id]!, id * 65_536);
      q.compress({ format: ZipAlgorithm.GZIP, src: buf.ref(id * 65_536, inputs[id]!.length), srcLen: inputs[id]!.length,
        dst: buf.ref(262_144 + id * 65_536, 65_536), dstLen: 65_536 });
      q.queue.flush();
    });
    pairs.forEach((q, id) => {
      const c = q.recvSync(10_000);
      expect(c.sqNum).toBe(id);
      const e = Sqe.decode(q.queue.sqBuffer.view, c.sqHead * Sqe.SIZE);
      expect(statusName(e.dw3.status)).toBe("OK");
      const out = buf.bytes.subarray(262_144 + id * 65_536, 262_144 + id * 65_536 + e.produced);
      expect(same(gunzipSync(out), inputs[id]!)).toBe(true);
    });
  });

  test("irq_en = 0: completions still arrive (the waiter polls); a stopped pair ignores its doorbell", async () => {
    using dev = await HzipDevice.open({ backend: "sim" });
    const r = dev.qm;
    const q = dev.requestQueue("qp", { id: 2 });
    r.sqBase.at(2).write(q.queue.sqBuffer.ref());
    r.cqBase.at(2).write(q.queue.cqBuffer.ref());
    r.qDepth.at(2).writeFields({ sqDepth: q.queue.sqDepth - 1, cqDepth: q.queue.cqDepth - 1 });
    r.qCtrl.at(2).writeFields({ en: 1, irqEn: 0 });
    using buf = dev.alloc(8192);
    const data = sample(3000, "text", 77);
    buf.bytes.set(data);
    const req = { format: ZipAlgorithm.DEFLATE, src: buf.ref(0, data.length), srcLen: data.length, dst: buf.ref(4096, 4096), dstLen: 4096 };
    q.compress(req);
    const c = q.recvSync(10_000);
    const e = Sqe.decode(q.queue.sqBuffer.view, c.sqHead * Sqe.SIZE);
    expect(same(inflateRawSync(buf.bytes.subarray(4096, 4096 + e.produced)), data)).toBe(true);
    // Stop the pair and ring it anyway. To know the model has looked without waiting for a time,
    // a request on pair 3 is rung after it: the model takes doorbells in order and serves pairs
    // 0..3 in turn, so once pair 3's completion is here, pair 2's doorbell has been seen.
    const before = r.completed.read();
    r.qCtrl.at(2).write(0);
    expect(r.qStatus.at(2).fields().enabled).toBe(0);
    q.compress(req);
    q.queue.flush();
    const q3 = dev.requestQueue("qp", { id: 3 });
    r.sqBase.at(3).write(q3.queue.sqBuffer.ref());
    r.cqBase.at(3).write(q3.queue.cqBuffer.ref());
    r.qDepth.at(3).writeFields({ sqDepth: q3.queue.sqDepth - 1, cqDepth: q3.queue.cqDepth - 1 });
    r.qCtrl.at(3).writeFields({ en: 1, irqEn: 1 });
    q3.compress(req);
    expect(q3.recvSync(10_000).sqNum).toBe(3);
    expect(q.recv()).toBeNull();
    expect(r.completed.read()).toBe(before + 1);
    // The stopped pair's request never completes and still references buf: the runtime refuses to
    // free memory a request in flight points at, so give the dead queue up before buf's scope ends.
    q.release();
  });

  test("Hzip.open refuses a pair or depth that cannot work, before opening anything", async () => {
    await expect(Hzip.open({ backend: "sim", queuePair: QUEUE_PAIRS })).rejects.toThrow(/pairs are 0\.\.3/);
    await expect(Hzip.open({ backend: "sim", depth: 2 })).rejects.toThrow(/power of two in 4\.\.1024/);
  });
});
