// What a program does with edu, on top of the generated client: identify it, check liveness,
// compute a factorial, move data through the 4 KiB on-board buffer by DMA, and wait for any of it
// by polling or on the MSI. The same code drives QEMU's real edu (vfio) and the sim model.
//
// Guards that the device itself lacks: QEMU 7.2 stops the whole machine on a DMA outside the
// on-board buffer (and its check refuses a transfer of 0 bytes or one that ends at the buffer's
// end: at most DMA_MAX_END = 4095 bytes can be used, measured in the VM suite), and edu masks bus
// addresses to 28 bits, so both are checked here before any register is written (RangeError /
// DmaError naming the buffer), and Edu.open asks for IOVAs below 256 MiB.
import { ConfigError, DmaError, TimeoutError, type DeviceOptions, type DmaRef, type IrqLine } from "@warpdrive/runtime";
import { QemuEduDevice } from "@warpdrive/qemu-edu-generated/client";
import { DMA_ADDRESS_BITS, DMA_BUFFER_OFFSET, DMA_BUFFER_SIZE, IRQ_DMA, IRQ_FACTORIAL } from "@warpdrive/qemu-edu-generated/constants";
import { DmaDirection } from "@warpdrive/qemu-edu-generated/enums";
import type { Bar0Registers } from "@warpdrive/qemu-edu-generated/registers";

export interface WaitOptions {
  /** Give up after this long (default 5000 ms; edu's DMA timer alone is 100 ms). */
  timeoutMs?: number;
  /** Wait on the MSI instead of polling the status register (default false). */
  irq?: boolean;
}

const EDU_MAGIC = 0xed;
/** A transfer must end before this on-board offset (QEMU <= 7.2: end < buffer end, strictly). */
export const DMA_MAX_END = DMA_BUFFER_SIZE - 1;
const DEFAULT_TIMEOUT_MS = 5000;

/** n! as edu computes it: a 32-bit product (wraps for n > 12; 0 from n = 34 on). */
export function factorialMod32(n: number): number {
  let r = 1;
  for (let v = n >>> 0; v > 0; v--) r = Math.imul(r, v) >>> 0;
  return r;
}

export class Edu {
  readonly client: QemuEduDevice;
  readonly irq: IrqLine;

  private constructor(client: QemuEduDevice) {
    this.client = client;
    this.irq = client.device.irq("irq");
  }

  /** Opens edu (sim by default, see DeviceOptions) and checks it answers like one. */
  static async open(options: DeviceOptions = {}): Promise<Edu> {
    const client = await QemuEduDevice.open({ iovaLimit: 2 ** DMA_ADDRESS_BITS, ...options });
    try {
      const id = client.bar0.id.read();
      if ((id & 0xff) !== EDU_MAGIC) {
        throw new ConfigError(`${client.device.address} does not look like edu: id register reads 0x${id.toString(16)}`, {
          hint: "check --device: edu is PCI 1234:11e8",
        });
      }
      return new Edu(client);
    } catch (e) {
      client.close();
      throw e;
    }
  }

  get regs(): Bar0Registers {
    return this.client.bar0;
  }

  get address(): string {
    return this.client.device.address;
  }

  /** Version from the id register (1.0 for QEMU's edu). */
  version(): { major: number; minor: number } {
    const f = this.regs.id.fields();
    return { major: f.major, minor: f.minor };
  }

  /** Writes `value` to the liveness register; true when it reads back inverted, as edu's does. */
  isAlive(value = 0x5a5aa5a5): boolean {
    this.regs.liveness.write(value >>> 0);
    return this.regs.liveness.read() === ~value >>> 0;
  }

  /** Computes n! on the device (a 32-bit result, see factorialMod32). */
  factorial(n: number, options: WaitOptions = {}): number {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`factorial: n must be a 32-bit unsigned integer, got ${n}`);
    const r = this.regs;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#waitIdle(() => r.status.get("computing") === 0, "the factorial unit to be idle", timeoutMs);
    if (options.irq) {
      this.#prepareIrq(IRQ_FACTORIAL);
      r.status.modify({ irqOnFactorial: 1 });
      try {
        r.factorial.write(n >>> 0);
        this.waitIrq(IRQ_FACTORIAL, timeoutMs);
      } finally {
        r.status.modify({ irqOnFactorial: 0 });
      }
      this.ack(IRQ_FACTORIAL);
    } else {
      r.factorial.write(n >>> 0);
      this.#waitIdle(() => r.status.get("computing") === 0, `factorial(${n})`, timeoutMs);
    }
    return r.factorial.read();
  }

  /** Copies `src` (shared memory) into the on-board buffer at `deviceOffset`. */
  dmaToDevice(src: DmaRef, deviceOffset = 0, options: WaitOptions = {}): void {
    this.#dma(DmaDirection.TO_DEVICE, src, deviceOffset, options);
  }

  /** Copies from the on-board buffer at `deviceOffset` into `dst` (shared memory). */
  dmaFromDevice(deviceOffset: number, dst: DmaRef, options: WaitOptions = {}): void {
    this.#dma(DmaDirection.FROM_DEVICE, dst, deviceOffset, options);
  }

  #dma(direction: DmaDirection, host: DmaRef, deviceOffset: number, options: WaitOptions): void {
    const len = host.length;
    if (!Number.isInteger(deviceOffset) || deviceOffset < 0 || len < 1 || deviceOffset + len > DMA_MAX_END) {
      throw new RangeError(
        `edu DMA of ${len} bytes at buffer offset ${deviceOffset}: a transfer must move 1 or more bytes and end before offset ${DMA_MAX_END} ` +
          `of the ${DMA_BUFFER_SIZE}-byte on-board buffer (QEMU 7.2's edu stops the machine otherwise)`,
      );
    }
    const field = direction === DmaDirection.TO_DEVICE ? "dma_src" : "dma_dst";
    const iova = this.client.dma.addressOf(host, field); // throws DmaError unless shared with this edu
    if (iova + len > 2 ** DMA_ADDRESS_BITS) {
      throw new DmaError(`${field}: dma buffer ${host.buffer.name} sits at IOVA 0x${iova.toString(16)}, beyond edu's ${DMA_ADDRESS_BITS}-bit DMA addresses`, {
        field, buffer: host.buffer.name, hint: `open the device with iovaLimit: 2 ** ${DMA_ADDRESS_BITS} (Edu.open does) and without unified mode`,
      });
    }
    const r = this.regs;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // edu ignores register writes while a transfer runs: wait for the previous one
    this.#waitIdle(() => (r.dmaCmd.read() & 1n) === 0n, "the previous DMA to finish", timeoutMs);
    const onBoard = BigInt(DMA_BUFFER_OFFSET + deviceOffset);
    r.dmaSrc.write(direction === DmaDirection.TO_DEVICE ? BigInt(iova) : onBoard);
    r.dmaDst.write(direction === DmaDirection.TO_DEVICE ? onBoard : BigInt(iova));
    r.dmaCount.write(BigInt(len));
    if (options.irq) this.#prepareIrq(IRQ_DMA);
    r.dmaCmd.writeFields({ start: 1, direction, irq: options.irq ? 1 : 0 });
    if (options.irq) {
      this.waitIrq(IRQ_DMA, timeoutMs);
      this.ack(IRQ_DMA);
    } else {
      this.#waitIdle(() => (r.dmaCmd.read() & 1n) === 0n, `the DMA of ${len} bytes ${direction === DmaDirection.TO_DEVICE ? "to" : "from"} edu`, timeoutMs);
    }
  }

  /** Raises an interrupt by software: irq_status |= value. */
  raise(value: number): void {
    this.regs.irqRaise.write(value >>> 0);
  }

  /** Clears `value`'s bits in irq_status. */
  ack(value: number): void {
    this.regs.irqAck.write(value >>> 0);
  }

  irqStatus(): number {
    return this.regs.irqStatus.read();
  }

  /** Sleeps on the MSI until irq_status has any bit of `mask`; returns irq_status. */
  waitIrq(mask: number, timeoutMs = DEFAULT_TIMEOUT_MS): number {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const s = this.irqStatus();
      if (s & mask) return s;
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new TimeoutError(`interrupt 0x${mask.toString(16)} of ${this.address} (irq_status 0x${s.toString(16)})`, timeoutMs,
          "is MSI delivered? (vfio: the vector is enabled on first use of the irq line)");
      }
      this.irq.wait(Math.max(1, Math.min(100, Math.ceil(left))));
    }
  }

  /** Before starting an operation that ends in `bit`: clear a stale status bit and a stale eventfd count. */
  #prepareIrq(bit: number): void {
    this.ack(bit);
    this.irq.take();
  }

  /** Polls `done` until true: a burst of register reads, then short sleeps (edu's DMA takes 100 ms). */
  #waitIdle(done: () => boolean, what: string, timeoutMs: number): void {
    const start = performance.now();
    for (let i = 0; ; i++) {
      if (done()) return;
      if (i < 1000) continue;
      if (performance.now() - start > timeoutMs) throw new TimeoutError(`${what} on ${this.address}`, timeoutMs);
      Bun.sleepSync(0.05);
    }
  }

  reset(): void {
    this.client.device.reset();
  }

  close(): void {
    this.client.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

