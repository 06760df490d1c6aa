// 4. Request construction: the generated NVMe builders and decoders against hand-written DataView
//    code producing the same bytes / the same object. Goal: ratio >= 1.0 (no overhead).
import { Cqe, encodeRead, spec } from "@warpdrive/nvme";
import { Device, type DmaRef } from "@warpdrive/runtime";
import type { BenchResult } from "../report.ts";
import { nsPerOp } from "../stats.ts";

const SQE = 64;
const CQE = 16;
const SLOTS = 64;

/** What a careful person writes by hand for an NVMe Read SQE (the address already resolved). */
function handEncodeRead(v: DataView, o: number, nsid: number, prp1: number, slba: bigint, nlb: number): void {
  for (let i = 0; i < SQE; i += 4) v.setUint32(o + i, 0);
  v.setUint8(o, 0x02);
  v.setUint32(o + 4, nsid, true);
  v.setUint32(o + 24, prp1 >>> 0, true);
  v.setUint32(o + 28, (prp1 / 0x100000000) >>> 0, true);
  v.setBigUint64(o + 40, slba, true);
  v.setUint16(o + 48, nlb, true);
}

function handDecodeCqe(v: DataView, o: number) {
  const s = v.getUint16(o + 14, true);
  return {
    dw0: v.getUint32(o, true),
    dw1: v.getUint32(o + 4, true),
    sqhd: v.getUint16(o + 8, true),
    sqid: v.getUint16(o + 10, true),
    cid: v.getUint16(o + 12, true),
    status: { p: s & 1, sc: (s >> 1) & 0xff, sct: (s >> 9) & 7, crd: (s >> 12) & 3, m: (s >> 14) & 1, dnr: s >>> 15 },
  };
}

export async function benchCodec(scale = 1): Promise<BenchResult[]> {
  using dev = await Device.open(spec, { backend: "sim" });
  using ring = dev.alloc(SQE * SLOTS, "bench ring");
  using data = dev.alloc(SLOTS * 4096, "bench data");
  const v = ring.view;
  const refs: DmaRef[] = Array.from({ length: SLOTS }, (_, i) => data.ref(i * 4096, 4096));
  const iovas = refs.map((r) => dev.dma.addressOf(r, "bench"));
  const n = Math.round(2_000_000 * scale);

  // Both must write the same bytes, or the comparison means nothing.
  encodeRead(v, 0, { nsid: 1, buffer: refs[3], slba: 77n, nlb: 7 }, dev.dma);
  const a = ring.bytes.slice(0, SQE);
  handEncodeRead(v, 0, 1, iovas[3], 77n, 7);
  if (!a.every((b, i) => b === ring.bytes[i])) throw new Error("hand-written SQE differs from the generated one");

  let sink = 0;
  const gen = nsPerOp((i) => {
    const s = i & (SLOTS - 1);
    encodeRead(v, s * SQE, { nsid: 1, buffer: refs[s], slba: BigInt(i & 0xffff), nlb: 7 }, dev.dma);
  }, n);
  const hand = nsPerOp((i) => {
    const s = i & (SLOTS - 1);
    handEncodeRead(v, s * SQE, 1, iovas[s], BigInt(i & 0xffff), 7);
  }, n);
  const genDecode = nsPerOp((i) => {
    sink += Cqe.decode(v, (i & (SLOTS - 1)) * CQE).status.sc;
  }, n);
  const handDecode = nsPerOp((i) => {
    sink += handDecodeCqe(v, (i & (SLOTS - 1)) * CQE).status.sc;
  }, n);
  if (sink < 0) console.log(sink); // keeps the decoders' results alive

  return [
    { id: "codec.sqe", what: "NVMe read SQE: generated builder", value: gen, unit: "ns",
      reference: { what: "hand-written DataView", value: hand, unit: "ns" }, ratio: hand / gen,
      note: "the generated builder also checks the DMA buffer is shared and in range" },
    { id: "codec.cqe", what: "NVMe CQE: generated decoder", value: genDecode, unit: "ns",
      reference: { what: "hand-written DataView", value: handDecode, unit: "ns" }, ratio: handDecode / genDecode },
  ];
}
