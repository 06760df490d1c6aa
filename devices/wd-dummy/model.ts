// Sim model of the WarpDrive dummy accelerator: a memcpy engine behind one index ring.
//
// On a doorbell the device reads the producer index (head) and works through every descriptor
// from its own consumer index (tail) up to it, in order: validate size, copy `size` bytes from
// `src` to `dst` through the IOMMU (the DMA table), write the descriptor's status, and after
// the batch advance the tail register and raise `done` once. A bus address that is not memory
// the process shared with the device is a DMA fault: the descriptor completes with DMA_FAULT and
// nothing is written. The tail the device works from is its own counter, never re-read from the
// page, so a host writing junk into `tail` cannot make it replay or skip descriptors.
import { defineModel, DmaFault, type ModelContext, type ModelRegion, type RegisterWatch } from "@warpdrive/runtime/sim/model";
import { MAX_COPY_SIZE, RING_DEPTH, RING_OFFSET } from "@warpdrive/wd-dummy-generated/constants";
import { DescStatus } from "@warpdrive/wd-dummy-generated/enums";
import { QueueOffsets } from "@warpdrive/wd-dummy-generated/registers";
import { Descriptor } from "@warpdrive/wd-dummy-generated/structs";

interface WdDummy {
  q: ModelRegion;
  ring: DataView;
  doorbell: RegisterWatch<number>;
  /** Next descriptor index to process (free-running u32). */
  tail: number;
  /** Producer index seen at the last doorbell. */
  target: number;
  completed: number;
}

function powerOn(ctx: ModelContext): WdDummy {
  const q = ctx.region("queue");
  q.write32(QueueOffsets.depth, RING_DEPTH);
  return {
    q,
    ring: new DataView(q.bytes.buffer, q.bytes.byteOffset + RING_OFFSET, RING_DEPTH * Descriptor.SIZE),
    doorbell: ctx.watch("queue", QueueOffsets.doorbell),
    tail: 0,
    target: 0,
    completed: 0,
  };
}

const SRC = Descriptor.LAYOUT.src.offset;
const DST = Descriptor.LAYOUT.dst.offset;
const SIZE = Descriptor.LAYOUT.size.offset;
const STATUS = Descriptor.LAYOUT.status.offset;

/** A little-endian 64-bit bus address as a number (exact below 2^53, which covers every IOVA). */
function busAddress(v: DataView, at: number): number {
  return v.getUint32(at + 4, true) * 0x100000000 + v.getUint32(at, true);
}

/** The descriptor at byte `at` of the ring: returns the status to write back. */
function copy(ctx: ModelContext, ring: DataView, at: number): DescStatus {
  const size = ring.getUint32(at + SIZE, true);
  if (size === 0 || size > MAX_COPY_SIZE) return DescStatus.BAD_SIZE;
  try {
    // one checked copy through the DMA table (both ranges must be shared), no view objects per descriptor
    ctx.dma.copy(busAddress(ring, at + DST), busAddress(ring, at + SRC), size);
    return DescStatus.DONE;
  } catch (e) {
    if (e instanceof DmaFault) return DescStatus.DMA_FAULT;
    throw e;
  }
}

export default defineModel<WdDummy>({
  name: "wd-dummy",
  init: powerOn,
  reset: (ctx) => powerOn(ctx),
  poll(ctx, s) {
    if (s.doorbell.changed()) {
      const head = s.q.read32(QueueOffsets.head);
      // As the mdev worker does: a head more than a ring ahead of tail is not a state a client can
      // create, so it is ignored rather than walked (up to 2^32 descriptors, a hung device).
      if (((head - s.tail) >>> 0) <= RING_DEPTH) s.target = head;
    }
    if (s.tail === s.target) return false;
    while (s.tail !== s.target) {
      const at = (s.tail % RING_DEPTH) * Descriptor.SIZE;
      const status = copy(ctx, s.ring, at);
      // the status store is what the host polls: atomic, after the data was copied
      s.q.write32(RING_OFFSET + at + STATUS, status);
      s.tail = (s.tail + 1) >>> 0;
      s.completed = (s.completed + 1) >>> 0;
    }
    s.q.write32(QueueOffsets.tail, s.tail);
    s.q.write32(QueueOffsets.completed, s.completed);
    ctx.raise("done");
    return true;
  },
});
