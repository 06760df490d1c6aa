// The fuzz loop, in a Worker so the engine can kill it when one input hangs. It publishes the
// iteration it is working on in shared memory before each check (the watchdog reads it), posts each
// failure with its input, and a summary when the time budget is spent.
import { makeTarget, type TargetName } from "./targets/index.ts";

declare const self: Worker;

export interface WorkerJob {
  target: TargetName;
  seed: number;
  start: number;
  /** Milliseconds of fuzzing (after the target loaded). */
  budgetMs: number;
  /** Stop after this many iterations in all (0: no limit). */
  maxIterations: number;
  /** Int32Array [iteration, busy]. */
  progress: SharedArrayBuffer;
  /** Test hook: every check spins forever, to prove the watchdog catches a hang. */
  hangForTest?: boolean;
}

self.onmessage = async (ev: MessageEvent<WorkerJob>) => {
  const job = ev.data;
  const progress = new Int32Array(job.progress);
  const target = await makeTarget(job.target);
  if (!job.hangForTest) await target.warmUp?.();
  const deadline = performance.now() + job.budgetMs;
  let i = job.start;
  for (; performance.now() < deadline && (job.maxIterations === 0 || i < job.maxIterations); i++) {
    Atomics.store(progress, 0, i);
    Atomics.store(progress, 1, 1);
    let input: unknown;
    let failure: string | null;
    try {
      input = target.input(job.seed, i);
      if (job.hangForTest) for (;;);
      failure = await target.check(input);
      if (failure !== null && target.reduce) input = target.reduce(input);
    } catch (e) {
      // the harness itself (mutator, oracle) failed: report it, it is a bug too
      failure = `fuzz harness threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
    }
    Atomics.store(progress, 1, 0);
    if (failure !== null) self.postMessage({ type: "fail", iteration: i, failure, input });
  }
  target.close?.(); // before the engine terminates this Worker: a terminated Worker's devices would stay mapped
  self.postMessage({ type: "done", next: i, stats: target.stats() });
};
