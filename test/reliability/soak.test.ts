// Soak: every queue of every sim device kept full for a bounded time (WD_SOAK_SECONDS, default 20),
// each request verified. RSS is reported at start and end; fds and mappings must not grow: what
// this code creates (memfd register files, eventfds) is counted exactly, the process's totals with
// a little slack for Bun's own heap, and everything is given back when the devices close.
//   wd-dummy  the copy ring (64 deep): each copy's bytes checked
//   nvme      two I/O queue pairs full of reads of LBAs written beforehand (content checked), some
//             writes of the same content (status checked)
//   hzip      all four queue pairs full of compressions, each inflated by node:zlib and compared
//   faulty    the test device's four sq/cq queues and its index ring full of echo commands
// qemu-edu has no queue; its DMA engine and interrupt are covered by test/sim/edu-model.test.ts.
import { describe, expect, test } from "bun:test";
import { fdCount, mapsCount, ourFdCount, ourMapLines } from "../helpers/proc.ts";
import { inflateRawSync } from "node:zlib";
import { Device, DmaBuffer, QueueFullError, type Queue } from "@warpdrive/runtime";
import { WdDummyDevice } from "@warpdrive/wd-dummy";
import { Nvme } from "@warpdrive/nvme";
import { HzipDevice } from "@warpdrive/hzip-generated/client";
import { succeeded } from "@warpdrive/hzip";
import { QUEUE_PAIRS } from "@warpdrive/hzip-generated/constants";
import { ZipAlgorithm } from "@warpdrive/hzip-generated/enums";
import { Sqe as HzipSqe } from "@warpdrive/hzip-generated/structs";
import { faultySpec } from "./models/specs.ts";
import { echo, openSqCq, result, ringEntry } from "./helpers.ts";

const SECONDS = Number(process.env.WD_SOAK_SECONDS || 20);

/** RSS after a full collection: what is still held, not garbage waiting for the GC. */
const rss = () => {
  Bun.gc(true);
  return process.memoryUsage().rss;
};
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const fds = fdCount;
const maps = mapsCount;
const ourFds = ourFdCount;
const ourMaps = () => ourMapLines().length;
const HEAP_SLACK = 32;

/** One device's load: `step` refills its queues and takes what completed; returns requests verified. */
interface Load {
  name: string;
  step(): number;
  close(): void;
}

function fail(why: string): never {
  throw new Error(`soak: ${why}`);
}

async function wdDummy(): Promise<Load> {
  const dev = await WdDummyDevice.open({ backend: "sim" });
  const q = dev.requestQueue("cmd");
  const SLOT = 512;
  const src = dev.alloc(64 * SLOT), dst = dev.alloc(64 * SLOT);
  let n = 0;
  return {
    name: "wd-dummy",
    step() {
      let done = 0;
      for (let d = q.recv(); d !== null; d = q.recv()) {
        const at = (d.cookie % 64) * SLOT;
        if (d.status !== 1 || dst.bytes[at] !== (d.cookie & 0xff) || dst.bytes[at + SLOT - 1] !== ((d.cookie >> 8) & 0xff)) fail(`wd-dummy copy ${d.cookie} wrong`);
        done++;
      }
      // a slot is rewritten only when its previous request is done (64 slots, 64 in flight at most)
      while (q.inFlight < 64) {
        const at = (n % 64) * SLOT;
        src.bytes.fill(n & 0xff, at, at + SLOT - 1);
        src.bytes[at + SLOT - 1] = (n >> 8) & 0xff;
        q.send({ src: src.ref(at, SLOT), dst: dst.ref(at, SLOT), size: SLOT, cookie: n++ });
      }
      q.queue.flush();
      return done;
    },
    close: () => dev.close(),
  };
}

async function nvme(): Promise<Load> {
  const ctl = await Nvme.open({ backend: "sim", ioQueues: 2, ioDepth: 32 });
  const bs = ctl.blockSize;
  const LBAS = 256;
  const pattern = (lba: number, i: number) => (lba * 31 + i) & 0xff;
  const init = ctl.device.alloc(LBAS * bs);
  for (let lba = 0; lba < LBAS; lba++) for (let i = 0; i < bs; i++) init.bytes[lba * bs + i] = pattern(lba, i);
  ctl.write(0, LBAS, init.ref());
  // per queue: a block-sized slot of `buf` for each request in flight (own free list: the tag is
  // only known after submit)
  const queues = ctl.io.map((q) => {
    const slots = q.queue.sqDepth;
    return { q, buf: ctl.device.alloc(slots * bs), free: Array.from({ length: slots }, (_, i) => i), what: new Map<number, { lba: number; slot: number }>() };
  });
  let n = 0;
  return {
    name: "nvme",
    step() {
      let done = 0;
      for (const { q, buf, free, what } of queues) {
        for (let c = ctl.reap(q); c !== null; c = ctl.reap(q)) {
          if (c.error) fail(`nvme ${c.command}: ${c.error.message}`);
          const w = what.get(c.tag) ?? fail(`nvme: completion for tag ${c.tag}, not submitted`);
          what.delete(c.tag);
          if (w.slot >= 0) {
            const at = w.slot * bs;
            for (let i = 0; i < bs; i += 61) if (buf.bytes[at + i] !== pattern(w.lba, i)) fail(`nvme read of LBA ${w.lba} returned wrong data`);
            free.push(w.slot);
          }
          done++;
        }
        while (free.length > 0) {
          const lba = n % LBAS;
          const read = n % 8 !== 0;
          const slot = read ? free.pop()! : -1;
          const tag = read ? ctl.trySubmit("read", lba, 1, buf.ref(slot * bs, bs), q) : ctl.trySubmit("write", lba, 1, init.ref(lba * bs, bs), q);
          if (tag < 0) {
            if (read) free.push(slot);
            break;
          }
          if (read) buf.bytes.fill(0, slot * bs, slot * bs + bs); // stale data must not pass
          what.set(tag, { lba, slot });
          n++;
        }
        q.queue.flush();
      }
      return done;
    },
    close: () => ctl.close(),
  };
}

async function hzip(): Promise<Load> {
  const client = await HzipDevice.open({ backend: "sim" });
  const CHUNK = 2048;
  const text = new TextEncoder().encode("doorbell queue phase ring accelerator ".repeat(200));
  const pairs = Array.from({ length: QUEUE_PAIRS }, (_, pair) => {
    // what Hzip.open does for one pair, for all of them on one device
    const qp = client.requestQueue("qp", { id: pair, depth: 16 });
    const regs = client.qm;
    regs.sqBase.at(pair).write(qp.queue.sqBuffer.ref());
    regs.cqBase.at(pair).write(qp.queue.cqBuffer.ref());
    regs.qDepth.at(pair).writeFields({ sqDepth: qp.queue.sqDepth - 1, cqDepth: qp.queue.cqDepth - 1 });
    regs.qCtrl.at(pair).writeFields({ en: 1, irqEn: 1 });
    const slots = qp.queue.sqDepth;
    return { qp, src: client.alloc(slots * CHUNK), dst: client.alloc(slots * CHUNK * 2), free: Array.from({ length: slots }, (_, i) => i), what: new Map<number, { slot: number; len: number; seed: number }>() };
  });
  let n = 0;
  return {
    name: "hzip",
    step() {
      let done = 0;
      for (const p of pairs) {
        for (let c = p.qp.recv(); c !== null; c = p.qp.recv()) {
          const w = p.what.get(c.cmdId) ?? fail(`hzip: completion for tag ${c.cmdId}, not submitted`);
          p.what.delete(c.cmdId);
          const e = HzipSqe.decode(p.qp.queue.sqBuffer.view, c.sqHead * HzipSqe.SIZE);
          if (!succeeded(e.dw3.status)) fail(`hzip pair ${p.qp.queue.id}: status ${e.dw3.status}`);
          const out = inflateRawSync(p.dst.bytes.subarray(w.slot * CHUNK * 2, w.slot * CHUNK * 2 + e.produced));
          const want = text.subarray(w.seed, w.seed + w.len);
          if (!Buffer.from(want).equals(out)) fail(`hzip pair ${p.qp.queue.id}: round trip of request ${w.seed} differs`);
          p.free.push(w.slot);
          done++;
        }
        while (p.free.length > 0) {
          const slot = p.free.pop()!;
          const seed = n % 1000, len = 512 + (n % 1500);
          p.src.bytes.set(text.subarray(seed, seed + len), slot * CHUNK);
          let tag: number;
          try {
            tag = p.qp.compress({
              format: ZipAlgorithm.DEFLATE, src: p.src.ref(slot * CHUNK, len), srcLen: len,
              dst: p.dst.ref(slot * CHUNK * 2, CHUNK * 2), dstLen: CHUNK * 2,
            });
          } catch (e) {
            // full (the SDK keeps the slot of the last completion): the queue is as full as it gets
            if (!(e instanceof QueueFullError)) throw e;
            p.free.push(slot);
            break;
          }
          p.what.set(tag, { slot, len, seed });
          n++;
        }
        p.qp.queue.flush();
      }
      return done;
    },
    close: () => client.close(),
  };
}

async function faulty(): Promise<Load> {
  const dev = await Device.open(faultySpec(), { backend: "sim" });
  const queues: Queue[] = [openSqCq(dev, "admin"), openSqCq(dev, "io", 1), openSqCq(dev, "io", 2), openSqCq(dev, "io", 3), dev.requestQueue("ring")];
  const want = queues.map(() => new Map<number, number>());
  let n = 0;
  return {
    name: "faulty",
    step() {
      let done = 0;
      queues.forEach((q, k) => {
        const ring = q.name === "ring";
        for (let c = q.recv(); c !== null; c = q.recv()) {
          const r = ring ? c.view.getUint32(c.offset + 4, true) : result(c);
          if (want[k]!.get(c.tag) !== r) fail(`${q.label}: tag ${c.tag} answered ${r}, expected ${want[k]!.get(c.tag)}`);
          want[k]!.delete(c.tag);
          done++;
        }
        for (;;) {
          const v = n++ >>> 0;
          const tag = q.trySend(ring ? ringEntry(v) : echo(v));
          if (tag < 0) break;
          want[k]!.set(tag, (v * 3) >>> 0);
        }
        q.flush();
      });
      return done;
    },
    close: () => dev.close(),
  };
}

describe("soak", () => {
  test(`every queue of every sim device full for ${SECONDS} s, every request verified; no fd or mapping growth`, async () => {
    const open = async () => [await wdDummy(), await nvme(), await hzip(), await faulty()];
    // a first round opens the model threads the sim pool keeps (each a Worker with fds of its own):
    // the baseline is taken after it
    for (const l of await open()) {
      l.step();
      l.close();
    }
    const fd0 = ourFds(), map0 = ourMaps(), bufs0 = DmaBuffer.liveCount;
    const loads = await open();
    const counts = new Map(loads.map((l) => [l.name, 0]));
    const run = async (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        for (const l of loads) counts.set(l.name, counts.get(l.name)! + l.step());
        await Bun.sleep(0); // let timers and the runtime breathe; the queues stay full meanwhile
      }
    };
    // warm up (JIT, pools, first allocations), then measure the steady state
    await run(Math.min(2000, SECONDS * 100));
    const start = { rss: rss(), fds: fds(), maps: maps(), ourFds: ourFds(), ourMaps: ourMaps() };
    // RSS at each quarter: a leak climbs steadily, an allocator that keeps its pages levels off
    const samples: string[] = [];
    for (let k = 0; k < 4; k++) {
      await run(SECONDS * 250);
      samples.push(mib(rss()));
    }
    const end = { rss: rss(), fds: fds(), maps: maps(), ourFds: ourFds(), ourMaps: ourMaps() };
    console.log(`soak ${SECONDS} s: ${[...counts].map(([k, v]) => `${k} ${v}`).join(", ")} requests verified; RSS ${mib(start.rss)} -> ${samples.join(" -> ")}; fds ${start.fds} -> ${end.fds}; maps ${start.maps} -> ${end.maps}`);
    for (const [name, c] of counts) expect({ name, busy: c > 100 }).toEqual({ name, busy: true });
    expect([end.ourFds, end.ourMaps]).toEqual([start.ourFds, start.ourMaps]);
    expect(end.fds).toBeLessThanOrEqual(start.fds);
    expect(end.maps).toBeLessThanOrEqual(start.maps + HEAP_SLACK);
    for (const l of loads) l.close();
    expect([ourFds(), ourMaps(), DmaBuffer.liveCount]).toEqual([fd0, map0, bufs0]);
  }, (SECONDS + 60) * 1000);
});
