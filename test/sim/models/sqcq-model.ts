// Model of the sq/cq test device (see specs.ts): queues configured through registers, commands
// fetched up to the SQ tail doorbell, completions posted with the phase bit while the CQ has room
// (the CQ head doorbell frees slots). Opcode 2 holds its command until the next one completed,
// so completions come back out of order.
import { defineModel, type ModelContext, type ModelRegion } from "@warpdrive/runtime/sim/model";
import { SQCQ } from "./specs.ts";

interface Q {
  id: number;
  sqBase: bigint;
  cqBase: bigint;
  sqDepth: number;
  cqDepth: number;
  sqHead: number;
  cqTail: number;
  phase: number;
  held: { cid: number; value: number }[];
}

function post(ctx: ModelContext, bar: ModelRegion, q: Q, cid: number, result: number): boolean {
  const cqHead = bar.read32(SQCQ.DB + 8 * q.id + 4);
  if ((q.cqTail + 1) % q.cqDepth === cqHead) return false; // CQ full: wait for the host
  const e = ctx.dma.view(q.cqBase + BigInt(q.cqTail * SQCQ.CQE), SQCQ.CQE);
  const dv = new DataView(e.buffer, e.byteOffset, SQCQ.CQE);
  dv.setUint32(0, result >>> 0, true);
  dv.setUint16(8, q.sqHead, true);
  dv.setUint16(12, cid, true);
  Atomics.store(new Uint16Array(e.buffer, e.byteOffset, 8), 7, q.phase); // status + phase last
  q.cqTail++;
  if (q.cqTail === q.cqDepth) {
    q.cqTail = 0;
    q.phase ^= 1;
  }
  return true;
}

export default defineModel({
  init(ctx) {
    return { bar: ctx.region("bar0"), queues: new Map<number, Q>() };
  },
  poll(ctx, s) {
    const bar = s.bar;
    if (bar.read32(SQCQ.CTL) & 1) return false;
    let did = false;
    for (let id = 0; id < SQCQ.QUEUES; id++) {
      const cfg = SQCQ.QBASE + id * SQCQ.QSTRIDE;
      const enabled = bar.read32(cfg + SQCQ.ENABLE) === 1;
      let q = s.queues.get(id);
      if (!enabled) {
        if (q) {
          // deleting a queue resets its doorbells, as NVMe's delete-queue does
          s.queues.delete(id);
          bar.write32(SQCQ.DB + 8 * id, 0);
          bar.write32(SQCQ.DB + 8 * id + 4, 0);
          bar.write32(cfg + SQCQ.ACTIVE, 0);
        }
        continue;
      }
      if (!q) {
        q = { id, sqBase: bar.read64(cfg + SQCQ.SQ_BASE), cqBase: bar.read64(cfg + SQCQ.CQ_BASE),
              sqDepth: bar.read32(cfg + SQCQ.SQ_DEPTH), cqDepth: bar.read32(cfg + SQCQ.CQ_DEPTH),
              sqHead: 0, cqTail: 0, phase: 1, held: [] };
        s.queues.set(id, q);
        bar.write32(cfg + SQCQ.ACTIVE, 1);
      }
      const tail = bar.read32(SQCQ.DB + 8 * id);
      while (q.sqHead !== tail) {
        // the CQ must have room for this completion and every held one
        const cqHead = bar.read32(SQCQ.DB + 8 * id + 4);
        const used = (q.cqTail - cqHead + q.cqDepth) % q.cqDepth;
        if (used + q.held.length + 1 > q.cqDepth - 1) break;
        const e = ctx.dma.read(q.sqBase + BigInt(q.sqHead * SQCQ.SQE), SQCQ.SQE);
        const dv = new DataView(e.buffer);
        const op = dv.getUint8(0), cid = dv.getUint16(2, true), value = dv.getUint32(4, true);
        q.sqHead = (q.sqHead + 1) % q.sqDepth;
        did = true;
        if (op === SQCQ.OP_HOLD) {
          q.held.push({ cid, value });
          continue;
        }
        post(ctx, bar, q, cid, value * 3);
        for (const h of q.held.splice(0)) post(ctx, bar, q, h.cid, h.value * 3);
      }
      if (did) ctx.raise(id === 0 ? 0 : 1);
    }
    return did;
  },
});
