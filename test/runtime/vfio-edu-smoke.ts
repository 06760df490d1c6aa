// Real-VFIO smoke test for QEMU's edu device, run inside the QEMU guest (not by `bun test`: it needs
// /dev/vfio and an edu bound to vfio-pci). `bun test/runtime/vfio-edu-smoke.ts` prints one
// `WD-CHECK ok|FAIL <what>` line per check and `WD-RESULT PASS|FAIL`, and exits 0 only on PASS.
// Passed on QEMU 7.2 + Debian 6.1 cloud kernel (intel-iommu), with the native helper (WD_MMIO_LIB)
// and with the bun:ffi fallback. edu transfers are kept below 4096 bytes: QEMU 7.2's edu has an
// off-by-one (qemu issue 1254) that aborts the VM on a 4096-byte transfer at 0x40000.
import { readdirSync } from "node:fs";
import { VfioBackend, VfioDevice } from "@warpdrive/runtime/vfio/index";
import { DmaBuffer, IovaAllocator } from "@warpdrive/runtime/mem/index";
import { formatError, WarpDriveError } from "@warpdrive/runtime/errors";
import type { DeviceSpec } from "@warpdrive/runtime/backend";

const spec: DeviceSpec = {
  name: "qemu-edu", title: "edu", version: "1.0.0", pci: [{ vendor: 0x1234, device: 0x11e8 }],
  regions: [{ name: "bar0", kind: "mmio", index: 0, size: 0x100000 }],
  interrupts: [{ name: "irq", index: 0, kind: "msi" }], queues: [],
};
let ok = true;
const check = (what: string, cond: boolean, extra = "") => { console.log(`WD-CHECK ${cond ? "ok" : "FAIL"} ${what} ${extra}`); if (!cond) ok = false; };
const fds = () => readdirSync("/proc/self/fd").length;
const spin = (f: () => boolean, n = 50_000_000) => { let i = 0; while (!f() && i < n) i++; return i < n; };
try {
  const fd0 = fds();
  const dev = new VfioBackend().open(spec) as VfioDevice;
  console.log("WD-INFO", dev.address, JSON.stringify(dev.iovaRanges), dev.dmaPageSize, dev.info.numRegions, dev.info.flags);
  const io = dev.region(0).io;
  console.log("WD-INFO io", io.constructor.name);
  check("id", io.read32(0) === 0x010000ed, io.read32(0).toString(16));
  io.write32(4, 0x12345678);
  check("liveness", io.read32(4) === (~0x12345678 >>> 0));
  io.write32(8, 5);
  check("factorial done", spin(() => (io.read32(0x20) & 1) === 0));
  check("factorial", io.read32(8) === 120, String(io.read32(8)));
  const cmd = dev.config.read16(4);
  check("bus master", (cmd & 4) === 4, cmd.toString(16));
  const line = dev.irq(0);
  io.write32(0x60, 0x5);
  check("msi fired", line.wait(5000));
  check("irq status", io.read32(0x24) === 5);
  io.write32(0x64, 0x5);
  check("irq acked", io.read32(0x24) === 0);
  const alloc = new IovaAllocator({ ranges: dev.iovaRanges, pageSize: dev.dmaPageSize, limit: 1 << 28 });
  const a = DmaBuffer.alloc(4096, { name: "a" });
  const b = DmaBuffer.alloc(4096, { name: "b" });
  for (let i = 0; i < 4096; i++) a.bytes[i] = (i * 7 + 3) & 0xff;
  const ia = alloc.alloc(4096), ib = alloc.alloc(4096);
  dev.dmaMap(a.ptr, 4096, ia);
  dev.dmaMap(b.ptr, 4096, ib);
  io.write64(0x80, BigInt(ia)); io.write64(0x88, 0x40000n); io.write64(0x90, 2048n); io.write64(0x98, 1n);
  check("dma to device", spin(() => (io.read64(0x98) & 1n) === 0n, 2_000_000_000));
  io.write64(0x80, 0x40000n); io.write64(0x88, BigInt(ib)); io.write64(0x90, 2048n); io.write64(0x98, 1n | 2n | 4n);
  check("dma irq", line.wait(5000));
  check("dma from device done", (io.read64(0x98) & 1n) === 0n);
  io.write32(0x64, io.read32(0x24));
  let same = true; for (let i = 0; i < 2048; i++) if (b.bytes[i] !== a.bytes[i]) { same = false; break; }
  check("dma round trip", same, `${b.bytes[0]} ${b.bytes[1]} ${b.bytes[2047] + " " + b.bytes[2048]}`);
  dev.dmaUnmap(ia, 4096); dev.dmaUnmap(ib, 4096);
  a.free(); b.free();
  try { dev.reset(); check("reset", (dev.config.read16(4) & 4) === 4); } catch (e) { console.log("WD-INFO reset:", formatError(e)); }
  // a second open of the same group while the first holds it
  try { new VfioBackend().open(spec); check("second open refused", false); } catch (e) { check("second open refused", true, formatError(e)); }
  dev.close();
  dev.close();
  check("fds back", fds() === fd0, `${fd0} -> ${fds()}`);
  // open again after close works
  const d2 = new VfioBackend().open(spec);
  check("reopen id", d2.region(0).io.read32(0) === 0x010000ed);
  d2.close();
  try { (io as { read32(o: number): number }).read32(0); check("use after close", false); } catch (e) { check("use after close", true, formatError(e)); }
} catch (e) {
  ok = false;
  console.log("WD-ERROR", formatError(e));
  // a stack only for bugs (non-WarpDrive errors); our own errors say everything in one line
  if (!(e instanceof WarpDriveError) && e instanceof Error) console.log(e.stack);
}
console.log(ok ? "WD-RESULT PASS" : "WD-RESULT FAIL");
process.exit(ok ? 0 : 1);
