// Register classes over a RamIo: field access by layout, modify() never writes 1 into w1c/w1s bits
// it was not asked to set, read-only fields refuse writes, 64-bit values are bigint, arrays, DMA
// address registers through a resolver.
import { expect, test } from "bun:test";
import { DmaError, RegisterError } from "@warpdrive/runtime/errors";
import type { DmaRef, DmaResolver } from "@warpdrive/runtime/mem/dma";
import { RamIo, type RegisterIo } from "@warpdrive/runtime/mem/io";
import {
  DmaAddrReg,
  DmaAddrReg32,
  RegArray,
  RoReg32,
  RoReg64,
  RwReg8,
  RwReg16,
  RwReg32,
  RwReg64,
  WoReg32,
  type FieldLayout,
} from "@warpdrive/runtime/mem/registers";

/** A RamIo that records every write (offset, width, value) so tests see exactly what was stored. */
function recordingIo(size = 256): { io: RegisterIo; writes: string[] } {
  const ram = new RamIo(new ArrayBuffer(size), 0, size, "bar0");
  const writes: string[] = [];
  const io: RegisterIo = {
    name: "bar0",
    read8: (o) => ram.read8(o),
    read16: (o) => ram.read16(o),
    read32: (o) => ram.read32(o),
    read64: (o) => ram.read64(o),
    write8: (o, v) => (writes.push(`w8 ${o} ${v}`), ram.write8(o, v)),
    write16: (o, v) => (writes.push(`w16 ${o} ${v}`), ram.write16(o, v)),
    write32: (o, v) => (writes.push(`w32 ${o} 0x${(v >>> 0).toString(16)}`), ram.write32(o, v)),
    write64: (o, v) => (writes.push(`w64 ${o} 0x${v.toString(16)}`), ram.write64(o, v)),
    doorbell: (o, v) => (writes.push(`db ${o} ${v}`), ram.doorbell(o, v)),
  };
  return { io, writes };
}

interface StatusFields {
  enable: number;
  mode: number;
  irq: number; // w1c
  go: number; // w1s
  version: number; // ro
}
const StatusLayout: FieldLayout = {
  enable: { lsb: 0, width: 1, access: "rw" },
  mode: { lsb: 1, width: 3, access: "rw" },
  irq: { lsb: 8, width: 1, access: "w1c" },
  go: { lsb: 9, width: 1, access: "w1s" },
  version: { lsb: 24, width: 8, access: "ro" },
};

test("fields decode by layout; get reads one field", () => {
  const { io } = recordingIo();
  io.write32(0x20, 0xab00010b); // version 0xab, irq 1, mode 5, enable 1
  const r = new RwReg32<StatusFields>(io, 0x20, StatusLayout);
  expect(r.read()).toBe(0xab00010b);
  expect(r.fields()).toEqual({ enable: 1, mode: 5, irq: 1, go: 0, version: 0xab });
  expect(r.get("mode")).toBe(5);
  expect(r.get("version")).toBe(0xab);
});

test("modify keeps rw fields, writes 0 into w1c/w1s bits it was not asked to set", () => {
  const { io, writes } = recordingIo();
  io.write32(0x20, 0xab00030b); // irq pending (w1c) and go reads 1 (w1s)
  writes.length = 0;
  const r = new RwReg32<StatusFields>(io, 0x20, StatusLayout);
  r.modify({ mode: 2 });
  // mode 2, enable kept, irq and go written as 0, version (ro) kept as read
  expect(writes).toEqual(["w32 32 0xab000005"]);
  writes.length = 0;
  r.modify({ irq: 1 }); // asked: acknowledge the interrupt
  expect(writes).toEqual(["w32 32 0xab000105"]);
});

test("writeFields zero-fills unnamed fields; read-only fields and oversized values are refused", () => {
  const { io, writes } = recordingIo();
  const r = new RwReg32<StatusFields>(io, 0x20, StatusLayout, undefined, "status");
  r.writeFields({ enable: 1, mode: 7 });
  expect(writes).toEqual(["w32 32 0xf"]);
  expect(() => r.writeFields({ version: 1 })).toThrow("register status (bar0): field version is read-only");
  expect(() => r.writeFields({ mode: 8 })).toThrow("register status (bar0): field mode must be an integer in 0..0x7 (3 bits), got 8");
  expect(() => r.writeFields({ mode: 8 })).toThrow(RangeError);
  expect(() => r.writeFields({ mode: -1 })).toThrow(RangeError);
  expect(() => r.writeFields({ nope: 1 } as never)).toThrow('has no field "nope"');
  expect(() => r.writeFields({ nope: 1 } as never)).toThrow(RegisterError);
  expect(() => r.write(2 ** 32)).toThrow("register status (bar0): value must be an integer in 0..0xffffffff (32 bits), got 4294967296");
  expect(writes).toEqual(["w32 32 0xf"]); // none of the refusals wrote anything
});

test("registers without a name are named by region and offset", () => {
  const { io } = recordingIo();
  const r = new RwReg32<StatusFields>(io, 0x20, StatusLayout);
  expect(r.name).toBe("bar0+0x20");
  expect(() => r.writeFields({ mode: 9 })).toThrow("register bar0+0x20: field mode");
});

test("a layout that does not fit the register width is refused at construction", () => {
  const { io } = recordingIo();
  expect(() => new RwReg8(io, 0, { big: { lsb: 4, width: 8, access: "rw" } })).toThrow("does not fit in 8 bits");
});

test("8 and 16 bit registers use their width", () => {
  const { io, writes } = recordingIo();
  new RwReg8(io, 3).write(0xff);
  new RwReg16<{ lo: number; hi: number }>(io, 6, { lo: { lsb: 0, width: 8, access: "rw" }, hi: { lsb: 8, width: 8, access: "rw" } }).writeFields({ hi: 0x12 });
  expect(writes).toEqual(["w8 3 255", "w16 6 4608"]);
  expect(new RwReg16<{ lo: number; hi: number }>(io, 6, { lo: { lsb: 0, width: 8, access: "rw" }, hi: { lsb: 8, width: 8, access: "rw" } }).get("hi")).toBe(0x12);
});

test("a full-width 32-bit field reads unsigned", () => {
  const { io } = recordingIo();
  io.write32(0, 0xffffffff);
  const r = new RoReg32<{ all: number }>(io, 0, { all: { lsb: 0, width: 32, access: "ro" } });
  expect(r.get("all")).toBe(0xffffffff);
  expect(r.fields().all).toBe(0xffffffff);
});

interface CapFields {
  mqes: number;
  to: number;
  dstrd: number;
  wide: bigint;
}
const CapLayout: FieldLayout = {
  mqes: { lsb: 0, width: 16, access: "ro" },
  to: { lsb: 24, width: 8, access: "ro" },
  dstrd: { lsb: 32, width: 4, access: "ro" },
  wide: { lsb: 20, width: 40, access: "ro" },
};

test("64-bit registers: bigint values, one 64-bit access; fields > 32 bits are bigint", () => {
  const { io, writes } = recordingIo();
  io.write64(0, 0x4018200f0107ffn); // QEMU NVMe CAP
  writes.length = 0;
  const cap = new RoReg64<CapFields>(io, 0, CapLayout);
  expect(cap.read()).toBe(0x4018200f0107ffn);
  expect(cap.get("mqes")).toBe(2047);
  expect(cap.get("to")).toBe(0x0f);
  expect(cap.get("dstrd")).toBe(0);
  expect(cap.get("wide")).toBe((0x4018200f0107ffn >> 20n) & ((1n << 40n) - 1n));
  const r = new RwReg64<{ start: number; dir: number; irq: number }>(io, 8, {
    start: { lsb: 0, width: 1, access: "w1s" },
    dir: { lsb: 1, width: 1, access: "rw" },
    irq: { lsb: 2, width: 1, access: "rw" },
  });
  r.writeFields({ start: 1, dir: 1, irq: 1 });
  r.write(0xffffffffffffffffn);
  expect(writes).toEqual(["w64 8 0x7", "w64 8 0xffffffffffffffff"]);
  writes.length = 0;
  r.modify({ dir: 0 }); // start (w1s) read as 1 is not written back
  expect(writes).toEqual(["w64 8 0xfffffffffffffffc"]);
  expect(() => r.write(1n << 64n)).toThrow("value must be a bigint in 0..0xffffffffffffffff (64 bits), got 18446744073709551616n");
  expect(() => r.write(-1n)).toThrow(RangeError);
  expect(() => r.write(5 as never)).toThrow(TypeError); // 64-bit values are BigInt, even small ones
});

test("access rules are types: no write on read-only, no read on write-only", () => {
  const { io } = recordingIo();
  const ro = new RoReg32(io, 0);
  const wo = new WoReg32(io, 4);
  // @ts-expect-error read-only register has no write
  expect(ro.write).toBeUndefined();
  // @ts-expect-error write-only register has no read
  expect(wo.read).toBeUndefined();
  // @ts-expect-error write-only register has no modify
  expect(wo.modify).toBeUndefined();
});

test("RegArray: elements at stride, named, bounds-checked, cached", () => {
  const { io, writes } = recordingIo();
  const db = new RegArray(io, 0x40, 4, 8, WoReg32, undefined, undefined, "sq_tail");
  db.at(2).write(9);
  expect(writes).toEqual(["w32 80 0x9"]); // 0x40 + 2 * 8
  expect(db.at(2)).toBe(db.at(2));
  expect(db.length).toBe(4);
  expect([...db].length).toBe(4);
  expect(() => db.at(4)).toThrow("register sq_tail (bar0): index must be an integer in 0..3, got 4");
  expect(() => db.at(4.5)).toThrow(RangeError);
  expect(() => db.at("1" as never)).toThrow(TypeError);
  expect(db.at(-0)).toBe(db.at(0));
});

test("DmaAddrReg writes the resolver's IOVA as one 64-bit store and names itself to the resolver", () => {
  const { io, writes } = recordingIo();
  const asked: string[] = [];
  const fakeRef = { buffer: { name: "rx" }, offset: 0x10, length: 16 } as unknown as DmaRef;
  const dma: DmaResolver = {
    addressOf(ref, field) {
      asked.push(field);
      if (ref.offset > 0x100) throw new DmaError(`${field}: outside`, { field });
      return 0x1_0000_0000 + ref.offset;
    },
  };
  const src = new DmaAddrReg(io, 0x80, undefined, dma, "dma_src");
  src.write(fakeRef);
  expect(writes).toEqual(["w64 128 0x100000010"]);
  expect(asked).toEqual(["dma_src"]);
  expect(src.read()).toBe(0x100000010n);
  expect(() => src.write({ ...fakeRef, offset: 0x200 } as unknown as DmaRef)).toThrow("dma_src: outside");
  // a 32-bit address register refuses an IOVA above 4 GiB
  expect(() => new DmaAddrReg32(io, 0x90, undefined, dma, "addr32").write(fakeRef)).toThrow("holds 32 bits");
  // without a resolver the register cannot take a buffer
  expect(() => new DmaAddrReg(io, 0x80).write(fakeRef)).toThrow("built without a DmaResolver");
});

test("number path edge bits: bit 31, a 32-bit field; booleans and bigints are not numbers", () => {
  const { io, writes } = recordingIo();
  const r = new RwReg32<{ top: number; low: number }>(io, 0, { top: { lsb: 31, width: 1, access: "rw" }, low: { lsb: 0, width: 31, access: "rw" } });
  r.writeFields({ top: 1 });
  r.writeFields({ low: 0x7fffffff });
  r.writeFields({ top: 1, low: 5 });
  expect(writes).toEqual(["w32 0 0x80000000", "w32 0 0x7fffffff", "w32 0 0x80000005"]);
  expect(r.fields()).toEqual({ top: 1, low: 5 });
  expect(() => r.writeFields({ top: true as never })).toThrow("field top must be an integer in 0..0x1 (1 bit), got true");
  expect(() => r.writeFields({ low: 5n as never })).toThrow(TypeError);
  expect(() => r.writeFields({ low: 2 ** 31 })).toThrow("field low must be an integer in 0..0x7fffffff (31 bits), got 2147483648");
  expect(() => r.writeFields({ low: 1.5 })).toThrow(RangeError);
  const all = new RwReg32<{ all: number }>(io, 4, { all: { lsb: 0, width: 32, access: "w1c" } });
  io.write32(4, 0xffffffff);
  writes.length = 0;
  all.modify({}); // w1c bits read as 1 are never written back as 1
  all.writeFields({ all: 0xffffffff });
  expect(writes).toEqual(["w32 4 0x0", "w32 4 0xffffffff"]);
});

test("register entry points check their arguments once, before any access", () => {
  const { io, writes } = recordingIo();
  const reads: number[] = [];
  const counting: RegisterIo = { ...io, read32: (o) => (reads.push(o), io.read32(o)), read64: (o) => (reads.push(o), io.read64(o)) };
  const r = new RwReg32<StatusFields>(counting, 0x20, StatusLayout, undefined, "status");
  const not = [undefined, null, "5", 5n, true, {}, [], Symbol("s"), () => 5];
  for (const v of not) expect(() => r.write(v as never)).toThrow(TypeError);
  for (const v of [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 32, 2 ** 53]) expect(() => r.write(v)).toThrow(RangeError);
  for (const v of [undefined, null, 5, "mode", [1]]) {
    expect(() => r.writeFields(v as never)).toThrow(TypeError);
    expect(() => r.modify(v as never)).toThrow(TypeError);
  }
  expect(() => r.get(5 as never)).toThrow("register status (bar0): field name must be a string, got 5");
  expect(() => r.get("toString" as never)).toThrow(RegisterError); // no inherited key passes for a field
  // a getter that answers differently each time is read once: the checked value is the stored one
  let n = 0;
  const changing = { get mode() { return n++ === 0 ? 2 : 99; } };
  r.writeFields(changing as never);
  expect(n).toBe(1);
  expect(writes).toEqual(["w32 32 0x4"]);
  // modify checks every field before it reads the register (a read may clear read-to-clear bits)
  reads.length = 0;
  writes.length = 0;
  expect(() => r.modify({ enable: 1, mode: 8 })).toThrow(RangeError);
  expect(() => r.modify({ enable: 1, version: 1 })).toThrow("read-only");
  expect(() => r.modify(new Proxy({ mode: "1" }, {}) as never)).toThrow(TypeError);
  expect(reads).toEqual([]);
  expect(writes).toEqual([]);
  // a frozen object and a Proxy with well-behaved values work
  r.modify(Object.freeze({ mode: 3 }));
  r.writeFields(new Proxy({ enable: 1 }, {}));
  expect(writes).toEqual(["w32 32 0x6", "w32 32 0x1"]);
  // 64-bit registers: fields up to 32 bits are numbers, wider ones bigints
  const wide = new RwReg64<{ lo: number; hi: bigint }>(counting, 8, { lo: { lsb: 0, width: 8, access: "rw" }, hi: { lsb: 8, width: 40, access: "rw" } }, undefined, "wide");
  writes.length = 0;
  reads.length = 0;
  expect(() => wide.writeFields({ lo: 1n as never })).toThrow("field lo must be an integer in 0..0xff (8 bits), got 1n");
  expect(() => wide.writeFields({ hi: 1 as never })).toThrow("field hi must be a bigint in 0..0xffffffffff (40 bits), got 1");
  expect(() => wide.modify({ hi: 1n << 40n })).toThrow(RangeError);
  expect(reads).toEqual([]);
  expect(writes).toEqual([]);
  wide.modify({ lo: 1, hi: 2n });
  expect(writes).toEqual(["w64 8 0x201"]);
});

test("DmaAddrReg.writeRaw takes a bigint address that fits the register", () => {
  const { io, writes } = recordingIo();
  const a = new DmaAddrReg(io, 0x80, undefined, undefined, "dma_src");
  expect(() => a.writeRaw(0x1000 as never)).toThrow("register dma_src (bar0): address must be a bigint in 0..0xffffffffffffffff, got 4096");
  expect(() => a.writeRaw(-1n)).toThrow(RangeError);
  const a32 = new DmaAddrReg32(io, 0x90, undefined, undefined, "addr32");
  expect(() => a32.writeRaw(1n << 32n)).toThrow(RangeError);
  expect(writes).toEqual([]);
  a32.writeRaw(0xffffffffn);
  expect(writes).toEqual(["w32 144 0xffffffff"]);
});
