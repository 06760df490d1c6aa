// Replays one saved case in a Worker, so a case that once hung can be replayed with a time limit
// (test/fuzz/regressions.test.ts) instead of hanging the test process.
import { makeTarget, type TargetName } from "./targets/index.ts";

declare const self: Worker;

self.onmessage = async (ev: MessageEvent<{ target: TargetName; input: unknown }>) => {
  const t = await makeTarget(ev.data.target);
  let failure: string | null;
  try {
    failure = await t.check(ev.data.input);
  } catch (e) {
    failure = `check threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
  t.close?.();
  self.postMessage({ failure });
};
