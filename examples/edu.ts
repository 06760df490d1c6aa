// QEMU's edu device from user space: identify it, check it is alive, compute factorials (polling
// and by interrupt), and round-trip a buffer through its 4 KiB on-board memory by DMA.
//
//   bun examples/edu.ts                                   # the sim model (default)
//   bun examples/edu.ts --backend vfio --device 0000:00:03.0
import { parseArgs } from "node:util";
import { formatError } from "@warpdrive/runtime";
import { DMA_MAX_END, Edu } from "@warpdrive/qemu-edu";
import { DMA_BUFFER_SIZE } from "@warpdrive/qemu-edu-generated/constants";

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
  // (QEMU 7.2's edu refuses a transfer that ends at the buffer's last byte: 4095 bytes at most.)
  const n = DMA_MAX_END;
  const out = buf.bytes.subarray(0, n);
  const back = buf.bytes.subarray(DMA_BUFFER_SIZE, DMA_BUFFER_SIZE + n);
  for (let i = 0; i < out.length; i++) out[i] = (i * 7) & 0xff;
  const t0 = performance.now();
  edu.dmaToDevice(buf.ref(0, n), 0, { irq: true });
  edu.dmaFromDevice(0, buf.ref(DMA_BUFFER_SIZE, n), { irq: true });
  const ok = Buffer.from(out).equals(Buffer.from(back));
  console.log(`  DMA ${n} bytes to the device and back: ${ok ? "identical" : "DIFFERENT"} (${(performance.now() - t0).toFixed(1)} ms)`);
  if (!ok) process.exitCode = 1;
}

main().catch((e) => {
  console.error(formatError(e));
  process.exit(1);
});
