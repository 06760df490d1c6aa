// DmaBuffer, SharedResolver, IovaAllocator: alignment, zeroing, windows, sharing, use after free
// (a clear error, never a crash), and no leaked mappings or fds over many cycles.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { DmaError, UseAfterReleaseError } from "@warpdrive/runtime/errors";
import { DmaBuffer, SharedResolver, type DmaDomain } from "@warpdrive/runtime/mem/dma";
import { IovaAllocator, clipRanges } from "@warpdrive/runtime/mem/iova";
import { pageSize } from "@warpdrive/runtime/sys/libc";
import { fdCount, mapsCount } from "../helpers/proc.ts";

/** VmSize / VmLck of this process in KiB (adjacent anonymous mappings merge, so counting lines is not enough). */
const vm = (key: "VmSize" | "VmLck") => Number(readFileSync("/proc/self/status", "utf8").match(new RegExp(`${key}:\\s+(\\d+)`))![1]);

/** A device-like domain backed by an IovaAllocator, recording attach/detach. */
function domain(name = "dev0"): DmaDomain & { log: string[]; iova: IovaAllocator } {
  const iova = new IovaAllocator({ ranges: [{ start: 0, end: 1 << 30 }], pageSize: pageSize() });
  const log: string[] = [];
  return {
    name,
    log,
    iova,
    dmaAttach(buf) {
      const a = iova.alloc(buf.size, buf.ptr);
      log.push(`attach ${buf.name} ${a}`);
      return a;
    },
    dmaDetach(buf, a) {
      log.push(`detach ${buf.name} ${a}`);
      iova.free(a);
    },
  };
}

test("alloc: page-aligned, rounded to pages, zeroed, views over the same memory", () => {
  const b = DmaBuffer.alloc(5000, { name: "rx" });
  try {
    const page = pageSize();
    expect(b.ptr % page).toBe(0);
    expect(b.size).toBe(Math.ceil(5000 / page) * page);
    expect(b.bytes.length).toBe(b.size);
    expect(b.bytes.every((x) => x === 0)).toBe(true);
    b.view.setUint32(8, 0x11223344, true);
    expect(b.bytes[8]).toBe(0x44);
    expect(b.name).toBe("rx");
    expect(typeof b.locked).toBe("boolean");
  } finally {
    b.free();
  }
});

test("bad sizes are RangeErrors (TypeErrors when not a number) naming the buffer", () => {
  expect(() => DmaBuffer.alloc(0, { name: "z" })).toThrow(RangeError);
  expect(() => DmaBuffer.alloc(1.5, { name: "z" })).toThrow("DmaBuffer.alloc (z): size must be an integer in 1..4294967296, got 1.5");
  expect(() => DmaBuffer.alloc(2 ** 32 + 1)).toThrow(RangeError);
  expect(() => DmaBuffer.alloc("4096" as never)).toThrow(TypeError);
  expect(() => DmaBuffer.alloc(4096, null as never)).toThrow(TypeError);
  expect(() => DmaBuffer.alloc(4096, { name: 5 as never })).toThrow("options.name must be a string, got 5");
  expect(() => DmaBuffer.alloc(4096, { lock: "no" as never })).toThrow(TypeError);
});

test("ref windows are checked", () => {
  const b = DmaBuffer.alloc(4096, { name: "w" });
  try {
    const whole = b.ref();
    expect([whole.buffer, whole.offset, whole.length]).toEqual([b, 0, 4096]);
    const part = b.ref(100, 28);
    expect([part.buffer, part.offset, part.length]).toEqual([b, 100, 28]);
    expect(() => b.ref(4000, 200)).toThrow(RangeError);
    expect(() => b.ref(-1)).toThrow("ref offset -1 is not an integer in 0..4096");
    expect(() => b.ref(1.5)).toThrow(RangeError);
    expect(() => b.ref("8" as unknown as number)).toThrow(TypeError);
    expect(() => b.ref(0, 2 ** 53)).toThrow(RangeError);
    // a ref is immutable and cannot be forged: what was checked is what a device is told
    expect(() => {
      (part as unknown as { offset: number }).offset = 0;
    }).toThrow(TypeError);
    expect(part.offset).toBe(100);
  } finally {
    b.free();
  }
});

test("use after free throws naming the buffer; stale views are detached, not dangling", () => {
  const b = DmaBuffer.alloc(4096, { name: "gone" });
  const bytes = b.bytes;
  const view = b.view;
  const u32 = new Uint32Array(b.arrayBuffer);
  bytes[0] = 7;
  b.free();
  expect(b.freed).toBe(true);
  for (const f of [() => b.ptr, () => b.bytes, () => b.view, () => b.ref(), () => b.arrayBuffer]) {
    expect(f).toThrow(UseAfterReleaseError);
  }
  expect(() => b.bytes).toThrow("dma buffer gone was used after it was freed");
  // the old views see a detached buffer: empty, no access to the unmapped pages
  expect(bytes.length).toBe(0);
  expect(bytes[0]).toBeUndefined();
  expect(u32.length).toBe(0);
  expect(() => view.getUint8(0)).toThrow(TypeError);
  b.free(); // idempotent
});

test("share maps once per domain, unshare and free detach, resolver translates", () => {
  const d = domain();
  const b = DmaBuffer.alloc(8192, { name: "ring" });
  const iova = b.share(d);
  expect(b.share(d)).toBe(iova);
  expect(d.log).toEqual([`attach ring ${iova}`]);
  expect(iova).toBeGreaterThan(0); // never IOVA 0
  const dma = new SharedResolver(d);
  expect(dma.addressOf(b.ref(0x100, 64), "desc.src")).toBe(iova + 0x100);
  expect(b.sharedWith).toEqual([d]);
  b.unshare(d);
  expect(() => dma.addressOf(b.ref(0, 8), "desc.src")).toThrow("desc.src: dma buffer ring is not shared with dev0");
  b.share(d);
  b.free();
  expect(d.log.length).toBe(4);
  expect(d.log[3]).toStartWith("detach ring");
  expect(d.iova.used).toBe(0);
});

test("resolver errors name the field and the buffer", () => {
  const d = domain("edu");
  const other = domain("nvme");
  const b = DmaBuffer.alloc(4096, { name: "buf" });
  try {
    b.share(d);
    const dma = new SharedResolver(d);
    const e = (() => {
      try {
        dma.addressOf(b.ref(4000), "dma_src", 200);
      } catch (x) {
        return x as DmaError;
      }
    })()!;
    expect(e).toBeInstanceOf(DmaError);
    expect(e.field).toBe("dma_src");
    expect(e.buffer).toBe("buf");
    expect(e.message).toContain("the device would touch 200 bytes at [4000, 4000+200) of dma buffer buf, but the DmaRef window is [4000, 4000+96)");
    expect(() => new SharedResolver(other).addressOf(b.ref(), "prp1")).toThrow("prp1: dma buffer buf is not shared with nvme");
    expect(() => dma.addressOf({ offset: 0 } as never, "x")).toThrow("expected a DmaRef");
    const ref = b.ref();
    b.free();
    expect(() => dma.addressOf(ref, "dma_dst")).toThrow("dma_dst: dma buffer buf was freed");
  } finally {
    b.free();
  }
});

test("a failing detach still frees the memory and reports the error", () => {
  const bad: DmaDomain = {
    name: "flaky",
    dmaAttach: () => 0x10000,
    dmaDetach: () => {
      throw new DmaError("unmap refused");
    },
  };
  const b = DmaBuffer.alloc(4096);
  b.share(bad);
  expect(() => b.free()).toThrow("unmap refused");
  expect(b.freed).toBe(true);
});

test("no leaked mappings or fds over many alloc/share/free cycles", () => {
  const d = domain();
  const live = DmaBuffer.liveCount;
  // warm up once so lazily created runtime mappings do not count
  DmaBuffer.alloc(4096).free();
  Bun.gc(true);
  const maps = mapsCount();
  const fds = fdCount();
  const size = vm("VmSize");
  const locked = vm("VmLck");
  for (let i = 0; i < 500; i++) {
    const b = DmaBuffer.alloc(65536 * (1 + (i % 2))); // a leak would add ~48 MiB
    b.share(d);
    b.bytes[0] = i;
    b.free();
  }
  expect(DmaBuffer.liveCount).toBe(live);
  expect(fdCount()).toBe(fds);
  // a leak of 500 mappings would show; allow a little drift from the runtime's own allocator
  expect(Math.abs(mapsCount() - maps)).toBeLessThan(20);
  Bun.gc(true);
  expect(vm("VmLck")).toBe(locked);
  expect(vm("VmSize") - size).toBeLessThan(16 * 1024);
  expect(d.iova.used).toBe(0);
});

test("Symbol.dispose frees", () => {
  let b: DmaBuffer;
  {
    using x = DmaBuffer.alloc(4096);
    b = x;
  }
  expect(b.freed).toBe(true);
});

// ---- IOVA allocator ----------------------------------------------------------------------------

test("iova: page-aligned first fit inside the ranges, never 0, merged on free", () => {
  const a = new IovaAllocator({ ranges: [{ start: 0, end: 0x10000 }, { start: 0x100000, end: 0x200000 }], pageSize: 0x1000 });
  const x = a.alloc(1);
  expect(x).toBe(0x1000);
  const y = a.alloc(0x2000);
  expect(y).toBe(0x2000);
  const z = a.alloc(0xd000); // does not fit in the rest of the first window
  expect(z).toBe(0x100000);
  a.free(y);
  a.free(x);
  expect(a.alloc(0x3000)).toBe(0x1000); // x and y merged back into one window
  expect(() => a.free(0x5000)).toThrow("not allocated");
  expect(() => a.alloc(0x200000)).toThrow(DmaError);
  expect(() => a.alloc(0x200000)).toThrow("no free IOVA window of 2097152 bytes");
});

test("iova: limit narrows the ranges (a device that masks addresses to 28 bits)", () => {
  const a = new IovaAllocator({ ranges: [{ start: 0, end: 2 ** 48 }], pageSize: 4096, limit: 1 << 28 });
  expect(a.ranges).toEqual([{ start: 0, end: 1 << 28 }]);
  expect(() => a.alloc((1 << 28) + 4096)).toThrow(DmaError);
  expect(clipRanges([{ start: 0x1000, end: 0x5000 }, { start: 0x8000, end: 0x9000 }], 0x6000)).toEqual([{ start: 0x1000, end: 0x5000 }]);
});

test("iova: unified mode returns the process address when it lies in a range", () => {
  const a = new IovaAllocator({ ranges: [{ start: 0, end: 2 ** 47 }], pageSize: 4096, unified: true });
  expect(a.alloc(4096, 0x7f0000000000)).toBe(0x7f0000000000);
  expect(() => a.alloc(4096, 0x7f0000000000)).toThrow("already mapped");
  a.free(0x7f0000000000);
  const narrow = new IovaAllocator({ ranges: [{ start: 0, end: 1 << 28 }], pageSize: 4096, unified: true });
  expect(() => narrow.alloc(4096, 0x7f0000000000)).toThrow("outside the device's IOVA ranges");
  expect(() => narrow.alloc(4096)).toThrow("needs the buffer's process address");
  expect(() => new IovaAllocator({ ranges: [], pageSize: 3000 })).toThrow("not a power of two");
});
