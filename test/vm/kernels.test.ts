// Host unit tests of what the second guest kernel (6.12) needs from the image builder: modules that
// kernel folds into others, .ko.xz modules decompressed on the way in. No QEMU here.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { moduleBytes, plainKo, resolveModules } from "./guest-image.ts";

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "wd-kernels-"));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("guest modules on 6.12", () => {
  test("an optional module the kernel does not have is left out; a required one is still refused", () => {
    withDir((dir) => {
      writeFileSync(
        join(dir, "modules.dep"),
        ["kernel/drivers/vfio/vfio.ko.xz: kernel/virt/lib/irqbypass.ko.xz", "kernel/virt/lib/irqbypass.ko.xz:", ""].join("\n"),
      );
      expect(resolveModules(dir, ["vfio", "vfio_virqfd"], { optional: ["vfio_virqfd"] })).toEqual([
        "kernel/virt/lib/irqbypass.ko.xz",
        "kernel/drivers/vfio/vfio.ko.xz",
      ]);
      expect(() => resolveModules(dir, ["vfio", "vfio_virqfd"])).toThrow(/vfio_virqfd is not in/);
    });
  });

  test("modules compressed with something other than xz are refused", () => {
    withDir((dir) => {
      writeFileSync(join(dir, "modules.dep"), "kernel/a.ko.zst:\n");
      expect(() => resolveModules(dir, ["a"])).toThrow(/other than xz/);
    });
  });

  test(".ko.xz is decompressed and lands as .ko; a plain .ko is taken as it is", () => {
    withDir((dir) => {
      const plain = new TextEncoder().encode("\x7fELF a module");
      writeFileSync(join(dir, "m.ko"), plain);
      const xz = Bun.spawnSync(["xz", "-c", join(dir, "m.ko")], { stdout: "pipe" });
      writeFileSync(join(dir, "m.ko.xz"), xz.stdout);
      expect(new TextDecoder().decode(moduleBytes(join(dir, "m.ko.xz")))).toBe("\x7fELF a module");
      expect(new TextDecoder().decode(moduleBytes(join(dir, "m.ko")))).toBe("\x7fELF a module");
      expect(plainKo("kernel/drivers/vfio/vfio.ko.xz")).toBe("kernel/drivers/vfio/vfio.ko");
      expect(plainKo("kernel/x.ko")).toBe("kernel/x.ko");
      writeFileSync(join(dir, "bad.ko.xz"), "not xz");
      expect(() => moduleBytes(join(dir, "bad.ko.xz"))).toThrow(/xz -dc/);
    });
  });
});
