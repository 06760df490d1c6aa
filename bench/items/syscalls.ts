// 2. System calls on the send/recv hot path, counted with strace over a steady loop in a child
//    process (bench/syscall-loop.ts). Only the client thread is counted: the simulated device's
//    own thread stands for hardware. Reference: one write() per request, the least a
//    kernel-mediated submission costs.
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchEntry } from "../report.ts";

/** Counts the syscalls made by the thread that made the markers, between marker pairs. */
export function countBetweenMarkers(trace: string): number[] {
  const lines = trace.split("\n");
  // A call interrupted by another thread's line shows as "getppid( <unfinished ...>"; its start counts.
  const marks = lines.map((l, i) => ({ l, i })).filter(({ l }) => /^\d+\s+getppid\(/.test(l));
  if (marks.length < 4) throw new Error(`expected 4 getppid markers in the trace, found ${marks.length}`);
  const tid = marks[0].l.split(/\s+/)[0];
  const counts: number[] = [];
  for (let m = 0; m + 1 < marks.length; m += 2) {
    let n = 0;
    for (let i = marks[m].i + 1; i < marks[m + 1].i; i++) {
      const line = lines[i];
      if (!line.startsWith(`${tid} `)) continue;
      if (line.includes("resumed>")) continue; // the second half of a call already counted
      n++;
    }
    counts.push(n);
  }
  return counts;
}

export function benchSyscalls(scale = 1): BenchEntry[] {
  if (!Bun.which("strace")) return [{ id: "syscalls", what: "syscalls per request", skipped: "strace is not installed" }];
  const n = Math.max(10_000, Math.round(100_000 * scale));
  const out = join(tmpdir(), `wd-bench-strace-${process.pid}.txt`);
  try {
    const r = Bun.spawnSync(["strace", "-f", "-qq", "-o", out, process.execPath, join(import.meta.dir, "../syscall-loop.ts"), String(n)], {
      stderr: "pipe",
    });
    if (r.exitCode !== 0) throw new Error(`syscall loop exited ${r.exitCode}: ${r.stderr.toString().slice(-400)}`);
    const [ours, ref] = countBetweenMarkers(readFileSync(out, "utf8"));
    const perK = (c: number) => (c / n) * 1000;
    return [{
      id: "syscalls.hotpath",
      what: `syscalls per 1000 requests (send+recv, ${n} requests)`,
      value: perK(ours),
      unit: "calls",
      reference: { what: "write() per request", value: perK(ref), unit: "calls" },
      ratio: 1 - ours / ref,
      note: "ratio is the share of the reference's system calls avoided: 1.00 means none at all",
    }];
  } finally {
    rmSync(out, { force: true });
  }
}
