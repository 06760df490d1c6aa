// Sim model of a virtio block device (virtio 1.2, 5.2), written from the specification and from
// what QEMU's virtio-blk-pci reports, so code tested here behaves the same against QEMU:
// - Configuration (5.2.4): capacity in 512-byte sectors, seg_max, geometry, blk_size 512,
//   writeback, num_queues, discard and write-zeroes limits. Little endian, at the offsets of
//   struct virtio_blk_config.
// - Requests (5.2.6): a 16-byte header (type, reserved, sector) the device reads, data, and one
//   status byte the device writes last. The device assumes nothing about how the driver split the
//   bytes into descriptors (2.6.4): it gathers what it reads and scatters what it writes.
//   IN reads sectors into the writable part, OUT writes the readable part after the header, FLUSH
//   has no data, GET_ID writes the 20-byte serial, DISCARD and WRITE_ZEROES take 16-byte segments
//   (sector, num_sectors, flags). The used length is every writable byte of the chain (status
//   included), as QEMU reports it.
// - Errors: a request past the capacity, data not a multiple of 512 bytes, more discard segments
//   than max_discard_seg: IOERR; an unknown type, or one whose feature was not negotiated: UNSUPP.
// modelOptions: { capacity?: sectors (default 32768 = 16 MiB), serial?: string (default DEFAULT_SERIAL) }.
import { bit } from "@warpdrive/runtime/virtio/constants";
import { gather, scatter, totalLength, virtioModel, VirtioDeviceError } from "@warpdrive/runtime/sim/virtio-device";
import type { ModelRegion } from "@warpdrive/runtime/sim/model";

export const SECTOR = 512;
export const F_SEG_MAX = 2;
export const F_GEOMETRY = 4;
export const F_BLK_SIZE = 6;
export const F_FLUSH = 9;
export const F_DISCARD = 13;
export const F_WRITE_ZEROES = 14;
export const T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13;
export const S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
export const ID_BYTES = 20;
const QUEUE_SIZE = 256;
/** The serial of the sim disk; the VM suite gives QEMU's virtio-blk-pci the same one. */
export const DEFAULT_SERIAL = "wd-virtio-blk";
const MAX_DISCARD_SECTORS = 0x3fffff;
const MAX_DISCARD_SEG = 1;

interface Disk {
  capacity: number;
  data: Uint8Array;
  serial: Uint8Array;
}

function writeConfig(c: ModelRegion, capacity: number): void {
  c.write32(0, capacity >>> 0); // capacity le64
  c.write32(4, Math.floor(capacity / 0x100000000));
  c.write32(8, 0); // size_max (F_SIZE_MAX not offered)
  c.write32(12, QUEUE_SIZE - 2); // seg_max: what QEMU reports (queue size - 2)
  c.write16(16, Math.min(Math.floor(capacity / (16 * 63)), 0xffff)); // geometry.cylinders
  c.write8(18, 16); // geometry.heads
  c.write8(19, 63); // geometry.sectors
  c.write32(20, SECTOR); // blk_size
  c.write8(32, 1); // writeback
  c.write16(34, 1); // num_queues
  c.write32(36, MAX_DISCARD_SECTORS);
  c.write32(40, MAX_DISCARD_SEG);
  c.write32(44, 1); // discard_sector_alignment
  c.write32(48, MAX_DISCARD_SECTORS); // max_write_zeroes_sectors
  c.write32(52, MAX_DISCARD_SEG);
  c.write8(56, 1); // write_zeroes_may_unmap
}

export default virtioModel<Disk>({
  name: "virtio-blk",
  regions: { common: "common", notify: "notify" },
  features: bit(F_SEG_MAX) | bit(F_GEOMETRY) | bit(F_BLK_SIZE) | bit(F_FLUSH) | bit(F_DISCARD) | bit(F_WRITE_ZEROES),
  queues: 1,
  maxQueueSize: QUEUE_SIZE,
  init(ctx, config) {
    const o = (ctx.spec.modelOptions ?? {}) as { capacity?: number; serial?: string };
    const capacity = o.capacity ?? 32768;
    if (config !== undefined) writeConfig(config, capacity);
    const serial = new Uint8Array(ID_BYTES);
    serial.set(new TextEncoder().encode(o.serial ?? DEFAULT_SERIAL).subarray(0, ID_BYTES));
    return { capacity, data: new Uint8Array(capacity * SECTOR), serial };
  },
  request(ctx, disk, _queue, chain, features) {
    const w = chain.writable;
    const inLen = totalLength(w);
    if (inLen < 1) throw new VirtioDeviceError("a block request without a status byte");
    const readable = gather(ctx, chain.readable);
    if (readable.length < 16) throw new VirtioDeviceError(`a block request header of ${readable.length} bytes`);
    const h = new DataView(readable.buffer, 0, 16);
    const type = h.getUint32(0, true);
    const sector = h.getUint32(8, true) + h.getUint32(12, true) * 0x100000000;
    const dataIn = inLen - 1; // writable bytes before the status byte
    const fits = (n: number) => n % SECTOR === 0 && sector + n / SECTOR <= disk.capacity;
    let status = S_OK;
    switch (type) {
      case T_IN:
        if (!fits(dataIn)) status = S_IOERR;
        else scatter(ctx, w, disk.data.subarray(sector * SECTOR, sector * SECTOR + dataIn));
        break;
      case T_OUT: {
        const n = readable.length - 16;
        if (!fits(n)) status = S_IOERR;
        else disk.data.set(readable.subarray(16), sector * SECTOR);
        break;
      }
      case T_FLUSH:
        if ((features & bit(F_FLUSH)) === 0n) status = S_UNSUPP;
        break;
      case T_GET_ID:
        scatter(ctx, w, disk.serial.subarray(0, Math.min(ID_BYTES, dataIn)));
        break;
      case T_DISCARD:
      case T_WRITE_ZEROES: {
        if ((features & bit(type === T_DISCARD ? F_DISCARD : F_WRITE_ZEROES)) === 0n) {
          status = S_UNSUPP;
          break;
        }
        const segs = readable.subarray(16);
        if (segs.length === 0 || segs.length % 16 !== 0 || segs.length / 16 > MAX_DISCARD_SEG) {
          status = S_IOERR;
          break;
        }
        const d = new DataView(segs.buffer, segs.byteOffset, segs.length);
        for (let at = 0; at < segs.length; at += 16) {
          const s = d.getUint32(at, true) + d.getUint32(at + 4, true) * 0x100000000;
          const n = d.getUint32(at + 8, true);
          if (n > MAX_DISCARD_SECTORS || s + n > disk.capacity) {
            status = S_IOERR;
            break;
          }
          // discarded sectors read back as zeroes here (allowed: 5.2.6.2), as write-zeroes requires
          disk.data.fill(0, s * SECTOR, (s + n) * SECTOR);
        }
        break;
      }
      default:
        status = S_UNSUPP;
    }
    scatter(ctx, w, new Uint8Array([status]), inLen - 1);
    return inLen;
  },
});
