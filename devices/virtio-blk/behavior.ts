// The virtio block driver: open (feature negotiation, configuration, the request queue, DRIVER_OK),
// then read / write / flush / getId / discard / writeZeroes, synchronous or pipelined
// (sendRead/sendWrite + reap). Built on the generated client (@warpdrive/virtio-blk) and the
// runtime's virtio transport; the same code drives the sim model and QEMU's virtio-blk-pci through
// vfio.
//
// Every request is checked before it reaches the ring: sectors inside the capacity, data a whole
// number of sectors and at most size_max bytes when the device says so; DISCARD / WRITE_ZEROES /
// FLUSH only when negotiated. A status other than OK is a VirtioBlkError naming the request.
import {
  checkBoolean, checkInt, checkOptions, ConfigError, DmaRef, optional, WarpDriveError, type DeviceOptions, type DmaBuffer, type VirtqDone,
} from "@warpdrive/runtime";
import { bit, F_EVENT_IDX, F_INDIRECT_DESC } from "@warpdrive/runtime/virtio/constants";
import { VirtioBlkDevice, type RequestqQueue } from "@warpdrive/virtio-blk-generated/client";
import { BlkFeature, BlkRequestType, BlkStatus } from "@warpdrive/virtio-blk-generated/enums";
import { BlkDiscardWriteZeroes, type BlkReqStatusData } from "@warpdrive/virtio-blk-generated/structs";
import { ID_BYTES, SECTOR_SIZE } from "@warpdrive/virtio-blk-generated/constants";

export interface VirtioBlkOptions extends DeviceOptions {
  /** Use indirect descriptors / event-index suppression when offered (default true). */
  indirect?: boolean;
  eventIdx?: boolean;
}

/** Device features this driver uses when offered. */
const WANTED = [BlkFeature.SIZE_MAX, BlkFeature.SEG_MAX, BlkFeature.GEOMETRY, BlkFeature.RO, BlkFeature.BLK_SIZE, BlkFeature.FLUSH, BlkFeature.TOPOLOGY, BlkFeature.DISCARD, BlkFeature.WRITE_ZEROES]
  .reduce((a, b) => a | bit(b), 0n);

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(BlkRequestType).map(([k, v]) => [v, k]));
const STATUS_NAMES: Record<number, string> = Object.fromEntries(Object.entries(BlkStatus).map(([k, v]) => [v, k]));

/** A request the device finished with a status other than OK. */
export class VirtioBlkError extends WarpDriveError {
  readonly status: number;
  constructor(device: string, request: string, status: number) {
    super(`virtio-blk ${device}: ${request} failed: ${STATUS_NAMES[status] ?? `status ${status}`}`);
    this.name = "VirtioBlkError";
    this.status = status;
  }
}

/** What the device-specific configuration says (read once at open, consistently). */
export interface VirtioBlkGeometry {
  /** 512-byte sectors. */
  capacity: number;
  /** Largest data buffer (SIZE_MAX), else undefined. */
  sizeMax?: number;
  /** Most data buffers per request (SEG_MAX), else undefined. */
  segMax?: number;
  /** Optimal block size (BLK_SIZE), else 512. */
  blockSize: number;
  geometry?: { cylinders: number; heads: number; sectors: number };
  maxDiscardSectors?: number;
  maxWriteZeroesSectors?: number;
}

export class VirtioBlk {
  readonly client: VirtioBlkDevice;
  readonly queue: RequestqQueue;
  readonly features: bigint;
  readonly info: VirtioBlkGeometry;
  readonly readOnly: boolean;
  /** One page for requests whose data the driver makes itself (discard segments, the serial). */
  readonly #scratch: DmaBuffer;
  /** What each tag in flight is, for messages. */
  readonly #what: string[];
  #closed = false;

  private constructor(client: VirtioBlkDevice, queue: RequestqQueue, features: bigint, info: VirtioBlkGeometry, scratch: DmaBuffer) {
    this.client = client;
    this.queue = queue;
    this.features = features;
    this.info = info;
    this.readOnly = (features & bit(BlkFeature.RO)) !== 0n;
    this.#scratch = scratch;
    this.#what = new Array<string>(queue.queue.depth).fill("");
  }

  /** Opens the device: negotiation, configuration, requestq, DRIVER_OK (virtio 1.2, 3.1.1). */
  static async open(optionsIn?: VirtioBlkOptions): Promise<VirtioBlk> {
    const o = checkOptions(optionsIn, "options", "VirtioBlk.open");
    const indirect = optional(o?.indirect, (v) => checkBoolean(v, "options.indirect", "VirtioBlk.open"));
    const eventIdx = optional(o?.eventIdx, (v) => checkBoolean(v, "options.eventIdx", "VirtioBlk.open"));
    const client = await VirtioBlkDevice.open({ backend: o?.backend, address: o?.address, unified: o?.unified, iovaLimit: o?.iovaLimit } as DeviceOptions);
    try {
      const features = client.virtio.negotiate({ wanted: WANTED, indirect, eventIdx });
      const has = (f: number) => (features & bit(f)) !== 0n;
      const c = client.deviceCfg;
      const info = client.virtio.readConfig((io): VirtioBlkGeometry => ({
        // two 32-bit halves: the transport's device configuration takes accesses of at most 32 bits
        capacity: io.read32(0) + io.read32(4) * 0x100000000,
        ...(has(BlkFeature.SIZE_MAX) && { sizeMax: c.sizeMax.read() }),
        ...(has(BlkFeature.SEG_MAX) && { segMax: c.segMax.read() }),
        blockSize: has(BlkFeature.BLK_SIZE) ? c.blkSize.read() : SECTOR_SIZE,
        ...(has(BlkFeature.GEOMETRY) && { geometry: { cylinders: c.cylinders.read(), heads: c.heads.read(), sectors: c.sectors.read() } }),
        ...(has(BlkFeature.DISCARD) && { maxDiscardSectors: c.maxDiscardSectors.read() }),
        ...(has(BlkFeature.WRITE_ZEROES) && { maxWriteZeroesSectors: c.maxWriteZeroesSectors.read() }),
      }));
      const queue = client.requestQueue("requestq");
      client.virtio.driverOk();
      return new VirtioBlk(client, queue, features, info, client.alloc(4096, "virtio-blk scratch"));
    } catch (e) {
      client.close();
      throw e;
    }
  }

  get address(): string {
    return this.client.device.address;
  }

  /** 512-byte sectors. */
  get capacity(): number {
    return this.info.capacity;
  }

  has(feature: number): boolean {
    return (this.features & bit(feature)) !== 0n;
  }

  /** Whether chains use indirect descriptors / event-index suppression (what was negotiated). */
  get ring(): { indirect: boolean; eventIdx: boolean } {
    return { indirect: (this.features & bit(F_INDIRECT_DESC)) !== 0n, eventIdx: (this.features & bit(F_EVENT_IDX)) !== 0n };
  }

  #where(op: string): string {
    return `${op} on virtio-blk ${this.address}`;
  }

  /** The data window of a read or write: whole sectors inside the capacity, within size_max. */
  #range(op: string, sectorIn: unknown, data: unknown): { sector: number; ref: DmaRef } {
    const where = this.#where(op);
    const sector = checkInt(sectorIn, "sector", 0, Number.MAX_SAFE_INTEGER, where);
    if (!DmaRef.is(data)) throw new TypeError(`${where}: data must be a DmaRef (buffer.ref(offset, length)) of memory shared with the device`);
    const ref = data as DmaRef;
    if (ref.length === 0 || ref.length % SECTOR_SIZE !== 0) throw new RangeError(`${where}: data is ${ref.length} bytes, not a whole number of ${SECTOR_SIZE}-byte sectors`);
    const count = ref.length / SECTOR_SIZE;
    if (sector + count > this.info.capacity) {
      throw new RangeError(`${where}: sectors ${sector}..${sector + count - 1} lie past the capacity (${this.info.capacity} sectors)`);
    }
    if (this.info.sizeMax !== undefined && this.info.sizeMax > 0 && ref.length > this.info.sizeMax) {
      throw new RangeError(`${where}: ${ref.length} bytes exceed the device's size_max of ${this.info.sizeMax}`);
    }
    return { sector, ref };
  }

  #send(what: string, type: number, sector: number, buffers: { ref: DmaRef; writable: boolean }[]): number {
    const tag = this.queue.send({ type: type as BlkRequestType, sector }, buffers);
    this.#what[tag] = what;
    return tag;
  }

  /** Queues a read of `data.length / 512` sectors from `sector` into `data`; returns its tag (see reap). */
  sendRead(sector: number, data: DmaRef): number {
    const r = this.#range("read", sector, data);
    return this.#send(`read of sector ${r.sector} (+${r.ref.length / SECTOR_SIZE})`, BlkRequestType.IN, r.sector, [{ ref: r.ref, writable: true }]);
  }

  /** Queues a write of `data` to the sectors from `sector`; returns its tag. */
  sendWrite(sector: number, data: DmaRef): number {
    if (this.readOnly) throw new ConfigError(`${this.#where("write")}: the device is read-only (VIRTIO_BLK_F_RO)`);
    const r = this.#range("write", sector, data);
    return this.#send(`write of sector ${r.sector} (+${r.ref.length / SECTOR_SIZE})`, BlkRequestType.OUT, r.sector, [{ ref: r.ref, writable: false }]);
  }

  /** The next finished request's tag, or -1; a failed one throws VirtioBlkError. Never blocks. */
  reap(): number {
    return this.#check(this.queue.recv());
  }

  /** Waits for the next finished request; returns its tag or throws VirtioBlkError / TimeoutError. */
  reapSync(timeoutMs = 5000): number {
    return this.#check(this.queue.recvSync(timeoutMs));
  }

  #check(done: VirtqDone<BlkReqStatusData> | null): number {
    if (done === null) return -1;
    const status = done.footer.status;
    if (status !== BlkStatus.OK) throw new VirtioBlkError(this.address, this.#what[done.tag] ?? "a request", status);
    return done.tag;
  }

  #sync(tag: number, timeoutMs: number): void {
    const got = this.reapSync(timeoutMs);
    if (got !== tag) throw new WarpDriveError(`virtio-blk ${this.address}: a synchronous request completed another request (tag ${got}); do not mix sync calls with sendRead/sendWrite in flight`);
  }

  #idle(op: string): void {
    if (this.queue.inFlight > 0) {
      throw new WarpDriveError(`${this.#where(op)}: ${this.queue.inFlight} pipelined request(s) are in flight`, { hint: "reap them first (reap/reapSync)" });
    }
  }

  read(sector: number, data: DmaRef, timeoutMs = 5000): void {
    this.#idle("read");
    this.#sync(this.sendRead(sector, data), timeoutMs);
  }

  write(sector: number, data: DmaRef, timeoutMs = 5000): void {
    this.#idle("write");
    this.#sync(this.sendWrite(sector, data), timeoutMs);
  }

  /** Commits the device's volatile write cache (FLUSH, when negotiated; without it writes are durable). */
  flush(timeoutMs = 5000): void {
    this.#idle("flush");
    if (!this.has(BlkFeature.FLUSH)) return;
    this.#sync(this.#send("flush", BlkRequestType.FLUSH, 0, []), timeoutMs);
  }

  /** The device's serial (GET_ID: up to 20 bytes, NUL-padded). */
  getId(timeoutMs = 5000): string {
    this.#idle("getId");
    this.#scratch.bytes.fill(0, 0, ID_BYTES);
    this.#sync(this.#send("get-id", BlkRequestType.GET_ID, 0, [{ ref: this.#scratch.ref(0, ID_BYTES), writable: true }]), timeoutMs);
    const b = this.#scratch.bytes.subarray(0, ID_BYTES);
    const end = b.indexOf(0);
    return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
  }

  /** Discards `count` sectors from `sector` (DISCARD must be offered: ConfigError otherwise). */
  discard(sector: number, count: number, timeoutMs = 5000): void {
    this.#ranges("discard", BlkFeature.DISCARD, BlkRequestType.DISCARD, sector, count, false, this.info.maxDiscardSectors, timeoutMs);
  }

  /** Zeroes `count` sectors from `sector` (WRITE_ZEROES must be offered); `unmap` lets the device deallocate them. */
  writeZeroes(sector: number, count: number, unmap = false, timeoutMs = 5000): void {
    this.#ranges("writeZeroes", BlkFeature.WRITE_ZEROES, BlkRequestType.WRITE_ZEROES, sector, count, unmap, this.info.maxWriteZeroesSectors, timeoutMs);
  }

  #ranges(op: string, feature: number, type: number, sectorIn: number, countIn: number, unmapIn: boolean, max: number | undefined, timeoutMs: number): void {
    const where = this.#where(op);
    const sector = checkInt(sectorIn, "sector", 0, Number.MAX_SAFE_INTEGER, where);
    const count = checkInt(countIn, "count", 1, 0xffffffff, where);
    const unmap = checkBoolean(unmapIn, "unmap", where);
    if (!this.has(feature)) throw new ConfigError(`${where}: the device does not offer ${feature === BlkFeature.DISCARD ? "VIRTIO_BLK_F_DISCARD" : "VIRTIO_BLK_F_WRITE_ZEROES"}`);
    if (this.readOnly) throw new ConfigError(`${where}: the device is read-only (VIRTIO_BLK_F_RO)`);
    if (sector + count > this.info.capacity) throw new RangeError(`${where}: sectors ${sector}..${sector + count - 1} lie past the capacity (${this.info.capacity} sectors)`);
    if (max !== undefined && max > 0 && count > max) throw new RangeError(`${where}: ${count} sectors exceed the device's limit of ${max} per segment`);
    this.#idle(op);
    BlkDiscardWriteZeroes.encode(this.#scratch.view, 0, { sector, numSectors: count, flags: unmap ? 1 : 0 });
    this.#sync(this.#send(`${op} of sector ${sector} (+${count})`, type, 0, [{ ref: this.#scratch.ref(0, BlkDiscardWriteZeroes.SIZE), writable: false }]), timeoutMs);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.client.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
