// The guest half of `bun run bench:vm` (started by bench/vm.ts inside the QEMU guest, devices bound to
// vfio-pci by the VM harness). Same emulated NVMe controller, two drivers:
//   ours    the Nvme driver on the generated client over vfio (pipelined trySubmit/reap);
//   kernel  the kernel's nvme driver, driven by fio (--direct=1 --ioengine=libaio) on /dev/nvmeXn1;
// 4 KiB random read and write at queue depth 1 and 32, medians of repeated timed runs; the same for
// QEMU's virtio-blk-pci, ours (VirtioBlk) against the kernel's virtio_blk (./virtio-blk.ts). And the edu
// liveness register round trip (write, read back the complement) through our mapping of BAR0 against
// the same round trip through pwrite/pread on the VFIO device fd (the kernel does the MMIO).
// Prints progress, then one line `WDBENCH <json>` with the entries for the host to show.
import { dlopen, FFIType } from "bun:ffi";
import { QemuEduDevice } from "@warpdrive/qemu-edu";
import { Nvme } from "@warpdrive/nvme";
import { DescStatus, WdDummyDevice } from "@warpdrive/wd-dummy";
import { Hzip, compressBound, succeeded } from "@warpdrive/hzip";
import { listUacceDevices } from "@warpdrive/runtime";
import { bindKernel, bindVfio, run } from "../../test/vm/kernel-path.ts";
import { GUEST_FIO } from "../../test/vm/guest-tools.ts";
import type { BenchEntry } from "../report.ts";
import { median } from "../stats.ts";
import { virtioBlkEntries } from "./virtio-blk.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const SECONDS = quick ? 1 : 1.5;
const RUNS = quick ? 1 : 5;
const IO = 4096;
const DEPTHS = [1, 32];
const OPS = ["read", "write"] as const;

const nvmeAddr = process.env.WD_NVME_DEVICE;
const eduAddr = process.env.WD_EDU_DEVICE;
if (!nvmeAddr || !eduAddr || process.env.WD_BACKEND !== "vfio") {
  console.error("bench/vm-guest: run inside the VM guest (bun run bench:vm): WD_BACKEND=vfio, WD_NVME_DEVICE and WD_EDU_DEVICE are needed");
  process.exit(2);
}

const say = (m: string) => console.log(`bench: ${m}`);
const entries: BenchEntry[] = [];
const info: Record<string, unknown> = {};

const SIZE = 4096;

/** wd-dummy 4 KiB copies per second on `backend`: the ring kept full, one doorbell per batch. */
async function copyRate(backend: "vfio" | "sim" | "uacce"): Promise<number> {
  using dev = await WdDummyDevice.open({ backend });
  using q = dev.requestQueue("cmd");
  const depth = q.queue.depth;
  using src = dev.alloc(SIZE * depth, "bench src");
  using dst = dev.alloc(SIZE * depth, "bench dst");
  src.bytes.fill(0x5a);
  let sent = 0;
  let done = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    while (q.inFlight < depth) {
      const slot = sent++ % depth;
      q.send({ src: src.ref(slot * SIZE, SIZE), dst: dst.ref(slot * SIZE, SIZE), size: SIZE, cookie: slot });
    }
    q.flush();
    for (let c: ReturnType<typeof q.recv> = q.recv() ?? q.recvSync(10_000); c !== null; c = q.recv()) {
      if (c.status !== DescStatus.DONE) throw new Error(`wd-dummy (${backend}): copy finished with status ${c.status}`);
      done++;
    }
  }
  const rate = done / ((performance.now() - t0) / 1000);
  // Take what is still in flight: its buffers stay pinned (cannot be freed) until then.
  while (q.inFlight > 0) q.recvSync(10_000);
  if (dst.bytes[SIZE - 1] !== 0x5a) throw new Error(`wd-dummy (${backend}): the copied bytes are wrong`);
  return rate;
}

/**
 * wd-dummy over VFIO-MDEV (the kernel module's worker copying with vfio_dma_rw) against the sim
 * model, both in this guest: 4 KiB copies, the ring kept full, one doorbell per batch.
 */
async function wdDummy(): Promise<BenchEntry[]> {
  if (!process.env.WD_DEVICE_WD_DUMMY) {
    return [{ id: "vm.wd-dummy", what: "wd-dummy 4 KiB copies, mdev vs sim", skipped: "no wd-dummy mdev instance in the guest" }];
  }
  const mdev: number[] = [];
  const sim: number[] = [];
  for (let round = 0; round < RUNS; round++) {
    mdev.push(await copyRate("vfio"));
    sim.push(await copyRate("sim"));
  }
  say(`wd-dummy 4 KiB: mdev ${mdev.map((x) => x.toFixed(0)).join(", ")} req/s; sim ${sim.map((x) => x.toFixed(0)).join(", ")} req/s`);
  const m = median(mdev);
  const s = median(sim);
  return [
    { id: "vm.wd-dummy.mdev", what: "wd-dummy 4 KiB copies over VFIO-MDEV", value: m, unit: "req/s",
      reference: { what: "the sim model, same guest", value: s, unit: "req/s" }, ratio: m / s, rounds: { ours: mdev, reference: sim },
      note: `${(m * SIZE / 1e9).toFixed(3)} GB/s over mdev, ${(s * SIZE / 1e9).toFixed(3)} GB/s on the sim` },
  ];
}

/**
 * wd-dummy over UACCE (the parent module's worker copying inside the queue's DUS region; buffers come
 * from DUS) against the sim model in this guest, same loop as the mdev figure.
 */
async function wdDummyUacce(): Promise<BenchEntry[]> {
  if (!listUacceDevices().some((d) => d.api === "wd_dummy_v1")) {
    return [{ id: "vm.wd-dummy.uacce", what: "wd-dummy 4 KiB copies, UACCE vs sim", skipped: "no wd_dummy UACCE device in the guest" }];
  }
  const uacce: number[] = [];
  const sim: number[] = [];
  for (let round = 0; round < RUNS; round++) {
    uacce.push(await copyRate("uacce"));
    sim.push(await copyRate("sim"));
  }
  say(`wd-dummy 4 KiB: uacce ${uacce.map((x) => x.toFixed(0)).join(", ")} req/s; sim ${sim.map((x) => x.toFixed(0)).join(", ")} req/s`);
  const u = median(uacce);
  const s = median(sim);
  return [
    { id: "vm.wd-dummy.uacce", what: "wd-dummy 4 KiB copies over UACCE", value: u, unit: "req/s",
      reference: { what: "the sim model, same guest", value: s, unit: "req/s" }, ratio: u / s,
      note: `${(u * SIZE / 1e9).toFixed(3)} GB/s over UACCE, ${(s * SIZE / 1e9).toFixed(3)} GB/s on the sim` },
  ];
}

const ZIP_CHUNK = 64 * 1024;
const ZIP_IN_FLIGHT = 4;

/** 64 KiB of text-like bytes (compressible, deterministic): the hzip figures' input. */
function zipInput(): Uint8Array {
  const words = ["accelerator ", "queue ", "doorbell ", "phase ", "deflate ", "ring ", "\n"];
  const out = new Uint8Array(ZIP_CHUNK);
  let x = 7;
  for (let at = 0; at < out.length;) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    const w = words[x % words.length]!;
    for (let i = 0; i < w.length && at < out.length; i++) out[at++] = w.charCodeAt(i);
  }
  return out;
}

/** hzip gzip compression of 64 KiB chunks on `backend`, ZIP_IN_FLIGHT requests in flight: input MiB/s. */
async function zipRate(backend: "sim" | "uacce"): Promise<number> {
  using z = await Hzip.open({ backend });
  const input = zipInput();
  const slot = ZIP_CHUNK + compressBound(ZIP_CHUNK);
  using mem = z.alloc(slot * ZIP_IN_FLIGHT, "bench hzip");
  for (let s = 0; s < ZIP_IN_FLIGHT; s++) mem.bytes.set(input, s * slot);
  const slotOf = new Map<number, number>();
  const submit = (s: number) => slotOf.set(z.submit("compress", "gzip", mem.ref(s * slot, ZIP_CHUNK), mem.ref(s * slot + ZIP_CHUNK, slot - ZIP_CHUNK)), s);
  for (let s = 0; s < ZIP_IN_FLIGHT; s++) submit(s);
  let done = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    z.flush();
    const r = z.reap(30_000);
    if (!succeeded(r.status)) throw new Error(`hzip (${backend}): compress finished with ${r.statusName}`);
    done++;
    const s = slotOf.get(r.tag)!;
    slotOf.delete(r.tag);
    submit(s);
  }
  const rate = (done * ZIP_CHUNK) / (1 << 20) / ((performance.now() - t0) / 1000);
  z.flush();
  while (z.qp.inFlight > 0) z.reap(30_000);
  return rate;
}

/**
 * hzip over UACCE (the parent module's worker compressing with the kernel's zlib, QM v2 user ABI)
 * against the sim model (node:zlib in the model's Worker), both in this guest: the same requests,
 * the same loop, rounds alternating. Context only: both engines are software in an emulated guest.
 */
async function hzipUacce(): Promise<BenchEntry[]> {
  if (!listUacceDevices().some((d) => d.api === "hzip_qm_v2")) {
    return [{ id: "vm.hzip.uacce", what: "hzip gzip 64 KiB, UACCE vs sim", skipped: "no hzip UACCE device in the guest" }];
  }
  const uacce: number[] = [];
  const sim: number[] = [];
  for (let round = 0; round < RUNS; round++) {
    uacce.push(await zipRate("uacce"));
    sim.push(await zipRate("sim"));
  }
  say(`hzip gzip 64 KiB: uacce ${uacce.map((x) => x.toFixed(1)).join(", ")} MiB/s; sim ${sim.map((x) => x.toFixed(1)).join(", ")} MiB/s`);
  const u = median(uacce);
  const s = median(sim);
  return [
    { id: "vm.hzip.uacce", what: "hzip gzip compression of 64 KiB text chunks over UACCE (kernel zlib)", value: u, unit: "MiB/s",
      reference: { what: "the sim model (node:zlib), same guest", value: s, unit: "MiB/s" }, ratio: u / s, rounds: { ours: uacce, reference: sim },
      goal: null, met: null,
      note: `${ZIP_IN_FLIGHT} requests in flight; ${RUNS} alternating rounds of ${SECONDS} s; input MiB/s` },
  ];
}

/** xorshift over 4 KiB-aligned slots of the span: the same kind of sequence fio's random offsets give. */
function slots(count: number, seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % count;
  };
}

// ---- ours: NVMe over vfio --------------------------------------------------------------------

let prefilled = false;

/** One round: every (op, depth) once, through our client on vfio. */
async function oursRound(round: number, into: Record<string, number[]>): Promise<number> {
  bindVfio(nvmeAddr!);
  using nvme = await Nvme.open({ backend: "vfio", address: nvmeAddr, ioQueues: 1, ioDepth: 64 });
  const spanBytes = Number(nvme.blocks) * nvme.blockSize;
  const ioSlots = Math.floor(spanBytes / IO);
  const per = IO / nvme.blockSize;
  info.namespace = { blocks: Number(nvme.blocks), blockSize: nvme.blockSize, bytes: spanBytes };
  using buf = nvme.device.alloc(IO * 32, "bench:vm io");
  if (!prefilled) {
    // Every block written once, so both drivers read data that exists (not holes of the image file).
    using fill = nvme.device.alloc(1 << 20, "bench:vm fill");
    for (let i = 0; i < fill.bytes.length; i++) fill.bytes[i] = (i * 131) & 0xff;
    const blocks = (1 << 20) / nvme.blockSize;
    for (let lba = 0; lba < Number(nvme.blocks); lba += blocks) nvme.write(lba, Math.min(blocks, Number(nvme.blocks) - lba), fill);
    nvme.flush();
    prefilled = true;
  }
  const sample = (op: "read" | "write", depth: number, seed: number): number => {
    const next = slots(ioSlots, seed);
    let inFlight = 0;
    let done = 0;
    let slot = 0;
    const t0 = Bun.nanoseconds();
    const end = t0 + SECONDS * 1e9;
    let t = t0;
    while (t < end) {
      while (inFlight < depth) {
        if (nvme.trySubmit(op, next() * per, per, buf.ref((slot++ % 32) * IO, IO)) < 0) break;
        inFlight++;
      }
      let c = nvme.reap(undefined, 0) ?? nvme.reap(undefined, 10_000);
      while (c !== null) {
        if (c.error) throw c.error;
        inFlight--;
        done++;
        c = nvme.reap(undefined, 0);
      }
      t = Bun.nanoseconds();
    }
    while (inFlight > 0) {
      const c = nvme.reap(undefined, 10_000)!;
      if (c.error) throw c.error;
      inFlight--;
    }
    return done / ((t - t0) / 1e9);
  };
  if (round === 0) for (const op of OPS) sample(op, 32, 1); // warm-up: the JIT, the guest's page tables
  for (const op of OPS) {
    for (const depth of DEPTHS) (into[`${op}.qd${depth}`] ??= []).push(sample(op, depth, 0x9e3779b9 + round * 7919));
  }
  return spanBytes;
}

// ---- the kernel: fio on the kernel's nvme driver ----------------------------------------------

/** One round: every (op, depth) once, fio on the kernel's nvme driver. Returns the fio command line. */
function kernelRound(spanBytes: number, into: Record<string, number[]>): string {
  const k = bindKernel(nvmeAddr!);
  let command = "";
  for (const op of OPS) {
    for (const depth of DEPTHS) {
      const argv = [
        GUEST_FIO, `--name=${op}${depth}`, `--filename=${k.ns}`, "--direct=1", "--ioengine=libaio", `--rw=rand${op}`, `--bs=${IO}`,
        `--iodepth=${depth}`, `--size=${spanBytes}`, `--runtime=${SECONDS}`, "--time_based", "--norandommap", "--randrepeat=0",
        "--output-format=json",
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
  bindVfio(nvmeAddr!);
  return command;
}

// ---- edu: liveness round trip ------------------------------------------------------------------

const libc = dlopen("libc.so.6", {
  pread: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i64], returns: FFIType.i64 },
  pwrite: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i64], returns: FFIType.i64 },
});

async function edu(): Promise<BenchEntry[]> {
  using dev = await QemuEduDevice.open({ backend: "vfio", address: eduAddr });
  const n = quick ? 20_000 : 100_000;
  const regs = dev.bar0;
  // Ours: through the BAR0 mapping (generated accessors over the runtime's MMIO).
  const bad = { ours: 0, ref: 0, examples: [] as string[] };
  const wrong = (path: "ours" | "ref", i: number, got: number) => {
    bad[path]++;
    if (bad.examples.length < 6) bad.examples.push(`${path} wrote ${i} read 0x${got.toString(16)}`);
  };
  const oursNs: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const t0 = Bun.nanoseconds();
    for (let i = 0; i < n; i++) {
      regs.liveness.write(i);
      const got = regs.liveness.read();
      if (got !== (~i >>> 0)) wrong("ours", i, got);
    }
    if (r > 0) oursNs.push((Bun.nanoseconds() - t0) / n); // the first run warms up
  }
  // Reference: pwrite + pread of the same register on the VFIO device fd, at BAR0's region offset.
  const backend = dev.device.backend as unknown as { fd: number; regionInfo(i: number): { offset: number | bigint } };
  const base = Number(backend.regionInfo(0).offset) + 0x04;
  // The array itself goes to pread/pwrite, never a number from ptr(word): with a bare address the
  // optimising JIT does not see the call touch word's memory, keeps word[0] in a register and
  // moves stores across the calls (seen here: stale values written and read once the loop got hot).
  const word = new Uint32Array(1);
  const refNs: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const t0 = Bun.nanoseconds();
    for (let i = 0; i < n / 10; i++) {
      word[0] = i;
      if (libc.symbols.pwrite(backend.fd, word, 4, base) !== 4n) throw new Error("pwrite on the VFIO device fd failed");
      if (libc.symbols.pread(backend.fd, word, 4, base) !== 4n) throw new Error("pread on the VFIO device fd failed");
      const got = word[0]!;
      if (got !== (~i >>> 0)) wrong("ref", i, got);
    }
    if (r > 0) refNs.push((Bun.nanoseconds() - t0) / (n / 10));
  }
  if (bad.ours || bad.ref) {
    throw new Error(`edu liveness read back a wrong value: ours ${bad.ours} of ${n * (RUNS + 1)}, pwrite/pread ${bad.ref} of ${(n / 10) * (RUNS + 1)} (${bad.examples.join("; ")})`);
  }
  const ours = median(oursNs);
  const ref = median(refNs);
  say(`edu liveness round trip: ours ${ours.toFixed(0)} ns, pwrite+pread ${ref.toFixed(0)} ns`);
  return [
    {
      id: "vm.edu.liveness",
      what: "edu liveness write+read (BAR0 mmap, vfio)",
      value: ours,
      unit: "ns",
      reference: { what: "pwrite+pread on the VFIO fd", value: ref, unit: "ns" },
      ratio: ref / ours,
      rounds: { ours: oursNs, reference: refNs },
      note: `medians of ${RUNS} runs of ${n} (ours) and ${n / 10} (pwrite+pread) round trips`,
    },
  ];
}

// ---- main --------------------------------------------------------------------------------------

const t0 = performance.now();
// Rounds alternate between the two drivers so that a change in the host's load (2 shared cores)
// falls on both sides alike; each figure is the median of its rounds.
const ours: Record<string, number[]> = {};
const kernel: Record<string, number[]> = {};
for (let round = 0; round < RUNS; round++) {
  const span = await oursRound(round, ours);
  info.fio = kernelRound(span, kernel);
  say(`round ${round + 1}/${RUNS} done`);
}
for (const op of OPS) {
  for (const depth of DEPTHS) {
    const key = `${op}.qd${depth}`;
    const o = ours[key]!;
    const k = kernel[key]!;
    say(`${op} QD ${depth}: ours ${o.map((x) => x.toFixed(0)).join(", ")} IOPS; kernel ${k.map((x) => x.toFixed(0)).join(", ")} IOPS`);
    entries.push({
      id: `vm.nvme.${key}`,
      what: `NVMe 4 KiB random ${op}, QD ${depth} (vfio)`,
      value: median(o),
      unit: "IOPS",
      reference: { what: "kernel nvme + fio libaio", value: median(k), unit: "IOPS" },
      ratio: median(o) / median(k),
      rounds: { ours: o, reference: k },
      note: `${RUNS} alternating rounds of ${SECONDS} s; ours ${o.map((x) => x.toFixed(0)).join("/")}, kernel ${k.map((x) => x.toFixed(0)).join("/")} IOPS`,
    });
  }
}
entries.push(...(await virtioBlkEntries({ runs: RUNS, seconds: SECONDS, say, info })));
entries.push(...(await edu()));
entries.push(...(await wdDummy()));
entries.push(...(await wdDummyUacce()));
entries.push(...(await hzipUacce()));
info.seconds = (performance.now() - t0) / 1000;
info.samples = { runs: RUNS, secondsEach: SECONDS };
console.log(`WDBENCH ${JSON.stringify({ entries, info })}`);
