// Sim model of the DSA-style copy/CRC engine (devices/dsa-copy.yaml).
//
// Descriptors arrive whole through the portal mailbox (ctx.portal): queue n's portal is at
// n * PORTAL_STRIDE in BAR 2. The model runs each descriptor to the end before the next, in the
// order they were stored (one engine per device), so a drain completes at once: everything before
// it has completed. Each operation is done for real through the DMA table: an address the client
// has not shared is a page fault (PAGE_FAULT_NOBOF, fault_addr, the write bit), nothing is written.
//
// The completion record is written the way software relies on: every other byte first, then the
// status byte with one atomic store, so a client that sees a status sees the whole record. It is
// written when completion_addr_valid is set and either request_completion is set or the operation
// did not succeed (the header's RCR rule); request_interrupt raises `completion` afterwards.
//
// Choices the public headers do not settle, made here and stated:
// - CRC: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) started from ~seed and inverted at
//   the end, so seed 0 gives the standard CRC-32C and a previous result chains as the next seed.
// - compare: bytes_completed is the offset of the first difference (0 when equal).
// - limits: MAX_TRANSFER_SIZE and MAX_BATCH_SIZE from the description; a transfer size of 0 is
//   XFER_ERANGE.
import { defineModel, DmaFault, type ModelContext, type PortalLog } from "@warpdrive/runtime/sim/model";
import { MAX_BATCH_SIZE, MAX_TRANSFER_SIZE, PORTAL_STRIDE } from "@warpdrive/dsa-copy-generated/constants";
import { DsaOpcode, DsaStatus } from "@warpdrive/dsa-copy-generated/enums";
import { CompletionRecord, Descriptor } from "@warpdrive/dsa-copy-generated/structs";

const D = Descriptor.LAYOUT;
const R = CompletionRecord.LAYOUT;
const OP_FLAGS = D.opFlags.offset;
const FLAG_CRAV = 1 << D.opFlags.bits.completionAddrValid.lsb;
const FLAG_RCR = 1 << D.opFlags.bits.requestCompletion.lsb;
const FLAG_RCI = 1 << D.opFlags.bits.requestInterrupt.lsb;
const FLAG_CR = 1 << D.opFlags.bits.checkResult.lsb;
const OPCODE_SHIFT = D.opFlags.bits.opcode.lsb;
const COMPLETION = D.completionAddr.offset;
const SRC = D.srcAddr.offset; // also pattern (fill) and desc_list_addr (batch)
const DST = D.dstAddr.offset; // also src2 (compare) and comp_pattern (compare-pattern)
const SIZE = D.xferSize.offset; // also desc_count (batch)
const RSVD1 = 38;
const OP_SPECIFIC = D.opSpecific.offset; // expected_res (u8), dest2 (u64), crc_seed (u32)
const STATUS_WRITE_BIT = 1 << R.status.bits.faultWrite.lsb;
const PORTALS_PER_DEVICE = 4;

/** CRC-32C table for the reflected polynomial 0x82F63B78. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `bytes` continuing from `seed` (0 for a fresh CRC). */
export function crc32c(bytes: Uint8Array, seed = 0): number {
  let c = ~seed >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** What one operation produced, before it goes into a completion record. */
interface Outcome {
  status: number;
  result: number;
  bytes: number;
  faultAddr: number;
  faultWrite: boolean;
  crc: number;
}

interface State {
  portal: PortalLog;
  out: Outcome;
  record: Uint8Array;
  recordView: DataView;
  completed: number;
}

function u64(v: DataView, at: number): number {
  return v.getUint32(at + 4, true) * 0x100000000 + v.getUint32(at, true);
}

function fresh(o: Outcome): Outcome {
  o.status = DsaStatus.SUCCESS;
  o.result = 0;
  o.bytes = 0;
  o.faultAddr = 0;
  o.faultWrite = false;
  o.crc = 0;
  return o;
}

/** A DMA fault as the record reports it. */
function fault(o: Outcome, e: unknown): void {
  if (!(e instanceof DmaFault)) throw e;
  o.status = DsaStatus.PAGE_FAULT_NOBOF;
  o.faultAddr = Number(e.iova);
  o.faultWrite = e.write;
}

/** A destination the device is about to write: a page fault (write) when it is not shared, before anything is written. */
function writable(ctx: ModelContext, o: Outcome, iova: number, size: number): boolean {
  if (ctx.dma.mapped(iova, size)) return true;
  o.status = DsaStatus.PAGE_FAULT_NOBOF;
  o.faultAddr = iova;
  o.faultWrite = true;
  return false;
}

function sizeOk(o: Outcome, size: number): boolean {
  if (size === 0 || size > MAX_TRANSFER_SIZE) {
    o.status = DsaStatus.XFER_ERANGE;
    return false;
  }
  return true;
}

/** Runs one descriptor (`d` at byte `at`); `inBatch` refuses nested batch and drain. */
function execute(ctx: ModelContext, s: State, d: DataView, at: number, inBatch: boolean): Outcome {
  const o = fresh(s.out);
  const flags = d.getUint32(at + OP_FLAGS, true);
  const opcode = flags >>> OPCODE_SHIFT;
  if (d.getUint16(at + RSVD1, true) !== 0) {
    o.status = DsaStatus.NOZERO_RESERVE;
    return o;
  }
  const size = d.getUint32(at + SIZE, true);
  try {
    switch (opcode) {
      case DsaOpcode.NOOP:
        return o;
      case DsaOpcode.DRAIN:
        // every earlier descriptor has completed: this model runs them one after the other
        if (inBatch) o.status = DsaStatus.BAD_OPCODE;
        return o;
      case DsaOpcode.MEMMOVE:
        if (!sizeOk(o, size)) return o;
        ctx.dma.copy(u64(d, at + DST), u64(d, at + SRC), size);
        o.bytes = size;
        return o;
      case DsaOpcode.MEMFILL: {
        if (!sizeOk(o, size)) return o;
        const lo = d.getUint32(at + SRC, true);
        const hi = d.getUint32(at + SRC + 4, true);
        if (!writable(ctx, o, u64(d, at + DST), size)) return o;
        const dst = ctx.dma.view(u64(d, at + DST), size);
        const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
        let i = 0;
        for (; i + 8 <= size; i += 8) {
          dv.setUint32(i, lo, true);
          dv.setUint32(i + 4, hi, true);
        }
        for (; i < size; i++) dst[i] = ((i & 7) < 4 ? lo >>> ((i & 3) * 8) : hi >>> ((i & 3) * 8)) & 0xff;
        o.bytes = size;
        return o;
      }
      case DsaOpcode.COMPARE:
      case DsaOpcode.COMPVAL: {
        if (!sizeOk(o, size)) return o;
        const a = ctx.dma.view(u64(d, at + SRC), size);
        let diff = -1;
        if (opcode === DsaOpcode.COMPARE) {
          const b = ctx.dma.view(u64(d, at + DST), size);
          for (let i = 0; i < size; i++) if (a[i] !== b[i]) { diff = i; break; }
        } else {
          for (let i = 0; i < size; i++) if (a[i] !== d.getUint8(at + DST + (i & 7))) { diff = i; break; }
        }
        o.result = diff < 0 ? 0 : 1;
        o.bytes = diff < 0 ? 0 : diff;
        if (flags & FLAG_CR && o.result !== d.getUint8(at + OP_SPECIFIC)) o.status = DsaStatus.SUCCESS_PRED;
        return o;
      }
      case DsaOpcode.DUALCAST: {
        if (!sizeOk(o, size)) return o;
        const dst = u64(d, at + DST);
        const dst2 = u64(d, at + OP_SPECIFIC);
        if (dst % 4096 !== dst2 % 4096) {
          o.status = DsaStatus.DCAST_ERR;
          return o;
        }
        // both destinations checked before either is written: a fault writes nothing
        if (!writable(ctx, o, dst, size) || !writable(ctx, o, dst2, size)) return o;
        ctx.dma.copy(dst, u64(d, at + SRC), size);
        ctx.dma.copy(dst2, u64(d, at + SRC), size);
        o.bytes = size;
        return o;
      }
      case DsaOpcode.CRCGEN:
      case DsaOpcode.COPY_CRC: {
        if (!sizeOk(o, size)) return o;
        const seed = d.getUint32(at + OP_SPECIFIC, true);
        const src = u64(d, at + SRC);
        if (opcode === DsaOpcode.COPY_CRC) {
          ctx.dma.copy(u64(d, at + DST), src, size);
        }
        o.crc = crc32c(ctx.dma.view(src, size), seed);
        o.bytes = size;
        return o;
      }
      case DsaOpcode.BATCH:
        if (inBatch) {
          o.status = DsaStatus.BAD_OPCODE;
          return o;
        }
        return batch(ctx, s, u64(d, at + SRC), size);
      default:
        o.status = DsaStatus.BAD_OPCODE;
        return o;
    }
  } catch (e) {
    fault(o, e);
    return o;
  }
}

/** A batch: its members run in order, each with its own completion record; the batch's record counts them. */
function batch(ctx: ModelContext, s: State, list: number, count: number): Outcome {
  const o = s.out;
  if (list % 64 !== 0) {
    o.status = DsaStatus.DESCLIST_ALIGN;
    return o;
  }
  if (count < 2 || count > MAX_BATCH_SIZE) {
    o.status = DsaStatus.DESC_CNT_ERANGE;
    return o;
  }
  let members: Uint8Array;
  try {
    members = ctx.dma.read(list, count * Descriptor.SIZE); // a copy: the list is read once, as the device fetches it
  } catch (e) {
    fault(o, e);
    return o;
  }
  const v = new DataView(members.buffer, members.byteOffset, members.byteLength);
  let failed = false;
  for (let i = 0; i < count; i++) {
    const r = execute(ctx, s, v, i * Descriptor.SIZE, true);
    if (r.status !== DsaStatus.SUCCESS) failed = true;
    complete(ctx, s, v, i * Descriptor.SIZE, r);
  }
  const b = fresh(s.out);
  b.status = failed ? DsaStatus.BATCH_FAIL : DsaStatus.SUCCESS;
  b.bytes = count; // descs_completed
  return b;
}

/** Writes the descriptor's completion record (status byte last) and raises the interrupt it asks for. */
function complete(ctx: ModelContext, s: State, d: DataView, at: number, o: Outcome): void {
  const flags = d.getUint32(at + OP_FLAGS, true);
  if (flags & FLAG_CRAV && (flags & FLAG_RCR || o.status !== DsaStatus.SUCCESS)) {
    const cra = u64(d, at + COMPLETION);
    if (cra % CompletionRecord.SIZE !== 0) {
      ctx.log(`completion record address 0x${cra.toString(16)} is not 32-byte aligned: no record written`);
    } else {
      const r = s.recordView;
      s.record.fill(0);
      r.setUint8(R.result.offset, o.result);
      r.setUint32(R.bytesCompleted.offset, o.bytes, true);
      r.setUint32(R.faultAddr.offset, o.faultAddr >>> 0, true);
      r.setUint32(R.faultAddr.offset + 4, Math.floor(o.faultAddr / 0x100000000), true);
      r.setUint32(R.crcVal.offset, o.crc, true);
      try {
        const rec = ctx.dma.view(cra, CompletionRecord.SIZE);
        rec.set(s.record.subarray(1), 1);
        // the status last, in one atomic store: whoever sees it sees the record
        Atomics.store(rec, R.status.offset, o.status | (o.faultWrite ? STATUS_WRITE_BIT : 0));
      } catch (e) {
        if (!(e instanceof DmaFault)) throw e;
        ctx.log(`completion record address 0x${cra.toString(16)} is not shared with the device: no record written`);
      }
    }
  }
  if (flags & FLAG_RCI) ctx.raise("completion");
}

function powerOn(ctx: ModelContext): State {
  const record = new Uint8Array(CompletionRecord.SIZE);
  return {
    portal: ctx.portal("portals"),
    out: { status: 0, result: 0, bytes: 0, faultAddr: 0, faultWrite: false, crc: 0 },
    record,
    recordView: new DataView(record.buffer),
    completed: 0,
  };
}

export default defineModel<State>({
  name: "dsa-copy",
  init: powerOn,
  reset: (ctx) => powerOn(ctx),
  poll(ctx, s) {
    return (
      s.portal.drain((offset, d) => {
        // only the queues' unlimited portals (page 0 of each queue's four) are modelled
        if (offset % PORTAL_STRIDE !== 0 || offset / PORTAL_STRIDE >= PORTALS_PER_DEVICE) {
          ctx.log(`descriptor stored at portal offset 0x${offset.toString(16)}, which is no queue's portal: dropped`);
          return;
        }
        const o = execute(ctx, s, d, 0, false);
        complete(ctx, s, d, 0, o);
        s.completed++;
      }, 64) > 0
    );
  },
});
