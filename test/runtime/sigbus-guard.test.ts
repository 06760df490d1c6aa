// The SIGBUS guard of the uacce backend (runtime/src/uacce/sigbus-guard.ts over the native helper):
// a mapping whose pages go away under the process (a memfd shrunk under it here; a UACCE parent's
// zap in the guest) faults with SIGBUS on the next touch. Guarded, the touch reads zeros and the
// guard says it was hit; unguarded, the process dies of SIGBUS (so the test is not vacuous). Each
// case runs in a child process.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { nativeMmio } from "@warpdrive/runtime/mem/native";

const child = join(import.meta.dir, "sigbus-guard-child.ts");
const run = (mode: string) => Bun.spawnSync([process.execPath, child, mode], { stdout: "pipe", stderr: "pipe" });

describe.skipIf(nativeMmio() === null)("SIGBUS guard", () => {
  test("unguarded: a touch of the vanished pages kills the process with SIGBUS", () => {
    const r = run("plain");
    expect(r.stdout.toString()).toBe("before hit=none\n");
    expect(r.signalCode).toBe("SIGBUS");
  });

  test("guarded: the touch reads zeros, the guard is hit, stores work, removal clears it", () => {
    const r = run("guarded");
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe("before hit=false\nread 0 hit=true\nwrote 9 other=0\nremoved hit=false\n");
  });
});
