// Copy a buffer with the DSA-style engine and prove it arrived: copy-with-CRC in chunks (up to the
// queue's depth of descriptors in flight, each stored into the work queue's portal), then a crc-gen
// of the last chunk of the destination and a compare of source and destination, both sent as one
// batch descriptor; finally fill the destination and check the pattern.
//
//   bun examples/dsa-copy.ts                  # the sim device (default)
//   options: --size <bytes, default 1 MiB> --chunk <bytes per descriptor, default 64 KiB> --queue <0..3>
import { parseArgs } from "node:util";
import { bitsOf, formatError } from "@warpdrive/runtime";
import { CompletionRecord, CompletionRecordStatusFields, DescriptorList, DsaCopyDevice, DsaStatus, MAX_TRANSFER_SIZE } from "@warpdrive/dsa-copy";

const { values: opt } = parseArgs({
  options: {
    backend: { type: "string" },
    device: { type: "string" },
    size: { type: "string", default: String(1 << 20) },
    chunk: { type: "string", default: String(64 << 10) },
    queue: { type: "string", default: "0" },
  },
});

function check(what: string, r: CompletionRecord | ReturnType<typeof CompletionRecord.decode>): void {
  const code = bitsOf(r.status, CompletionRecordStatusFields.code);
  if (code !== DsaStatus.SUCCESS) throw new Error(`${what}: completion status 0x${code.toString(16)}`);
}

async function main(): Promise<void> {
  const size = Number(opt.size);
  const chunk = Number(opt.chunk);
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`--size must be a positive integer, got ${opt.size}`);
  if (!Number.isInteger(chunk) || chunk <= 0 || chunk > MAX_TRANSFER_SIZE) throw new RangeError(`--chunk must be 1..${MAX_TRANSFER_SIZE}, got ${opt.chunk}`);
  using dev = await DsaCopyDevice.open({ backend: opt.backend as "sim" | "vfio" | undefined, address: opt.device });
  using q = dev.requestQueue("wq", { id: Number(opt.queue) });
  using src = dev.alloc(size, "source");
  using dst = dev.alloc(size, "destination");
  using listMemory = dev.alloc(4096, "batch list");
  using records = dev.alloc(4096, "batch member records");
  crypto.getRandomValues(src.bytes.subarray(0, Math.min(size, 65536)));
  for (let i = 65536; i < size; i += 65536) src.bytes.copyWithin(i, 0, Math.min(65536, size - i));

  // 1. copy with CRC, chunk by chunk, up to `depth` copies in flight; a completion names its
  //    request by its slot (the tag copyCrc returned), whose record it is
  const t0 = performance.now();
  const chunks = Math.ceil(size / chunk);
  let next = 0;
  const crcs = new Array<number>(chunks);
  const tagChunk = new Map<number, number>();
  for (let done = 0; done < chunks; ) {
    while (next < chunks && q.inFlight < q.queue.depth) {
      const at = next * chunk;
      const n = Math.min(chunk, size - at);
      tagChunk.set(q.copyCrc({ src: src.ref(at, n), dst: dst.ref(at, n), size: n, seed: 0 }), next++);
    }
    const r = q.reapSync(5000);
    check("copy-with-crc", r);
    crcs[tagChunk.get(q.queue.completionOffset / q.queue.recordStride)!] = Number(r.crcVal);
    done++;
  }
  const ms = performance.now() - t0;
  const crc = crcs[chunks - 1]!;

  // 2. one batch: crc-gen of the last chunk of the destination and a compare of src and dst
  const last = (chunks - 1) * chunk;
  // each member in its operation's terms (the variant sets the opcode); the batch pins their buffers while it runs
  const list = new DescriptorList(listMemory, dev.dma);
  const record = { completionAddrValid: 1, requestCompletion: 1 } as const;
  list.push({ variant: "crc_gen", opFlags: record, completionAddr: records.ref(0, 32), srcAddr: dst.ref(last, size - last), xferSize: size - last });
  list.push({ variant: "compare", opFlags: record, completionAddr: records.ref(32, 32), srcAddr: src.ref(0, size), src2Addr: dst.ref(0, size), xferSize: size });
  q.batch({ list });
  check("batch", q.reapSync(5000));
  const crcRecord = CompletionRecord.decode(records.view, 0);
  const cmpRecord = CompletionRecord.decode(records.view, 32);
  check("crc-gen", crcRecord);
  check("compare", cmpRecord);
  if (Number(crcRecord.crcVal) !== crc) throw new Error(`crc-gen of the copy 0x${Number(crcRecord.crcVal).toString(16)} differs from copy-with-crc's 0x${crc.toString(16)}`);
  if (cmpRecord.result !== 0) throw new Error(`source and destination differ at byte ${cmpRecord.bytesCompleted}`);

  // 3. fill the destination, then compare it against the pattern
  q.fill({ pattern: 0x5a5a5a5a5a5a5a5an, dst: dst.ref(0, Math.min(size, MAX_TRANSFER_SIZE)), size: Math.min(size, MAX_TRANSFER_SIZE) });
  check("fill", q.reapSync(5000));
  q.comparePattern({ src: dst.ref(0, Math.min(size, MAX_TRANSFER_SIZE)), pattern: 0x5a5a5a5a5a5a5a5an, size: Math.min(size, MAX_TRANSFER_SIZE) });
  const cmp = q.reapSync(5000);
  check("compare-pattern", cmp);
  if (cmp.result !== 0) throw new Error(`fill left byte ${cmp.bytesCompleted} different`);

  console.log(`copied ${size} bytes in ${chunks} descriptors through the ${q.queue.primitive} portal store in ${ms.toFixed(1)} ms; CRC-32C of the last chunk 0x${crc.toString(16)}; batch crc-gen and compare agree; fill checked`);
}

main().catch((e) => {
  console.error(formatError(e));
  process.exit(1);
});
