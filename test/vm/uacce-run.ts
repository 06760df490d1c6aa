// The uacce run of `bun run test:vm`: a second boot of the same guest (its init loads uacce.ko and
// our parents, see uacce-module.ts) running the unchanged wd-dummy and hzip suites with
// WD_BACKEND=uacce, so the generated clients that run on sim (and wd-dummy's on VFIO and VFIO-mdev)
// run on UACCE too, then each device's UACCE specifics, the removal of each parent module last. Reported by name with
// its own pass/fail counts, then added to the run's total.
import { peerToolsArchive } from "./guest-tools.ts";
import { uacceModulesArchive } from "./uacce-module.ts";
import { CACHE_ROOT, runVm, tail } from "./vm.ts";
import type { Log } from "./guest-image.ts";

/** Test files that run on the uacce backend (each skips what its device lacks). */
export const UACCE_TESTS = ["./test/hw/wd-dummy.test.ts", "./test/hw/wd-dummy-uacce.test.ts", "./test/hw/hzip.test.ts", "./test/hw/hzip-uacce.test.ts"];

export async function runUacceSuite(o: { log: Log; timeout: number; verbose: boolean; filter?: string }): Promise<{ passed: number; failed: number }> {
  const { log } = o;
  let noModules = "";
  const extras = async (image: Parameters<typeof peerToolsArchive>[0]["image"], l: Log): Promise<string[]> => {
    try {
      return [await uacceModulesArchive({ cacheRoot: CACHE_ROOT, image, log: l })];
    } catch (e) {
      noModules = (e as Error).message.split("\n")[0];
      return [];
    }
  };
  const r = await runVm({
    kind: "test",
    name: "uacce",
    timeout: o.timeout,
    verbose: o.verbose,
    log,
    // WDVM_TRACE=1: every runtime syscall on the console
    env: {
      WD_BACKEND: "uacce",
      ...(process.env.WDVM_TRACE ? { WD_TRACE: "1" } : {}),
    },
    // the per-test limit of `bun run test` (package.json): the guest is emulated, on a shared host
    bunArgs: ["--timeout", "60000", ...UACCE_TESTS, ...(o.filter !== undefined ? ["-t", o.filter] : [])],
    extraArchives: extras,
  });
  const rep = r.report;
  if (noModules) log(`uacce run: no UACCE modules in the guest (${noModules})`);
  let passed = 0;
  let failed = 0;
  if (rep.kind === "test") {
    passed = rep.passed;
    failed = rep.failed;
    for (const c of rep.cases.filter((c) => c.status === "fail")) log(`  failed (uacce): ${c.name}`);
    if (!rep.ok && rep.failed === 0) failed += 1;
  } else if (rep.ok) passed = 1;
  else failed = 1;
  log(`uacce run (WD_BACKEND=uacce ${UACCE_TESTS.join(" ")}): ${rep.ok ? "PASS" : "FAIL"}, ${passed} passed, ${failed} failed (${rep.reason})`);
  if (!rep.ok) console.error(`\n--- uacce guest log tail (${r.logPath}) ---\n${tail(r.serialLog, 60)}\n---`);
  return { passed, failed };
}
