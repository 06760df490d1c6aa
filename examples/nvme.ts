// NVMe from user space: bring the controller up, print what Identify says, write a pattern to a
// few blocks, read it back and compare, then shut down.
//
//   bun examples/nvme.ts                                   # the sim model
//   bun examples/nvme.ts --backend vfio --device 0000:00:04.0   (--device alone implies vfio)
//   bun examples/nvme.ts --lba 2048 --blocks 300           # where and how much to write
//
// The blocks written are overwritten without asking: point it at a scratch disk.
import { parseArgs } from "node:util";
import { formatError } from "@warpdrive/runtime";
import { asciiField, Nvme } from "@warpdrive/nvme";

const { values: args } = parseArgs({
  options: {
    backend: { type: "string" },
    device: { type: "string" },
    lba: { type: "string", default: "0" },
    blocks: { type: "string", default: "256" },
    help: { type: "boolean", short: "h" },
  },
});

if (args.help) {
  console.log("usage: bun examples/nvme.ts [--backend sim|vfio] [--device <BDF>] [--lba N] [--blocks N]");
  process.exit(0);
}

async function main(): Promise<number> {
  // A PCI address implies vfio; an explicit --backend wins.
  const backend = (args.backend ?? (args.device !== undefined && !args.device.startsWith("sim:") ? "vfio" : undefined)) as "sim" | "vfio" | undefined;
  if (backend !== undefined && backend !== "sim" && backend !== "vfio") {
    console.error(`--backend must be sim or vfio, not "${backend}"`);
    return 2;
  }
  using nvme = await Nvme.open({ backend, address: args.device });
  const id = nvme.controller;
  const vs = nvme.regs.vs.fields();
  console.log(`${nvme.device.address}: ${asciiField(id.mn)} (serial ${asciiField(id.sn)}, firmware ${asciiField(id.fr)})`);
  console.log(`  NVMe ${vs.mjr}.${vs.mnr}.${vs.ter}, vendor 0x${id.vid.toString(16)}, ${id.nn} namespace(s), MDTS ${id.mdts}`);
  console.log(`  namespace 1: ${nvme.blocks} blocks of ${nvme.blockSize} bytes (${(Number(nvme.blocks) * nvme.blockSize) / 2 ** 20} MiB)`);
  console.log(`  queues: admin depth ${nvme.admin.sqDepth}, ${nvme.io.length} I/O pair(s) depth ${nvme.io[0]?.queue.sqDepth}, max transfer ${nvme.maxTransferBytes} bytes`);

  const lba = BigInt(args.lba!);
  const blocks = Number(args.blocks);
  if (!Number.isInteger(blocks) || blocks < 1) {
    console.error(`--blocks must be a positive integer, not "${args.blocks}"`);
    return 2;
  }
  if (lba + BigInt(blocks) > nvme.blocks) {
    console.error(`--lba ${lba} --blocks ${blocks} runs past the namespace (${nvme.blocks} blocks)`);
    return 2;
  }
  const bytes = blocks * nvme.blockSize;
  using src = nvme.device.alloc(bytes, "example source");
  using dst = nvme.device.alloc(bytes, "example readback");
  // A pattern that differs in every 4-byte word and every run: the run's start time is mixed in.
  const salt = Date.now() >>> 0;
  const words = new Uint32Array(src.arrayBuffer, 0, bytes / 4);
  for (let i = 0; i < words.length; i++) words[i] = (Math.imul(i + 1, 2654435761) ^ salt) >>> 0;

  let t = performance.now();
  nvme.write(lba, blocks, src.ref(0, bytes));
  nvme.flush();
  const writeMs = performance.now() - t;
  t = performance.now();
  nvme.read(lba, blocks, dst.ref(0, bytes));
  const readMs = performance.now() - t;

  const a = src.bytes.subarray(0, bytes);
  const b = dst.bytes.subarray(0, bytes);
  const diff = a.findIndex((x, i) => x !== b[i]);
  const mib = bytes / 2 ** 20;
  console.log(`  wrote ${blocks} blocks at LBA ${lba} in ${writeMs.toFixed(1)} ms (${(mib / (writeMs / 1000)).toFixed(1)} MiB/s), read back in ${readMs.toFixed(1)} ms (${(mib / (readMs / 1000)).toFixed(1)} MiB/s)`);
  if (diff >= 0) {
    console.error(`  MISMATCH at byte ${diff} (block ${lba + BigInt(Math.floor(diff / nvme.blockSize))}): wrote 0x${a[diff]!.toString(16)}, read 0x${b[diff]!.toString(16)}`);
    return 1;
  }
  console.log("  read-back matches");
  nvme.shutdown();
  console.log("  shut down (CSTS.SHST complete)");
  return 0;
}

try {
  process.exitCode = await main();
} catch (e) {
  console.error(formatError(e));
  process.exitCode = 1;
}
