// virtio-blk figures of `bun run bench:vm`, in the guest: QEMU's virtio-blk-pci (bound to vfio-pci by
// the VM harness), two drivers on the same device:
//   ours    VirtioBlk over vfio: the split virtqueue kept at the queue depth (sendRead/sendWrite + reap);
//   kernel  the kernel's virtio_blk, driven by fio (--direct=1 --ioengine=libaio) on /dev/vdX;
// 4 KiB random read and write at QD 1 and 32, rounds alternating between the drivers, medians.
import { VirtioBlk } from "@warpdrive/virtio-blk";
import { bindVfio, run } from "../../test/vm/kernel-path.ts";
import { bindVirtioKernel } from "../../test/vm/virtio-kernel.ts";
import { GUEST_FIO } from "../../test/vm/guest-tools.ts";
import { ratioGoal, type BenchEntry } from "../report.ts";
import { median } from "../stats.ts";

const IO = 4096;
const DEPTHS = [1, 32];
const OPS = ["read", "write"] as const;
/** The goal: as fast as the kernel's driver on the same device (ours / kernel IOPS). */
const GOAL = 1;

function slots(count: number, seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % count;
  };
}

let prefilled = false;

async function oursRound(bdf: string, round: number, seconds: number, into: Record<string, number[]>): Promise<number> {
  bindVfio(bdf);
  using blk = await VirtioBlk.open({ backend: "vfio", address: bdf });
  const spanBytes = blk.capacity * 512;
  const ioSlots = Math.floor(spanBytes / IO);
  using buf = blk.client.alloc(IO * 32, "bench:vm virtio io");
  if (!prefilled) {
    // every sector written once: both drivers read data that exists
    using fill = blk.client.alloc(1 << 20, "bench:vm virtio fill");
    for (let i = 0; i < fill.bytes.length; i++) fill.bytes[i] = (i * 131) & 0xff;
    for (let s = 0; s < blk.capacity; s += 2048) blk.write(s, fill.ref(0, Math.min(2048, blk.capacity - s) * 512));
    blk.flush();
    prefilled = true;
  }
  const sample = (op: "read" | "write", depth: number, seed: number): number => {
    const next = slots(ioSlots, seed);
    let inFlight = 0;
    let done = 0;
    let slot = 0;
    const t0 = Bun.nanoseconds();
    const end = t0 + seconds * 1e9;
    let t = t0;
    while (t < end) {
      while (inFlight < depth) {
        const ref = buf.ref((slot++ % 32) * IO, IO);
        const sector = next() * (IO / 512);
        if (op === "read") blk.sendRead(sector, ref);
        else blk.sendWrite(sector, ref);
        inFlight++;
      }
      let tag = blk.reap();
      if (tag < 0) tag = blk.reapSync(10_000);
      while (tag >= 0) {
        inFlight--;
        done++;
        tag = blk.reap();
      }
      t = Bun.nanoseconds();
    }
    while (inFlight > 0) {
      blk.reapSync(10_000);
      inFlight--;
    }
    return done / ((t - t0) / 1e9);
  };
  if (round === 0) for (const op of OPS) sample(op, 32, 1); // warm-up
  for (const op of OPS) for (const depth of DEPTHS) (into[`${op}.qd${depth}`] ??= []).push(sample(op, depth, 0x9e3779b9 + round * 7919));
  return spanBytes;
}

function kernelRound(bdf: string, spanBytes: number, seconds: number, into: Record<string, number[]>): string {
  const disk = bindVirtioKernel(bdf);
  let command = "";
  for (const op of OPS) {
    for (const depth of DEPTHS) {
      const argv = [
        GUEST_FIO, `--name=${op}${depth}`, `--filename=/dev/${disk}`, "--direct=1", "--ioengine=libaio", `--rw=rand${op}`, `--bs=${IO}`,
        `--iodepth=${depth}`, `--size=${spanBytes}`, `--runtime=${seconds}`, "--time_based", "--norandommap", "--randrepeat=0", "--output-format=json",
      ];
      const res = run(argv);
      if (res.code !== 0) throw new Error(`${res.command} exited ${res.code}: ${res.stderr.trim().slice(0, 400)}`);
      const json = JSON.parse(res.text.slice(res.text.indexOf("{"))) as { jobs: { error: number; read: { iops: number }; write: { iops: number } }[] };
      const job = json.jobs[0]!;
      if (job.error !== 0) throw new Error(`${res.command}: fio job error ${job.error}`);
      (into[`${op}.qd${depth}`] ??= []).push(job[op].iops);
      command = argv.map((a) => a.replace(`${op}${depth}`, "<job>")).join(" ");
    }
  }
  bindVfio(bdf);
  return command;
}

/** The virtio-blk entries, or one skip entry saying why there are none. */
export async function virtioBlkEntries(o: { runs: number; seconds: number; say: (m: string) => void; info: Record<string, unknown> }): Promise<BenchEntry[]> {
  const bdf = process.env.WD_DEVICE_VIRTIO_BLK;
  if (!bdf) return [{ id: "vm.virtio-blk", what: "virtio-blk 4 KiB random I/O (vfio)", skipped: "no WD_DEVICE_VIRTIO_BLK in this guest" }];
  const ours: Record<string, number[]> = {};
  const kernel: Record<string, number[]> = {};
  for (let round = 0; round < o.runs; round++) {
    const span = await oursRound(bdf, round, o.seconds, ours);
    o.info.virtioFio = kernelRound(bdf, span, o.seconds, kernel);
    o.say(`virtio-blk round ${round + 1}/${o.runs} done`);
  }
  const out: BenchEntry[] = [];
  for (const op of OPS) {
    for (const depth of DEPTHS) {
      const key = `${op}.qd${depth}`;
      const a = ours[key]!, k = kernel[key]!;
      o.say(`virtio-blk ${op} QD ${depth}: ours ${a.map((x) => x.toFixed(0)).join(", ")} IOPS; kernel ${k.map((x) => x.toFixed(0)).join(", ")} IOPS`);
      const ratio = median(a) / median(k);
      out.push({
        id: `vm.virtio-blk.${key}`,
        what: `virtio-blk 4 KiB random ${op}, QD ${depth} (vfio)`,
        value: median(a),
        unit: "IOPS",
        reference: { what: "kernel virtio_blk + fio libaio", value: median(k), unit: "IOPS" },
        ratio,
        ...ratioGoal(ratio, GOAL),
        rounds: { ours: a, reference: k },
        note: `${o.runs} alternating rounds of ${o.seconds} s; ours ${a.map((x) => x.toFixed(0)).join("/")}, kernel ${k.map((x) => x.toFixed(0)).join("/")} IOPS`,
      });
    }
  }
  return out;
}
