// `wd generate`: writes packages, and `--check` says exactly which files are stale, missing or extra.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
/** Each test spawns the CLI (and generate runs the emitters): seconds, not milliseconds, on a busy machine. */
const SPAWN_TIMEOUT = 60_000;
const STACK = /^\s+at .+(:\d+:\d+|\(native\))|^\d+ \| /m;

function wd(...args: string[]): { code: number; stdout: string; stderr: string } {
  const p = Bun.spawnSync(["bun", join(ROOT, "generator/src/cli.ts"), ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

describe("wd generate", () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), "wd-gen-"));
  }, SPAWN_TIMEOUT);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  test("writes a package per device, then --check finds it up to date", () => {
    const first = wd("generate", "devices/qemu-edu.yaml", "--out", out);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`${out}/qemu-edu: `);
    expect(existsSync(join(out, "qemu-edu", "package.json"))).toBe(true);
    const check = wd("generate", "--check", "devices/qemu-edu.yaml", "--out", out);
    expect(check.code).toBe(0);
    expect(check.stdout.trim()).toBe(`${out}/qemu-edu: up to date`);
  }, SPAWN_TIMEOUT);

  test("--check names stale, missing and extra files, writes nothing, exits 1", () => {
    const dir = join(out, "qemu-edu");
    const files = readdirSync(join(dir, "src")).filter((f) => f.endsWith(".ts")).sort();
    const [stale, gone] = [files[0]!, files[1]!];
    appendFileSync(join(dir, "src", stale), "// edited by hand\n");
    unlinkSync(join(dir, "src", gone));
    writeFileSync(join(dir, "src", "stray.ts"), "export {};\n");
    const r = wd("generate", "--check", "devices/qemu-edu.yaml", "--out", out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${dir}: not up to date with devices/qemu-edu.yaml`);
    expect(r.stderr).toContain(`  stale    src/${stale}`);
    expect(r.stderr).toContain(`  missing  src/${gone}`);
    expect(r.stderr).toContain("  extra    src/stray.ts");
    expect(r.stderr).toContain("run `bun run generate`");
    expect(existsSync(join(dir, "src", gone))).toBe(false); // check mode wrote nothing
    // Regenerating repairs all three.
    expect(wd("generate", "devices/qemu-edu.yaml", "--out", out).code).toBe(0);
    expect(wd("generate", "--check", "devices/qemu-edu.yaml", "--out", out).code).toBe(0);
  }, SPAWN_TIMEOUT);

  test("an invalid file: diagnostics, nothing generated, exit 1", () => {
    const r = wd("generate", "test/fixtures/bad/overlap.yaml", "--out", out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("test/fixtures/bad/overlap.yaml:12:25: error: registers overlap");
    expect(r.stderr).toContain("nothing generated");
    expect(existsSync(join(out, "overlap"))).toBe(false);
    expect(r.stderr).not.toMatch(STACK);
  }, SPAWN_TIMEOUT);

  test("a folder it did not generate is refused with a one-line reason", () => {
    const parent = join(out, "foreign");
    const yaml = join(out, "foreign-dev.yaml");
    writeFileSync(yaml, "device: foreign-dev\ntitle: T\nversion: 1.0.0\n");
    mkdirSync(join(parent, "foreign-dev"), { recursive: true });
    writeFileSync(join(parent, "foreign-dev", "notes.txt"), "mine\n");
    const r = wd("generate", yaml, "--out", parent);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refusing to write");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(readFileSync(join(parent, "foreign-dev", "notes.txt"), "utf8")).toBe("mine\n");
  }, SPAWN_TIMEOUT);
});
