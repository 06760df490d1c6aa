// virtio from user space: open a virtio block device (and, if asked, a virtio entropy device),
// negotiate features, print what the device says about itself, write random-seeded data to a few
// sectors, read it back and compare, flush.
//
//   bun examples/virtio-blk.ts                                        # the sim models
//   bun examples/virtio-blk.ts --backend vfio --device 0000:00:05.0 [--rng 0000:00:06.0]
//   bun examples/virtio-blk.ts --sector 2048 --sectors 256            # where and how much to write
//
// The sectors written are overwritten without asking: point it at a scratch disk.
import { parseArgs } from "node:util";
import { formatError } from "@warpdrive/runtime";
import { VirtioBlk } from "@warpdrive/virtio-blk";
import { VirtioRng } from "@warpdrive/virtio-rng";
import { BlkFeature } from "@warpdrive/virtio-blk-generated/enums";

const { values: args } = parseArgs({
  options: {
    backend: { type: "string" },
    device: { type: "string" },
    rng: { type: "string" },
    sector: { type: "string", default: "0" },
    sectors: { type: "string", default: "128" },
    help: { type: "boolean", short: "h" },
  },
});

if (args.help) {
  console.log("usage: bun examples/virtio-blk.ts [--backend sim|vfio] [--device <BDF>] [--rng <BDF>] [--sector N] [--sectors N]");
  process.exit(0);
}

async function main(): Promise<number> {
  // A PCI address implies vfio; an explicit --backend wins.
  const backend = (args.backend ?? (args.device !== undefined && !args.device.startsWith("sim:") ? "vfio" : undefined)) as "sim" | "vfio" | undefined;
  if (backend !== undefined && backend !== "sim" && backend !== "vfio") {
    console.error(`--backend must be sim or vfio, not "${backend}"`);
    return 2;
  }
  const sector = Number(args.sector);
  const sectors = Number(args.sectors);
  if (!Number.isSafeInteger(sector) || sector < 0 || !Number.isInteger(sectors) || sectors < 1 || sectors > 2048) {
    console.error(`--sector must be a sector number and --sectors 1..2048 (got "${args.sector}", "${args.sectors}")`);
    return 2;
  }

  // The seed of the data: from the entropy device on vfio when --rng names one, else from the sim's (or none).
  let seed = Date.now() >>> 0;
  if (backend !== "vfio" || args.rng !== undefined) {
    using rng = await VirtioRng.open({ backend, address: args.rng });
    const bytes = rng.read(4);
    seed = new DataView(bytes.buffer).getUint32(0, true);
    console.log(`virtio-rng ${rng.address}: seed 0x${seed.toString(16).padStart(8, "0")} from the device`);
  }

  using blk = await VirtioBlk.open({ backend, address: args.device });
  const { capacity, blockSize } = blk.info;
  const offered = Object.entries(BlkFeature).filter(([, bit]) => ((blk.client.virtio.offered ?? 0n) >> BigInt(bit)) & 1n).map(([name]) => name);
  const used = Object.entries(BlkFeature).filter(([, bit]) => blk.has(bit)).map(([name]) => name);
  console.log(`virtio-blk ${blk.address}: serial "${blk.getId()}", ${capacity} sectors (${((capacity * 512) / 2 ** 20).toFixed(1)} MiB), block size ${blockSize}`);
  console.log(`  device features offered: ${offered.join(", ") || "none"}; used: ${used.join(", ") || "none"}`);
  console.log(`  rings: ${blk.ring.indirect ? "indirect descriptors" : "direct chains"}, ${blk.ring.eventIdx ? "event index" : "flags"}; queue size ${blk.queue.queue.size}`);
  if (sector + sectors > capacity) {
    console.error(`--sector ${sector} --sectors ${sectors} runs past the disk (${capacity} sectors)`);
    return 2;
  }

  const bytes = sectors * 512;
  using src = blk.client.alloc(bytes, "example source");
  using dst = blk.client.alloc(bytes, "example readback");
  const words = new Uint32Array(src.arrayBuffer, 0, bytes / 4);
  for (let i = 0; i < words.length; i++) words[i] = (Math.imul(i + 1, 2654435761) ^ seed) >>> 0;

  let t = performance.now();
  blk.write(sector, src.ref(0, bytes));
  blk.flush();
  const writeMs = performance.now() - t;
  t = performance.now();
  blk.read(sector, dst.ref(0, bytes));
  const readMs = performance.now() - t;
  const diff = src.bytes.subarray(0, bytes).findIndex((x, i) => x !== dst.bytes[i]);
  console.log(`  wrote ${sectors} sectors at ${sector} in ${writeMs.toFixed(1)} ms, read back in ${readMs.toFixed(1)} ms`);
  if (diff >= 0) {
    console.error(`  MISMATCH at byte ${diff} (sector ${sector + Math.floor(diff / 512)})`);
    return 1;
  }
  console.log("  read-back matches");
  return 0;
}

try {
  process.exitCode = await main();
} catch (e) {
  console.error(formatError(e));
  process.exitCode = 1;
}
