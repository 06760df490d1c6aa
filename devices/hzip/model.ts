// Sim model of the hzip compression accelerator (devices/hzip.yaml): a HiSilicon-ZIP-style engine
// whose "hardware" is Bun's zlib. Each 128-byte submission entry asks for one complete stream to be
// compressed or decompressed (raw deflate, zlib or gzip) from one flat buffer into another; the
// device reads the input and writes the output through the DMA table (ctx.dma), so a buffer the
// process did not share with the device is a DMA fault, reported as a status, as hardware would.
//
// How a request goes through, in the order hardware would do it:
//   1. the host writes entries into the SQ ring (host memory) and the new tail into sq_tail[n];
//   2. the model (journal on `qm`) sees the doorbell and works from its own head up to that tail;
//   3. per entry it validates, runs zlib, writes the output, then writes status / consumed /
//      produced / comp_data_length back into the entry (the real engine's write-back);
//   4. it posts a 16-byte completion whose sq_head names the entry, storing the phase word last;
//   5. after the batch it raises `cq` once (if q_ctrl.irq_en).
// The head the model works from is its own counter, never read from host memory, so a host that
// scribbles on the rings cannot make it replay or skip entries.
//
// The qm region is journaled: every client store reaches the model in order as an event and the
// model alone writes the region's memory (what client reads return). That is what makes "write the
// bases and depths, then q_ctrl.en = 1" behave like hardware: the enable sees the earlier stores,
// and q_status reads back the outcome of the enable.
//
// Offsets are written out here from the driver facts (hisi_zip_sqe, the QM's CQE) rather than taken
// from the generated package: the model is a second reading of the layout, so the sim tests catch a
// wrong offset in devices/hzip.yaml instead of agreeing with it.
import { deflateRawSync, deflateSync, gunzipSync, gzipSync, inflateRawSync, inflateSync, type ZlibOptions } from "node:zlib";
import { defineModel, DmaFault, type ModelContext, type ModelRegion } from "@warpdrive/runtime/sim/model";

// ---- the qm region -------------------------------------------------------------------------
const REG = {
  VERSION: 0x000,
  QP_NUM: 0x004,
  MAX_DEPTH: 0x008,
  COMPLETED: 0x00c,
  /** Per-pair context blocks: 0x100 + 0x20 * n. */
  CTX_BASE: 0x100,
  CTX_STRIDE: 0x20,
  /** Doorbells: 0x1000 + 8 * n (SQ tail), +4 (CQ head). */
  DB_BASE: 0x1000,
  DB_STRIDE: 8,
} as const;
/** Offsets inside one context block. */
const CTX = { SQ_BASE: 0x00, CQ_BASE: 0x08, Q_DEPTH: 0x10, Q_CTRL: 0x14, Q_STATUS: 0x18 } as const;

const VERSION = 0x00010000;
const QUEUE_PAIRS = 4;
const MAX_DEPTH = 1024;
const MAX_REQUEST = 0x800000;
const SQE_SIZE = 128;
const CQE_SIZE = 16;

const CTRL_EN = 1 << 0;
const CTRL_IRQ_EN = 1 << 1;
const STATUS_ENABLED = 1 << 0;
const STATUS_BAD_CONFIG = 1 << 1;

// ---- the submission entry (hisi_zip_sqe, byte offsets) -------------------------------------
const SQE = {
  CONSUMED: 0,
  PRODUCED: 4,
  COMP_DATA_LENGTH: 8,
  DW3: 12,
  INPUT_DATA_LENGTH: 16,
  REQ_TYPE: 36,
  BUF_TYPE: 37,
  OP: 38,
  LEVEL: 39,
  TAG: 52,
  DEST_AVAIL_OUT: 56,
  SOURCE_ADDR: 72,
  DEST_ADDR: 80,
} as const;

// ---- the completion entry (the QM's CQE) ---------------------------------------------------
const CQE = { CMD_ID: 4, SQ_HEAD: 8, SQ_NUM: 10, W7: 14 } as const;

export const Status = {
  OK: 0x00,
  BAD_REQUEST: 0x01,
  BAD_LENGTH: 0x02,
  DATA_ERROR: 0x03,
  OUTPUT_OVERFLOW: 0x04,
  DMA_FAULT: 0x05,
  NEGATIVE_COMPRESSION: 0x0d,
  CRC_ERROR: 0x10,
} as const;

const Alg = { DEFLATE: 0x01, ZLIB: 0x02, GZIP: 0x03 } as const;
const Op = { COMPRESS: 0, DECOMPRESS: 1 } as const;

/** Entries one pair may process per poll before the others get a turn (fairness, bounded poll). */
const BURST = 16;

interface Pair {
  id: number;
  enabled: boolean;
  irq: boolean;
  sqBase: number;
  cqBase: number;
  sqDepth: number;
  cqDepth: number;
  /** Next entry the device processes (its own counter). */
  head: number;
  /** Last tail the host rang. */
  tail: number;
  /** Next completion slot the device writes, and the phase it writes there. */
  cqTail: number;
  phase: number;
  /** Last head the host rang on the CQ (slots before it are free again). */
  cqHead: number;
}

interface Hzip {
  qm: ModelRegion;
  pairs: Pair[];
  completed: number;
  onWrite: (offset: number, value: bigint, width: 8 | 16 | 32 | 64) => void;
}

/** What one request came to: the write-back fields. */
export interface Outcome {
  status: number;
  consumed: number;
  produced: number;
}

function idlePair(id: number): Pair {
  return { id, enabled: false, irq: false, sqBase: 0, cqBase: 0, sqDepth: 0, cqDepth: 0, head: 0, tail: 0, cqTail: 0, phase: 1, cqHead: 0 };
}

function powerOn(ctx: ModelContext): Hzip {
  const qm = ctx.region("qm");
  qm.write32(REG.VERSION, VERSION);
  qm.write32(REG.QP_NUM, QUEUE_PAIRS);
  qm.write32(REG.MAX_DEPTH, MAX_DEPTH);
  const s: Hzip = {
    qm,
    pairs: Array.from({ length: QUEUE_PAIRS }, (_, i) => idlePair(i)),
    completed: 0,
    onWrite: () => {},
  };
  s.onWrite = (offset, value, width) => write(ctx, s, offset, value, width);
  return s;
}

/** Stores a client write into the region's memory (the model owns what reads return). */
function store(qm: ModelRegion, offset: number, value: bigint, width: 8 | 16 | 32 | 64): void {
  if (width === 64) qm.write64(offset, value);
  else if (width === 32) qm.write32(offset, Number(value));
  else if (width === 16) qm.write16(offset, Number(value));
  else qm.write8(offset, Number(value));
}

/** One client store to qm, in program order. */
function write(ctx: ModelContext, s: Hzip, offset: number, value: bigint, width: 8 | 16 | 32 | 64): void {
  const ctxEnd = REG.CTX_BASE + QUEUE_PAIRS * REG.CTX_STRIDE;
  if (offset >= REG.CTX_BASE && offset < ctxEnd) {
    const pair = s.pairs[(offset - REG.CTX_BASE) >> 5]!;
    const r = (offset - REG.CTX_BASE) & (REG.CTX_STRIDE - 1);
    if (r >= CTX.Q_STATUS) return; // q_status is read-only; bytes past it are unused
    store(s.qm, offset, value, width);
    // q_ctrl takes effect when any of its bytes is written (a narrower store still lands in it)
    if (r <= CTX.Q_CTRL && r + width / 8 > CTX.Q_CTRL) control(ctx, s, pair);
    return;
  }
  const dbEnd = REG.DB_BASE + QUEUE_PAIRS * REG.DB_STRIDE;
  if (offset >= REG.DB_BASE && offset < dbEnd && width === 32) {
    const pair = s.pairs[(offset - REG.DB_BASE) >> 3]!;
    const v = Number(value & 0xffffffffn);
    if ((offset & 7) === 0) sqDoorbell(ctx, pair, v);
    else if ((offset & 7) === 4) cqDoorbell(ctx, pair, v);
  }
  // Everything else (identity registers, statistics) is read-only: the store is dropped.
}

function base(qm: ModelRegion, at: number): number {
  return Number(qm.read64(at));
}

/** q_ctrl was written: start, stop or re-flag the pair. */
function control(ctx: ModelContext, s: Hzip, pair: Pair): void {
  const blk = REG.CTX_BASE + pair.id * REG.CTX_STRIDE;
  const ctrl = s.qm.read32(blk + CTX.Q_CTRL);
  pair.irq = (ctrl & CTRL_IRQ_EN) !== 0;
  if ((ctrl & CTRL_EN) === 0) {
    Object.assign(pair, idlePair(pair.id));
    s.qm.write32(blk + CTX.Q_STATUS, 0);
    return;
  }
  if (pair.enabled) return; // already running: only irq_en changed
  const depth = s.qm.read32(blk + CTX.Q_DEPTH);
  const sqDepth = (depth & 0xffff) + 1;
  const cqDepth = (depth >>> 16) + 1;
  const sqBase = base(s.qm, blk + CTX.SQ_BASE);
  const cqBase = base(s.qm, blk + CTX.CQ_BASE);
  const problems: string[] = [];
  if (sqDepth < 2 || sqDepth > MAX_DEPTH) problems.push(`SQ depth ${sqDepth}`);
  if (cqDepth < 2 || cqDepth > MAX_DEPTH) problems.push(`CQ depth ${cqDepth}`);
  if (problems.length === 0 && !ctx.dma.mapped(sqBase, sqDepth * SQE_SIZE)) problems.push(`SQ ring at 0x${sqBase.toString(16)} not shared`);
  if (problems.length === 0 && !ctx.dma.mapped(cqBase, cqDepth * CQE_SIZE)) problems.push(`CQ ring at 0x${cqBase.toString(16)} not shared`);
  if (problems.length > 0) {
    // Refused, as a real context load with a bad address would be: the host sees bad_config.
    ctx.log(`queue pair ${pair.id}: enable refused (${problems.join(", ")})`);
    Object.assign(pair, idlePair(pair.id), { irq: pair.irq });
    s.qm.write32(blk + CTX.Q_STATUS, STATUS_BAD_CONFIG);
    return;
  }
  Object.assign(pair, idlePair(pair.id), { enabled: true, irq: pair.irq, sqBase, cqBase, sqDepth, cqDepth });
  s.qm.write32(blk + CTX.Q_STATUS, STATUS_ENABLED);
}

function sqDoorbell(ctx: ModelContext, pair: Pair, tail: number): void {
  if (!pair.enabled) return; // a doorbell on a stopped pair rings nothing
  if (tail >= pair.sqDepth) {
    ctx.log(`queue pair ${pair.id}: SQ tail ${tail} is past the ring (depth ${pair.sqDepth}); ignored`);
    return;
  }
  pair.tail = tail;
}

function cqDoorbell(ctx: ModelContext, pair: Pair, head: number): void {
  if (!pair.enabled) return;
  if (head >= pair.cqDepth) {
    ctx.log(`queue pair ${pair.id}: CQ head ${head} is past the ring (depth ${pair.cqDepth}); ignored`);
    return;
  }
  pair.cqHead = head;
}

/** A little-endian 64-bit bus address as a number (exact below 2^53, which covers every IOVA). */
function busAddress(v: DataView, at: number): number {
  return v.getUint32(at + 4, true) * 0x100000000 + v.getUint32(at, true);
}

function zlibOptions(level: number, limit?: number): ZlibOptions {
  const o: ZlibOptions = {};
  if (level !== 0) o.level = level;
  if (limit !== undefined) o.maxOutputLength = limit;
  return o;
}

/** Maps a zlib failure to the status the engine reports; anything that is not zlib's is rethrown. */
function decompressFailure(e: unknown): number {
  const err = e as { code?: unknown; message?: unknown };
  if (err?.code === "ERR_BUFFER_TOO_LARGE") return Status.OUTPUT_OVERFLOW;
  if (typeof err?.code === "string" && err.code.startsWith("Z_")) {
    // zlib reports a checksum mismatch (Adler-32 / CRC-32 / ISIZE) as a data error with this wording
    const msg = String(err.message);
    return /incorrect (data|length) check/.test(msg) ? Status.CRC_ERROR : Status.DATA_ERROR;
  }
  throw e;
}

/**
 * Runs one request described by the entry `e` (a view of the SQE in host memory). Exported for
 * unit tests of the status mapping; the model calls it from poll().
 */
export function execute(ctx: Pick<ModelContext, "dma">, e: DataView): Outcome {
  const alg = e.getUint8(SQE.REQ_TYPE);
  const op = e.getUint8(SQE.OP);
  const level = e.getUint8(SQE.LEVEL);
  const len = e.getUint32(SQE.INPUT_DATA_LENGTH, true);
  const avail = e.getUint32(SQE.DEST_AVAIL_OUT, true);
  const fail = (status: number): Outcome => ({ status, consumed: 0, produced: 0 });
  if (e.getUint8(SQE.BUF_TYPE) !== 0 || (op !== Op.COMPRESS && op !== Op.DECOMPRESS)) return fail(Status.BAD_REQUEST);
  if (alg !== Alg.DEFLATE && alg !== Alg.ZLIB && alg !== Alg.GZIP) return fail(Status.BAD_REQUEST);
  if (level > 9) return fail(Status.BAD_REQUEST);
  if (len === 0 || len > MAX_REQUEST || avail === 0 || avail > MAX_REQUEST) return fail(Status.BAD_LENGTH);
  const src = busAddress(e, SQE.SOURCE_ADDR);
  const dst = busAddress(e, SQE.DEST_ADDR);
  // The whole destination window must be the process's memory, not just what this output needs:
  // the engine may write anywhere in it.
  if (!ctx.dma.mapped(src, len) || !ctx.dma.mapped(dst, avail)) return fail(Status.DMA_FAULT);
  let out: Uint8Array;
  try {
    const input = ctx.dma.view(src, len);
    if (op === Op.COMPRESS) {
      const o = zlibOptions(level);
      out = alg === Alg.DEFLATE ? deflateRawSync(input, o) : alg === Alg.ZLIB ? deflateSync(input, o) : gzipSync(input, o);
      if (out.length > avail) return fail(Status.OUTPUT_OVERFLOW);
    } else {
      // maxOutputLength makes zlib stop at the room there is (no decompression bomb in the model)
      const o = zlibOptions(0, avail);
      try {
        out = alg === Alg.DEFLATE ? inflateRawSync(input, o) : alg === Alg.ZLIB ? inflateSync(input, o) : gunzipSync(input, o);
      } catch (err) {
        return fail(decompressFailure(err));
      }
    }
    ctx.dma.write(dst, out);
  } catch (err) {
    if (err instanceof DmaFault) return fail(Status.DMA_FAULT);
    throw err;
  }
  const status = op === Op.COMPRESS && out.length > len ? Status.NEGATIVE_COMPRESSION : Status.OK;
  return { status, consumed: len, produced: out.length };
}

/** Writes the results into the entry, then the completion (phase word last). False: ring unreachable. */
function complete(ctx: ModelContext, pair: Pair, entry: DataView, index: number, r: Outcome, op: number): boolean {
  entry.setUint32(SQE.CONSUMED, r.consumed, true);
  entry.setUint32(SQE.PRODUCED, r.produced, true);
  entry.setUint32(SQE.COMP_DATA_LENGTH, op === Op.COMPRESS ? r.produced : r.consumed, true);
  entry.setUint32(SQE.DW3, r.status, true);
  let slot: Uint8Array;
  try {
    slot = ctx.dma.view(pair.cqBase + pair.cqTail * CQE_SIZE, CQE_SIZE);
  } catch (e) {
    if (e instanceof DmaFault) return false;
    throw e;
  }
  const v = new DataView(slot.buffer, slot.byteOffset, CQE_SIZE);
  v.setUint32(0, 0, true);
  v.setUint16(CQE.CMD_ID, entry.getUint16(SQE.TAG, true), true);
  v.setUint16(6, 0, true);
  v.setUint16(CQE.SQ_HEAD, index, true);
  v.setUint16(CQE.SQ_NUM, pair.id, true);
  v.setUint16(12, 0, true);
  // The phase word is what the host polls (Atomics.load): stored last, sequentially consistent, so
  // the write-back above and the rest of the CQE are visible before the host sees the new phase.
  Atomics.store(new Uint16Array(slot.buffer, slot.byteOffset + CQE.W7, 1), 0, pair.phase);
  pair.cqTail++;
  if (pair.cqTail === pair.cqDepth) {
    pair.cqTail = 0;
    pair.phase ^= 1;
  }
  return true;
}

/** Stops a pair whose rings became unreachable (the host unshared them while it ran). */
function breakPair(ctx: ModelContext, s: Hzip, pair: Pair, why: string): void {
  ctx.log(`queue pair ${pair.id}: stopped, ${why}`);
  Object.assign(pair, idlePair(pair.id));
  s.qm.write32(REG.CTX_BASE + pair.id * REG.CTX_STRIDE + CTX.Q_STATUS, STATUS_BAD_CONFIG);
}

export default defineModel<Hzip>({
  name: "hzip",
  journal: ["qm"],
  init: powerOn,
  reset: (ctx) => powerOn(ctx),
  poll(ctx, s) {
    ctx.writes("qm").drain(s.onWrite);
    let worked = false;
    for (const pair of s.pairs) {
      if (!pair.enabled || pair.head === pair.tail) continue;
      let posted = 0;
      while (pair.head !== pair.tail && posted < BURST) {
        // A full CQ is not work: the host's cq_head doorbell comes through the journal.
        if ((pair.cqTail + 1) % pair.cqDepth === pair.cqHead) break;
        let entry: DataView;
        try {
          const b = ctx.dma.view(pair.sqBase + pair.head * SQE_SIZE, SQE_SIZE);
          entry = new DataView(b.buffer, b.byteOffset, SQE_SIZE);
        } catch (e) {
          if (!(e instanceof DmaFault)) throw e;
          breakPair(ctx, s, pair, `its SQ ring is no longer shared (${e.message})`);
          break;
        }
        const op = entry.getUint8(SQE.OP);
        const r = execute(ctx, entry);
        // the statistics register moves before the completion is visible, so a host that has
        // seen the completion reads a count that includes it
        s.completed = (s.completed + 1) >>> 0;
        s.qm.write32(REG.COMPLETED, s.completed);
        if (!complete(ctx, pair, entry, pair.head, r, op)) {
          breakPair(ctx, s, pair, "its CQ ring is no longer shared");
          break;
        }
        pair.head = pair.head + 1 === pair.sqDepth ? 0 : pair.head + 1;
        posted++;
      }
      if (posted > 0) {
        worked = true;
        if (pair.irq) ctx.raise("cq");
      }
      if (pair.enabled && pair.head !== pair.tail && (pair.cqTail + 1) % pair.cqDepth !== pair.cqHead) worked = true;
    }
    return worked;
  },
});
