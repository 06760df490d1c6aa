// Runs a fuzz target for a time budget in a Worker, with a watchdog: an input that keeps the worker
// busy for longer than `hangMs` is a hang; the worker is terminated, the input rebuilt here from
// (seed, iteration) and reported, and a fresh worker carries on with the next iteration.
import { HANG_MS, makeTarget, type TargetName } from "./targets/index.ts";
import { failureKind, loadRegressions, saveRegression, type RegressionCase } from "./regressions.ts";
import type { WorkerJob } from "./worker.ts";

export interface FuzzOptions {
  target: TargetName;
  seed: number;
  seconds: number;
  /** One input may take this long before it counts as a hang (default: the target's HANG_MS, else 20 s). */
  hangMs?: number;
  /** Stop after this many iterations (0: only the time budget). */
  maxIterations?: number;
  /** Save failures as regression cases (default true); a directory to save elsewhere. */
  save?: boolean | string;
  log?: (line: string) => void;
  /** Failures of the same kind as a saved `todo` case count as known, not as new failures
   *  (default true): a known, reported bug must not fail every run until it is fixed. */
  skipKnown?: boolean;
  /** Test hook (test/fuzz): every input hangs. */
  hangForTest?: boolean;
}

export interface FuzzFailure {
  iteration: number;
  failure: string;
  input: unknown;
  saved?: string;
}

export interface FuzzReport {
  target: TargetName;
  seed: number;
  iterations: number;
  failures: FuzzFailure[];
  /** Failures of a kind already saved as a todo case. */
  known: number;
  stats: Record<string, number>;
  seconds: number;
}

const MAX_SAVED = 25;

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const hangMs = opts.hangMs ?? HANG_MS[opts.target] ?? 20_000;
  const t0 = performance.now();
  const end = t0 + opts.seconds * 1000;
  const failures: FuzzFailure[] = [];
  const stats: Record<string, number> = {};
  let next = 0;
  const logged = new Set<string>();
  const todo = new Set(opts.skipKnown === false ? [] : loadRegressions().filter((r) => r.case.target === opts.target && r.case.todo).map((r) => failureKind(r.case.failure)));
  let known = 0;
  const record = (f: FuzzFailure) => {
    const kind = failureKind(f.failure);
    // hangs all read alike ("hang: ... ms"): a known one must not hide a new one, so always report them
    if (todo.has(kind) && !f.failure.startsWith("hang")) {
      known++;
      return;
    }
    // one saved case (and one log line) per kind of failure, not thousands of the same
    if (opts.save !== false && !logged.has(kind) && logged.size < MAX_SAVED) {
      const c: RegressionCase = { target: opts.target, failure: f.failure, seed: opts.seed, iteration: f.iteration, found: new Date().toISOString(), input: f.input };
      f.saved = saveRegression(c, typeof opts.save === "string" ? opts.save : undefined);
    }
    failures.push(f);
    if (logged.has(kind)) return;
    logged.add(kind);
    opts.log?.(`FAIL #${f.iteration}: ${f.failure}${f.saved ? ` (saved ${f.saved})` : ""}`);
  };

  while (performance.now() < end && !(opts.maxIterations && next >= opts.maxIterations)) {
    const progress = new SharedArrayBuffer(8);
    const p = new Int32Array(progress);
    Atomics.store(p, 0, next);
    const worker = new Worker(new URL("./worker.ts", import.meta.url).href);
    const outcome = await new Promise<{ kind: "done"; next: number; stats: Record<string, number> } | { kind: "hang" | "crash"; iteration: number; why: string }>((resolve) => {
      let seen = -1;
      let since = performance.now();
      const timer = setInterval(() => {
        const i = Atomics.load(p, 0), busy = Atomics.load(p, 1);
        if (i !== seen || busy === 0) {
          seen = i;
          since = performance.now();
        } else if (performance.now() - since > hangMs) {
          clearInterval(timer);
          resolve({ kind: "hang", iteration: i, why: `hang: one input ran over ${hangMs} ms` });
        }
      }, 100);
      worker.onmessage = (ev: MessageEvent) => {
        const m = ev.data as { type: string; iteration: number; failure: string; input: unknown; next: number; stats: Record<string, number> };
        if (m.type === "fail") record({ iteration: m.iteration, failure: m.failure, input: m.input });
        else if (m.type === "done") {
          clearInterval(timer);
          resolve({ kind: "done", next: m.next, stats: m.stats });
        }
      };
      worker.onerror = (ev: ErrorEvent) => {
        clearInterval(timer);
        // an error that escaped the worker's catch (stack overflow in a catch, out of memory)
        resolve({ kind: "crash", iteration: Atomics.load(p, 0), why: `worker crashed: ${ev.message}` });
      };
      const job: WorkerJob = {
        target: opts.target, seed: opts.seed, start: next,
        budgetMs: Math.max(0, end - performance.now()), maxIterations: opts.maxIterations ?? 0, progress,
        hangForTest: opts.hangForTest,
      };
      worker.postMessage(job);
    });
    worker.terminate();
    if (outcome.kind === "done") {
      for (const [k, v] of Object.entries(outcome.stats)) stats[k] = k === "devices" ? v : (stats[k] ?? 0) + v;
      next = outcome.next;
      break;
    }
    // rebuild the input that hung or crashed the worker: it is a function of (seed, iteration)
    const target = await makeTarget(opts.target);
    record({ iteration: outcome.iteration, failure: outcome.why, input: target.input(opts.seed, outcome.iteration) });
    next = outcome.iteration + 1;
  }
  return { target: opts.target, seed: opts.seed, iterations: next, failures, known, stats, seconds: (performance.now() - t0) / 1000 };
}
