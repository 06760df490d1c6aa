// Model of the ring-test device (see specs.ts): result = value * 2 + 1 for each entry, in order.
import { defineModel } from "@warpdrive/runtime/sim/model";
import { RING } from "./specs.ts";

export default defineModel({
  init(ctx) {
    return { q: ctx.region("queue"), tail: 0, dma: ctx.spec.queues[0]?.kind === "index-ring" && ctx.spec.queues[0].ring === "dma" };
  },
  poll(ctx, s) {
    const q = s.q;
    const ctl = q.read32(RING.CTL);
    if (ctl & RING.CTL_RESYNC) {
      // test hook: continue from the indices the test wrote (e.g. just below 2^32)
      s.tail = q.read32(RING.TAIL);
      q.write32(RING.CTL, ctl & ~RING.CTL_RESYNC);
      return true;
    }
    if (ctl & RING.CTL_PAUSE) return false;
    const head = q.read32(RING.HEAD);
    if (head === s.tail) return false;
    // More than a ring's worth outstanding is not a state a client can create: it is the moment
    // between a test rewriting the indices and its RESYNC. Wait for the resync instead of
    // walking billions of entries.
    if (((head - s.tail) >>> 0) > RING.DEPTH) return false;
    const base = q.read64(RING.RING_BASE);
    while (s.tail !== head) {
      const at = (s.tail % RING.DEPTH) * RING.ENTRY;
      if (s.dma) {
        const e = ctx.dma.view(base + BigInt(at), RING.ENTRY);
        const dv = new DataView(e.buffer, e.byteOffset, RING.ENTRY);
        dv.setUint32(4, (dv.getUint32(0, true) * 2 + 1) >>> 0, true);
        Atomics.store(new Uint32Array(e.buffer, e.byteOffset, 4), 2, 1);
      } else {
        const off = RING.RING_OFFSET + at;
        q.write32(off + 4, (q.read32(off) * 2 + 1) >>> 0);
        q.write32(off + 8, 1);
      }
      s.tail = (s.tail + 1) >>> 0;
    }
    q.write32(RING.TAIL, s.tail);
    ctx.raise(0);
    return true;
  },
});
