// Every device description in the repo validates clean, and the CLI reports problems the way
// compilers do (file:line:column) with exit status 1 and no stack trace.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatDiagnostic } from "@warpdrive/generator/diagnostics";
import { loadDevice } from "@warpdrive/generator/load";

const ROOT = join(import.meta.dir, "..", "..");
/** Each test spawns the CLI (and generate runs the emitters): seconds, not milliseconds, on a busy machine. */
const SPAWN_TIMEOUT = 60_000;
const DEVICES = readdirSync(join(ROOT, "devices"))
  .filter((n) => n.endsWith(".yaml"))
  .sort();

describe("devices/*.yaml", () => {
  test("the repo has device descriptions, qemu-edu among them", () => {
    expect(DEVICES).toContain("qemu-edu.yaml");
  }, SPAWN_TIMEOUT);

  for (const name of DEVICES) {
    test(`${name} validates with no diagnostics`, () => {
      const r = loadDevice(join(ROOT, "devices", name), { root: ROOT });
      // Printed in full on failure, so the message says what to fix. The only warnings allowed are
      // the DMA fields whose extent the description says it cannot state (each with its reason).
      expect(r.diagnostics.filter((d) => d.code !== "dma-unbounded").map(formatDiagnostic)).toEqual([]);
      expect(r.model?.name).toBe(name.replace(/\.yaml$/, ""));
    });
  }
});

function wd(...args: string[]): { code: number; stdout: string; stderr: string } {
  const p = Bun.spawnSync(["bun", join(ROOT, "generator/src/cli.ts"), ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

/** What a stack trace looks like in Bun's and V8's output. */
const STACK = /^\s+at .+(:\d+:\d+|\(native\))|^\d+ \| /m;

describe("wd validate", () => {
  test("a bad file: exit 1, every problem as file:line:col, no stack trace", () => {
    const r = wd("validate", "test/fixtures/bad/overlap.yaml");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "test/fixtures/bad/overlap.yaml:12:25: error: registers overlap: status (0x4..0x7) and ctrl (0x0..0x7) (at regions.bar0.registers.status.offset)",
    );
    expect(r.stderr).toMatch(/^test\/fixtures\/bad\/overlap\.yaml:13:50: error: bits "0:3": msb 0 is below lsb 3/m);
    expect(r.stderr).toContain("2 errors in 1 file");
    expect(r.stderr).not.toMatch(STACK);
  }, SPAWN_TIMEOUT);

  test("good files: exit 0", () => {
    const r = wd("validate", "devices/qemu-edu.yaml");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("1 device description valid");
  }, SPAWN_TIMEOUT);

  test("a missing file is a diagnostic, not a crash", () => {
    const r = wd("validate", "devices/does-not-exist.yaml");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("devices/does-not-exist.yaml:1:1: error: cannot read file: no such file");
    expect(r.stderr).not.toMatch(STACK);
  }, SPAWN_TIMEOUT);

  test("binary and oversized files are diagnostics, not crashes", () => {
    const dir = mkdtempSync(join(tmpdir(), "wd-cli-"));
    try {
      writeFileSync(join(dir, "bin.yaml"), new Uint8Array([0x64, 0x3a, 0x20, 0x00, 0x01, 0xff]));
      writeFileSync(join(dir, "big.yaml"), "");
      truncateSync(join(dir, "big.yaml"), 50 * 1024 * 1024);
      const r = wd("validate", join(dir, "bin.yaml"), join(dir, "big.yaml"));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("bin.yaml:1:4: error: binary file: contains a NUL byte");
      expect(r.stderr).toContain("big.yaml:1:1: error: file is too large");
      expect(r.stderr).not.toMatch(STACK);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, SPAWN_TIMEOUT);

  test("unknown commands and options: usage error, exit 2", () => {
    expect(wd("frobnicate").code).toBe(2);
    const r = wd("generate", "--bogus");
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("wd: unknown option --bogus");
  }, SPAWN_TIMEOUT);
});
