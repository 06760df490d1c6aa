// Shared by the reliability tests: the faulty device's queue setup (what a driver's create-queue
// command does: tell the device where the rings are) and command encoders.
import type { Device, DmaRef, Encoder, SqCqQueue } from "@warpdrive/runtime";
import { FAULTY } from "./models/specs.ts";

export const bar = (dev: Device) => dev.region("bar0").io;
/** Switches the model's behaviour and waits until it works in the new mode (MODE_ACK), so no
 *  request sent afterwards can meet a poll that read the old mode. */
export function setMode(dev: Device, mode: number): void {
  const io = bar(dev);
  io.write32(FAULTY.MODE, mode);
  const t0 = performance.now();
  while (io.read32(FAULTY.MODE_ACK) !== mode) {
    if (performance.now() - t0 > 10_000) throw new Error(`the faulty model did not take mode ${mode} (is it running?)`);
    Bun.sleepSync(0);
  }
}

/** Lets `n` more held commands (MODE_HOLD) complete, in order. */
export function release(dev: Device, n: number): void {
  const io = bar(dev);
  io.write32(FAULTY.RELEASE, (io.read32(FAULTY.RELEASE) + n) >>> 0);
}

/** Requests sq/cq queue `name` id and enables it on the device. */
export function openSqCq(dev: Device, name: "admin" | "io", id?: number): SqCqQueue {
  const q = dev.requestQueue(name, { id }) as SqCqQueue;
  const io = bar(dev);
  const cfg = FAULTY.QBASE + q.id * FAULTY.QSTRIDE;
  io.write64(cfg + FAULTY.SQ_BASE, BigInt(dev.dma.addressOf(q.sqBuffer.ref(), "sq_base")));
  io.write64(cfg + FAULTY.CQ_BASE, BigInt(dev.dma.addressOf(q.cqBuffer.ref(), "cq_base")));
  io.write32(cfg + FAULTY.SQ_DEPTH, q.sqDepth);
  io.write32(cfg + FAULTY.CQ_DEPTH, q.cqDepth);
  io.write32(cfg + FAULTY.ENABLE, 1);
  return q;
}

/** Disables the queue on the device (its doorbells reset), then releases it. */
export function closeSqCq(dev: Device, q: SqCqQueue): void {
  const io = bar(dev);
  const cfg = FAULTY.QBASE + q.id * FAULTY.QSTRIDE;
  io.write32(cfg + FAULTY.ENABLE, 0);
  // Wait for the model to delete the queue: an enable written right after could otherwise land
  // before it ever saw the 0, and it would keep the old rings.
  const t0 = performance.now();
  while (io.read32(cfg + FAULTY.ACTIVE) !== 0) {
    if (performance.now() - t0 > 10_000) throw new Error(`the faulty model did not delete queue ${q.id} (is it running?)`);
    Bun.sleepSync(0);
  }
  q.release();
}

export const echo = (value: number): Encoder => (v, o) => {
  v.setUint8(o, FAULTY.OP_ECHO);
  v.setUint32(o + 4, value, true);
};

/** FILL: the device writes `value & 0xff` into the buffer window (a dma-address field, resolved
 *  through the encoder's resolver like generated code does). */
export const fill = (ref: DmaRef, value: number): Encoder => (v, o, dma) => {
  v.setUint8(o, FAULTY.OP_FILL);
  v.setUint32(o + 4, value, true);
  v.setBigUint64(o + 8, BigInt(dma.addressOf(ref, "buf")), true);
  v.setUint32(o + 16, ref.length, true);
};

/** SUM: the device reads the buffer window and returns the sum of its bytes. */
export const sum = (ref: DmaRef): Encoder => (v, o, dma) => {
  v.setUint8(o, FAULTY.OP_SUM);
  v.setBigUint64(o + 8, BigInt(dma.addressOf(ref, "buf")), true);
  v.setUint32(o + 16, ref.length, true);
};

export const result = (c: { view: DataView; offset: number }) => c.view.getUint32(c.offset, true);
/** Status code of an sq/cq completion (the phase bit taken off). */
export const code = (c: { status: number }) => c.status >>> 1;

/** The ring queue's entry: value in, result and status written back by the device. */
export const ringEntry = (value: number): Encoder => (v, o) => v.setUint32(o, value, true);
