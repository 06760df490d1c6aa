// What a program does with hzip, on top of the generated client: bring a queue pair up (its rings
// are allocated by the SDK's sq-cq engine, then their bus addresses and depths go into the pair's
// context registers and q_ctrl.en starts it), send compress / decompress requests, and read each
// request's results from the submission entry the device wrote back (the completion entry only
// names that entry: HiSilicon's queue manager works this way). On UACCE the kernel set the queue
// up already (its rings are in the queue's DUS region, the QM ioctls told the runtime where): there
// is nothing to program, and each open of the device is one queue pair.
//
// Three levels:
// - `compress(data, format)` / `decompress(data, format)` (methods, and module functions that open
//   a device for one call): bytes in, bytes out, staged through DMA memory the helper owns;
// - `compressChunked(data)`: a large input cut into chunks kept in flight together, one gzip
//   member per chunk (concatenated gzip members are one valid .gz file, RFC 1952 section 2.2);
// - `submit` / `reap`: requests over memory the caller shared (DmaRef), for pipelines.
// - `HzipPool`: the awaitable side for apps on the event loop: every queue pair driven by the
//   runtime's AsyncQueue, requests spread round robin, `await pool.compress(bytes)`.
import {
  AsyncQueue, ConfigError, RoundRobin, WarpDriveError, type DeviceOptions, type DmaBuffer, type DmaRef, type Queue, type SubmitOptions,
} from "@warpdrive/runtime";
import { HzipDevice, type QpQueue } from "@warpdrive/hzip-generated/client";
import { MAX_QUEUE_DEPTH, MAX_REQUEST_LENGTH, QUEUE_PAIRS, SQE_SIZE } from "@warpdrive/hzip-generated/constants";
import { ZipAlgorithm, ZipStatus } from "@warpdrive/hzip-generated/enums";
import { Cqe, Sqe } from "@warpdrive/hzip-generated/structs";
import { encodeCompress, encodeDecompress, type CompressParams } from "@warpdrive/hzip-generated/commands";

export type ZipFormat = "deflate" | "zlib" | "gzip";

const ALGORITHM: Record<ZipFormat, ZipAlgorithm> = {
  deflate: ZipAlgorithm.DEFLATE,
  zlib: ZipAlgorithm.ZLIB,
  gzip: ZipAlgorithm.GZIP,
};

/** "OUTPUT_OVERFLOW", or "0x7f" for a code the description does not name. */
export function statusName(status: number): string {
  for (const [name, value] of Object.entries(ZipStatus)) if (value === status) return name;
  return `0x${status.toString(16).padStart(2, "0")}`;
}

/** Statuses whose output is valid (negative compression only means the output grew). */
export function succeeded(status: number): boolean {
  return status === ZipStatus.OK || status === ZipStatus.NEGATIVE_COMPRESSION;
}

function hintFor(status: number): string | undefined {
  switch (status) {
    case ZipStatus.OUTPUT_OVERFLOW:
      return "give the request a larger destination (dst_len), or cut the input into smaller chunks";
    case ZipStatus.DATA_ERROR:
      return "the input is not a complete stream of this format: check the format (deflate, zlib, gzip) and that nothing was cut off";
    case ZipStatus.CRC_ERROR:
      return "the stream decoded but its checksum does not match: the data were damaged";
    case ZipStatus.BAD_LENGTH:
      return `lengths must be 1..${MAX_REQUEST_LENGTH} bytes`;
    case ZipStatus.DMA_FAULT:
      return "source and destination must be memory shared with this device (alloc() from it)";
    default:
      return undefined;
  }
}

/** A request finished with an error status. */
export class HzipStatusError extends WarpDriveError {
  readonly status: number;
  readonly statusName: string;
  readonly operation: "compress" | "decompress";
  readonly format: ZipFormat;
  constructor(operation: "compress" | "decompress", format: ZipFormat, status: number, where: string) {
    const name = statusName(status);
    super(`hzip ${operation} (${format}) on ${where} failed: ${name}`, { hint: hintFor(status) });
    this.status = status;
    this.statusName = name;
    this.operation = operation;
    this.format = format;
  }
}

/** One finished request, from the write-back fields of its submission entry. */
export interface ZipResult {
  tag: number;
  status: number;
  statusName: string;
  /** Input bytes consumed. */
  consumed: number;
  /** Output bytes written at the destination. */
  produced: number;
}

export interface HzipOptions extends DeviceOptions {
  /** Queue pair to use, 0..QUEUE_PAIRS-1 (default 0). */
  queuePair?: number;
  /** Ring depth, 4..MAX_QUEUE_DEPTH, a power of two (default the description's). */
  depth?: number;
  /** How long one request may take before TimeoutError (default 30 s: a level-9 8 MiB request is slow on a busy machine). */
  timeoutMs?: number;
}

/** Room that always holds `n` compressed bytes in any of the three formats (zlib's deflateBound, with headers). */
export function compressBound(n: number): number {
  return n + (n >>> 12) + (n >>> 14) + (n >>> 25) + 13 + 18 + 8;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class Hzip {
  readonly client: HzipDevice;
  readonly qp: QpQueue;
  readonly pair: number;
  readonly timeoutMs: number;
  /** Staging memory for the byte-array helpers, grown on demand. */
  #stage: DmaBuffer | undefined;
  #closed = false;

  private constructor(client: HzipDevice, qp: QpQueue, pair: number, timeoutMs: number) {
    this.client = client;
    this.qp = qp;
    this.pair = pair;
    this.timeoutMs = timeoutMs;
  }

  /** Opens the device (sim by default) and starts one queue pair. */
  static async open(options: HzipOptions = {}): Promise<Hzip> {
    const pair = options.queuePair ?? 0;
    if (!Number.isInteger(pair) || pair < 0 || pair >= QUEUE_PAIRS) {
      throw new ConfigError(`hzip queue pair ${pair} does not exist: pairs are 0..${QUEUE_PAIRS - 1}`);
    }
    const depth = options.depth;
    // Depth 2 cannot work: the completion's sq_head names the finished entry, so the SDK keeps that
    // slot until a later completion, and a 2-entry ring would then never have a free slot.
    if (depth !== undefined && !(Number.isInteger(depth) && depth >= 4 && depth <= MAX_QUEUE_DEPTH && (depth & (depth - 1)) === 0)) {
      throw new ConfigError(`hzip queue depth ${depth} must be a power of two in 4..${MAX_QUEUE_DEPTH}`);
    }
    const client = await HzipDevice.open(options);
    try {
      const qp = startPair(client, pair, depth);
      return new Hzip(client, qp, pair, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    } catch (e) {
      client.close();
      throw e;
    }
  }

  get address(): string {
    return this.client.device.address;
  }

  /** Memory shared with the device, for submit(). */
  alloc(size: number, name?: string): DmaBuffer {
    return this.client.alloc(size, name);
  }

  /** Queues one request over shared memory; returns its tag. Visible to the device at flush/reap. */
  submit(op: "compress" | "decompress", format: ZipFormat, src: DmaRef, dst: DmaRef, level = 0): number {
    const p = { format: ALGORITHM[format], src, srcLen: src.length, dst, dstLen: dst.length };
    return op === "compress" ? this.qp.compress({ ...p, level }) : this.qp.decompress(p);
  }

  flush(): void {
    this.qp.queue.flush();
  }

  /** Waits for the next completion and reads its entry's write-back (status, consumed, produced). */
  reap(timeoutMs = this.timeoutMs): ZipResult {
    const c = this.qp.recvSync(timeoutMs);
    // The results live in the submission entry the completion names. The SDK keeps that slot
    // unwritten until a later completion moves the head past it, so reading it now is safe.
    const e = Sqe.decode(this.qp.queue.sqBuffer.view, c.sqHead * SQE_SIZE);
    return { tag: c.cmdId, status: e.dw3.status, statusName: statusName(e.dw3.status), consumed: e.consumed, produced: e.produced };
  }

  /** One request, waited for; throws HzipStatusError unless it succeeded. */
  run(op: "compress" | "decompress", format: ZipFormat, src: DmaRef, dst: DmaRef, level = 0): ZipResult {
    if (this.qp.inFlight !== 0) {
      throw new WarpDriveError(`hzip ${this.address}: run() while ${this.qp.inFlight} submitted request(s) are not reaped`, {
        hint: "reap() what you submit()ted first; run() would take their completions",
      });
    }
    const tag = this.submit(op, format, src, dst, level);
    const r = this.reap();
    if (r.tag !== tag) throw new WarpDriveError(`hzip ${this.address}: completion for tag ${r.tag}, expected ${tag}`);
    if (!succeeded(r.status)) throw new HzipStatusError(op, format, r.status, this.address);
    return r;
  }

  #staging(size: number): DmaBuffer {
    if (this.#stage === undefined || this.#stage.size < size) {
      this.#stage?.free();
      this.#stage = undefined;
      this.#stage = this.client.alloc(size, "hzip staging");
    }
    return this.#stage;
  }

  /** Compresses `data` (1..MAX_REQUEST_LENGTH bytes) into one stream of `format`. */
  compress(data: Uint8Array, format: ZipFormat = "gzip", options: { level?: number } = {}): Uint8Array {
    checkLength("compress", data.length);
    const room = Math.min(compressBound(data.length), MAX_REQUEST_LENGTH);
    const buf = this.#staging(data.length + room);
    buf.bytes.set(data, 0);
    const r = this.run("compress", format, buf.ref(0, data.length), buf.ref(data.length, room), options.level ?? 0);
    return buf.bytes.slice(data.length, data.length + r.produced);
  }

  /**
   * Decompresses one complete stream (gzip: one or more members). The output size is not known in
   * advance: the first try uses gzip's ISIZE trailer (or 4x the input), and the destination grows
   * on OUTPUT_OVERFLOW up to `maxOutput` (default MAX_REQUEST_LENGTH).
   */
  decompress(data: Uint8Array, format: ZipFormat = "gzip", options: { maxOutput?: number } = {}): Uint8Array {
    checkLength("decompress", data.length);
    const limit = Math.min(options.maxOutput ?? MAX_REQUEST_LENGTH, MAX_REQUEST_LENGTH);
    let room = Math.min(limit, Math.max(4096, guessSize(data, format)));
    for (;;) {
      const buf = this.#staging(data.length + room);
      buf.bytes.set(data, 0);
      try {
        const r = this.run("decompress", format, buf.ref(0, data.length), buf.ref(data.length, room));
        return buf.bytes.slice(data.length, data.length + r.produced);
      } catch (e) {
        if (!(e instanceof HzipStatusError && e.status === ZipStatus.OUTPUT_OVERFLOW) || room >= limit) throw e;
        room = Math.min(limit, room * 2);
      }
    }
  }

  /**
   * Compresses a large input as gzip members of `chunkSize` bytes, up to `inFlight` requests on the
   * queue at once; the members concatenated are one .gz file (gunzip reads them all). Calls
   * `onChunk(i, result)` as each finishes (in order of completion).
   */
  compressChunked(data: Uint8Array, options: { chunkSize?: number; inFlight?: number; level?: number; onChunk?: (index: number, r: ZipResult) => void } = {}): Uint8Array {
    const chunk = options.chunkSize ?? 1 << 20;
    if (!(Number.isInteger(chunk) && chunk >= 1 && chunk <= MAX_REQUEST_LENGTH)) {
      throw new ConfigError(`hzip chunk size ${chunk} must be 1..${MAX_REQUEST_LENGTH}`);
    }
    if (data.length === 0) throw new RangeError("hzip compressChunked: 0 bytes; a gzip file needs at least one member of 1 byte or more");
    const slots = Math.max(1, Math.min(options.inFlight ?? 4, this.qp.queue.sqDepth - 2));
    const room = compressBound(chunk);
    const slotSize = chunk + room;
    using mem = this.client.alloc(slots * slotSize, "hzip chunks");
    const chunks = Math.ceil(data.length / chunk);
    const out: Uint8Array[] = new Array(chunks);
    const free: number[] = [];
    for (let s = slots - 1; s >= 0; s--) free.push(s);
    const byTag = new Map<number, { index: number; slot: number }>();
    let next = 0;
    let done = 0;
    while (done < chunks) {
      while (next < chunks && free.length > 0) {
        const slot = free.pop()!;
        const part = data.subarray(next * chunk, Math.min(data.length, (next + 1) * chunk));
        const at = slot * slotSize;
        mem.bytes.set(part, at);
        const tag = this.submit("compress", "gzip", mem.ref(at, part.length), mem.ref(at + chunk, room), options.level ?? 0);
        byTag.set(tag, { index: next, slot });
        next++;
      }
      this.flush();
      const r = this.reap();
      const job = byTag.get(r.tag);
      if (job === undefined) throw new WarpDriveError(`hzip ${this.address}: completion for tag ${r.tag}, which this call did not submit`);
      byTag.delete(r.tag);
      if (!succeeded(r.status)) {
        // Drain the rest so the queue is clean for the next call, then report the first failure.
        for (let left = byTag.size; left > 0; left--) this.reap();
        throw new HzipStatusError("compress", "gzip", r.status, `${this.address} (chunk ${job.index})`);
      }
      const at = job.slot * slotSize + chunk;
      out[job.index] = mem.bytes.slice(at, at + r.produced);
      free.push(job.slot);
      done++;
      options.onChunk?.(job.index, r);
    }
    return concat(out);
  }

  /** The number the device knows the pair by (completions carry it as sq_num): the pair, or on
   *  UACCE the queue number the kernel assigned. */
  get queueNumber(): number {
    return this.qp.queue.queueNumber;
  }

  /** Stops the queue pair and closes the device. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      // a device-kept queue (UACCE) is stopped by the kernel when the device closes
      if (!this.qp.queue.deviceKeepsRings) this.client.qm.qCtrl.at(this.pair).write(0);
    } finally {
      this.#stage?.free();
      this.#stage = undefined;
      this.client.close();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Requests queue pair `pair` and starts it: ring addresses and depths into its context, then enable
 *  (on UACCE the kernel did all of that: the queue is ready as it comes). */
function startPair(client: HzipDevice, pair: number, depth: number | undefined): QpQueue {
  const qp = client.requestQueue("qp", { id: pair, depth });
  if (qp.queue.deviceKeepsRings) return qp;
  const regs = client.qm;
  regs.sqBase.at(pair).write(qp.queue.sqBuffer.ref());
  regs.cqBase.at(pair).write(qp.queue.cqBuffer.ref());
  regs.qDepth.at(pair).writeFields({ sqDepth: qp.queue.sqDepth - 1, cqDepth: qp.queue.cqDepth - 1 });
  regs.qCtrl.at(pair).writeFields({ en: 1, irqEn: 1 });
  const st = regs.qStatus.at(pair).fields();
  if (st.enabled !== 1) {
    qp.release();
    throw new WarpDriveError(`hzip ${client.device.address}: queue pair ${pair} did not start (q_status ${st.badConfig ? "bad_config" : "not enabled"})`, {
      hint: "the rings must be shared with the device and the depths 2..1024",
    });
  }
  return qp;
}

function checkLength(op: string, n: number): void {
  if (n < 1 || n > MAX_REQUEST_LENGTH) {
    throw new RangeError(`hzip ${op}: ${n} bytes; one request takes 1..${MAX_REQUEST_LENGTH} bytes (use compressChunked for more)`);
  }
}

/** Output size to try first: gzip's ISIZE (last member's length mod 2^32), else 4x the input. */
function guessSize(data: Uint8Array, format: ZipFormat): number {
  if (format === "gzip" && data.length >= 18) {
    const v = new DataView(data.buffer, data.byteOffset + data.length - 4, 4);
    const isize = v.getUint32(0, true);
    if (isize > 0) return isize;
  }
  return data.length * 4;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Opens hzip (sim by default), compresses `data` in one request, closes it. */
export async function compress(data: Uint8Array, format: ZipFormat = "gzip", options: HzipOptions & { level?: number } = {}): Promise<Uint8Array> {
  using z = await Hzip.open(options);
  return z.compress(data, format, { level: options.level });
}

/** Opens hzip (sim by default), decompresses one stream, closes it. */
export async function decompress(data: Uint8Array, format: ZipFormat = "gzip", options: HzipOptions & { maxOutput?: number } = {}): Promise<Uint8Array> {
  using z = await Hzip.open(options);
  return z.decompress(data, format, { maxOutput: options.maxOutput });
}

// ---- the awaitable side ------------------------------------------------------------------------

export interface HzipPoolOptions extends DeviceOptions {
  /** Queue pairs to drive, 1..QUEUE_PAIRS (default all; on UACCE, where one open is one pair, 1). */
  pairs?: number;
  /** Ring depth per pair, as HzipOptions.depth. */
  depth?: number;
  /** Largest input of one request through the pool's staging buffers (default 256 KiB); larger
   *  inputs get memory of their own for the request. */
  bufferSize?: number;
  /** Staging buffers, i.e. requests in flight at once (default 64). */
  buffers?: number;
  /** Default per-request timeout in ms (default 30 s). */
  timeoutMs?: number;
}

/** The finished entry's write-back, read while the completion is taken (the slot is ours until the next one). */
function zipResult(q: Queue, tag: number): ZipResult {
  const sqHead = new Cqe(q.completionView).moveTo(q.completionOffset).sqHead;
  const e = new Sqe((q as unknown as { sqBuffer: DmaBuffer }).sqBuffer.view).moveTo(sqHead * SQE_SIZE);
  const status = e.dw3Status;
  return { tag, status, statusName: statusName(status), consumed: e.consumed, produced: e.produced };
}

/**
 * hzip for apps on Bun's event loop: every queue pair started and driven by the runtime's
 * AsyncQueue (batched doorbells, no blocking wait), requests spread round robin over the pairs
 * (UADK's scheduler does the same over its contexts), bytes staged through a pool of DMA buffers.
 *
 *   using z = await HzipPool.open();
 *   const gz = await z.compress(body);             // a complete gzip stream
 */
export class HzipPool {
  readonly client: HzipDevice;
  readonly queues: readonly AsyncQueue<ZipResult>[];
  readonly scheduler: RoundRobin<ZipResult>;
  readonly bufferSize: number;
  readonly #free: DmaBuffer[] = [];
  readonly #waiting: { resolve: (b: DmaBuffer) => void; reject: (e: unknown) => void }[] = [];
  readonly #pairs: number;
  #closed = false;

  private constructor(client: HzipDevice, queues: AsyncQueue<ZipResult>[], bufferSize: number, buffers: DmaBuffer[]) {
    this.client = client;
    this.queues = queues;
    this.scheduler = new RoundRobin(queues);
    this.bufferSize = bufferSize;
    this.#free = buffers;
    this.#pairs = queues.length;
  }

  static async open(options: HzipPoolOptions = {}): Promise<HzipPool> {
    const pairsIn = options.pairs;
    if (pairsIn !== undefined && (!Number.isInteger(pairsIn) || pairsIn < 1 || pairsIn > QUEUE_PAIRS)) throw new RangeError(`HzipPool: pairs must be 1..${QUEUE_PAIRS}, got ${pairsIn}`);
    const bufferSize = options.bufferSize ?? 256 * 1024;
    if (!Number.isInteger(bufferSize) || bufferSize < 1 || bufferSize > MAX_REQUEST_LENGTH) throw new RangeError(`HzipPool: bufferSize must be 1..${MAX_REQUEST_LENGTH}, got ${bufferSize}`);
    const count = options.buffers ?? 64;
    if (!Number.isInteger(count) || count < 1 || count > 4096) throw new RangeError(`HzipPool: buffers must be 1..4096, got ${count}`);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const client = await HzipDevice.open(options);
    try {
      const pairs = pairsIn ?? (client.device.backendKind === "uacce" ? 1 : QUEUE_PAIRS);
      const queues: AsyncQueue<ZipResult>[] = [];
      for (let p = 0; p < pairs; p++) {
        const qp = startPair(client, p, options.depth);
        queues.push(new AsyncQueue(qp.queue, { decode: zipResult, timeoutMs }));
      }
      const slot = bufferSize + Math.min(compressBound(bufferSize), MAX_REQUEST_LENGTH);
      const buffers = Array.from({ length: count }, (_, i) => client.alloc(slot, `hzip pool ${i}`));
      return new HzipPool(client, queues, bufferSize, buffers);
    } catch (e) {
      client.close();
      throw e;
    }
  }

  get address(): string {
    return this.client.device.address;
  }

  /** Requests in flight over all pairs. */
  get inFlight(): number {
    return this.scheduler.inFlight;
  }

  #acquire(): DmaBuffer | Promise<DmaBuffer> {
    const b = this.#free.pop();
    if (b !== undefined) return b;
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  #giveBack(b: DmaBuffer): void {
    const w = this.#closed ? undefined : this.#waiting.shift();
    if (w !== undefined) w.resolve(b);
    else this.#free.push(b);
  }

  /** One request over memory the caller shared; resolves with the write-back, rejects with
   *  HzipStatusError when the device reports a failure. */
  async submit(op: "compress" | "decompress", format: ZipFormat, src: DmaRef, dst: DmaRef, options: SubmitOptions & { level?: number } = {}): Promise<ZipResult> {
    const p: CompressParams = { format: ALGORITHM[format], src, srcLen: src.length, dst, dstLen: dst.length, level: options.level ?? 0 };
    const r = op === "compress"
      ? await this.scheduler.submit(encodeCompress, p, options)
      : await this.scheduler.submit(encodeDecompress, p, options);
    if (!succeeded(r.status)) throw new HzipStatusError(op, format, r.status, this.address);
    return r;
  }

  /** Compresses `data` (1..MAX_REQUEST_LENGTH bytes) into one stream of `format`. */
  async compress(data: Uint8Array, format: ZipFormat = "gzip", options: SubmitOptions & { level?: number } = {}): Promise<Uint8Array> {
    if (!(data instanceof Uint8Array)) throw new TypeError(`HzipPool compress: data must be a Uint8Array, got ${typeof data}`);
    checkLength("compress", data.length);
    if (this.#closed) throw new WarpDriveError(`hzip pool ${this.address} is closed`);
    const room = Math.min(compressBound(data.length), MAX_REQUEST_LENGTH);
    const own = data.length > this.bufferSize ? this.client.alloc(data.length + room, "hzip large request") : undefined;
    const buf = own ?? (await this.#acquire());
    try {
      buf.bytes.set(data, 0);
      const r = await this.submit("compress", format, buf.ref(0, data.length), buf.ref(data.length, room), options);
      return buf.bytes.slice(data.length, data.length + r.produced);
    } finally {
      // A request that timed out or was aborted may still be on the device: its buffer stays
      // pinned until it completes, and is only reused after (a pinned buffer is not freed).
      if (own !== undefined) {
        if (own.pins === 0) own.free();
      } else if (buf.pins === 0) {
        this.#giveBack(buf);
      }
    }
  }

  /** Rejects every request still pending (QueueClosedError) and closes the device. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const gone = new WarpDriveError(`hzip pool ${this.address} was closed before the request got a staging buffer`);
    for (const w of this.#waiting.splice(0)) w.reject(gone);
    try {
      for (let p = 0; p < this.#pairs; p++) {
        const q = this.queues[p]!.queue as unknown as { deviceKeepsRings: boolean };
        if (!q.deviceKeepsRings) this.client.qm.qCtrl.at(p).write(0);
      }
    } finally {
      this.client.close();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
