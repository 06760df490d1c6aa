// QEMU's edu device from user space: identify it, check it is alive, compute factorials (polling
// and by interrupt), and round-trip a buffer through its 4 KiB on-board memory by DMA.
//
//   bun examples/edu.ts                                   # the sim model (default)
//   bun examples/edu.ts --backend vfio --device 0000:00:03.0
import { parseArgs } from "node:util";
import { formatError } from "@warpdrive/runtime";
import { Edu } from "@warpdrive/qemu-edu/hand/behavior";
import { DMA_BUFFER_SIZE } from "@warpdrive/qemu-edu/constants";

const { values: opt } = parseArgs({ options: { backend: { type: "string" }, device: { type: "string" } } });

async function main(): Promise<void> {
  using edu = await Edu.open({ backend: opt.backend as "sim" | "vfio" | undefined, address: opt.device });
  const v = edu.version();
  console.log(`${edu.address}: edu ${v.major}.${v.minor}, alive: ${edu.isAlive()}`);

  const polled = [5, 10, 12].map((n) => `${n}! = ${edu.factorial(n)}`).join(", ");
  console.log(`  factorial (polling status): ${polled}`);
  console.log(`  factorial (by interrupt): 13! mod 2^32 = ${edu.factorial(13, { irq: true })}`);

  // A page of host memory shared with the device, sent to the on-board buffer and back.
  const buf = edu.client.alloc(2 * DMA_BUFFER_SIZE, "edu example");
  const out = buf.bytes.subarray(0, DMA_BUFFER_SIZE);
  const back = buf.bytes.subarray(DMA_BUFFER_SIZE);
  for (let i = 0; i < out.length; i++) out[i] = (i * 7) & 0xff;
  const t0 = performance.now();
  edu.dmaToDevice(buf.ref(0, DMA_BUFFER_SIZE), 0, { irq: true });
  edu.dmaFromDevice(0, buf.ref(DMA_BUFFER_SIZE, DMA_BUFFER_SIZE), { irq: true });
  const ok = Buffer.from(out).equals(Buffer.from(back));
  console.log(`  DMA ${DMA_BUFFER_SIZE} bytes to the device and back: ${ok ? "identical" : "DIFFERENT"} (${(performance.now() - t0).toFixed(1)} ms)`);
  if (!ok) process.exitCode = 1;
}

main().catch((e) => {
  console.error(formatError(e));
  process.exit(1);
});
