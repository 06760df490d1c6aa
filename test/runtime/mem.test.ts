// RegisterIo implementations: exact widths, 64-bit as one value, bounds and alignment errors that
// name the region, released regions, a polling read that sees another thread's write (the JIT hoists a
// plain typed-array load out of a polling loop, so register reads must not be plain loads), the native helper build, and the bun:ffi fallback.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RegisterError, UseAfterReleaseError } from "@warpdrive/runtime/errors";
import { DmaBuffer } from "@warpdrive/runtime/mem/dma";
import { FfiMmioIo, MmioIo, RamIo, mmioIo, type RegisterIo } from "@warpdrive/runtime/mem/io";
import { buildMmioLibrary, nativeMmio, nativeMmioUnavailableReason } from "@warpdrive/runtime/mem/native";

const buffers: DmaBuffer[] = [];
afterAll(() => buffers.forEach((b) => b.free()));

function memory(size = 4096): DmaBuffer {
  const b = DmaBuffer.alloc(size, { name: "mem-test" });
  buffers.push(b);
  return b;
}

type Maker = { name: string; make: (size: number) => { io: RegisterIo & { release(): void }; bytes: Uint8Array } };
const makers: Maker[] = [
  {
    name: "MmioIo (native)",
    make: (size) => {
      const b = memory(size);
      const n = nativeMmio();
      if (!n) throw new Error(`native helper unavailable: ${nativeMmioUnavailableReason()}`);
      return { io: new MmioIo(b.ptr, size, "bar0", n), bytes: b.bytes };
    },
  },
  {
    name: "FfiMmioIo (fallback)",
    make: (size) => {
      const b = memory(size);
      return { io: new FfiMmioIo(b.ptr, size, "bar0"), bytes: b.bytes };
    },
  },
  {
    name: "RamIo",
    make: (size) => {
      const sab = new SharedArrayBuffer(size);
      return { io: new RamIo(sab, 0, size, "bar0"), bytes: new Uint8Array(sab) };
    },
  },
];

for (const { name, make } of makers) {
  test(`${name}: each width touches exactly its bytes`, () => {
    const { io, bytes } = make(4096);
    bytes.fill(0xaa, 0, 64);
    io.write8(1, 0x11);
    expect([...bytes.subarray(0, 3)]).toEqual([0xaa, 0x11, 0xaa]);
    io.write16(4, 0x2233);
    expect([...bytes.subarray(3, 7)]).toEqual([0xaa, 0x33, 0x22, 0xaa]);
    io.write32(8, 0xdeadbeef); // >= 2^31: must arrive unsigned and intact
    expect([...bytes.subarray(7, 13)]).toEqual([0xaa, 0xef, 0xbe, 0xad, 0xde, 0xaa]);
    io.write64(16, 0xfedcba9876543210n);
    expect([...bytes.subarray(16, 24)]).toEqual([0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe]);
    expect(bytes[24]).toBe(0xaa);
    expect(io.read8(1)).toBe(0x11);
    expect(io.read16(4)).toBe(0x2233);
    expect(io.read32(8)).toBe(0xdeadbeef);
    expect(io.read64(16)).toBe(0xfedcba9876543210n);
    io.write32(8, 0xffffffff);
    expect(io.read32(8)).toBe(0xffffffff);
    io.doorbell(32, 0x80000001);
    expect(io.read32(32)).toBe(0x80000001);
  });

  test(`${name}: out-of-range and misaligned accesses name the region and offset`, () => {
    const { io } = make(4096);
    expect(() => io.read32(4096)).toThrow(RegisterError);
    expect(() => io.read32(4096)).toThrow("register bar0+0x1000: 32-bit access outside the region (size 0x1000)");
    expect(() => io.write64(4092, 1n)).toThrow("outside the region");
    expect(() => io.read32(-4)).toThrow(RegisterError);
    expect(() => io.read16(3)).toThrow(/bar0\+0x3: 16-bit access .*aligned/);
    expect(() => io.write32(2, 0)).toThrow(RegisterError);
    expect(() => io.read32(Number.NaN)).toThrow(RegisterError);
  });

  test(`${name}: offsets and values are checked before the store; a refused store writes nothing`, () => {
    const { io, bytes } = make(4096);
    bytes.fill(0xaa, 0, 64);
    const before = [...bytes.subarray(0, 64)];
    // an offset whose valueOf answers 0 to a check and far outside the region afterwards
    let calls = 0;
    const shifty = { valueOf: () => (calls++ === 0 ? 0 : 0x7fff_0000) };
    for (const off of [shifty, "8", 8n, null, undefined, true, [8]]) {
      expect(() => io.write32(off as never, 1)).toThrow(TypeError);
      expect(() => io.read32(off as never)).toThrow(TypeError);
      expect(() => io.write8(off as never, 1)).toThrow(/^register access to bar0: offset must be a number, got /);
    }
    expect(calls).toBe(0); // never asked: objects are refused by type, not by value
    expect(() => io.read8(1.5)).toThrow(RegisterError); // not an integer offset
    expect(() => io.write8(2 ** 32 + 1, 1)).toThrow(RegisterError);
    // values: unsigned integers of the width (bigint for 64), nothing masked or truncated into place
    const bad: [string, () => void, ErrorConstructor][] = [
      ["w8 0x100", () => io.write8(1, 0x100), RangeError],
      ["w8 -1", () => io.write8(1, -1), RangeError],
      ["w8 1.5", () => io.write8(1, 1.5), RangeError],
      ["w8 '1'", () => io.write8(1, "1" as never), TypeError],
      ["w16 0x10000", () => io.write16(4, 0x10000), RangeError],
      ["w16 NaN", () => io.write16(4, NaN), RangeError],
      ["w32 2^32", () => io.write32(8, 2 ** 32), RangeError],
      ["w32 -1", () => io.write32(8, -1), RangeError],
      ["w32 Infinity", () => io.write32(8, Infinity), RangeError],
      ["w32 5n", () => io.write32(8, 5n as never), TypeError],
      ["w32 valueOf", () => io.write32(8, { valueOf: () => 5 } as never), TypeError],
      ["db 2^32", () => io.doorbell(8, 2 ** 32), RangeError],
      ["w64 5", () => io.write64(16, 5 as never), TypeError],
      ["w64 -1n", () => io.write64(16, -1n), RangeError],
      ["w64 2^64", () => io.write64(16, 1n << 64n), RangeError],
    ];
    for (const [what, f, kind] of bad) {
      expect(f, what).toThrow(kind);
      expect(f, what).toThrow(/^register bar0\+0x[0-9a-f]+: value must be /);
    }
    // a bad offset is reported before a bad value
    expect(() => io.write32(4096, -1)).toThrow(RegisterError);
    expect([...bytes.subarray(0, 64)]).toEqual(before);
  });

  test(`${name}: use after release is a clear error, not a crash`, () => {
    const { io } = make(4096);
    io.write32(0, 5);
    io.release();
    expect(() => io.read32(0)).toThrow(UseAfterReleaseError);
    expect(() => io.write32(0, 1)).toThrow("region bar0 was used after it was unmapped");
  });
}

test("mmioIo picks the native helper when it can be built", () => {
  const b = memory();
  expect(nativeMmio()).not.toBeNull();
  expect(mmioIo(b.ptr, 4096, "x")).toBeInstanceOf(MmioIo);
});

test("the native helper builds into a cache dir once, keyed by source hash", () => {
  const dir = mkdtempSync(join(tmpdir(), "wd-cache-"));
  try {
    const a = buildMmioLibrary(dir);
    expect(existsSync(a)).toBe(true);
    expect(a).toMatch(/libwdmmio-.*-[0-9a-f]{16}\.so$/);
    expect(buildMmioLibrary(dir)).toBe(a); // cached, no rebuild
    expect(readdirSync(dir)).toEqual([a.slice(dir.length + 1)]); // no stray temp files
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("WD_MMIO=ffi selects the fallback (in a fresh process)", async () => {
  const code = `import { mmioIo, FfiMmioIo } from ${JSON.stringify(new URL("../../runtime/src/mem/io.ts", import.meta.url).pathname)};
    import { DmaBuffer } from ${JSON.stringify(new URL("../../runtime/src/mem/dma.ts", import.meta.url).pathname)};
    const b = DmaBuffer.alloc(4096); const io = mmioIo(b.ptr, 4096, "x"); io.write32(0, 7);
    console.log(io instanceof FfiMmioIo, io.read32(0)); b.free();`;
  const p = Bun.spawn([process.execPath, "-e", code], { env: { ...process.env, WD_MMIO: "ffi" }, stdout: "pipe" });
  expect((await new Response(p.stdout).text()).trim()).toBe("true 7");
  expect(await p.exited).toBe(0);
});

test("RamIo over a non-shared buffer and at an offset", () => {
  const ab = new ArrayBuffer(64);
  const io = new RamIo(ab, 16, 32, "ram");
  io.write32(0, 0x01020304);
  expect(new Uint8Array(ab)[16]).toBe(4);
  expect(() => io.read8(32)).toThrow("outside the region");
  expect(() => new RamIo(ab, 4, 8, "odd")).toThrow("not 8-byte aligned");
});

// Hoisted reads: a polling loop over a register must see a write made by another thread. A Worker writes
// into the same memory after it has started; the main thread spins on io.read32 with an iteration
// bound far beyond what the write needs. A hoisted load would spin to the bound and fail.
for (const kind of ["native", "ffi", "ram"] as const) {
  test(`a polling read32 loop sees another thread's write (${kind})`, async () => {
    const b = memory();
    const sab = new SharedArrayBuffer(64);
    const io: RegisterIo =
      kind === "native" ? mmioIo(b.ptr, 4096, "poll") : kind === "ffi" ? new FfiMmioIo(b.ptr, 4096, "poll") : new RamIo(sab, 0, 64, "poll");
    const worker = new Worker(
      URL.createObjectURL(
        new Blob(
          [
            `import { toArrayBuffer } from "bun:ffi";
             self.onmessage = (e) => {
               const { ptr, sab } = e.data;
               const u32 = ptr ? new Uint32Array(toArrayBuffer(ptr, 0, 64)) : new Uint32Array(sab);
               postMessage("started");
               // give the main thread time to enter its loop, then write
               const until = Date.now() + 20; while (Date.now() < until) {}
               Atomics.store(u32, 1, 0x5a5a);
             };`,
          ],
          { type: "application/typescript" },
        ),
      ),
    );
    const started = new Promise((r) => (worker.onmessage = r));
    worker.postMessage(kind === "ram" ? { ptr: 0, sab } : { ptr: b.ptr, sab: null });
    await started;
    let n = 0;
    const limit = 2_000_000_000;
    while (io.read32(4) !== 0x5a5a && n < limit) n++;
    worker.terminate();
    expect(io.read32(4)).toBe(0x5a5a);
    expect(n).toBeLessThan(limit);
  });
}
