// Reading a guest run: the serial log (WDVM lines from guest/init.sh, bun test's own output, kernel
// messages) and how QEMU ended. Pure functions, so the rules are unit-tested (report.test.ts).
//
// The rule: a run passes only when every sign of success is there. QEMU must have exited with
// isa-debug-exit's code for v = 0 (exit status 1), the guest must have said "WDVM exit 0", and for a
// test run bun's summary must be present with at least one pass and no failures. A timeout, a kernel
// panic (QEMU exits 0 with panic=-1 -no-reboot), a missing summary or a bun crash is a failure.

export interface QemuEnd {
  /** QEMU's exit status, or null when it was killed. */
  code: number | null;
  timedOut: boolean;
  /** Seconds from spawn to exit. */
  seconds: number;
}

export interface TestCase {
  status: "pass" | "fail" | "skip" | "todo";
  name: string;
}

export interface RunReport {
  ok: boolean;
  /** One line saying why the run failed (or "passed"). */
  reason: string;
  kind: "test" | "shell";
  passed: number;
  failed: number;
  skipped: number;
  cases: TestCase[];
  devices: Record<string, string>;
  /** The guest's exit byte (0 ok, 1 command failed, 2 setup failed), if QEMU reported one. */
  guestCode: number | null;
  panic: boolean;
  bootSeconds: number | null;
  readySeconds: number | null;
}

const PANIC = /Kernel panic - not syncing|BUG: kernel NULL pointer|Oops: [0-9a-fx]+|general protection fault/;

/** Strips carriage returns and the escape sequences a terminal would interpret. */
export function cleanLine(line: string): string {
  // biome-ignore lint: the control characters are what is being removed
  return line.replace(/\r/g, "").replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

export function parseRun(log: string, end: QemuEnd, kind: "test" | "shell"): RunReport {
  const lines = log.split("\n").map(cleanLine);
  const cases: TestCase[] = [];
  const devices: Record<string, string> = {};
  let wdExit: number | null = null;
  let summary: Record<string, string> | null = null;
  let setupFailed: string | null = null;
  let bootSeconds: number | null = null;
  let readySeconds: number | null = null;
  let runEnd = false;
  let panicLine: string | null = null;
  let file: string | null = null;
  let lastCase: string | null = null;
  let qemuError: string | null = null;

  for (const line of lines) {
    if (line.startsWith("[qemu] ") && qemuError === null) qemuError = line.slice(7).trim();
    const f = line.match(/^(\S+\.(?:test|spec|fixture)\.[cm]?[jt]sx?):$/);
    if (f) file = f[1];
    const c = line.match(/^\((pass|fail|skip|todo)\) (.*?)(?: \[[0-9.]+m?s\])?$/);
    if (c) {
      cases.push({ status: c[1] as TestCase["status"], name: c[2] });
      lastCase = `${c[1]} ${c[2]}`;
    }
    // ("traps: bun[..] general protection fault" is a user process crashing, not the kernel.)
    if (!panicLine && PANIC.test(line) && !line.includes("traps:")) panicLine = line.trim();
    const w = line.match(/WDVM (\S+)\s*(.*)$/);
    if (!w) continue;
    const [, what, rest] = w;
    if (what === "exit") wdExit = Number(rest.trim());
    else if (what === "summary") summary = fields(rest);
    else if (what === "setup-failed") setupFailed = rest.trim();
    else if (what === "run-end") runEnd = true;
    else if (what === "boot") bootSeconds = num(fields(rest).uptime);
    else if (what === "ready") readySeconds = num(fields(rest).uptime);
    else if (what === "device") {
      const d = rest.match(/^(\S+) ([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])/);
      if (d) devices[d[1]] = d[2];
    }
  }

  // isa-debug-exit: status (v << 1) | 1; init.sh only writes v = 0, 1 or 2. Anything else is QEMU's own.
  const guestCode = end.code === 1 || end.code === 3 || end.code === 5 ? (end.code - 1) / 2 : null;
  const passed = summary ? num(summary.pass) ?? 0 : cases.filter((t) => t.status === "pass").length;
  const failedSummary = summary ? num(summary.fail) : null;
  const failedCases = cases.filter((t) => t.status === "fail").length;
  const failed = Math.max(failedSummary ?? 0, failedCases);
  const skipped = summary ? num(summary.skip) ?? 0 : cases.filter((t) => t.status === "skip").length;

  // Where a crash or hang happened: the file bun was in and the last test it finished.
  const where = file ? `; in ${file}${lastCase ? ` after (${lastCase})` : " before its first test finished"}` : "";
  const report = (ok: boolean, reason: string): RunReport => ({
    ok, reason, kind, passed, failed, skipped, cases, devices, guestCode,
    panic: panicLine !== null, bootSeconds, readySeconds,
  });

  if (end.timedOut) return report(false, `timeout after ${end.seconds.toFixed(0)} s${runEnd ? "" : " (the guest command never finished)"}${where}`);
  if (panicLine) return report(false, `guest kernel failure: ${panicLine}${where}`);
  if (end.code === 0) return report(false, `QEMU exited 0: the guest rebooted or panicked without reporting a result${where}`);
  if (guestCode === null || (qemuError && !runEnd)) {
    return report(false, `QEMU died (exit status ${end.code}${end.code === 134 ? ", abort" : ""})${qemuError ? `: ${qemuError}` : ""}${where}`);
  }
  if (setupFailed !== null) return report(false, `guest setup failed: ${setupFailed}`);
  if (wdExit === null) return report(false, `QEMU reported guest code ${guestCode} but the guest never printed its exit line`);
  if (wdExit !== guestCode) return report(false, `the guest printed exit ${wdExit} but QEMU reported ${guestCode}`);
  if (kind === "shell") return report(guestCode === 0, guestCode === 0 ? "passed" : `guest command failed (code ${guestCode})`);

  if (!summary || summary.pass === "" || summary.fail === "") {
    return report(false, "no bun test summary in the guest log (bun crashed or printed nothing?)");
  }
  if (failed > 0) return report(false, `${failed} test(s) failed`);
  if (guestCode !== 0) return report(false, `bun test exited ${summary.rc ?? "non-zero"} with no failed test (an error outside tests, or no test files matched)`);
  if (passed === 0) return report(false, "no test passed (all skipped, or none matched the filter)");
  return report(true, "passed");
}

function fields(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/(\w+)=(\S*)/g)) out[m[1]] = m[2];
  return out;
}

function num(s: string | undefined): number | null {
  if (s === undefined || s === "") return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}
