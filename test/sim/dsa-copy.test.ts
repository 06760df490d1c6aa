// The shipped dsa-copy device end to end on the sim backend: descriptors byte-exact against the
// public DSA format (offsets, opcodes and flag bits of Linux's uapi idxd.h, restated here), every
// operation done for real by the model and checked against the bytes it must produce (CRC-32C
// against an independent bitwise implementation), and every refusal leaving the queue usable.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  ConfigError, DmaBuffer, DmaError, QueueFullError, UseAfterReleaseError, WarpDriveError, bitsOf, type DmaRef, type DmaResolver,
} from "@warpdrive/runtime";
import {
  CompletionRecord, CompletionRecordStatusFields, Descriptor, DescriptorList, DsaCopyDevice, DsaOpcode, DsaStatus, encodeDescriptorVariant,
  encodeBatch, encodeCompare, encodeComparePattern, encodeCopyCrc, encodeCrcGen, encodeDrain, encodeDualcast, encodeFill, encodeMemmove,
  encodeWqRequest, wqRequestCommand,
} from "@warpdrive/dsa-copy";

// ---- the public format, as facts (struct dsa_hw_desc / dsa_completion_record) ----
const OFF = { flags: 4, completion: 8, src: 16, dst: 24, size: 32, intHandle: 36, dest2: 40, crcSeed: 40 } as const;
const OPCODE = { BATCH: 0x01, DRAIN: 0x02, MEMMOVE: 0x03, MEMFILL: 0x04, COMPARE: 0x05, COMPVAL: 0x06, DUALCAST: 0x09, CRCGEN: 0x10, COPY_CRC: 0x11 } as const;
const FLAG = { CRAV: 0x04, RCR: 0x08, RCI: 0x10 } as const;
/** The status code of a completion record (its status word, bits 6:0). */
const statusCode = (r: { status: number }) => bitsOf(r.status, CompletionRecordStatusFields.code);
const STATUS = { SUCCESS: 0x01, SUCCESS_PRED: 0x02, PAGE_FAULT_NOBOF: 0x03, BATCH_FAIL: 0x05, BAD_OPCODE: 0x10, XFER_ERANGE: 0x13, DESC_CNT_ERANGE: 0x14, DCAST_ERR: 0x17 } as const;

/** CRC-32C computed bit by bit, MSB first with the normal polynomial 0x1EDC6F41 on bit-reversed
 *  bytes: a different route to the same function than the model's reflected table. */
function crc32cBitwise(bytes: Uint8Array, seed = 0): number {
  const rev8 = (b: number) => { let r = 0; for (let i = 0; i < 8; i++) r |= ((b >> i) & 1) << (7 - i); return r; };
  const rev32 = (x: number) => { let r = 0; for (let i = 0; i < 32; i++) r = (r * 2) + ((x >>> i) & 1); return r >>> 0; };
  let crc = rev32(~seed >>> 0);
  for (const byte of bytes) {
    crc = (crc ^ (rev8(byte) << 24)) >>> 0;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x1edc6f41) >>> 0 : (crc << 1) >>> 0;
  }
  return ~rev32(crc) >>> 0;
}

/** The 64 bytes a descriptor must be, built from the facts above. */
function expected(opcode: number, set: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  v.setUint32(OFF.flags, ((opcode << 24) | FLAG.CRAV | FLAG.RCR | FLAG.RCI) >>> 0, true);
  set(v);
  return b;
}

describe("dsa-copy descriptors are the public format, byte for byte", () => {
  const buf = DmaBuffer.alloc(3 * 4096, { name: "exact" });
  const BASE = 0x7_0000_0000; // a made-up IOVA of the buffer: every address below is BASE + offset
  const dma: DmaResolver = { addressOf: (ref: DmaRef) => BASE + ref.offset };
  afterAll(() => buf.free());
  const encode = (f: (v: DataView, o: number) => void): Uint8Array => {
    const out = new Uint8Array(64).fill(0xee); // every byte must be written
    f(new DataView(out.buffer), 0);
    return out;
  };
  const u64 = (v: DataView, at: number, x: number) => v.setBigUint64(at, BigInt(x), true);

  test("memmove", () => {
    const got = encode((v, o) => encodeMemmove(v, o, { src: buf.ref(0, 100), dst: buf.ref(4096, 100), size: 100 }, dma));
    expect(got).toEqual(expected(OPCODE.MEMMOVE, (v) => { u64(v, OFF.src, BASE); u64(v, OFF.dst, BASE + 4096); v.setUint32(OFF.size, 100, true); }));
  });
  test("fill: the pattern over the source address", () => {
    const got = encode((v, o) => encodeFill(v, o, { pattern: 0x0123456789abcdefn, dst: buf.ref(64, 256), size: 256 }, dma));
    expect(got).toEqual(expected(OPCODE.MEMFILL, (v) => { v.setBigUint64(OFF.src, 0x0123456789abcdefn, true); u64(v, OFF.dst, BASE + 64); v.setUint32(OFF.size, 256, true); }));
  });
  test("compare: the second source over the destination", () => {
    const got = encode((v, o) => encodeCompare(v, o, { src: buf.ref(0, 8), src2: buf.ref(8, 8), size: 8 }, dma));
    expect(got).toEqual(expected(OPCODE.COMPARE, (v) => { u64(v, OFF.src, BASE); u64(v, OFF.dst, BASE + 8); v.setUint32(OFF.size, 8, true); }));
  });
  test("compare-pattern: the pattern over the destination", () => {
    const got = encode((v, o) => encodeComparePattern(v, o, { src: buf.ref(0, 16), pattern: 0xa5a5a5a5a5a5a5a5n, size: 16 }, dma));
    expect(got).toEqual(expected(OPCODE.COMPVAL, (v) => { u64(v, OFF.src, BASE); v.setBigUint64(OFF.dst, 0xa5a5a5a5a5a5a5a5n, true); v.setUint32(OFF.size, 16, true); }));
  });
  test("crc-gen and copy-with-crc: the seed at 40", () => {
    const crc = encode((v, o) => encodeCrcGen(v, o, { src: buf.ref(0, 32), size: 32, seed: 0xdeadbeef }, dma));
    expect(crc).toEqual(expected(OPCODE.CRCGEN, (v) => { u64(v, OFF.src, BASE); v.setUint32(OFF.size, 32, true); v.setUint32(OFF.crcSeed, 0xdeadbeef, true); }));
    const cc = encode((v, o) => encodeCopyCrc(v, o, { src: buf.ref(0, 32), dst: buf.ref(4096, 32), size: 32, seed: 7 }, dma));
    expect(cc).toEqual(expected(OPCODE.COPY_CRC, (v) => { u64(v, OFF.src, BASE); u64(v, OFF.dst, BASE + 4096); v.setUint32(OFF.size, 32, true); v.setUint32(OFF.crcSeed, 7, true); }));
  });
  test("dualcast: the second destination at 40", () => {
    const got = encode((v, o) => encodeDualcast(v, o, { src: buf.ref(0, 64), dst: buf.ref(4096, 64), dst2: buf.ref(8192, 64), size: 64 }, dma));
    expect(got).toEqual(expected(OPCODE.DUALCAST, (v) => { u64(v, OFF.src, BASE); u64(v, OFF.dst, BASE + 4096); u64(v, OFF.dest2, BASE + 8192); v.setUint32(OFF.size, 64, true); }));
  });
  test("batch: the list over the source, its length over the size", () => {
    const list = new DescriptorList(buf, dma, { offset: 128 });
    for (let i = 0; i < 3; i++) list.push({ variant: "noop" });
    const got = encode((v, o) => encodeBatch(v, o, { list }, dma));
    expect(got).toEqual(expected(OPCODE.BATCH, (v) => { u64(v, OFF.src, BASE + 128); v.setUint32(OFF.size, 3, true); }));
  });
  test("drain: the opcode and flags only", () => {
    expect(encode((v, o) => encodeDrain(v, o, {}, dma))).toEqual(expected(OPCODE.DRAIN, () => {}));
  });
  test("a request names its command; the union encodes the same bytes and an entry says which command wrote it", () => {
    const viaUnion = encode((v, o) => encodeWqRequest(v, o, { command: "fill", pattern: 0x0123456789abcdefn, dst: buf.ref(64, 256), size: 256 }, dma));
    const direct = encode((v, o) => encodeFill(v, o, { pattern: 0x0123456789abcdefn, dst: buf.ref(64, 256), size: 256 }, dma));
    expect(viaUnion).toEqual(direct);
    expect(wqRequestCommand(new DataView(viaUnion.buffer), 0)).toBe("fill");
    const all = { memmove: encodeMemmove, compare: encodeCompare, compare_pattern: encodeComparePattern, crc_gen: encodeCrcGen, copy_crc: encodeCopyCrc, dualcast: encodeDualcast, batch: encodeBatch, drain: encodeDrain } as const;
    for (const [name, fn] of Object.entries(all)) {
      const b = encode((v, o) => (fn as (v: DataView, o: number, p: object, d?: DmaResolver) => void)(v, o, {}, dma));
      expect(wqRequestCommand(new DataView(b.buffer), 0)).toBe(name as never);
    }
    const plain = new Uint8Array(64); // opcode 0 (noop), no flags: none of the commands
    expect(wqRequestCommand(new DataView(plain.buffer), 0)).toBeUndefined();
    expect(() => encodeWqRequest(new DataView(new ArrayBuffer(64)), 0, { command: "memcopy" } as never, dma)).toThrow(/command "memcopy" is not one of memmove, fill/);
    expect(() => encodeWqRequest(new DataView(new ArrayBuffer(64)), 0, null as never, dma)).toThrow(TypeError);
  });
  test("the layouts put the completion record's fields where the format has them", () => {
    expect([CompletionRecord.SIZE, CompletionRecord.LAYOUT.status.offset, CompletionRecord.LAYOUT.result.offset, CompletionRecord.LAYOUT.bytesCompleted.offset, CompletionRecord.LAYOUT.faultAddr.offset, CompletionRecord.LAYOUT.crcVal.offset]).toEqual([32, 0, 1, 4, 8, 16]);
    expect([Descriptor.SIZE, Descriptor.LAYOUT.completionAddr.offset, Descriptor.LAYOUT.opFlags.bits.opcode.lsb, Descriptor.LAYOUT.intHandle.offset]).toEqual([64, OFF.completion, 24, OFF.intHandle]);
  });
});

describe("dsa-copy operations on the sim", () => {
  let dev: DsaCopyDevice;
  let buf: DmaBuffer;
  beforeAll(async () => {
    dev = await DsaCopyDevice.open({ backend: "sim" });
    buf = dev.alloc(4 * 4096, "data");
  });
  afterAll(() => dev.close());
  const fillRandom = (at: number, n: number, seed: number) => {
    let x = seed;
    for (let i = 0; i < n; i++) buf.bytes[at + i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  };

  test("the engine writes descriptors with the sim's whole-descriptor portal store", () => {
    using q = dev.requestQueue("wq");
    expect(q.queue.primitive).toBe("sim");
    expect(q.queue.depth).toBe(32);
  });

  test("memmove copies, the record says SUCCESS and the bytes", () => {
    using q = dev.requestQueue("wq");
    fillRandom(0, 5000, 1);
    buf.bytes.fill(0, 8192, 16384);
    const tag = q.memmove({ src: buf.ref(0, 5000), dst: buf.ref(8192, 5000), size: 5000 });
    const r = q.recvSync(5000);
    expect(q.queue.completionOffset).toBe(tag * q.queue.recordStride);
    expect([statusCode(r), bitsOf(r.status, CompletionRecordStatusFields.faultWrite)]).toEqual([DsaStatus.SUCCESS, 0]);
    expect(r.bytesCompleted).toBe(5000);
    expect(buf.bytes.subarray(8192, 13192)).toEqual(buf.bytes.subarray(0, 5000));
    expect(buf.bytes[13192]).toBe(0);
  });

  test("fill repeats the 8-byte pattern little endian, also past a multiple of 8", () => {
    using q = dev.requestQueue("wq");
    buf.bytes.fill(0xff, 0, 64);
    q.fill({ pattern: 0x0807060504030201n, dst: buf.ref(1, 21), size: 21 });
    expect(statusCode(q.recvSync(5000))).toBe(DsaStatus.SUCCESS);
    expect([...buf.bytes.subarray(0, 23)]).toEqual([0xff, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 0xff]);
  });

  test("compare: equal gives result 0, different gives 1 and the first differing offset", () => {
    using q = dev.requestQueue("wq");
    fillRandom(0, 300, 2);
    buf.bytes.copyWithin(4096, 0, 300);
    q.compare({ src: buf.ref(0, 300), src2: buf.ref(4096, 300), size: 300 });
    let r = q.recvSync(5000);
    expect([statusCode(r), r.result]).toEqual([STATUS.SUCCESS, 0]);
    buf.bytes[4096 + 211] ^= 0x40;
    q.compare({ src: buf.ref(0, 300), src2: buf.ref(4096, 300), size: 300 });
    r = q.recvSync(5000);
    expect([statusCode(r), r.result, r.bytesCompleted]).toEqual([STATUS.SUCCESS, 1, 211]);
  });

  test("compare-pattern against the repeated 8-byte pattern", () => {
    using q = dev.requestQueue("wq");
    const dv = new DataView(buf.arrayBuffer);
    for (let i = 0; i < 64; i += 8) dv.setBigUint64(i, 0x1122334455667788n, true);
    q.comparePattern({ src: buf.ref(0, 64), pattern: 0x1122334455667788n, size: 64 });
    expect(q.recvSync(5000).result).toBe(0);
    buf.bytes[45] = 0;
    q.comparePattern({ src: buf.ref(0, 64), pattern: 0x1122334455667788n, size: 64 });
    const r = q.recvSync(5000);
    expect([r.result, r.bytesCompleted]).toEqual([1, 45]);
  });

  test("crc-gen is CRC-32C (checked against an independent bitwise implementation) and chains by seed", () => {
    using q = dev.requestQueue("wq");
    buf.bytes.set(new TextEncoder().encode("123456789"), 0);
    q.crcGen({ src: buf.ref(0, 9), size: 9 });
    expect(Number(q.recvSync(5000).crcVal)).toBe(0xe3069283); // the published CRC-32C check value
    expect(crc32cBitwise(buf.bytes.subarray(0, 9))).toBe(0xe3069283);
    fillRandom(0, 4096, 3);
    q.crcGen({ src: buf.ref(0, 4096), size: 4096 });
    const whole = Number(q.recvSync(5000).crcVal);
    expect(whole).toBe(crc32cBitwise(buf.bytes.subarray(0, 4096)));
    q.crcGen({ src: buf.ref(0, 1000), size: 1000 });
    const first = Number(q.recvSync(5000).crcVal);
    q.crcGen({ src: buf.ref(1000, 3096), size: 3096, seed: first });
    expect(Number(q.recvSync(5000).crcVal)).toBe(whole);
  });

  test("copy-with-crc copies and reports the CRC of the data", () => {
    using q = dev.requestQueue("wq");
    fillRandom(0, 777, 4);
    q.copyCrc({ src: buf.ref(0, 777), dst: buf.ref(4096, 777), size: 777, seed: 0 });
    const r = q.recvSync(5000);
    expect(Number(r.crcVal)).toBe(crc32cBitwise(buf.bytes.subarray(0, 777)));
    expect(buf.bytes.subarray(4096, 4096 + 777)).toEqual(buf.bytes.subarray(0, 777));
  });

  test("dualcast writes both destinations; destinations differing in bits 11:0 are DCAST_ERR", () => {
    using q = dev.requestQueue("wq");
    fillRandom(0, 100, 5);
    buf.bytes.fill(0, 4096, 16384);
    q.dualcast({ src: buf.ref(0, 100), dst: buf.ref(4096 + 10, 100), dst2: buf.ref(8192 + 10, 100), size: 100 });
    expect(statusCode(q.recvSync(5000))).toBe(DsaStatus.SUCCESS);
    expect(buf.bytes.subarray(4106, 4206)).toEqual(buf.bytes.subarray(0, 100));
    expect(buf.bytes.subarray(8202, 8302)).toEqual(buf.bytes.subarray(0, 100));
    buf.bytes.fill(0, 4096, 16384);
    q.dualcast({ src: buf.ref(0, 100), dst: buf.ref(4096, 100), dst2: buf.ref(8192 + 8, 100), size: 100 });
    expect(statusCode(q.recvSync(5000))).toBe(DsaStatus.DCAST_ERR);
    expect(buf.bytes.subarray(4096, 16384).every((b) => b === 0)).toBe(true);
  });

  test("batch runs the list in order, each member with its own record; the batch counts them", () => {
    using q = dev.requestQueue("wq");
    using memory = dev.alloc(4096, "batch list");
    using records = dev.alloc(4096, "member records");
    fillRandom(0, 512, 6);
    buf.bytes.fill(0, 4096, 8192);
    const done = (i: number) => ({ opFlags: { completionAddrValid: 1, requestCompletion: 1 }, completionAddr: records.ref(i * 32, 32) }) as const;
    const list = new DescriptorList(memory, dev.dma);
    list.push({ variant: "memmove", ...done(0), srcAddr: buf.ref(0, 256), dstAddr: buf.ref(4096, 256), xferSize: 256 });
    list.push({ variant: "memmove", ...done(1), srcAddr: buf.ref(256, 256), dstAddr: buf.ref(4096 + 256, 256), xferSize: 256 });
    list.push({ variant: "crc_gen", ...done(2), srcAddr: buf.ref(0, 512), xferSize: 512 });
    q.batch({ list });
    const r = q.recvSync(5000);
    expect([statusCode(r), r.bytesCompleted]).toEqual([STATUS.SUCCESS, 3]);
    expect(buf.bytes.subarray(4096, 4608)).toEqual(buf.bytes.subarray(0, 512));
    for (let i = 0; i < 3; i++) expect(statusCode(CompletionRecord.decode(records.view, i * 32))).toBe(DsaStatus.SUCCESS);
    expect(Number(CompletionRecord.decode(records.view, 64).crcVal)).toBe(crc32cBitwise(buf.bytes.subarray(0, 512)));

    // a batch inside a batch is refused for that member, and the batch reports the failure
    records.bytes.fill(0);
    list.clear();
    list.push({ variant: "memmove", ...done(0), srcAddr: buf.ref(0, 8), dstAddr: buf.ref(4096, 8), xferSize: 8 });
    list.push({ variant: "batch", ...done(1), descListAddr: memory.ref(0, 128), descCount: 2 });
    q.batch({ list });
    expect(statusCode(q.recvSync(5000))).toBe(STATUS.BATCH_FAIL);
    expect(statusCode(CompletionRecord.decode(records.view, 32))).toBe(STATUS.BAD_OPCODE);

    // the encoder refuses a one-descriptor batch (min 2); the device does too, for a raw descriptor
    list.clear();
    list.push({ variant: "noop" });
    expect(() => q.batch({ list })).toThrow(/the list holds 1 entries; the device takes 2\.\.32/);
    q.queue.send((v, o) => {
      encodeDescriptorVariant(v, o, { variant: "batch", opFlags: { completionAddrValid: 1, requestCompletion: 1 }, descCount: 1 });
      v.setBigUint64(o + OFF.src, BigInt(memory.iovaIn(dev.device)!), true);
    });
    expect(statusCode(q.recvSync(5000))).toBe(STATUS.DESC_CNT_ERANGE);
  });

  test("drain completes after what was sent before it", () => {
    using q = dev.requestQueue("wq");
    const tags = [q.memmove({ src: buf.ref(0, 64), dst: buf.ref(4096, 64), size: 64 }), q.drain()];
    const seen = [q.queue.takeSync(5000), q.queue.takeSync(5000)];
    expect(seen).toEqual(tags);
    expect(statusCode(CompletionRecord.decode(q.queue.completionView, q.queue.completionOffset))).toBe(STATUS.SUCCESS);
  });

  test("a transfer size of 0 is XFER_ERANGE", () => {
    using q = dev.requestQueue("wq");
    q.memmove({ src: buf.ref(0, 1), dst: buf.ref(4096, 1), size: 0 });
    expect(statusCode(q.recvSync(5000))).toBe(STATUS.XFER_ERANGE);
  });

  test("an address the device was not given is a page fault that names it and writes nothing", () => {
    using q = dev.requestQueue("wq");
    buf.bytes.fill(0, 4096, 8192);
    const bogus = 0x3000_0000_0000;
    // raw descriptor: the generated encoder would refuse this address before the device saw it
    q.queue.send((v, o) => {
      encodeMemmove(v, o, { size: 64 });
      v.setBigUint64(o + OFF.src, BigInt(buf.iovaIn(dev.device)!), true);
      v.setBigUint64(o + OFF.dst, BigInt(bogus), true);
    });
    const r = q.recvSync(5000);
    expect([statusCode(r), bitsOf(r.status, CompletionRecordStatusFields.faultWrite)]).toEqual([DsaStatus.PAGE_FAULT_NOBOF, 1]);
    expect(Number(r.faultAddr)).toBe(bogus);
  });

  test("each queue id has its own portal and records", () => {
    using q0 = dev.requestQueue("wq", { id: 0 });
    using q3 = dev.requestQueue("wq", { id: 3 });
    fillRandom(0, 128, 7);
    q3.memmove({ src: buf.ref(0, 64), dst: buf.ref(4096, 64), size: 64 });
    q0.memmove({ src: buf.ref(64, 64), dst: buf.ref(4096 + 64, 64), size: 64 });
    expect(statusCode(q3.recvSync(5000))).toBe(STATUS.SUCCESS);
    expect(statusCode(q0.recvSync(5000))).toBe(STATUS.SUCCESS);
    expect(buf.bytes.subarray(4096, 4096 + 128)).toEqual(buf.bytes.subarray(0, 128));
  });

  test("sendCommand takes any command as one typed request", () => {
    using q = dev.requestQueue("wq");
    buf.bytes.fill(0, 4096, 4096 + 40);
    q.sendCommand({ command: "fill", pattern: 0x7777777777777777n, dst: buf.ref(4096, 40), size: 40 });
    expect(statusCode(q.recvSync(5000))).toBe(STATUS.SUCCESS);
    expect(buf.bytes.subarray(4096, 4136).every((b) => b === 0x77)).toBe(true);
    expect(() => q.sendCommand({ command: "nope" } as never)).toThrow(RangeError);
    expect(q.inFlight).toBe(0);
  });

  test("reap polls the record without allocating a result object per completion", () => {
    using q = dev.requestQueue("wq");
    const seen = new Set<unknown>();
    for (let i = 0; i < 40; i++) {
      q.memmove({ src: buf.ref(0, 16), dst: buf.ref(4096, 16), size: 16 });
      seen.add(q.reapSync(5000));
    }
    expect(seen.size).toBe(1); // one accessor, moved from record to record
  });
});

describe("dsa-copy refusals leave the queue usable", () => {
  let dev: DsaCopyDevice;
  let buf: DmaBuffer;
  beforeAll(async () => {
    dev = await DsaCopyDevice.open({ backend: "sim" });
    buf = dev.alloc(2 * 4096, "data");
  });
  afterAll(() => dev.close());

  const stillWorks = (q: ReturnType<DsaCopyDevice["requestQueue"]>) => {
    q.memmove({ src: buf.ref(0, 8), dst: buf.ref(4096, 8), size: 8 });
    expect(statusCode(q.recvSync(5000))).toBe(STATUS.SUCCESS);
    expect(q.inFlight).toBe(0);
  };

  test("a batch list that is not 64-byte aligned is refused by the encoder (align: 64)", () => {
    using q = dev.requestQueue("wq");
    const list = new DescriptorList(buf, dev.dma, { offset: 32, capacity: 2 });
    list.push({ variant: "noop" });
    list.push({ variant: "noop" });
    expect(() => q.batch({ list })).toThrow(DmaError);
    try {
      q.batch({ list });
    } catch (e) {
      expect((e as Error).message).toContain("64-byte aligned");
      expect((e as Error).message).toContain("desc_list_addr");
      expect((e as Error).message).toContain("/wq");
    }
    expect(buf.pins).toBe(0);
    stillWorks(q);
  });

  test("a batch takes only a DescriptorList of 2..MAX_BATCH_SIZE entries; a full list and a refused entry change nothing", () => {
    using q = dev.requestQueue("wq");
    using memory = dev.alloc(64 * 40, "list memory");
    expect(() => q.batch({ list: memory.ref(0, 128) as never })).toThrow(TypeError);
    expect(() => q.batch({ list: memory.ref(0, 128) as never })).toThrow(/expected a DescriptorList/);
    const list = new DescriptorList(memory, dev.dma, { capacity: 40 });
    for (let i = 0; i < 33; i++) list.push({ variant: "noop" });
    expect(() => q.batch({ list })).toThrow(RangeError);
    expect(memory.pins).toBe(0);
    const small = new DescriptorList(memory, dev.dma);
    for (let i = 0; i < 32; i++) small.push({ variant: "noop" });
    expect(() => small.push({ variant: "noop" })).toThrow(/is full: it holds 32 entries/);
    small.clear();
    small.push({ variant: "noop" });
    memory.bytes.fill(0xee, 64, 128);
    expect(() => small.push({ variant: "memmove", srcAddr: buf.ref(0, 8), dstAddr: buf.ref(0, 8), xferSize: 9 })).toThrow(DmaError);
    expect(() => small.push({ variant: "fill", pattern: -1 })).toThrow(RangeError);
    expect(small.length).toBe(1);
    expect(small.entries.members.length).toBe(0);
    expect(memory.bytes.subarray(64, 128).every((b) => b === 0)).toBe(true); // the refused entry's bytes are zeroed
    expect(() => new DescriptorList(memory, dev.dma, { capacity: memory.size / 64 + 1 })).toThrow(/end past dma buffer/);
    expect(() => new DescriptorList(memory, dev.dma, { capacity: 0 })).toThrow(RangeError);
    expect(() => new DescriptorList(memory, dev.dma, null as never)).toThrow(TypeError);
    expect(() => new DescriptorList(memory.ref(0, 64) as never, dev.dma)).toThrow(/expected a DmaBuffer/);
    expect(() => new DescriptorList(memory, {} as never)).toThrow(/options.dma must be a DmaResolver/);
    stillWorks(q);
  });

  test("buffers the members of a batch name stay pinned while the batch is in flight", () => {
    using q = dev.requestQueue("wq");
    using memory = dev.alloc(4096, "list memory");
    const a = dev.alloc(4096, "member a");
    const list = new DescriptorList(memory, dev.dma);
    list.push({ variant: "memmove", srcAddr: a.ref(0, 64), dstAddr: buf.ref(0, 64), xferSize: 64 });
    list.push({ variant: "crc_gen", srcAddr: a.ref(64, 64), xferSize: 64 });
    expect(a.pins).toBe(0); // a list alone pins nothing
    q.batch({ list });
    expect([memory.pins, a.pins]).toEqual([1, 2]);
    expect(() => a.free()).toThrow(/in flight/);
    expect(statusCode(q.recvSync(5000))).toBe(STATUS.SUCCESS);
    expect([memory.pins, a.pins, buf.pins]).toEqual([0, 0, 0]);
    a.free();
    // a member whose buffer was freed since it was pushed is refused when the batch is sent
    const b = dev.alloc(4096, "member b");
    list.clear();
    list.push({ variant: "memmove", srcAddr: b.ref(0, 8), dstAddr: buf.ref(0, 8), xferSize: 8 });
    list.push({ variant: "noop" });
    b.free();
    expect(() => q.batch({ list })).toThrow(/was freed/);
    expect([memory.pins, buf.pins]).toEqual([0, 0]);
    stillWorks(q);
  });

  test("a window past its buffer, a wrong type and a size too wide are refused before the portal store", () => {
    using q = dev.requestQueue("wq");
    expect(() => q.memmove({ src: buf.ref(4096, 4096), dst: buf.ref(0, 4096), size: 4097 })).toThrow(DmaError);
    expect(() => q.memmove({ src: buf.ref(0, 8), dst: buf.ref(4096, 8), size: -1 })).toThrow(RangeError);
    expect(() => q.fill({ pattern: "5" as unknown as bigint, dst: buf.ref(0, 8), size: 8 })).toThrow(/pattern/);
    expect(() => q.fill({ pattern: 1n << 64n, dst: buf.ref(0, 8), size: 8 })).toThrow(RangeError);
    expect(() => q.memmove(null as never)).toThrow(TypeError);
    expect(buf.pins).toBe(0);
    stillWorks(q);
  });

  test("the 33rd request in flight is QueueFullError; taking one completion makes room", () => {
    using q = dev.requestQueue("wq");
    using src = dev.alloc(4096, "src");
    // a slot is free again only once take() saw its record, however fast the device is
    for (let i = 0; i < 32; i++) q.memmove({ src: src.ref(0, 8), dst: buf.ref(0, 8), size: 8 });
    expect(q.inFlight).toBe(32);
    expect(src.pins).toBe(32);
    expect(() => q.memmove({ src: src.ref(0, 8), dst: buf.ref(0, 8), size: 8 })).toThrow(QueueFullError);
    expect(q.trySend({ opFlags: { opcode: DsaOpcode.NOOP } })).toBe(-1);
    expect(src.pins).toBe(32); // the refused request pinned nothing
    q.queue.takeSync(5000);
    q.memmove({ src: src.ref(0, 8), dst: buf.ref(0, 8), size: 8 });
    while (q.queue.inFlight > 0) q.queue.takeSync(5000);
    expect(src.pins).toBe(0);
    stillWorks(q);
  });

  test("queue ids, depth, timeouts and released queues are checked", () => {
    expect(() => dev.requestQueue("wq", { id: 4 })).toThrow(/options.id/);
    expect(() => dev.requestQueue("wq", { depth: 64 })).toThrow(ConfigError);
    const q = dev.requestQueue("wq");
    expect(() => dev.requestQueue("wq")).toThrow(WarpDriveError);
    expect(() => q.recvSync(10)).toThrow(/nothing is in flight/);
    q.memmove({ src: buf.ref(0, 8), dst: buf.ref(4096, 8), size: 8 });
    expect(() => q.recvSync(-1)).toThrow(RangeError);
    expect(() => q.recvSync("1" as never)).toThrow(TypeError);
    q.recvSync(5000);
    q.release();
    expect(() => q.memmove({ src: buf.ref(0, 8), dst: buf.ref(4096, 8), size: 8 })).toThrow(UseAfterReleaseError);
    expect(() => q.recv()).toThrow(UseAfterReleaseError);
    using again = dev.requestQueue("wq");
    stillWorks(again);
  });

  test("a buffer named by a request in flight cannot be freed", () => {
    using q = dev.requestQueue("wq");
    const b = dev.alloc(4096, "pinned");
    q.memmove({ src: b.ref(0, 8), dst: buf.ref(0, 8), size: 8 });
    expect(b.pins).toBe(1); // until take() saw the record, whether or not the device finished
    expect(() => b.free()).toThrow(/in flight/);
    q.recvSync(5000);
    expect(b.pins).toBe(0);
    b.free();
  });
});

describe("examples/dsa-copy.ts", () => {
  test("runs to the end on the sim and checks its own results", () => {
    const r = Bun.spawnSync(["bun", "examples/dsa-copy.ts", "--size", "200000", "--chunk", "9000"], { cwd: `${import.meta.dir}/../..`, stderr: "pipe", stdout: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain("copied 200000 bytes in 23 descriptors");
  }, 60000);
});
