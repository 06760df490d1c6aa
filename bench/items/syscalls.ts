// syscalls.process: system calls per 1000 requests for the whole process, less the native consumer
// thread (it stands for the device), counted without a tracer: see bench/syscall-child.ts for the
// method. The window runs twice in fresh processes: once to count system calls, once with JSC's GC
// log on (BUN_JSC_logGC=1) to count the garbage collections in the same window (the log's own writes
// would otherwise be counted). Reference: one write() per request, the least a kernel-mediated
// submission costs. Goal: 0.
import { join } from "node:path";
import type { BenchEntry } from "../report.ts";

interface ChildThread { tid: number; comm: string; main: boolean; empty: number; ours: number; ref: number }
type ChildOut =
  | { skipped: string }
  | { requests: number; tracepoint: number; consumerTid: number; threads: ChildThread[]; threadsStartedLater: { tid: number; comm: string }[] };

const child = join(import.meta.dir, "../syscall-child.ts");

function runChild(n: number, logGc: boolean): { out: ChildOut; stderr: string } {
  const env = { ...process.env, ...(logGc ? { BUN_JSC_logGC: "1" } : {}) };
  const r = Bun.spawnSync([process.execPath, child, String(n)], { env, stdout: "pipe", stderr: "pipe" });
  const stderr = r.stderr.toString();
  if (r.exitCode !== 0) throw new Error(`syscall child exited ${r.exitCode}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`);
  const line = r.stdout.toString().trim().split("\n").pop() ?? "";
  return { out: JSON.parse(line) as ChildOut, stderr };
}

/** Garbage collections JSC logged between the child's WDMARK lines. */
export function gcsBetweenMarks(log: string): number {
  const lines = log.split("\n");
  const a = lines.findIndex((l) => l.startsWith("WDMARK begin"));
  const b = lines.findIndex((l) => l.startsWith("WDMARK end"));
  if (a < 0 || b < a) throw new Error("the GC log has no WDMARK window");
  return lines.slice(a + 1, b).filter((l) => /^\[GC<[^>]*>: START/.test(l)).length;
}

export function benchSyscalls(scale = 1): BenchEntry[] {
  const n = Math.max(100_000, Math.round(1_000_000 * scale));
  const { out } = runChild(n, false);
  if ("skipped" in out) return [{ id: "syscalls.process", what: "syscalls per 1000 requests", skipped: out.skipped }];
  const gcRun = runChild(n, true);
  const gcs = gcsBetweenMarks(gcRun.stderr);
  // The disabling ioctl is counted once on the main thread; the empty window shows it. Never more
  // than that one call is subtracted: anything else in the empty window is the runtime's own.
  const emptyMain = out.threads.find((t) => t.main)?.empty ?? 0;
  const instrument = Math.min(1, emptyMain);
  const ours = out.threads.reduce((a, t) => a + t.ours, 0) - instrument;
  const ref = out.threads.reduce((a, t) => a + t.ref, 0) - instrument;
  const perK = (c: number) => (c / n) * 1000;
  return [{
    id: "syscalls.process",
    what: `syscalls per 1000 requests, whole process less the device thread (${n} requests, ${gcs} GCs)`,
    value: perK(ours),
    unit: "calls",
    reference: { what: "write() per request", value: perK(ref), unit: "calls" },
    ratio: ref > 0 ? 1 - ours / ref : 0,
    goal: "0 calls",
    met: ours === 0,
    note: "ratio is the share of the reference's system calls avoided; counted per thread with perf counters on raw_syscalls:sys_enter",
    extra: {
      requests: n,
      gcs,
      gcMethod: "JSC's GC log (BUN_JSC_logGC=1) in a second identical run",
      instrumentCallsSubtracted: instrument,
      emptyWindow: out.threads.filter((t) => t.empty > 0).map((t) => ({ thread: t.comm, calls: t.empty })),
      perThread: out.threads.filter((t) => t.ours > 0 || t.main).map((t) => ({ tid: t.tid, thread: t.comm, calls: t.ours - (t.main ? instrument : 0) })),
      threadsStartedInWindow: out.threadsStartedLater,
    },
  }];
}
