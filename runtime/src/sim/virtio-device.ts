// A virtio 1.x PCI device for sim models: the transport half every virtio device shares, so a model
// (devices/virtio-rng/model.ts, devices/virtio-blk/model.ts) only says what one request does.
//
// What it follows (virtio 1.2):
// - Common configuration (4.1.4.3), journaled: the select registers switch what device_feature and
//   the queue registers read; writing 0 to device_status resets the device; FEATURES_OK stays set
//   only when the driver accepted a subset of what was offered, VERSION_1 included (3.1.1); a
//   queue_msix_vector the device has no vector for reads back NO_VECTOR.
// - Notifications (4.1.4.4), journaled: a store of queue n's index at n * notify_off_multiplier.
//   The device looks at a queue only when notified, then processes every available chain; with
//   VIRTIO_F_EVENT_IDX it publishes avail_event and looks again after publishing it (no lost
//   notification), without it USED_F_NO_NOTIFY stays clear.
// - Chains (2.7.5, 2.7.13): direct (NEXT) and indirect tables, device-readable before
//   device-writable, no loops (a chain longer than the queue size, or an indirect table longer than
//   its own entry count, is an error). An error in a chain, or a DMA fault, is what QEMU treats as
//   a broken device: DEVICE_NEEDS_RESET is set and the queue stops (2.1.2).
// - Interrupts: after a round of used entries, the queue's MSI-X vector is raised when the driver
//   asked (used_event crossed with EVENT_IDX, else AVAIL_F_NO_INTERRUPT clear).
import type { ModelContext, ModelRegion, DeviceModel, WriteLog } from "./model.ts";
import { DmaFault } from "./model.ts";
import { SIM_NOTIFY_MULTIPLIER } from "./control.ts";
import {
  AVAIL_F_NO_INTERRUPT, bit, COMMON, DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, DESC_SIZE, F_ACCESS_PLATFORM, F_EVENT_IDX, F_INDIRECT_DESC, F_VERSION_1, needEvent,
  NO_VECTOR, STATUS_DEVICE_NEEDS_RESET, STATUS_DRIVER_OK, STATUS_FEATURES_OK,
} from "../virtio/constants.ts";

/** One buffer of a chain, in the driver's memory. */
export interface VirtioBuffer {
  addr: number;
  len: number;
}

/** A chain as the device sees it: what it may read, then what it may write. */
export interface VirtioChain {
  readable: VirtioBuffer[];
  writable: VirtioBuffer[];
}

/** A request the device cannot make sense of: the device marks itself broken (DEVICE_NEEDS_RESET). */
export class VirtioDeviceError extends Error {}

export interface VirtioModelSpec<S> {
  name: string;
  /** Region names of the common configuration and notification structures (journaled: every store counts). */
  regions: { common: string; notify: string };
  /** Device-specific feature bits offered (the transport's are added: VERSION_1, ACCESS_PLATFORM,
   *  INDIRECT_DESC and EVENT_IDX unless `indirect`/`eventIdx` say false). */
  features: bigint;
  indirect?: boolean;
  eventIdx?: boolean;
  /** Number of virtqueues (or a function of the description) and the largest size each may have. */
  queues: number | ((spec: ModelContext["spec"]) => number);
  maxQueueSize: number;
  /** Power-on: write the device-specific configuration, return the device's own state. */
  init(ctx: ModelContext, config: ModelRegion | undefined): S;
  /** Runs one chain of queue `queue`; returns the bytes written into its writable part (the used length). */
  request(ctx: ModelContext, state: S, queue: number, chain: VirtioChain, features: bigint): number;
}

interface Queue {
  size: number;
  vector: number;
  enable: number;
  desc: number;
  driver: number;
  device: number;
  lastAvail: number;
  used: number;
  kicked: boolean;
}

interface State<S> {
  common: ModelRegion;
  commonLog: WriteLog;
  notifyLog: WriteLog;
  isr: ModelRegion | undefined;
  config: ModelRegion | undefined;
  offered: bigint;
  driverFeatures: bigint;
  deviceSelect: number;
  driverSelect: number;
  select: number;
  status: number;
  broken: boolean;
  queues: Queue[];
  queueCount: number;
  vectors: number;
  device: S;
}

function newQueue(): Queue {
  return { size: 0, vector: NO_VECTOR, enable: 0, desc: 0, driver: 0, device: 0, lastAvail: 0, used: 0, kicked: false };
}

function u64(lo: number, hi: number): number {
  return hi * 0x100000000 + lo;
}

/** A device model of the virtio PCI transport around `spec`'s requests. */
export function virtioModel<S>(spec: VirtioModelSpec<S>): DeviceModel<State<S>> {
  let offered = spec.features | bit(F_VERSION_1) | bit(F_ACCESS_PLATFORM);
  if (spec.indirect !== false) offered |= bit(F_INDIRECT_DESC);
  if (spec.eventIdx !== false) offered |= bit(F_EVENT_IDX);
  const names = (ctx: ModelContext) => {
    const v = ctx.spec.virtio;
    if (v === undefined) ctx.fault(`${spec.name}: the description has no virtio block`);
    return v;
  };

  function powerOn(ctx: ModelContext): State<S> {
    const v = names(ctx);
    const common = ctx.region(v.common);
    const config = v.config === undefined ? undefined : ctx.region(v.config);
    const s: State<S> = {
      common,
      commonLog: ctx.writes(v.common),
      notifyLog: ctx.writes(v.notify),
      isr: v.isr === undefined ? undefined : ctx.region(v.isr),
      config,
      offered,
      driverFeatures: 0n,
      deviceSelect: 0,
      driverSelect: 0,
      select: 0,
      status: 0,
      broken: false,
      queues: [],
      queueCount: typeof spec.queues === "function" ? spec.queues(ctx.spec) : spec.queues,
      // the MSI-X table covers every vector the description names
      vectors: Math.max(0, ...ctx.spec.interrupts.filter((i) => i.kind === "msix").map((i) => i.index + 1)),
      device: spec.init(ctx, config),
    };
    writeRegisters(s);
    return s;
  }

  /** Puts what the registers read into the (journaled, model-written) common region. */
  function writeRegisters(s: State<S>): void {
    const c = s.common;
    c.write32(COMMON.deviceFeatureSelect, s.deviceSelect);
    c.write32(COMMON.deviceFeature, s.deviceSelect === 0 ? Number(s.offered & 0xffffffffn) : s.deviceSelect === 1 ? Number(s.offered >> 32n) : 0);
    c.write32(COMMON.driverFeatureSelect, s.driverSelect);
    c.write32(COMMON.driverFeature, s.driverSelect === 0 ? Number(s.driverFeatures & 0xffffffffn) : s.driverSelect === 1 ? Number(s.driverFeatures >> 32n) : 0);
    c.write16(COMMON.numQueues, s.queueCount);
    c.write8(COMMON.deviceStatus, s.status);
    c.write8(COMMON.configGeneration, 0);
    c.write16(COMMON.queueSelect, s.select);
    const q = s.queues[s.select];
    c.write16(COMMON.queueSize, q === undefined ? 0 : q.size);
    c.write16(COMMON.queueMsixVector, q === undefined ? NO_VECTOR : q.vector);
    c.write16(COMMON.queueEnable, q === undefined ? 0 : q.enable);
    c.write16(COMMON.queueNotifyOff, q === undefined ? 0 : s.select);
    for (const [off, val] of [[COMMON.queueDesc, q?.desc ?? 0], [COMMON.queueDriver, q?.driver ?? 0], [COMMON.queueDevice, q?.device ?? 0]] as const) {
      c.write32(off, val >>> 0);
      c.write32(off + 4, Math.floor(val / 0x100000000) >>> 0);
    }
  }

  function resetTransport(s: State<S>): void {
    s.driverFeatures = 0n;
    s.deviceSelect = s.driverSelect = s.select = 0;
    s.status = 0;
    s.broken = false;
    s.queues = Array.from({ length: s.queueCount }, newQueue);
    for (const q of s.queues) q.size = spec.maxQueueSize;
  }

  /** One store to the common configuration. 64-bit fields arrive as halves (or whole). */
  function onCommonWrite(ctx: ModelContext, s: State<S>, off: number, value: bigint, width: number): void {
    const v = Number(BigInt.asUintN(32, value));
    const q = s.queues[s.select];
    const setHalf = (cur: number, base: number) => {
      if (width === 64) return Number(value);
      const lo = cur % 0x100000000, hi = Math.floor(cur / 0x100000000);
      return off === base ? u64(v, hi) : u64(lo, v);
    };
    switch (off) {
      case COMMON.deviceFeatureSelect: s.deviceSelect = v; break;
      case COMMON.driverFeatureSelect: s.driverSelect = v; break;
      case COMMON.driverFeature:
        if (s.driverSelect === 0) s.driverFeatures = (s.driverFeatures & ~0xffffffffn) | BigInt(v);
        else if (s.driverSelect === 1) s.driverFeatures = (s.driverFeatures & 0xffffffffn) | (BigInt(v) << 32n);
        break;
      case COMMON.configMsixVector: break; // no configuration changes to announce
      case COMMON.deviceStatus: {
        if (v === 0) {
          resetTransport(s);
          break;
        }
        let st = v & 0xff;
        if (st & STATUS_FEATURES_OK && !(s.status & STATUS_FEATURES_OK)) {
          const ok = (s.driverFeatures & ~s.offered) === 0n && (s.driverFeatures & bit(F_VERSION_1)) !== 0n;
          if (!ok) st &= ~STATUS_FEATURES_OK;
        }
        s.status = st | (s.status & STATUS_DEVICE_NEEDS_RESET);
        break;
      }
      case COMMON.queueSelect: s.select = v & 0xffff; break;
      case COMMON.queueSize: if (q !== undefined && q.enable === 0) q.size = v & 0xffff; break;
      case COMMON.queueMsixVector: if (q !== undefined) q.vector = v < s.vectors ? v : NO_VECTOR; break;
      case COMMON.queueEnable:
        if (q !== undefined && (v & 1) === 1 && q.enable === 0) {
          if (q.size === 0 || (q.size & (q.size - 1)) !== 0 || q.size > spec.maxQueueSize) ctx.log(`queue ${s.select} enabled with size ${q.size}`);
          q.enable = 1;
          q.lastAvail = 0;
          q.used = 0;
        }
        break;
      case COMMON.queueDesc: case COMMON.queueDesc + 4: if (q !== undefined && q.enable === 0) q.desc = setHalf(q.desc, COMMON.queueDesc); break;
      case COMMON.queueDriver: case COMMON.queueDriver + 4: if (q !== undefined && q.enable === 0) q.driver = setHalf(q.driver, COMMON.queueDriver); break;
      case COMMON.queueDevice: case COMMON.queueDevice + 4: if (q !== undefined && q.enable === 0) q.device = setHalf(q.device, COMMON.queueDevice); break;
      default: break; // read-only registers ignore stores
    }
  }

  function broken(ctx: ModelContext, s: State<S>, why: string): void {
    ctx.log(`device error, needs reset: ${why}`);
    s.broken = true;
    s.status |= STATUS_DEVICE_NEEDS_RESET;
    s.common.write8(COMMON.deviceStatus, s.status);
  }

  /** Reads the chain headed by `head` (2.7.5, 2.7.5.3). */
  function readChain(ctx: ModelContext, q: Queue, head: number, features: bigint): VirtioChain {
    const chain: VirtioChain = { readable: [], writable: [] };
    let table = q.desc;
    let count = q.size;
    let i = head;
    let seen = 0;
    let indirect = false;
    for (;;) {
      if (i >= count) throw new VirtioDeviceError(`descriptor ${i} outside a table of ${count}`);
      const d = new DataView(ctx.dma.read(table + i * DESC_SIZE, DESC_SIZE).buffer);
      const addr = u64(d.getUint32(0, true), d.getUint32(4, true));
      const len = d.getUint32(8, true);
      const flags = d.getUint16(12, true);
      const next = d.getUint16(14, true);
      if (flags & DESC_F_INDIRECT) {
        if (indirect) throw new VirtioDeviceError("an indirect table names another indirect table");
        if ((features & bit(F_INDIRECT_DESC)) === 0n) throw new VirtioDeviceError("indirect descriptor without VIRTIO_F_INDIRECT_DESC");
        if (flags & DESC_F_NEXT) throw new VirtioDeviceError("an indirect descriptor with NEXT set");
        if (len === 0 || len % DESC_SIZE !== 0) throw new VirtioDeviceError(`indirect table of ${len} bytes`);
        indirect = true;
        table = addr;
        count = len / DESC_SIZE;
        i = 0;
        seen = 0;
        continue;
      }
      if (++seen > count) throw new VirtioDeviceError(`the chain from ${head} loops`);
      if (flags & DESC_F_WRITE) chain.writable.push({ addr, len });
      else if (chain.writable.length > 0) throw new VirtioDeviceError("a device-readable descriptor after a device-writable one");
      else chain.readable.push({ addr, len });
      if (!(flags & DESC_F_NEXT)) return chain;
      i = next;
    }
  }

  /** Processes every available chain of queue `n`; true when any was used. */
  function runQueue(ctx: ModelContext, s: State<S>, n: number): boolean {
    const q = s.queues[n]!;
    const features = s.driverFeatures;
    const eventIdx = (features & bit(F_EVENT_IDX)) !== 0n;
    const mask = q.size - 1;
    const oldUsed = q.used;
    for (;;) {
      const availIdx = new DataView(ctx.dma.read(q.driver + 2, 2).buffer).getUint16(0, true);
      if (availIdx === q.lastAvail) {
        if (!eventIdx) break;
        // publish how far we got, then look again: a chain made available in between was not notified
        const ev = ctx.dma.view(q.device + 4 + 8 * q.size, 2);
        Atomics.store(new Uint16Array(ev.buffer, ev.byteOffset, 1), 0, q.lastAvail); // sequentially consistent: a full barrier before the load below
        const again = new DataView(ctx.dma.read(q.driver + 2, 2).buffer).getUint16(0, true);
        if (again === q.lastAvail) break;
        continue;
      }
      if (((availIdx - q.lastAvail) & 0xffff) > q.size) throw new VirtioDeviceError(`avail.idx moved ${(availIdx - q.lastAvail) & 0xffff} entries past the device, beyond the queue size ${q.size}`);
      const head = new DataView(ctx.dma.read(q.driver + 4 + 2 * (q.lastAvail & mask), 2).buffer).getUint16(0, true);
      const chain = readChain(ctx, q, head, features);
      const written = spec.request(ctx, s.device, n, chain, features);
      const elem = new DataView(new ArrayBuffer(8));
      elem.setUint32(0, head, true);
      elem.setUint32(4, written, true);
      ctx.dma.write(q.device + 4 + 8 * (q.used & mask), new Uint8Array(elem.buffer));
      q.used = (q.used + 1) & 0xffff;
      // used.idx last, with one atomic store: the entry is visible before the index that covers it
      const idx = ctx.dma.view(q.device + 2, 2);
      Atomics.store(new Uint16Array(idx.buffer, idx.byteOffset, 1), 0, q.used);
      q.lastAvail = (q.lastAvail + 1) & 0xffff;
    }
    if (q.used === oldUsed) return false;
    let raise: boolean;
    if (eventIdx) {
      const usedEvent = new DataView(ctx.dma.read(q.driver + 4 + 2 * q.size, 2).buffer).getUint16(0, true);
      raise = needEvent(usedEvent, q.used, oldUsed);
    } else {
      raise = (new DataView(ctx.dma.read(q.driver, 2).buffer).getUint16(0, true) & AVAIL_F_NO_INTERRUPT) === 0;
    }
    if (raise && q.vector !== NO_VECTOR) {
      if (s.isr !== undefined) s.isr.write8(0, s.isr.read8(0) | 1);
      ctx.raise(q.vector);
    }
    return true;
  }

  return {
    name: spec.name,
    journal: [spec.regions.common, spec.regions.notify],
    init(ctx) {
      const s = powerOn(ctx);
      resetTransport(s);
      writeRegisters(s);
      return s;
    },
    reset(ctx) {
      const s = powerOn(ctx);
      resetTransport(s);
      writeRegisters(s);
      return s;
    },
    poll(ctx, s) {
      let did = false;
      // registers are rewritten inside the handler: the journal lets a client read through as soon
      // as drain() acknowledged its writes, so their effect must be in memory by then
      if (s.commonLog.drain((off, value, width) => {
        onCommonWrite(ctx, s, off, value, width);
        writeRegisters(s);
      }) > 0) did = true;
      s.notifyLog.drain((off, value) => {
        const idx = Number(value & 0xffffn);
        if (off === idx * SIM_NOTIFY_MULTIPLIER && idx < s.queues.length) s.queues[idx]!.kicked = true;
      });
      if (s.broken || (s.status & STATUS_DRIVER_OK) === 0) return did;
      for (let i = 0; i < s.queues.length; i++) {
        const q = s.queues[i]!;
        if (!q.kicked || q.enable === 0) continue;
        q.kicked = false;
        try {
          if (runQueue(ctx, s, i)) did = true;
        } catch (e) {
          if (e instanceof VirtioDeviceError || e instanceof DmaFault) broken(ctx, s, `queue ${i}: ${e.message}`);
          else throw e;
        }
      }
      return did;
    },
  };
}

/** The bytes of `bufs` in order (the device may not assume how the driver split them: 2.6.4). */
export function gather(ctx: ModelContext, bufs: readonly VirtioBuffer[]): Uint8Array {
  let n = 0;
  for (const b of bufs) n += b.len;
  const out = new Uint8Array(n);
  let at = 0;
  for (const b of bufs) {
    out.set(ctx.dma.read(b.addr, b.len), at);
    at += b.len;
  }
  return out;
}

/** Writes `bytes` across `bufs` from byte `skip` of their concatenation; returns the bytes written. */
export function scatter(ctx: ModelContext, bufs: readonly VirtioBuffer[], bytes: Uint8Array, skip = 0): number {
  let pos = 0;
  let done = 0;
  for (const b of bufs) {
    const from = Math.max(skip - pos, 0);
    if (from < b.len && done < bytes.length) {
      const n = Math.min(b.len - from, bytes.length - done);
      ctx.dma.write(b.addr + from, bytes.subarray(done, done + n));
      done += n;
    }
    pos += b.len;
  }
  return done;
}

/** Bytes in `bufs`. */
export function totalLength(bufs: readonly VirtioBuffer[]): number {
  let n = 0;
  for (const b of bufs) n += b.len;
  return n;
}
