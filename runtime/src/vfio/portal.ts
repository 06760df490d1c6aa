// Descriptor stores into a mapped portal (a BAR page of a work-queue accelerator): the PortalPort a
// vfio device hands the portal engine. A portal accepts a descriptor only as one 64-byte write, so
// there is no fallback to ordinary stores: eight 8-byte stores would reach the device as eight
// partial writes, which a DSA-style device drops (dedicated queue) or treats as errors. Where the
// CPU lacks the instruction (CPUID leaf 7, ECX bit 28 MOVDIR64B / bit 29 ENQCMD, asked once when the
// native helper loads) or the helper cannot be built, opening the queue fails with a ConfigError
// that says so; the sim backend needs no instruction (it delivers descriptors through a mailbox).
import type { Pointer } from "bun:ffi";
import type { MappedRegion, PortalPort } from "../backend.ts";
import { ConfigError } from "../errors.ts";
import { nativeMmio, nativeMmioUnavailableReason, type NativeMmio } from "../mem/native.ts";

let cpu: { movdir64b: boolean; enqcmd: boolean } | undefined;

/** What this CPU offers (false for both without the native helper or off x86-64). */
export function portalInstructions(): { movdir64b: boolean; enqcmd: boolean } {
  if (cpu !== undefined) return cpu;
  const n = nativeMmio();
  cpu = n === null ? { movdir64b: false, enqcmd: false } : { movdir64b: n.wd_cpu_movdir64b() === 1, enqcmd: n.wd_cpu_enqcmd() === 1 };
  return cpu;
}

class NativePortal implements PortalPort {
  constructor(
    readonly primitive: "movdir64b" | "enqcmd",
    private readonly n: NativeMmio,
    private readonly base: number,
  ) {}
  submit(offset: number, _src: Uint8Array, srcPtr: number): boolean {
    if (this.primitive === "movdir64b") {
      this.n.wd_movdir64b((this.base + offset) as Pointer, srcPtr as Pointer);
      return true;
    }
    return this.n.wd_enqcmd((this.base + offset) as Pointer, srcPtr as Pointer) === 0;
  }
}

/** The portal store for a mapped region; ConfigError when this machine cannot make it. */
export function mappedPortal(region: MappedRegion, store: "movdir64b" | "enqcmd", size: number, what: string): PortalPort {
  if (size !== 64) throw new ConfigError(`${what}: a ${size}-byte descriptor cannot be written in one store (MOVDIR64B and ENQCMD write 64 bytes)`);
  if (!region.ptr) throw new ConfigError(`${what}: the portal region cannot be mapped, and a portal takes only direct 64-byte stores`);
  const n = nativeMmio();
  if (n === null) {
    throw new ConfigError(`${what}: the native MMIO helper is unavailable (${nativeMmioUnavailableReason()}), and only it can issue ${store.toUpperCase()}`, {
      hint: "install a C compiler (cc) or point WD_MMIO_LIB at a prebuilt libwdmmio",
    });
  }
  const has = portalInstructions();
  if (!has[store]) {
    throw new ConfigError(`${what}: this CPU does not report ${store.toUpperCase()} (CPUID.7.0:ECX bit ${store === "movdir64b" ? 28 : 29})`, {
      hint: "a portal drops descriptors split into smaller stores; run on a CPU with the instruction (Sapphire Rapids or later) or use the sim backend",
    });
  }
  return new NativePortal(store, n, region.ptr);
}
