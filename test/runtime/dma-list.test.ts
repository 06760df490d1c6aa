// DmaList: entries encoded one after another into shared memory, the windows they name remembered
// for the request that will carry the list, and a refused entry leaving the list as it was.
import { afterAll, describe, expect, test } from "bun:test";
import { DmaBuffer, DmaList, DmaRef, type DmaResolver } from "@warpdrive/runtime";

const buf = DmaBuffer.alloc(4096, { name: "list" });
const other = DmaBuffer.alloc(4096, { name: "data" });
afterAll(() => {
  buf.free();
  other.free();
});
/** A resolver that knows two made-up bus addresses and refuses windows too small for the extent. */
const dma: DmaResolver = {
  addressOf(ref: DmaRef, field: string, extent?: number) {
    if (extent !== undefined && extent > ref.length) throw new RangeError(`${field}: ${extent} bytes do not fit`);
    return (ref.buffer === buf ? 0x10000 : 0x20000) + ref.offset;
  },
};
/** A 16-byte entry: a tag and an address with its extent (like a descriptor's source). */
function encodeEntry(view: DataView, offset: number, e: { tag: number; src?: DmaRef; size?: number }, d: DmaResolver): void {
  const a = e.src === undefined ? 0 : d.addressOf(e.src, "entry.src", e.size);
  view.setUint32(offset, e.tag, true);
  view.setUint32(offset + 4, 0, true);
  view.setBigUint64(offset + 8, BigInt(a), true);
}

describe("DmaList", () => {
  test("entries go one after another from the offset; the window covers what was pushed", () => {
    const list = new DmaList(buf, { entrySize: 16, capacity: 4, offset: 64, dma, name: "test list" });
    expect(list.push(encodeEntry, { tag: 1, src: other.ref(0, 8), size: 8 })).toBe(0);
    expect(list.push(encodeEntry, { tag: 2 })).toBe(1);
    expect(list.length).toBe(2);
    expect([list.offsetOf(0), list.offsetOf(1)]).toEqual([64, 80]);
    expect([buf.view.getUint32(64, true), buf.view.getUint32(80, true), Number(buf.view.getBigUint64(72, true))]).toEqual([1, 2, 0x20000]);
    const r = list.ref();
    expect([r.buffer === buf, r.offset, r.length]).toEqual([true, 64, 32]);
    expect(list.members.map((m) => [m.buffer.name, m.offset, m.length])).toEqual([["data", 0, 8]]);
  });

  test("a refused entry is zeroed and forgets what it named; a full list refuses; clear starts over", () => {
    const list = new DmaList(buf, { entrySize: 16, capacity: 2, dma });
    list.push(encodeEntry, { tag: 7, src: other.ref(0, 16), size: 16 });
    buf.bytes.fill(0xee, 16, 32);
    expect(() => list.push((v, o, e: { tag: number }, d) => {
      encodeEntry(v, o, { tag: e.tag, src: other.ref(16, 8), size: 8 }, d); // resolves one window...
      throw new TypeError("...then refuses"); // ...and fails after writing
    }, { tag: 8 })).toThrow("...then refuses");
    expect(list.length).toBe(1);
    expect(list.members.length).toBe(1);
    expect(buf.bytes.subarray(16, 32).every((b) => b === 0)).toBe(true);
    expect(() => list.push(encodeEntry, { tag: 9, src: other.ref(0, 4), size: 8 })).toThrow(RangeError);
    list.push(encodeEntry, { tag: 10 });
    expect(() => list.push(encodeEntry, { tag: 11 })).toThrow(/dma list is full: it holds 2 entries/);
    expect(() => list.offsetOf(2)).toThrow(RangeError);
    list.clear();
    expect([list.length, list.members.length]).toEqual([0, 0]);
    expect(list.push(encodeEntry, { tag: 12 })).toBe(0);
  });

  test("options are checked once, at the boundary", () => {
    expect(() => new DmaList(buf, { entrySize: 64, capacity: 65, dma })).toThrow(/end past dma buffer list/);
    expect(() => new DmaList(buf, { entrySize: 0, capacity: 1, dma })).toThrow(RangeError);
    expect(() => new DmaList(buf, { entrySize: 16, capacity: 1.5, dma })).toThrow(RangeError);
    expect(() => new DmaList(buf, { entrySize: "16" as never, capacity: 1, dma })).toThrow(TypeError);
    expect(() => new DmaList(buf, { entrySize: 16, capacity: 1, offset: -1, dma })).toThrow(RangeError);
    expect(() => new DmaList(buf, { entrySize: 16, capacity: 1, dma: undefined as never })).toThrow(/options.dma must be a DmaResolver/);
    expect(() => new DmaList({} as never, { entrySize: 16, capacity: 1, dma })).toThrow(/expected a DmaBuffer/);
    expect(() => new DmaList(buf, null as never)).toThrow(TypeError);
  });
});
