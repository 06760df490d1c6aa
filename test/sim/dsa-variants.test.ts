// dsa-copy's descriptor variants: each case encodes byte for byte as the public DSA format lays that
// operation out (struct dsa_hw_desc's unions, restated here as offsets), decodes in its own terms
// (a fill's pattern is a pattern, not a source address), refuses what it must before a byte is
// written, and runs for real on the sim: as batch members and awaited on the portal queue.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DmaBuffer, DmaError, bitsOf, type DmaRef, type DmaResolver } from "@warpdrive/runtime";
import {
  CompletionRecord, CompletionRecordStatusFields, DescriptorList, DescriptorOpFlagsFields, DsaCopyDevice, DsaStatus, decodeDescriptorVariant, descriptorVariantOf, encodeDescriptorVariant, encodeWqRequest,
  type DescriptorVariantInit,
} from "@warpdrive/dsa-copy";

// ---- the public format, as facts ----
const OFF = { flags: 4, completion: 8, src: 16, dst: 24, size: 32, intHandle: 36, specific: 40 } as const;
const OPCODE = { NOOP: 0x00, BATCH: 0x01, DRAIN: 0x02, MEMMOVE: 0x03, MEMFILL: 0x04, COMPARE: 0x05, COMPVAL: 0x06, DUALCAST: 0x09, CRCGEN: 0x10, COPY_CRC: 0x11 } as const;
const FLAG = { CRAV: 0x04, RCR: 0x08, CR: 0x80 } as const;
/** The status code of a completion record (its status word, bits 6:0). */
const statusCode = (r: { status: number }) => bitsOf(r.status, CompletionRecordStatusFields.code);

const BASE = 0x5_0000_0000; // a made-up IOVA of the buffer
const buf = DmaBuffer.alloc(4 * 4096, { name: "variants" });
const dma: DmaResolver = { addressOf: (ref: DmaRef) => BASE + ref.offset };
afterAll(() => buf.free());

function encoded(init: DescriptorVariantInit): Uint8Array {
  const out = new Uint8Array(64).fill(0xee); // every byte must be written
  encodeDescriptorVariant(new DataView(out.buffer), 0, init, dma);
  return out;
}
function expected(opcode: number, flags: number, set: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  v.setUint32(OFF.flags, ((opcode << 24) | flags) >>> 0, true);
  set(v);
  return b;
}
const addr = (v: DataView, at: number, off: number) => v.setBigUint64(at, BigInt(BASE + off), true);

describe("each variant is the public layout of its operation", () => {
  const flags = { completionAddrValid: 1, requestCompletion: 1 } as const;
  test("memmove: source, destination, size; the encoder sets the opcode", () => {
    expect(encoded({ variant: "memmove", opFlags: flags, completionAddr: buf.ref(0, 32), srcAddr: buf.ref(64, 10), dstAddr: buf.ref(4096, 10), xferSize: 10 })).toEqual(
      expected(OPCODE.MEMMOVE, FLAG.CRAV | FLAG.RCR, (v) => { addr(v, OFF.completion, 0); addr(v, OFF.src, 64); addr(v, OFF.dst, 4096); v.setUint32(OFF.size, 10, true); }),
    );
  });
  test("fill: the pattern at 16 (over the source address)", () => {
    expect(encoded({ variant: "fill", pattern: 0x1122334455667788n, dstAddr: buf.ref(128, 40), xferSize: 40 })).toEqual(
      expected(OPCODE.MEMFILL, 0, (v) => { v.setBigUint64(OFF.src, 0x1122334455667788n, true); addr(v, OFF.dst, 128); v.setUint32(OFF.size, 40, true); }),
    );
  });
  test("compare: the second source at 24, expected_res at 40 with check_result", () => {
    expect(encoded({ variant: "compare", opFlags: { checkResult: 1 }, srcAddr: buf.ref(0, 8), src2Addr: buf.ref(8, 8), xferSize: 8, expectedRes: 1 })).toEqual(
      expected(OPCODE.COMPARE, FLAG.CR, (v) => { addr(v, OFF.src, 0); addr(v, OFF.dst, 8); v.setUint32(OFF.size, 8, true); v.setUint8(OFF.specific, 1); }),
    );
  });
  test("compare-pattern: the pattern at 24 (over the destination)", () => {
    expect(encoded({ variant: "compare_pattern", srcAddr: buf.ref(0, 16), compPattern: 7, xferSize: 16 })).toEqual(
      expected(OPCODE.COMPVAL, 0, (v) => { addr(v, OFF.src, 0); v.setBigUint64(OFF.dst, 7n, true); v.setUint32(OFF.size, 16, true); }),
    );
  });
  test("dualcast: the second destination at 40", () => {
    expect(encoded({ variant: "dualcast", srcAddr: buf.ref(0, 32), dstAddr: buf.ref(4096, 32), dest2: buf.ref(8192, 32), xferSize: 32 })).toEqual(
      expected(OPCODE.DUALCAST, 0, (v) => { addr(v, OFF.src, 0); addr(v, OFF.dst, 4096); addr(v, OFF.specific, 8192); v.setUint32(OFF.size, 32, true); }),
    );
  });
  test("crc-gen and copy-with-crc: the seed at 40; crc-gen has no destination", () => {
    expect(encoded({ variant: "crc_gen", srcAddr: buf.ref(0, 9), xferSize: 9, crcSeed: 0xfeedf00d })).toEqual(
      expected(OPCODE.CRCGEN, 0, (v) => { addr(v, OFF.src, 0); v.setUint32(OFF.size, 9, true); v.setUint32(OFF.specific, 0xfeedf00d, true); }),
    );
    expect(encoded({ variant: "copy_crc", srcAddr: buf.ref(0, 9), dstAddr: buf.ref(64, 9), xferSize: 9, crcSeed: 3 })).toEqual(
      expected(OPCODE.COPY_CRC, 0, (v) => { addr(v, OFF.src, 0); addr(v, OFF.dst, 64); v.setUint32(OFF.size, 9, true); v.setUint32(OFF.specific, 3, true); }),
    );
  });
  test("batch: the list address at 16, the count at 32", () => {
    expect(encoded({ variant: "batch", descListAddr: buf.ref(256, 128), descCount: 2 })).toEqual(
      expected(OPCODE.BATCH, 0, (v) => { addr(v, OFF.src, 256); v.setUint32(OFF.size, 2, true); }),
    );
  });
  test("drain and noop: opcode and flags only", () => {
    expect(encoded({ variant: "drain", opFlags: { requestCompletion: 1 } })).toEqual(expected(OPCODE.DRAIN, FLAG.RCR, () => {}));
    expect(encoded({ variant: "noop", intHandle: 5 })).toEqual(expected(OPCODE.NOOP, 0, (v) => v.setUint16(OFF.intHandle, 5, true)));
  });
  test("the opcode is the variant's even when the flags word is given whole or names another opcode", () => {
    const whole = encoded({ variant: "fill", opFlags: 0x0300000c, xferSize: 1 });
    expect(new DataView(whole.buffer).getUint32(OFF.flags, true)).toBe(((OPCODE.MEMFILL << 24) | 0x0c) >>> 0);
    const sneaky = encoded({ variant: "fill", opFlags: { opcode: 0x03 } as never, xferSize: 1 });
    expect(new DataView(sneaky.buffer).getUint32(OFF.flags, true) >>> 24).toBe(OPCODE.MEMFILL);
  });
  test("a command naming a variant writes the same bytes as the variant with the command's flags", () => {
    const viaCommand: Uint8Array = new Uint8Array(64).fill(0xee);
    encodeWqRequest(new DataView(viaCommand.buffer), 0, { command: "fill", pattern: 0x0101010101010101n, dst: buf.ref(0, 64), size: 64 }, dma);
    expect(viaCommand).toEqual(encoded({ variant: "fill", opFlags: { completionAddrValid: 1, requestCompletion: 1, requestInterrupt: 1 }, pattern: 0x0101010101010101n, dstAddr: buf.ref(0, 64), xferSize: 64 }));
  });
});

describe("decoding in the variant's terms", () => {
  test("every variant round-trips, and says which it is", () => {
    const inits: DescriptorVariantInit[] = [
      { variant: "noop" },
      { variant: "batch", descListAddr: buf.ref(0, 128), descCount: 2 },
      { variant: "drain" },
      { variant: "memmove", srcAddr: buf.ref(0, 4), dstAddr: buf.ref(64, 4), xferSize: 4 },
      { variant: "fill", pattern: 0xabcdn, dstAddr: buf.ref(0, 4), xferSize: 4 },
      { variant: "compare", srcAddr: buf.ref(0, 4), src2Addr: buf.ref(64, 4), xferSize: 4, expectedRes: 1 },
      { variant: "compare_pattern", srcAddr: buf.ref(0, 4), compPattern: 0x99n, xferSize: 4 },
      { variant: "dualcast", srcAddr: buf.ref(0, 4), dstAddr: buf.ref(4096, 4), dest2: buf.ref(8192, 4), xferSize: 4 },
      { variant: "crc_gen", srcAddr: buf.ref(0, 4), xferSize: 4, crcSeed: 11 },
      { variant: "copy_crc", srcAddr: buf.ref(0, 4), dstAddr: buf.ref(64, 4), xferSize: 4, crcSeed: 12 },
    ];
    for (const init of inits) {
      const b = encoded(init);
      const view = new DataView(b.buffer);
      expect(descriptorVariantOf(view, 0)).toBe(init.variant);
      const d = decodeDescriptorVariant(view, 0)!;
      expect(d.variant).toBe(init.variant);
      expect(bitsOf(d.opFlags, DescriptorOpFlagsFields.opcode)).toBe(b[7]!);
    }
  });
  test("a fill decodes its pattern as the pattern; the same bytes as memmove are a source address", () => {
    const b = encoded({ variant: "fill", pattern: 0x0102030405060708n, dstAddr: buf.ref(64, 8), xferSize: 8 });
    const d = decodeDescriptorVariant(new DataView(b.buffer), 0);
    expect(d).toMatchObject({ variant: "fill", pattern: 0x0102030405060708n, dstAddr: BigInt(BASE + 64), xferSize: 8 });
    expect(d && "srcAddr" in d).toBe(false);
    b[7] = OPCODE.MEMMOVE;
    expect(decodeDescriptorVariant(new DataView(b.buffer), 0)).toMatchObject({ variant: "memmove", srcAddr: 0x0102030405060708n });
  });
  test("an opcode no variant has decodes to undefined", () => {
    const b = new Uint8Array(64);
    b[7] = 0x20; // a DSA opcode this description leaves out (delta record create)
    expect(descriptorVariantOf(new DataView(b.buffer), 0)).toBeUndefined();
    expect(decodeDescriptorVariant(new DataView(b.buffer), 0)).toBeUndefined();
  });
});

describe("refusals happen before a byte is written", () => {
  const tryEncode = (init: unknown): Uint8Array => {
    const out = new Uint8Array(64).fill(0xee);
    expect(() => encodeDescriptorVariant(new DataView(out.buffer), 0, init as DescriptorVariantInit, dma)).toThrow();
    return out;
  };
  const untouched = (b: Uint8Array) => expect(b.every((x) => x === 0xee)).toBe(true);
  test("an unknown variant is a RangeError naming the known ones; no object is a TypeError", () => {
    expect(() => encodeDescriptorVariant(new DataView(new ArrayBuffer(64)), 0, { variant: "memcopy" } as never, dma)).toThrow(RangeError);
    expect(() => encodeDescriptorVariant(new DataView(new ArrayBuffer(64)), 0, { variant: "memcopy" } as never, dma)).toThrow(/variant "memcopy" is not one of noop, batch, drain, memmove, fill/);
    expect(() => encodeDescriptorVariant(new DataView(new ArrayBuffer(64)), 0, null as never, dma)).toThrow(TypeError);
    expect(() => encodeDescriptorVariant(new DataView(new ArrayBuffer(64)), 0, [] as never, dma)).toThrow(TypeError);
  });
  test("fields are checked: ranges, types, windows and the list's alignment", () => {
    untouched(tryEncode({ variant: "crc_gen", srcAddr: buf.ref(0, 4), xferSize: 4, crcSeed: 2 ** 32 }));
    untouched(tryEncode({ variant: "fill", pattern: "1", xferSize: 4 }));
    untouched(tryEncode({ variant: "compare", expectedRes: 256 }));
    expect(() => encodeDescriptorVariant(new DataView(new ArrayBuffer(64)), 0, { variant: "batch", descListAddr: buf.ref(32, 128), descCount: 2 }, dma)).toThrow(DmaError);
    expect(() => encodeDescriptorVariant(new DataView(new ArrayBuffer(64)), 0, { variant: "batch", descListAddr: buf.ref(32, 128), descCount: 2 }, dma)).toThrow(/Descriptor\.batch\.desc_list_addr: the device requires a 64-byte aligned address/);
  });
});

describe("variants on the sim", () => {
  let dev: DsaCopyDevice;
  let data: DmaBuffer;
  beforeAll(async () => {
    dev = await DsaCopyDevice.open({ backend: "sim" });
    data = dev.alloc(4 * 4096, "data");
  });
  afterAll(() => dev.close());

  test("a batch of members written as variants runs each in its own terms", () => {
    using q = dev.requestQueue("wq");
    using memory = dev.alloc(4096, "list");
    using records = dev.alloc(4096, "records");
    for (let i = 0; i < 256; i++) data.bytes[i] = (i * 7 + 3) & 0xff;
    data.bytes.fill(0, 4096, 8192);
    const done = { completionAddrValid: 1, requestCompletion: 1 } as const;
    const members: DescriptorVariantInit[] = [
      { variant: "memmove", opFlags: done, completionAddr: records.ref(0, 32), srcAddr: data.ref(0, 256), dstAddr: data.ref(4096, 256), xferSize: 256 },
      { variant: "fill", opFlags: done, completionAddr: records.ref(32, 32), pattern: 0x5a5a5a5a5a5a5a5an, dstAddr: data.ref(4096 + 512, 64), xferSize: 64 },
      { variant: "compare_pattern", opFlags: done, completionAddr: records.ref(64, 32), srcAddr: data.ref(4096 + 512, 64), compPattern: 0x5a5a5a5a5a5a5a5an, xferSize: 64 },
      { variant: "compare", opFlags: { ...done, checkResult: 1, fence: 1 }, completionAddr: records.ref(96, 32), srcAddr: data.ref(0, 256), src2Addr: data.ref(4096, 256), xferSize: 256, expectedRes: 0 },
    ];
    const list = new DescriptorList(memory, dev.dma);
    for (const m of members) list.push(m);
    q.batch({ list });
    const r = q.recvSync(5000);
    expect([statusCode(r), r.bytesCompleted]).toEqual([DsaStatus.SUCCESS, 4]);
    expect(data.bytes.subarray(4096, 4096 + 256)).toEqual(data.bytes.subarray(0, 256));
    expect(data.bytes.subarray(4096 + 512, 4096 + 576).every((x) => x === 0x5a)).toBe(true);
    const rec = (i: number) => CompletionRecord.decode(records.view, i * 32);
    expect([statusCode(rec(0)), statusCode(rec(1)), statusCode(rec(2)), rec(2).result]).toEqual([DsaStatus.SUCCESS, DsaStatus.SUCCESS, DsaStatus.SUCCESS, 0]);
    expect([statusCode(rec(3)), rec(3).result]).toEqual([DsaStatus.SUCCESS, 0]); // equal, as check_result expected
  });

  test("a member's window past its buffer is refused while the list is written, with the device's resolver", () => {
    using list = dev.alloc(4096, "list");
    expect(() => encodeDescriptorVariant(list.view, 0, { variant: "memmove", srcAddr: data.ref(0, 16), dstAddr: data.ref(64, 16), xferSize: 17 }, dev.dma)).toThrow(DmaError);
    // a batch's list holds desc_count descriptors: 2 need 128 bytes, the window has 64
    expect(() => encodeDescriptorVariant(list.view, 0, { variant: "batch", descListAddr: list.ref(64, 64), descCount: 2 }, dev.dma)).toThrow(DmaError);
    expect(list.bytes.subarray(0, 64).every((x) => x === 0)).toBe(true);
  });

  test("awaited on the portal: a variant and a command resolve with their records", async () => {
    using q = dev.requestQueue("wq");
    data.bytes.set(new TextEncoder().encode("123456789"), 0);
    const flags = { completionAddrValid: 1, requestCompletion: 1 } as const;
    // the queue points each request at its own record slot: completionAddr is the engine's
    const [crc, fill] = await Promise.all([
      q.async.submit(encodeDescriptorVariant, { variant: "crc_gen", opFlags: flags, srcAddr: data.ref(0, 9), xferSize: 9 }),
      q.async.submit(encodeWqRequest, { command: "fill", pattern: 0x3131313131313131n, dst: data.ref(8192, 24), size: 24 }),
    ]);
    expect(Number(crc.crcVal)).toBe(0xe3069283); // the published CRC-32C check value
    expect(statusCode(fill)).toBe(DsaStatus.SUCCESS);
    expect(new TextDecoder().decode(data.bytes.subarray(8192, 8216))).toBe("1".repeat(24));
    // equal buffers give result 0; check_result expecting 1 makes the predicate false
    const pred = await q.async.submit(encodeDescriptorVariant, { variant: "compare", opFlags: { ...flags, checkResult: 1 }, srcAddr: data.ref(0, 9), src2Addr: data.ref(0, 9), xferSize: 9, expectedRes: 1 });
    expect([statusCode(pred), pred.result]).toEqual([DsaStatus.SUCCESS_PRED, 0]);
    await expect(q.async.submit(encodeDescriptorVariant, { variant: "nope" } as never)).rejects.toThrow(RangeError);
    const again = await q.async.submit(encodeDescriptorVariant, { variant: "memmove", opFlags: flags, srcAddr: data.ref(0, 9), dstAddr: data.ref(4096, 9), xferSize: 9 });
    expect(statusCode(again)).toBe(DsaStatus.SUCCESS);
  });
});
