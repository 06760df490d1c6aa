// SIGBUS guards for mappings a kernel driver can take away (the native helper's wd_guard_*, see
// runtime/native/mmio.c): a guarded range that faults becomes zeroed anonymous memory and is marked,
// so a load or store that lands between the kernel's zap and the runtime's next check reads zeros
// instead of killing the process; the mark is the runtime's signal to throw a typed error. Without
// the native helper (no C compiler, WD_MMIO=ffi) there is no guard, and `guardMapping` says so.
import type { Pointer } from "bun:ffi";
import { nativeMmio } from "../mem/native.ts";

export interface MappingGuard {
  /** The range faulted (it is zeroed anonymous memory now). */
  readonly hit: boolean;
  /** Stops guarding (before the range is unmapped). Idempotent. */
  remove(): void;
}

/** Guards [ptr, ptr + size), or undefined when this process cannot (no native helper, no free slot). */
export function guardMapping(ptr: number, size: number): MappingGuard | undefined {
  const n = nativeMmio();
  if (n === null) return undefined;
  const slot = n.wd_guard_add(ptr as Pointer, BigInt(size));
  if (slot < 0) return undefined;
  let live = true;
  return {
    get hit() {
      return live && n.wd_guard_hit(slot) !== 0;
    },
    remove() {
      if (!live) return;
      live = false;
      n.wd_guard_remove(slot);
    },
  };
}
