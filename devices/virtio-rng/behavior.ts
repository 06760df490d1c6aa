// The virtio entropy driver: open (feature negotiation, the request queue, DRIVER_OK) and read().
// Built on the generated client (@warpdrive/virtio-rng) and the runtime's virtio transport; the same
// code drives the sim model and QEMU's virtio-rng-pci through vfio.
import { checkInt, checkOptions, optional, checkBoolean, WarpDriveError, type DeviceOptions, type DmaBuffer } from "@warpdrive/runtime";
import { VirtioRngDevice, type RequestqQueue } from "@warpdrive/virtio-rng-generated/client";

export interface VirtioRngOptions extends DeviceOptions {
  /** Use indirect descriptors / event-index suppression when offered (default true). */
  indirect?: boolean;
  eventIdx?: boolean;
}

/** Bytes asked for per request: one page of the staging buffer. */
const CHUNK = 4096;
/** Most bytes one read() returns (its staging is reused; larger reads are several calls). */
export const MAX_READ = 1 << 20;

export class VirtioRng {
  readonly client: VirtioRngDevice;
  readonly queue: RequestqQueue;
  readonly #staging: DmaBuffer;
  #closed = false;

  private constructor(client: VirtioRngDevice, queue: RequestqQueue, staging: DmaBuffer) {
    this.client = client;
    this.queue = queue;
    this.#staging = staging;
  }

  /** Opens the device, negotiates (no device features exist), sets up requestq, sets DRIVER_OK. */
  static async open(optionsIn?: VirtioRngOptions): Promise<VirtioRng> {
    const o = checkOptions(optionsIn, "options", "VirtioRng.open");
    const indirect = optional(o?.indirect, (v) => checkBoolean(v, "options.indirect", "VirtioRng.open"));
    const eventIdx = optional(o?.eventIdx, (v) => checkBoolean(v, "options.eventIdx", "VirtioRng.open"));
    // the device's own options, each read once (Device.open checks them)
    const client = await VirtioRngDevice.open({ backend: o?.backend, address: o?.address, unified: o?.unified, iovaLimit: o?.iovaLimit } as DeviceOptions);
    try {
      client.virtio.negotiate({ indirect, eventIdx });
      const queue = client.requestQueue("requestq");
      client.virtio.driverOk();
      return new VirtioRng(client, queue, client.alloc(CHUNK, "virtio-rng staging"));
    } catch (e) {
      client.close();
      throw e;
    }
  }

  /** Where the device is ("0000:00:05.0", "sim:virtio-rng/1"). */
  get address(): string {
    return this.client.device.address;
  }

  /**
   * `n` random bytes from the device (1..MAX_READ). The device may answer a request with fewer
   * bytes than asked (its source may be rate limited): requests repeat until `n` arrived.
   */
  read(n: number, timeoutMs = 5000): Uint8Array {
    const count = checkInt(n, "n", 1, MAX_READ, `read on virtio-rng ${this.address}`);
    const out = new Uint8Array(count);
    let got = 0;
    let empty = 0;
    while (got < count) {
      const want = Math.min(CHUNK, count - got);
      this.queue.send([{ ref: this.#staging.ref(0, want), writable: true }]);
      const done = this.queue.recvSync(timeoutMs);
      if (done.length > want) throw new WarpDriveError(`virtio-rng ${this.address}: the device reports ${done.length} bytes for a ${want}-byte buffer`);
      if (done.length === 0 && ++empty > 100) throw new WarpDriveError(`virtio-rng ${this.address}: the device returned no bytes for 100 requests in a row`);
      out.set(this.#staging.bytes.subarray(0, done.length), got);
      got += done.length;
    }
    return out;
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
