// A runtime Backend whose wd-dummy is the native consumer thread of bench/c/consumer.c, so the
// generated client runs unchanged against a device that costs what hardware-like C code costs:
//   Device.open(spec, { backend: nativeWdDummyBackend() })  /  WdDummyDevice.open({ backend: ... })
// The queue page is ordinary memory the library allocated (a `ram` region: RamIo, as the sim gives
// it); DMA maps go into the consumer's translation table; the done interrupt is its eventfd.
// Also: a wrapper that records the DMA mappings of any backend (the C client needs bus addresses
// of buffers on the sim too).
import type { Pointer } from "bun:ffi";
import { ConfigError, DmaError, RamIo, type Backend, type BackendDevice, type DeviceSpec, type IrqLine, type MappedRegion } from "@warpdrive/runtime";
import { LAYOUT, PAGE_SIZE, requireConsumerLib, type ConsumerLib } from "./lib.ts";

let serial = 0;

/** Remembers which IOVA each process range was mapped at. */
class MapRecord {
  readonly #byPtr = new Map<number, { iova: number; size: number }>();
  add(ptr: number, size: number, iova: number): void {
    this.#byPtr.set(ptr, { iova, size });
  }
  remove(iova: number): void {
    for (const [p, m] of this.#byPtr) if (m.iova === iova) this.#byPtr.delete(p);
  }
  /** Bus address of process address `ptr` (inside a mapped range). */
  iovaOf(ptr: number): number {
    for (const [p, m] of this.#byPtr) if (ptr >= p && ptr < p + m.size) return m.iova + (ptr - p);
    throw new Error(`0x${ptr.toString(16)} is not in memory mapped for DMA`);
  }
}

export class NativeWdDummy implements BackendDevice {
  readonly address: string;
  readonly iovaRanges = [{ start: 0x10000, end: 2 ** 47 }];
  readonly dmaPageSize = 4096;
  readonly #lib: ConsumerLib;
  readonly #dev: Pointer;
  readonly #page: number;
  readonly #io: RamIo;
  readonly #maps = new MapRecord();
  #irq: IrqLine | undefined;
  #closed = false;

  constructor(spec: DeviceSpec) {
    if (spec.name !== "wd-dummy") throw new ConfigError(`the native consumer implements wd-dummy, not ${spec.name}`);
    this.#lib = requireConsumerLib();
    const dev = this.#lib.wdc_open(LAYOUT, PAGE_SIZE);
    if (typeof dev !== "number" || dev === 0) throw new Error("wdc_open failed (out of memory, or no thread/eventfd)");
    this.#dev = dev as Pointer;
    this.#page = Number(this.#lib.wdc_page(dev));
    this.address = `native:wd-dummy/${++serial}`;
    this.#io = RamIo.fromPointer(this.#page, PAGE_SIZE, `queue of ${this.address}`);
  }

  /** Process address of the queue page. */
  get page(): number {
    return this.#page;
  }

  /** Kernel thread id of the consumer thread (to leave it out of per-thread counts). */
  get consumerTid(): number {
    return this.#lib.wdc_tid(this.#dev);
  }

  /** Descriptors the consumer completed since open. */
  get descriptors(): number {
    return this.#lib.wdc_descriptors(this.#dev);
  }

  iovaOf(ptr: number): number {
    return this.#maps.iovaOf(ptr);
  }

  region(index: number): MappedRegion {
    if (this.#closed) throw new Error(`${this.address} is closed`);
    if (index !== 0) throw new ConfigError(`${this.address} has one region (index 0), not ${index}`);
    return { index: 0, size: PAGE_SIZE, ptr: this.#page, kind: "ram", io: this.#io };
  }

  dmaMap(ptr: number, size: number, iova: number): void {
    if (this.#lib.wdc_dma_map(this.#dev, iova, ptr, size) !== 0) {
      throw new DmaError(`${this.address}: the DMA table is full`, { buffer: `0x${ptr.toString(16)}` });
    }
    this.#maps.add(ptr, size, iova);
  }

  dmaUnmap(iova: number, _size: number): void {
    this.#lib.wdc_dma_unmap(this.#dev, iova);
    this.#maps.remove(iova);
  }

  irq(index: number): IrqLine {
    if (index !== 0) throw new ConfigError(`${this.address} has one interrupt (index 0), not ${index}`);
    const lib = this.#lib;
    const dev = this.#dev;
    this.#irq ??= {
      fd: lib.wdc_irq_fd(dev),
      index: 0,
      wait: (timeoutMs: number) => lib.wdc_irq_wait(dev, timeoutMs) === 1,
      take: () => lib.wdc_irq_take(dev),
    };
    return this.#irq;
  }

  reset(): void {
    this.#lib.wdc_reset(this.#dev);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#io.release();
    this.#lib.wdc_close(this.#dev);
  }
}

/** A Backend object for Device.open's `backend` option. */
export function nativeWdDummyBackend(): Backend {
  // Device.open accepts only "sim" or "vfio" as the kind; it only labels the device
  return { kind: "sim", open: (spec: DeviceSpec) => new NativeWdDummy(spec) };
}

/** Forwards to another backend's device and records its DMA mappings (for iovaOf). */
export class RecordingDevice implements BackendDevice {
  readonly #inner: BackendDevice;
  readonly #maps = new MapRecord();
  /** Device.open awaits this when the inner device has it (the sim: model started). */
  readonly ready: Promise<void> | undefined;
  constructor(inner: BackendDevice) {
    this.#inner = inner;
    this.ready = (inner as { ready?: Promise<void> }).ready;
  }
  get address(): string {
    return this.#inner.address;
  }
  get iovaRanges() {
    return this.#inner.iovaRanges;
  }
  get dmaPageSize(): number {
    return this.#inner.dmaPageSize;
  }
  iovaOf(ptr: number): number {
    return this.#maps.iovaOf(ptr);
  }
  region(index: number): MappedRegion {
    return this.#inner.region(index);
  }
  dmaMap(ptr: number, size: number, iova: number): void {
    this.#inner.dmaMap(ptr, size, iova);
    this.#maps.add(ptr, size, iova);
  }
  dmaUnmap(iova: number, size: number): void {
    this.#inner.dmaUnmap(iova, size);
    this.#maps.remove(iova);
  }
  irq(index: number): IrqLine {
    return this.#inner.irq(index);
  }
  reset(): void {
    this.#inner.reset();
  }
  close(): void {
    this.#inner.close();
  }
}

export function recordingBackend(inner: Backend): Backend {
  return { kind: inner.kind, open: (spec, address) => new RecordingDevice(inner.open(spec, address)) };
}
