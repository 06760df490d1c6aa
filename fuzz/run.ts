// `bun run fuzz [-- --seconds N --seed S --target validator|decoders|runtime-api|descriptions --hang-ms M --no-save]`
// Fuzzes each target (default: all) for N seconds (default 30 each). Failures are printed and saved
// under test/fuzz/regressions/ (replayed by test/fuzz/regressions.test.ts); exit status 1 if any.
import { progress } from "@warpdrive/progress";
import { runFuzz } from "./engine.ts";
import { TARGETS, type TargetName } from "./targets/index.ts";

function usage(msg: string): never {
  console.error(`fuzz: ${msg}\nusage: bun run fuzz [-- --seconds N] [--seed S] [--target ${TARGETS.join("|")}] [--hang-ms M] [--no-save]`);
  process.exit(2);
}

const args = process.argv.slice(2);
let seconds = 30;
let seed = (Date.now() >>> 0) ^ 0x5eed;
let targets: TargetName[] = [...TARGETS];
let hangMs: number | undefined; // default: the target's own (fuzz/targets/index.ts HANG_MS)
let save = true;
for (let k = 0; k < args.length; k++) {
  const a = args[k]!;
  const val = () => args[++k] ?? usage(`${a} needs a value`);
  const int = (s: string, what: string) => {
    const n = Number(s);
    if (!Number.isFinite(n) || n < 0) usage(`${what} must be a non-negative number, got "${s}"`);
    return n;
  };
  if (a === "--seconds") seconds = int(val(), "--seconds");
  else if (a === "--seed") seed = int(val(), "--seed") >>> 0;
  else if (a === "--hang-ms") hangMs = int(val(), "--hang-ms");
  else if (a === "--no-save") save = false;
  else if (a === "--target") {
    const t = val();
    if (!TARGETS.includes(t as TargetName)) usage(`unknown target "${t}"`);
    targets = [t as TargetName];
  } else if (a === "--help" || a === "-h") usage("help");
  else usage(`unknown argument "${a}"`);
}

let failed = 0;
// The time budget is the measure of progress (inputs are run in a worker; the count comes at the end).
const bar = progress("fuzz");
for (const [i, target] of targets.entries()) {
  bar.log(`fuzz ${target}: seed ${seed}, ${seconds} s`);
  const t0 = performance.now();
  const step = `${target} (target ${i + 1} of ${targets.length}), time budget in s`;
  const tick = setInterval(() => bar.update(step, Math.min(seconds, Math.floor((performance.now() - t0) / 1000)), seconds), 250);
  bar.update(step, 0, seconds);
  const r = await runFuzz({ target, seed, seconds, hangMs, save, log: (l) => bar.log(`  ${l}`) });
  clearInterval(tick);
  const stats = Object.entries(r.stats).map(([k, v]) => `${k} ${v}`).join(", ");
  bar.log(`fuzz ${target}: ${r.iterations} inputs in ${r.seconds.toFixed(1)} s (${stats}), ${r.failures.length} failure(s)${r.known ? `, ${r.known} of known todo kinds` : ""}`);
  failed += r.failures.length;
}
bar.end();
if (failed > 0) console.log(`${failed} failing input(s) saved under test/fuzz/regressions/; replay: bun test test/fuzz/regressions.test.ts`);
process.exit(failed > 0 ? 1 : 0);
