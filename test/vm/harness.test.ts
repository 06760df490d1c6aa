// Host-side unit tests of the VM harness: how a serial log and QEMU's end are judged, the cpio
// writer, module ordering and env quoting. No QEMU here; `bun run test:vm` does the real boots.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { envFile, shellQuote } from "./code-archive.ts";
import { CpioWriter, listCpio } from "./cpio.ts";
import { resolveModules } from "./guest-image.ts";
import { parseRun, type QemuEnd } from "./report.ts";

const GUEST_OK = (code = 0) => `WDVM exit ${code}`;
const ok: QemuEnd = { code: 1, timedOut: false, seconds: 10 };

function bunLog(pass: number, fail: number, cases: string[] = []): string {
  return [
    "WDVM boot uptime=4.10 kernel=6.1.0 cpus=2",
    "WDVM device edu 0000:00:01.0 group=1 vendor=0x1234 device=0x11e8",
    "WDVM ready uptime=4.50",
    "WDVM run-begin kind=test",
    "bun test v1.4.5",
    "test/hw/edu.test.ts:",
    ...cases,
    ` ${pass} pass`,
    ` ${fail} fail`,
    `WDVM run-end rc=${fail ? 1 : 0} uptime=6.0`,
    `WDVM summary pass=${pass} fail=${fail} skip= todo= rc=${fail ? 1 : 0}`,
  ].join("\r\n");
}

describe("parseRun", () => {
  test("a clean run with passes is a pass", () => {
    const r = parseRun(`${bunLog(3, 0, ["(pass) a > b [1.00ms]"])}\n${GUEST_OK()}\n`, ok, "test");
    expect(r.ok).toBe(true);
    expect(r.passed).toBe(3);
    expect(r.devices.edu).toBe("0000:00:01.0");
    expect(r.cases).toEqual([{ status: "pass", name: "a > b" }]);
    expect(r.bootSeconds).toBe(4.1);
  });

  test("a failed test fails, and is named", () => {
    const r = parseRun(`${bunLog(1, 1, ["(fail) dma > both ways [2.00ms]"])}\n${GUEST_OK(1)}\n`, { ...ok, code: 3 }, "test");
    expect(r.ok).toBe(false);
    expect(r.failed).toBe(1);
    expect(r.cases[0]).toEqual({ status: "fail", name: "dma > both ways" });
  });

  test("(fail) lines count even when the summary says 0 fail", () => {
    const r = parseRun(`${bunLog(2, 0, ["(fail) x"])}\n${GUEST_OK()}\n`, ok, "test");
    expect(r.ok).toBe(false);
  });

  test("a kernel panic is a failure even though QEMU exits 0", () => {
    const log = `${bunLog(3, 0)}\n[   9.1] Kernel panic - not syncing: Fatal exception\n`;
    const r = parseRun(log, { ...ok, code: 0 }, "test");
    expect(r.ok).toBe(false);
    expect(r.panic).toBe(true);
    expect(r.reason).toContain("Kernel panic");
  });

  test("QEMU exit 0 without a panic line (reboot) is a failure", () => {
    const r = parseRun(`${bunLog(3, 0)}\n${GUEST_OK()}\n`, { ...ok, code: 0 }, "test");
    expect(r.ok).toBe(false);
  });

  test("a timeout is a failure, with where the guest was", () => {
    const r = parseRun("WDVM boot uptime=1\ntest/hw/edu.test.ts:\n(pass) a\n", { code: null, timedOut: true, seconds: 60 }, "test");
    expect(r.ok).toBe(false);
    expect(r.reason).toContain("timeout");
    expect(r.reason).toContain("test/hw/edu.test.ts after (pass a)");
  });

  test("QEMU dying (hardware error, abort) is a failure naming QEMU's message", () => {
    const log = "WDVM run-begin kind=test\ntest/hw/edu.test.ts:\n(pass) a\n[qemu] qemu: hardware error: EDU: DMA range out of bounds\n[qemu] CPU #0:\n";
    const r = parseRun(log, { code: 134, timedOut: false, seconds: 9 }, "test");
    expect(r.ok).toBe(false);
    expect(r.reason).toContain("EDU: DMA range");
  });

  test("no summary (bun crashed) is a failure even with exit code 0", () => {
    const log = "WDVM run-begin kind=test\n(pass) a\nWDVM run-end rc=0\nWDVM summary pass= fail= skip= todo= rc=0\nWDVM exit 0\n";
    expect(parseRun(log, ok, "test").ok).toBe(false);
  });

  test("nothing passed (all skipped) is a failure", () => {
    expect(parseRun(`${bunLog(0, 0)}\n${GUEST_OK()}\n`, ok, "test").ok).toBe(false);
  });

  test("the guest's exit line must agree with QEMU's code", () => {
    expect(parseRun(`${bunLog(3, 0)}\n${GUEST_OK(0)}\n`, { ...ok, code: 3 }, "test").ok).toBe(false);
    expect(parseRun(`${bunLog(3, 0)}\n`, ok, "test").ok).toBe(false);
  });

  test("setup failures are reported as such", () => {
    const r = parseRun("WDVM setup-failed binding edu\nWDVM exit 2\n", { ...ok, code: 5 }, "test");
    expect(r.ok).toBe(false);
    expect(r.reason).toBe("guest setup failed: binding edu");
  });

  test("shell runs pass on guest code 0 only", () => {
    expect(parseRun("WDVM run-end rc=0\nWDVM exit 0\n", ok, "shell").ok).toBe(true);
    expect(parseRun("WDVM run-end rc=1\nWDVM exit 1\n", { ...ok, code: 3 }, "shell").ok).toBe(false);
  });

  test("odd exit codes other than 1, 3, 5 are QEMU's, not the guest's", () => {
    expect(parseRun(`${bunLog(3, 0)}\n${GUEST_OK()}\n`, { ...ok, code: 129 }, "test").ok).toBe(false);
  });
});

describe("cpio writer", () => {
  test("entries round-trip, parents come first, names and data are 4-byte aligned", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wd-cpio-"));
    try {
      const path = join(dir, "a.cpio");
      const w = new CpioWriter(path);
      w.add({ kind: "file", path: "wd/x/y.txt", data: new TextEncoder().encode("hello"), mode: 0o600 });
      w.add({ kind: "symlink", path: "wd/link", target: "x/y.txt" });
      w.add({ kind: "chardev", path: "dev/console", major: 5, minor: 1 });
      const size = await w.finish();
      const bytes = readFileSync(path);
      expect(bytes.length).toBe(size);
      expect(size % 4).toBe(0);
      const entries = listCpio(bytes);
      expect(entries.map((e) => e.path)).toEqual(["wd", "wd/x", "wd/x/y.txt", "wd/link", "dev", "dev/console"]);
      expect(new TextDecoder().decode(entries[2].data)).toBe("hello");
      expect(entries[2].mode).toBe(0o100600);
      expect(entries[3].mode & 0o170000).toBe(0o120000);
      expect(new TextDecoder().decode(entries[3].data)).toBe("x/y.txt");
      // cpio(1) agrees, when it is installed.
      if (Bun.which("cpio")) {
        const r = Bun.spawnSync(["cpio", "-t", "--quiet"], { stdin: bytes, stdout: "pipe", stderr: "pipe" });
        expect(r.stdout.toString().trim().split("\n")).toEqual(["wd", "wd/x", "wd/x/y.txt", "wd/link", "dev", "dev/console"]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("bad paths are refused", () => {
    const dir = mkdtempSync(join(tmpdir(), "wd-cpio-"));
    try {
      const w = new CpioWriter(join(dir, "b.cpio"));
      expect(() => w.add({ kind: "dir", path: "a/../b" })).toThrow("bad path");
      expect(() => w.add({ kind: "dir", path: "/" })).toThrow("bad path");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("modules come after their dependencies", () => {
  const dir = mkdtempSync(join(tmpdir(), "wd-mod-"));
  try {
    writeFileSync(
      join(dir, "modules.dep"),
      [
        "kernel/drivers/vfio/pci/vfio-pci.ko: kernel/drivers/vfio/pci/vfio-pci-core.ko kernel/drivers/vfio/vfio.ko",
        "kernel/drivers/vfio/pci/vfio-pci-core.ko: kernel/drivers/vfio/vfio.ko kernel/virt/lib/irqbypass.ko",
        "kernel/drivers/vfio/vfio.ko:",
        "kernel/virt/lib/irqbypass.ko:",
        "",
      ].join("\n"),
    );
    expect(resolveModules(dir, ["vfio-pci"])).toEqual([
      "kernel/drivers/vfio/vfio.ko",
      "kernel/virt/lib/irqbypass.ko",
      "kernel/drivers/vfio/pci/vfio-pci-core.ko",
      "kernel/drivers/vfio/pci/vfio-pci.ko",
    ]);
    expect(() => resolveModules(dir, ["nope"])).toThrow("not in");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("shell quoting survives quotes, spaces and $", () => {
  expect(shellQuote("it's $HOME")).toBe(`'it'\\''s $HOME'`);
  const r = Bun.spawnSync(["sh", "-c", `${new TextDecoder().decode(envFile({ X: `a 'b' "c" $d \\ e` }))}printf %s "$X"`], { stdout: "pipe" });
  expect(r.stdout.toString()).toBe(`a 'b' "c" $d \\ e`);
});
