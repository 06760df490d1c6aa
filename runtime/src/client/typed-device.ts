// The base of every generated device class: the runtime Device it wraps and what every device
// offers alike (DMA memory, the resolver, close). The generated subclass adds its register blocks,
// `static open()` over its own spec and `requestQueue` typed by queue name.
import type { Device } from "../device.ts";
import type { DmaBuffer, DmaResolver } from "../mem/index.ts";

export abstract class TypedDevice {
  /** The runtime device (regions, IRQs, DMA, reset). */
  readonly device: Device;

  /** Wraps an opened Device whose spec is the generated package's spec. */
  constructor(device: Device) {
    this.device = device;
  }

  /** Checks and translates DmaRefs for this device. */
  get dma(): DmaResolver {
    return this.device.dma;
  }

  /** Page-aligned zeroed DMA memory shared with the device. */
  alloc(size: number, name?: string): DmaBuffer {
    return this.device.alloc(size, name);
  }

  /** Releases queues, frees shared memory and closes the device. Idempotent. */
  close(): void {
    this.device.close();
  }

  /** close() on scope exit (`using dev = await ...open()`). */
  [Symbol.dispose](): void {
    this.close();
  }
}
