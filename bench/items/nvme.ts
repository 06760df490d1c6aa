// 6. NVMe on the sim: 4 KiB random read and write IOPS at queue depth 1 and 32, against the
//    kernel's page-cache path doing the same 4 KiB random preads/pwrites on a file of the same size.
import { closeSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Nvme } from "@warpdrive/nvme";
import type { BenchResult } from "../report.ts";
import { medianOf } from "../stats.ts";

const IO = 4096;
const SLOTS = 32;

/** A cheap deterministic LBA sequence (xorshift), aligned to the 4 KiB I/O size. */
function lbaStream(span: number, blocksPerIo: number): () => number {
  let x = 0x9e3779b9;
  const ios = Math.floor(span / blocksPerIo);
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) % ios) * blocksPerIo;
  };
}

export async function benchNvme(scale = 1): Promise<BenchResult[]> {
  using nvme = await Nvme.open({ backend: "sim" });
  using buf = nvme.device.alloc(IO * SLOTS, "bench io");
  const blocksPerIo = IO / nvme.blockSize;
  const span = Math.min(Number(nvme.blocks), (64 << 20) / nvme.blockSize);
  const n = Math.max(2000, Math.round(20_000 * scale));

  const run = (op: "read" | "write", depth: number): number => {
    const next = lbaStream(span, blocksPerIo);
    let sent = 0;
    let done = 0;
    let slot = 0;
    const t0 = Bun.nanoseconds();
    while (done < n) {
      while (sent < n && sent - done < depth) {
        const tag = nvme.trySubmit(op, next(), blocksPerIo, buf.ref((slot++ % SLOTS) * IO, IO));
        if (tag < 0) break;
        sent++;
      }
      let c = nvme.reap(undefined, 0) ?? nvme.reap(undefined, 5000);
      while (c !== null) {
        if (c.error) throw c.error;
        done++;
        c = nvme.reap(undefined, 0);
      }
    }
    return n / ((Bun.nanoseconds() - t0) / 1e9);
  };

  // Reference: the same pattern through the kernel's page cache on a file of the same span.
  const file = join(tmpdir(), `wd-bench-nvme-${process.pid}.img`);
  const fd = openSync(file, "w+");
  const page = new Uint8Array(IO);
  const ref = (op: "read" | "write"): number => {
    const next = lbaStream(span, blocksPerIo);
    const t0 = Bun.nanoseconds();
    for (let i = 0; i < n; i++) {
      const pos = next() * nvme.blockSize;
      if (op === "read") readSync(fd, page, 0, IO, pos);
      else writeSync(fd, page, 0, IO, pos);
    }
    return n / ((Bun.nanoseconds() - t0) / 1e9);
  };
  try {
    for (let off = 0; off < span * nvme.blockSize; off += 1 << 20) writeSync(fd, new Uint8Array(1 << 20), 0, 1 << 20, off);
    // warm up every measured loop (JIT tiers on both threads), so each figure is steady state
    for (const op of ["read", "write"] as const) for (const depth of [1, SLOTS]) run(op, depth);
    const results: BenchResult[] = [];
    for (const op of ["read", "write"] as const) {
      const kernel = medianOf(3, () => ref(op));
      for (const depth of [1, 32]) {
        const iops = medianOf(3, () => run(op, depth));
        results.push({
          id: `nvme.${op}.qd${depth}`,
          what: `NVMe sim 4 KiB random ${op}, QD ${depth}`,
          value: iops,
          unit: "IOPS",
          reference: { what: `kernel page cache p${op} 4 KiB`, value: kernel, unit: "IOPS" },
          ratio: iops / kernel,
        });
      }
    }
    return results;
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}
