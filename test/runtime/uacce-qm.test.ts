// hzip's queue on UACCE the way HiSilicon's queue manager (QM v2) shows it, against the fake kernel
// (fake-uacce.ts) with a QM parent: the doorbell word's bit layout, the QM ioctls' struct bytes, the
// rings at the start of DUS (SQ at 0, CQ after it) and the DMA pool after them, one queue per open,
// the device's depth, and a request that goes around the whole path (entry in the SQ, doorbell, a
// completion the "device" writes, the write-back read from the SQ).
import { afterEach, describe, expect, test } from "bun:test";
import { ConfigError, UacceError } from "@warpdrive/runtime/errors";
import { RamIo } from "@warpdrive/runtime/mem/io";
import { UACCE_CMD_QM_SET_QP_CTX, UACCE_CMD_QM_SET_QP_INFO } from "@warpdrive/runtime/sys/uacce-abi";
import { UacceBackend } from "@warpdrive/runtime/uacce/backend";
import { decodeQmDoorbellV2, QmDoorbell, qmDoorbellV2 } from "@warpdrive/runtime/uacce/qm-doorbell";
import { Hzip } from "@warpdrive/hzip";
import { HzipDevice } from "@warpdrive/hzip-generated/client";
import { SQE_SIZE, CQE_SIZE } from "@warpdrive/hzip-generated/constants";
import { ZipStatus } from "@warpdrive/hzip-generated/enums";
import { Cqe, Sqe } from "@warpdrive/hzip-generated/structs";
import { spec } from "@warpdrive/hzip-generated/spec";
import { FakeUacce } from "./fake-uacce.ts";

const DEPTH = 1024;
const RINGS = DEPTH * (SQE_SIZE + CQE_SIZE);
const QM = { sqeSize: 128, sqDepth: DEPTH, cqDepth: DEPTH };

let fakes: FakeUacce[] = [];
const closers: { close(): void }[] = [];
afterEach(() => {
  for (const c of closers.splice(0).reverse()) c.close();
  for (const f of fakes) f.dispose();
  fakes = [];
});

function fake(qm = QM): FakeUacce {
  const f = new FakeUacce([{ name: "hzip-0", api: "hzip_qm_v2", instances: 4, algorithms: "zlib\ngzip\ndeflate", mmioSize: 0x2000, dusSize: 1 << 20, qm }]);
  fakes.push(f);
  return f;
}
const backend = (f: FakeUacce) => new UacceBackend({ sys: f, sysfs: f.sysfs });

describe("the QM v2 doorbell word", () => {
  test("bit layout: queue number 9:0, command 15:12, index 47:32, priority 63:48", () => {
    expect(qmDoorbellV2(0x3ff, 1, 0xabcd, 0x1234)).toBe(0x1234_abcd_0000_13ffn);
    expect(qmDoorbellV2(5, 0, 7)).toBe(0x0000_0007_0000_0005n);
    expect(decodeQmDoorbellV2(0x1234_abcd_0000_13ffn)).toEqual({ qn: 0x3ff, cmd: 1, index: 0xabcd, priority: 0x1234 });
    expect(() => qmDoorbellV2(0x400, 0, 0)).toThrow(RangeError);
    expect(() => qmDoorbellV2(0, 16, 0)).toThrow(RangeError);
    expect(() => qmDoorbellV2(0, 0, 0x10000)).toThrow(RangeError);
  });

  test("an SQ doorbell is one store; a CQ doorbell is followed by the last SQ doorbell again", () => {
    const writes: bigint[] = [];
    const ram = new RamIo(new ArrayBuffer(0x2000), 0, 0x2000, "qm");
    const io = Object.assign(Object.create(ram) as RamIo, {
      write64(off: number, v: bigint) {
        expect(off).toBe(0x1000);
        writes.push(v);
        ram.write64(off, v);
      },
    });
    const db = new QmDoorbell(io, 0x1000, 9);
    db.ringCq(3); // no SQ doorbell yet: nothing to repeat
    db.ringSq(17);
    db.ringCq(4);
    expect(writes.map((w) => decodeQmDoorbellV2(w))).toEqual([
      { qn: 9, cmd: 1, index: 3, priority: 0 },
      { qn: 9, cmd: 0, index: 17, priority: 0 },
      { qn: 9, cmd: 1, index: 4, priority: 0 },
      { qn: 9, cmd: 0, index: 17, priority: 0 },
    ]);
    expect(ram.read64(0x1000)).toBe(qmDoorbellV2(9, 0, 17));
  });
});

describe("hzip on a fake QM parent", () => {
  test("the spec places the rings in DUS and the doorbell at qm+0x1000", () => {
    expect(spec.uacce?.queues).toEqual([{ queue: "qp", rings: "dus", depth: DEPTH, doorbell: { format: "qm-v2", region: 2, offset: 0x1000 } }]);
  });

  test("requestQueue: SET_QP_CTX (qc_type 0, the sqn written back) and SET_QP_INFO; SQ at DUS 0, CQ after it; buffers after the rings", async () => {
    const f = fake();
    const other = await HzipDevice.open({ backend: backend(f) }); // takes qp id 0 in the fake kernel
    closers.push(other);
    const dev = await HzipDevice.open({ backend: backend(f) });
    closers.push(dev);
    const fd = [...f.queues.keys()][1]!;
    const qp = dev.requestQueue("qp");
    const ioctls = f.calls.filter((c) => c.fd === fd && c.call.startsWith("ioctl:")).map((c) => [c.call, c.request]);
    expect(ioctls).toEqual([
      ["ioctl:UACCE_CMD_START_Q", 0x5700],
      ["ioctl:UACCE_CMD_QM_SET_QP_CTX", UACCE_CMD_QM_SET_QP_CTX],
      ["ioctl:UACCE_CMD_QM_SET_QP_INFO", UACCE_CMD_QM_SET_QP_INFO],
    ]);
    expect([UACCE_CMD_QM_SET_QP_CTX, UACCE_CMD_QM_SET_QP_INFO]).toEqual([0xc004480a, 0xc010480b]);
    expect(f.queues.get(fd)!.qcType).toBe(0);
    expect(qp.queue.queueNumber).toBe(1);
    expect(qp.queue.deviceKeepsRings).toBe(true);
    expect([qp.queue.sqDepth, qp.queue.cqDepth]).toEqual([DEPTH, DEPTH]);
    const dus = f.mapping(fd, 1)!;
    expect(qp.queue.sqBuffer.ptr).toBe(dus);
    expect(qp.queue.sqBuffer.size).toBe(DEPTH * SQE_SIZE);
    expect(qp.queue.cqBuffer.ptr).toBe(dus + DEPTH * SQE_SIZE);
    expect(qp.queue.cqBuffer.size).toBe(DEPTH * CQE_SIZE);
    const buf = dev.alloc(4096, "data");
    expect(buf.ptr).toBe(dus + RINGS);
    expect(buf.iovaIn(dev.device)).toBe(0x2_0000_0000 + RINGS);
    // the rings are the queue's: the caller cannot free them
    expect(() => qp.queue.sqBuffer.free()).toThrow(/queue memory/);
  });

  test("one request around the whole path: SQE in DUS, QM doorbell with the kernel's sqn, the completion names the entry", async () => {
    const f = fake();
    const z = await Hzip.open({ backend: backend(f) });
    closers.push(z);
    const fd = [...f.queues.keys()][0]!;
    const mmio = f.mapping(fd, 0)!;
    const qm = z.client.device.region("qm");
    expect(qm.ptr).toBe(mmio);
    expect(z.queueNumber).toBe(0);
    using buf = z.alloc(8192);
    buf.bytes.set([1, 2, 3], 0);
    const tag = z.submit("compress", "zlib", buf.ref(0, 3), buf.ref(4096, 4096));
    z.flush();
    expect(decodeQmDoorbellV2(qm.io.read64(0x1000))).toEqual({ qn: 0, cmd: 0, index: 1, priority: 0 });
    const sq = z.qp.queue.sqBuffer.view;
    const e = Sqe.decode(sq, 0);
    expect([e.tag, e.inputDataLength, e.destAvailOut, e.sourceAddr]).toEqual([tag, 3, 4096, BigInt(buf.iovaIn(z.client.device)!)]);
    // the "device": write-back into the SQE, then a completion with phase 1 naming SQE 0
    sq.setUint32(Sqe.LAYOUT.produced.offset, 11, true);
    sq.setUint32(Sqe.LAYOUT.consumed.offset, 3, true);
    const cq = z.qp.queue.cqBuffer.view;
    cq.setUint16(4, tag, true);
    cq.setUint16(8, 0, true);
    cq.setUint16(10, z.queueNumber, true);
    cq.setUint16(14, 1, true);
    const r = z.reap(1000);
    expect(r).toEqual({ tag, status: ZipStatus.OK, statusName: "OK", consumed: 3, produced: 11 });
    expect(new Cqe(cq).moveTo(0).sqNum).toBe(0);
    // nothing more: the CQ head (1) is published, and the word ends on the SQ tail again
    expect(z.qp.recv()).toBeNull();
    expect(decodeQmDoorbellV2(qm.io.read64(0x1000))).toEqual({ qn: 0, cmd: 0, index: 1, priority: 0 });
  });

  test("one queue per open: another id or another depth is refused; released and requested again, the kernel's queue restarts and the rings are zeroed", async () => {
    const f = fake();
    const dev = await HzipDevice.open({ backend: backend(f) });
    closers.push(dev);
    expect(() => dev.requestQueue("qp", { id: 1 })).toThrow(ConfigError);
    expect(() => dev.requestQueue("qp", { id: 1 })).toThrow(/a UACCE queue file is one queue \(id 0\); open the device again/);
    expect(() => dev.requestQueue("qp", { depth: 64 })).toThrow(/the device's rings have 1024 entries, depth 64 cannot be chosen/);
    let qp = dev.requestQueue("qp");
    qp.queue.sqBuffer.bytes.fill(0xee, 0, 128);
    qp.release();
    const fd = [...f.queues.keys()][0]!;
    const before = f.calls.length;
    qp = dev.requestQueue("qp");
    expect(f.calls.slice(before).filter((c) => c.fd === fd).map((c) => c.call)).toEqual([
      "ioctl:UACCE_CMD_PUT_Q", "ioctl:UACCE_CMD_START_Q", "ioctl:UACCE_CMD_QM_SET_QP_CTX", "ioctl:UACCE_CMD_QM_SET_QP_INFO",
    ]);
    expect(qp.queue.sqBuffer.bytes.subarray(0, 128).every((b) => b === 0)).toBe(true);
  });

  test("a kernel whose queue info disagrees with the description is refused by name; the device stays usable", async () => {
    const f = fake({ sqeSize: 64, sqDepth: DEPTH, cqDepth: DEPTH });
    const dev = await HzipDevice.open({ backend: backend(f) });
    closers.push(dev);
    const err = (() => {
      try {
        dev.requestQueue("qp");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UacceError);
    expect(String((err as Error).message)).toMatch(/the kernel reports SQE size 64, depths 1024\/1024; hzip's description says 128, 1024\/1024/);
    expect(dev.device.queues).toEqual([]);
    // the same answer again (nothing was left half taken), and the rest of the device works
    expect(() => dev.requestQueue("qp")).toThrow(/the kernel reports SQE size 64/);
    expect(dev.alloc(4096).size).toBe(4096);
  });
});
