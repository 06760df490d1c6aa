// Helper thread for a recvSync test: after a delay, clears a register in the device's page (as a
// second client would), so the main thread is blocked in recvSync when the completion comes.
import { toArrayBuffer, type Pointer } from "bun:ffi";

declare const self: Worker;
self.onmessage = (e: MessageEvent) => {
  const { ptr, off, delayMs, sab } = e.data as { ptr: number; off: number; delayMs: number; sab: Int32Array };
  Atomics.store(sab, 0, 1); // started: the main thread may now block
  const u32 = new Uint32Array(toArrayBuffer(ptr as Pointer, 0, off + 4));
  setTimeout(() => Atomics.store(u32, off / 4, 0), delayMs);
};
