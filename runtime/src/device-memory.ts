// Device-provided memory (backend.ts, DeviceMemory): the two steps Device takes instead of its own
// IOVA allocation and DMA map when the backend says which memory its device can reach.
import type { DeviceMemory } from "./backend.ts";
import { ConfigError, DmaError } from "./errors.ts";
import { DmaBuffer } from "./mem/dma.ts";

/** A zeroed buffer carved from the device's pool; `owner` names the device in errors. */
export function allocProvided(mem: DeviceMemory, size: number, name: string | undefined, owner: string): DmaBuffer {
  if (mem.alloc === undefined || mem.free === undefined) throw new ConfigError(`${owner} provides no memory of its own`);
  const label = name ?? "dma buffer";
  if (!Number.isInteger(size) || size <= 0) {
    throw new ConfigError(`dma buffer ${label}: size ${size} must be a positive integer`);
  }
  const got = mem.alloc(size);
  if (got === undefined) {
    throw new DmaError(`${owner}: no room for dma buffer ${label} (${size} bytes) in ${mem.describe}`, {
      buffer: name,
      hint: "free buffers you no longer need; without SVA the device reaches only this memory",
    });
  }
  const free = mem.free.bind(mem);
  try {
    return DmaBuffer.fromProvided(got.ptr, got.size, { name, giveBack: () => free(got.ptr) });
  } catch (e) {
    free(got.ptr);
    throw e;
  }
}

/** The device address of all of `buf`, or a DmaError saying why the device cannot reach it. */
export function providedAddress(mem: DeviceMemory, buf: DmaBuffer, owner: string): number {
  const addr = mem.deviceAddress(buf.ptr, buf.size);
  if (addr === undefined) {
    throw new DmaError(`${owner} cannot reach dma buffer ${buf.name}: it reaches only ${mem.describe}`, {
      buffer: buf.name,
      hint: "allocate the buffer with device.alloc(), which takes it from that memory",
    });
  }
  return addr;
}
