// Harness self-check: boots that must be reported as failures. If the harness ever reads a failing
// test, a kernel panic or a hung guest as a pass, this says so. (The finer rules, e.g. "nothing
// passed is a failure" or "no bun summary is a failure", are unit-tested in harness.test.ts.) Run by `bun run test:vm` after the
// suite (or alone: `bun test/vm/harness-check.ts`, `bun run test:vm -- --self-test`).
import type { Log } from "./guest-image.ts";
import { tail, runVm, type VmOptions, type VmResult } from "./vm.ts";

interface Check {
  name: string;
  opts: Omit<VmOptions, "log" | "silent" | "name">;
  /** Returns null when the harness judged the run as it should, else what is wrong. */
  expect: (r: VmResult) => string | null;
}

const CHECKS: Check[] = [
  {
    name: "a failing test fails the run",
    opts: { kind: "test", bunArgs: ["./test/vm/fixtures/must-fail.fixture.ts"] },
    expect: (r) => {
      const rep = r.report;
      if (rep.ok) return "reported as passed";
      if (rep.failed !== 1 || rep.passed !== 1) return `expected 1 pass and 1 fail, got ${rep.passed} and ${rep.failed}`;
      if (!rep.cases.some((c) => c.status === "fail" && c.name.includes("deliberately broken"))) return "the failing test is not named in the report";
      if (rep.guestCode !== 1) return `expected guest code 1, got ${rep.guestCode}`;
      return null;
    },
  },
  {
    name: "a guest kernel panic fails the run",
    // sysrq 'c' crashes the kernel on purpose; with panic=-1 -no-reboot QEMU then exits 0.
    opts: { kind: "shell", shellCmd: "echo c > /proc/sysrq-trigger; sleep 30; exit 0" },
    expect: (r) => {
      if (r.report.ok) return "reported as passed";
      if (!r.report.panic && r.end.code !== 0) return `not seen as a panic (QEMU status ${r.end.code}, reason: ${r.report.reason})`;
      return null;
    },
  },
  {
    name: "a guest still running at the time limit is killed and fails",
    // 2 s is before /init even runs: what is checked is the kill path and the verdict, cheaply.
    opts: { kind: "shell", shellCmd: "sleep 600", timeout: 2 },
    expect: (r) => {
      if (r.report.ok) return "reported as passed";
      if (!r.end.timedOut) return `expected a timeout, QEMU ended with ${r.end.code} after ${r.end.seconds.toFixed(1)} s`;
      return null;
    },
  },
];

export async function runHarnessCheck(o: { log: Log; timeout?: number }): Promise<{ passed: number; failed: number }> {
  let passed = 0;
  let failed = 0;
  for (const [i, c] of CHECKS.entries()) {
    const t0 = performance.now();
    let problem: string | null;
    let r: VmResult | undefined;
    try {
      r = await runVm({
        ...c.opts,
        timeout: c.opts.timeout ?? o.timeout ?? 300,
        log: o.log,
        silent: true,
        retryEarlyFailure: false,
        name: `self-check-${i + 1}`,
      });
      problem = c.expect(r);
    } catch (e) {
      problem = `the harness threw: ${e instanceof Error ? e.message : String(e)}`;
    }
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    if (problem === null) {
      passed++;
      o.log(`self-check ok: ${c.name} (harness said: ${r?.report.reason}; ${secs} s)`);
    } else {
      failed++;
      o.log(`self-check FAILED: ${c.name}: ${problem} (${secs} s)`);
      if (r) console.error(`--- guest log tail (${r.logPath}) ---\n${tail(r.serialLog, 30)}\n---`);
    }
  }
  return { passed, failed };
}

if (import.meta.main) {
  const s = await runHarnessCheck({ log: (m) => console.error(`[vm] ${m}`) });
  console.log(`${s.passed} passed, ${s.failed} failed`);
  process.exit(s.failed === 0 ? 0 : 1);
}
