// Our virtio-blk client cross-checked against the kernel's virtio_blk driver on the same QEMU
// virtio-blk-pci inside the guest (bun run test:vm). The PCI function moves between vfio-pci (our
// client: VirtioBlk over the vfio backend) and virtio-pci + virtio_blk (dd with O_DIRECT on /dev/vdX):
//   data      sectors we write the kernel reads back, and the reverse, byte for byte;
//   identity  /sys/block/vdX/size is our capacity, /sys/block/vdX/serial our get-id, the logical
//             block size our blk_size;
//   rebinding five moves lose no data and leave no descriptor open in this process.
// On the host (no QEMU device) the kernel part is skipped with its reason.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { VirtioBlk } from "@warpdrive/virtio-blk";
import { GUEST_VIRTIO_MODULE_LIST } from "../vm/guest-tools.ts";
import { bindVfio, ddRead, ddWrite, openFds } from "../vm/kernel-path.ts";
import { bindVirtioKernel as bindKernel } from "../vm/virtio-kernel.ts";
import { firstDifference, pattern, type Region } from "./patterns.ts";

const LONG = 240_000;
const SECTOR = 512;
const bdf = process.env.WD_DEVICE_VIRTIO_BLK;

function missing(): string | undefined {
  if (process.env.WD_BACKEND !== "vfio") return "WD_BACKEND is not vfio (runs in the QEMU guest: bun run test:vm)";
  if (!bdf) return "WD_DEVICE_VIRTIO_BLK is not set (no virtio-blk-pci in this guest)";
  if (!existsSync(GUEST_VIRTIO_MODULE_LIST)) return `${GUEST_VIRTIO_MODULE_LIST} is missing (the peers archive, test/vm/guest-tools.ts, was not appended)`;
  return undefined;
}
const why = missing();
if (why) console.log(`test/peers/virtio-blk-peers: skipped: ${why}`);

/** Writes `data` at `sector` with our client and closes it (the function stays on vfio-pci). */
async function oursWrite(sector: number, data: Uint8Array): Promise<void> {
  bindVfio(bdf!);
  using blk = await VirtioBlk.open({ backend: "vfio", address: bdf });
  using buf = blk.client.alloc(data.length, "peers write");
  buf.bytes.set(data);
  blk.write(sector, buf.ref(0, data.length));
  blk.flush();
}

async function oursRead(sector: number, bytes: number): Promise<Uint8Array> {
  bindVfio(bdf!);
  using blk = await VirtioBlk.open({ backend: "vfio", address: bdf });
  using buf = blk.client.alloc(bytes, "peers read");
  blk.read(sector, buf.ref(0, bytes));
  return buf.bytes.slice(0, bytes);
}

const OURS_WRITE = { side: "ours", command: "VirtioBlk.write" };
const OURS_READ = { side: "ours", command: "VirtioBlk.read" };

const describeKernel = why ? describe.skip : describe;

describeKernel("virtio-blk: our client and the kernel's virtio_blk on one device", () => {
  afterAll(() => {
    if (bdf) bindVfio(bdf); // as the harness left it, for the tests that run after
  });

  test("identity: sysfs size, serial and logical block size agree with what our client reads", async () => {
    bindVfio(bdf!);
    let ours: { capacity: number; serial: string; blockSize: number };
    {
      using blk = await VirtioBlk.open({ backend: "vfio", address: bdf });
      ours = { capacity: blk.capacity, serial: blk.getId(), blockSize: blk.info.blockSize };
    }
    const disk = bindKernel(bdf!);
    const sys = (f: string) => readFileSync(`/sys/block/${disk}/${f}`, "utf8").trim();
    expect({ capacity: Number(sys("size")), serial: sys("serial"), blockSize: Number(sys("queue/logical_block_size")) }).toEqual(ours);
  }, LONG);

  test("data: what we write the kernel reads; what the kernel writes we read", async () => {
    const regions: Region[] = [{ lba: 0, blocks: 8 }, { lba: 4097, blocks: 33 }, { lba: 20000, blocks: 256 }];
    for (const [i, r] of regions.entries()) {
      const data = pattern(r.lba, r.blocks, SECTOR, 0x7100 + i);
      await oursWrite(r.lba, data);
      const disk = bindKernel(bdf!);
      const back = ddRead(`/dev/${disk}`, r.lba, r.blocks, SECTOR);
      expect(firstDifference(data, back.stdout, r.lba, SECTOR, OURS_WRITE, { side: "kernel", command: back.command })).toBeUndefined();
    }
    for (const [i, r] of regions.entries()) {
      const data = pattern(r.lba + 1, r.blocks, SECTOR, 0x7200 + i);
      const disk = bindKernel(bdf!);
      const wrote = ddWrite(`/dev/${disk}`, r.lba + 1, data, SECTOR, "/tmp/virtio-peers.bin");
      const got = await oursRead(r.lba + 1, data.length);
      expect(firstDifference(data, got, r.lba + 1, SECTOR, { side: "kernel", command: wrote.command }, OURS_READ)).toBeUndefined();
    }
  }, LONG);

  test("five moves virtio-pci <-> vfio-pci: the data stays, no descriptor is left open here", async () => {
    const w: Region = { lba: 9001, blocks: 24 };
    const data = pattern(w.lba, w.blocks, SECTOR, 0x7300);
    await oursWrite(w.lba, data);
    const before = openFds().size;
    for (let i = 0; i < 5; i++) {
      const disk = bindKernel(bdf!);
      const k = ddRead(`/dev/${disk}`, w.lba, w.blocks, SECTOR);
      expect(firstDifference(data, k.stdout, w.lba, SECTOR, OURS_WRITE, { side: "kernel", command: k.command })).toBeUndefined();
      expect(firstDifference(data, await oursRead(w.lba, data.length), w.lba, SECTOR, OURS_WRITE, OURS_READ)).toBeUndefined();
    }
    expect(openFds().size).toBe(before);
  }, LONG);
});
