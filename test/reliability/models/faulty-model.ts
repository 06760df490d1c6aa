// Model of the "faulty" device (specs.ts): an sq/cq controller and an index ring that behave until the
// MODE register tells them to misbehave. Everything a real device could do wrong to a host is one
// mode; the reliability tests check the host notices each, and trusts nothing it should not.
import { defineModel, DmaFault, type ModelContext, type ModelRegion } from "@warpdrive/runtime/sim/model";
import { FAULTY } from "./specs.ts";

interface Q {
  id: number;
  sqBase: bigint;
  cqBase: bigint;
  sqDepth: number;
  cqDepth: number;
  sqHead: number;
  cqTail: number;
  phase: number;
}

interface Held {
  q: Q;
  /** The fetched entry; executed (its DMA done) only when released, as late as possible. */
  sqe: DataView;
}

interface State {
  bar: ModelRegion;
  ring: ModelRegion;
  queues: Map<number, Q>;
  held: Held[];
  ringTail: number;
  /** Held commands completed so far (RELEASE is the host's running total). */
  released: number;
}

function cqHasRoom(bar: ModelRegion, q: Q): boolean {
  const cqHead = bar.read32(FAULTY.DB + 8 * q.id + 4);
  return (q.cqTail + 1) % q.cqDepth !== cqHead;
}

function post(ctx: ModelContext, s: State, q: Q, cid: number, result: number, code: number, mode: number): void {
  let slot = q.cqTail;
  let phase = q.phase;
  if (mode === FAULTY.MODE_WRONG_SLOT) {
    // one slot too far: the host's next slot keeps its stale phase, so the host must not see this
    slot = (q.cqTail + 1) % q.cqDepth;
    if (slot === 0) phase ^= 1;
  }
  let sqhd = q.sqHead;
  if (mode === FAULTY.MODE_BAD_SQHD) sqhd = q.sqDepth + 5;
  if (mode === FAULTY.MODE_SQHD_BACKWARDS) sqhd = (q.sqHead + q.sqDepth - 2) % q.sqDepth;
  if (mode === FAULTY.MODE_BAD_TAG) cid = (cid + 100) | 0x4000;
  const e = ctx.dma.view(q.cqBase + BigInt(slot * FAULTY.CQE), FAULTY.CQE);
  const dv = new DataView(e.buffer, e.byteOffset, FAULTY.CQE);
  dv.setUint32(0, result >>> 0, true);
  dv.setUint16(8, sqhd, true);
  dv.setUint16(12, cid, true);
  Atomics.store(new Uint16Array(e.buffer, e.byteOffset, 8), 7, ((code << 1) | phase) & 0xffff); // phase last
  if (mode === FAULTY.MODE_WRONG_SLOT) return; // the device thinks it posted; the host never sees it
  q.cqTail++;
  if (q.cqTail === q.cqDepth) {
    q.cqTail = 0;
    q.phase ^= 1;
  }
}

/** What a command does (DMA included); returns [result, status code]. */
function execute(ctx: ModelContext, sqe: DataView): [number, number] {
  const op = sqe.getUint8(0), value = sqe.getUint32(4, true), buf = sqe.getBigUint64(8, true), len = sqe.getUint32(16, true);
  try {
    if (op === FAULTY.OP_ECHO) return [(value * 3) >>> 0, 0];
    if (op === FAULTY.OP_SUM) {
      let sum = 0;
      for (const b of ctx.dma.read(buf, len)) sum = (sum + b) >>> 0;
      return [sum, 0];
    }
    if (op === FAULTY.OP_FILL) {
      ctx.dma.write(buf, new Uint8Array(len).fill(value & 0xff));
      return [len, 0];
    }
    return [0, 1];
  } catch (e) {
    if (e instanceof DmaFault) return [0, FAULTY.DMA_FAULT_CODE];
    throw e;
  }
}

function pollSqCq(ctx: ModelContext, s: State, mode: number): boolean {
  const bar = s.bar;
  let did = false;
  // held commands: completed in order, up to the host's running total in RELEASE. The host is the
  // only writer of RELEASE, so no release is lost to a read-modify-write race with the model.
  const target = bar.read32(FAULTY.RELEASE);
  while (s.released !== target && s.held.length > 0 && cqHasRoom(bar, s.held[0]!.q)) {
    const h = s.held.shift()!;
    const [result, code] = execute(ctx, h.sqe);
    post(ctx, s, h.q, h.sqe.getUint16(2, true), result, code, FAULTY.MODE_OK);
    ctx.raise(h.q.id === 0 ? 0 : 1);
    s.released = (s.released + 1) >>> 0;
    did = true;
  }
  for (let id = 0; id < FAULTY.QUEUES; id++) {
    const cfg = FAULTY.QBASE + id * FAULTY.QSTRIDE;
    let q = s.queues.get(id);
    if (bar.read32(cfg + FAULTY.ENABLE) !== 1) {
      if (q) {
        s.queues.delete(id);
        s.held = s.held.filter((h) => h.q !== q);
        bar.write32(FAULTY.DB + 8 * id, 0);
        bar.write32(FAULTY.DB + 8 * id + 4, 0);
        bar.write32(cfg + FAULTY.ACTIVE, 0);
      }
      continue;
    }
    if (!q) {
      q = { id, sqBase: bar.read64(cfg + FAULTY.SQ_BASE), cqBase: bar.read64(cfg + FAULTY.CQ_BASE),
            sqDepth: bar.read32(cfg + FAULTY.SQ_DEPTH), cqDepth: bar.read32(cfg + FAULTY.CQ_DEPTH), sqHead: 0, cqTail: 0, phase: 1 };
      s.queues.set(id, q);
      bar.write32(cfg + FAULTY.ACTIVE, 1);
    }
    const tail = bar.read32(FAULTY.DB + 8 * id);
    if (tail >= q.sqDepth) ctx.fault(`queue ${id}: SQ tail doorbell ${tail} is outside the ${q.sqDepth}-entry SQ`);
    let raised = false;
    while (q.sqHead !== tail) {
      // room for this completion (and its duplicate), counting held ones
      const cqHead = bar.read32(FAULTY.DB + 8 * id + 4);
      const used = (q.cqTail - cqHead + q.cqDepth) % q.cqDepth;
      const heldHere = s.held.filter((h) => h.q === q).length;
      if (used + heldHere + (mode === FAULTY.MODE_DUPLICATE ? 2 : 1) > q.cqDepth - 1) break;
      const bytes = ctx.dma.read(q.sqBase + BigInt(q.sqHead * FAULTY.SQE), FAULTY.SQE);
      const sqe = new DataView(bytes.buffer);
      const cid = sqe.getUint16(2, true);
      q.sqHead = (q.sqHead + 1) % q.sqDepth;
      bar.write32(FAULTY.FETCHED, bar.read32(FAULTY.FETCHED) + 1);
      did = true;
      if (mode === FAULTY.MODE_SILENT) continue;
      if (mode === FAULTY.MODE_HOLD) {
        s.held.push({ q, sqe });
        continue;
      }
      const [result, code] = execute(ctx, sqe);
      post(ctx, s, q, cid, result, mode === FAULTY.MODE_ERROR ? FAULTY.ERR_CODE : code, mode);
      if (mode === FAULTY.MODE_DUPLICATE) post(ctx, s, q, cid, result, code, FAULTY.MODE_OK);
      raised = true;
    }
    if (raised) ctx.raise(id === 0 ? 0 : 1);
  }
  return did;
}

function pollRing(ctx: ModelContext, s: State, mode: number): boolean {
  const r = s.ring;
  const head = r.read32(FAULTY.RING_HEAD);
  if (head === s.ringTail || mode === FAULTY.MODE_HOLD) return false;
  if (((head - s.ringTail) >>> 0) > FAULTY.RING_DEPTH) ctx.fault(`ring: head ${head} is more than a ring ahead of tail ${s.ringTail}`);
  while (s.ringTail !== head) {
    const off = FAULTY.RING_OFFSET + (s.ringTail % FAULTY.RING_DEPTH) * FAULTY.RING_ENTRY;
    s.ringTail = (s.ringTail + 1) >>> 0;
    if (mode === FAULTY.MODE_SILENT) continue;
    r.write32(off + 4, (r.read32(off) * 3) >>> 0);
    r.write32(off + 8, mode === FAULTY.MODE_ERROR ? 2 : 1);
  }
  if (mode === FAULTY.MODE_RING_GARBAGE) {
    // every slot "done", and a consumer index the host never gave it
    for (let k = 0; k < FAULTY.RING_DEPTH; k++) r.write32(FAULTY.RING_OFFSET + k * FAULTY.RING_ENTRY + 8, 1);
    r.write32(FAULTY.RING_TAIL, (s.ringTail + 5) >>> 0);
  } else {
    r.write32(FAULTY.RING_TAIL, s.ringTail);
  }
  ctx.raise(2);
  return true;
}

export default defineModel<State>({
  init(ctx) {
    return { bar: ctx.region("bar0"), ring: ctx.region("ring"), queues: new Map(), held: [], ringTail: 0, released: 0 };
  },
  poll(ctx, s) {
    const mode = s.bar.read32(FAULTY.MODE);
    if (s.bar.read32(FAULTY.MODE_ACK) !== mode) s.bar.write32(FAULTY.MODE_ACK, mode);
    const a = pollSqCq(ctx, s, mode);
    const b = pollRing(ctx, s, mode);
    return a || b;
  },
});
