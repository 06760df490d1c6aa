// `bun run test:vm`: real VFIO in a QEMU guest. Boots the cached guest (built on first use), binds
// QEMU's edu and nvme to vfio-pci, runs test/vm/fixtures/smoke.test.ts and test/hw with
// WD_BACKEND=vfio, then the harness self-check (harness-check.ts), and ends with "N passed, M failed".
// Exit status 0 only when everything passed. See test/vm/README.md.
import { progress, stepLog } from "@warpdrive/progress";
import { peerToolsArchive } from "./guest-tools.ts";
import { mdevModuleArchive } from "./mdev-module.ts";
import { runHarnessCheck } from "./harness-check.ts";
import { bootedConfigs, runNvmeVariants, type VariantResult } from "./nvme-variants.ts";
import { DEFAULT_KERNEL, GUEST_KERNELS, type GuestKernel } from "./guest-image.ts";
import { runRemovalSuite } from "./removal-run.ts";
import { runUacceSuite } from "./uacce-run.ts";
import { CACHE_ROOT, tail, runVm, type VmOptions } from "./vm.ts";

const USAGE = `usage: bun run test:vm [-- options] [test paths...]
  --filter <pattern>    only tests whose name matches (bun test -t)
  --shell-cmd "<cmd>"   run a shell command in the guest instead of bun test (devices bound, env set;
                        cwd /wd = the repo); the run passes when it exits 0
  --smoke               only the harness's own smoke test (test/vm/fixtures/smoke.test.ts)
  --timeout <s>         hard limit per boot (default 300)
  --no-self-test        skip the harness self-check (boots that must fail)
  --no-uacce            skip the uacce run (a second boot: wd-dummy with WD_BACKEND=uacce)
  --uacce               only the uacce run
  --no-removal          skip the removal boot (edu/NVMe unplugged and plugged back over QMP mid-I/O)
  --removal             only the removal boot
  --self-test           only the harness self-check
  --verbose             show the whole serial console (kernel messages too)
  --rebuild             rebuild the cached guest image
  --no-nvme-configs     skip the NVMe configuration boots (test/vm/nvme-configs.ts)
  --nvme-configs        only those boots
  --nvme-config <name>  only that configuration's boot (repeatable)
  --kernel 6.1|6.12     guest kernel of the main run and the configuration boots (default 6.1;
                        6.12 comes from bookworm-backports, see .ci/vm-deps.sh)
  --no-second-kernel    skip the 6.12 boot (smoke + NVMe + wd-dummy mdev tests on the second kernel)
  --second-kernel       only that boot
  paths                 bun test path filters instead of the default set
The NVMe configuration boots (one per configuration QEMU can present, test/hw/nvme.test.ts each)
and the second-kernel boot run after the main run when no paths, --filter, --smoke, --shell-cmd or
--kernel narrow it.
Default test set: ./test/vm/fixtures/smoke.test.ts ./test/hw ./test/peers
Then the uacce run (test/vm/uacce-run.ts), unless test paths, --smoke or --shell-cmd are given.
The guest also gets the kernel's nvme driver and nvme-cli (test/vm/guest-tools.ts) for test/peers.`;

const DEFAULT_TESTS = ["./test/vm/fixtures/smoke.test.ts", "./test/hw", "./test/peers"];
/** What the second kernel runs: the harness smoke test, NVMe over vfio-pci, wd-dummy over VFIO-MDEV. */
const SECOND_KERNEL_TESTS = ["./test/vm/fixtures/smoke.test.ts", "./test/hw/nvme.test.ts", "./test/hw/wd-dummy.test.ts", "./test/hw/wd-dummy-mdev.test.ts"];

interface Cli {
  filter?: string;
  shellCmd?: string;
  smoke: boolean;
  timeout: number;
  selfTest: "yes" | "no" | "only";
  verbose: boolean;
  rebuild: boolean;
  paths: string[];
  nvmeConfigs: "yes" | "no" | "only";
  nvmeConfigNames?: string[];
  kernel?: GuestKernel;
  secondKernel: "yes" | "no" | "only";
  uacce: "yes" | "no" | "only";
  removal: "yes" | "no" | "only";
}

function parseArgs(argv: string[]): Cli {
  const cli: Cli = { smoke: false, timeout: 300, selfTest: "yes", verbose: false, rebuild: false, paths: [], nvmeConfigs: "yes", secondKernel: "yes", uacce: "yes", removal: "yes" };
  const args = argv[0] === "--" ? argv.slice(1) : argv.slice();
  const value = (i: number, flag: string) => {
    const v = args[i + 1];
    if (v === undefined) fail(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") continue;
    else if (a === "--filter" || a === "-t") cli.filter = value(i++, a);
    else if (a.startsWith("--filter=")) cli.filter = a.slice(9);
    else if (a === "--shell-cmd") cli.shellCmd = value(i++, a);
    else if (a.startsWith("--shell-cmd=")) cli.shellCmd = a.slice(12);
    else if (a === "--timeout") cli.timeout = Number(value(i++, a));
    else if (a === "--smoke") cli.smoke = true;
    else if (a === "--no-self-test") cli.selfTest = "no";
    else if (a === "--self-test") cli.selfTest = "only";
    else if (a === "--no-uacce") cli.uacce = "no";
    else if (a === "--uacce") cli.uacce = "only";
    else if (a === "--no-removal") cli.removal = "no";
    else if (a === "--removal") cli.removal = "only";
    else if (a === "--verbose" || a === "-v") cli.verbose = true;
    else if (a === "--rebuild") cli.rebuild = true;
    else if (a === "--no-nvme-configs") cli.nvmeConfigs = "no";
    else if (a === "--nvme-configs") cli.nvmeConfigs = "only";
    else if (a === "--kernel") {
      const k = value(i++, a);
      if (!(GUEST_KERNELS as readonly string[]).includes(k)) fail(`--kernel ${k}: use one of ${GUEST_KERNELS.join(", ")}`);
      cli.kernel = k as GuestKernel;
    } else if (a === "--no-second-kernel") cli.secondKernel = "no";
    else if (a === "--second-kernel") cli.secondKernel = "only";
    else if (a === "--nvme-config") {
      cli.nvmeConfigs = "only";
      (cli.nvmeConfigNames ??= []).push(value(i++, a));
    }
    else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith("-")) fail(`unknown option ${a}`);
    else cli.paths.push(a);
  }
  if (!Number.isFinite(cli.timeout) || cli.timeout <= 0) fail("--timeout needs a positive number of seconds");
  // The configuration and second-kernel boots belong to the default run; a narrowed run skips them.
  const narrowed = cli.paths.length > 0 || cli.filter !== undefined || cli.smoke || cli.shellCmd !== undefined || cli.kernel !== undefined;
  if (cli.nvmeConfigs === "yes" && narrowed) cli.nvmeConfigs = "no";
  if (cli.secondKernel === "yes" && narrowed) cli.secondKernel = "no";
  if ((cli.secondKernel === "only" || cli.nvmeConfigs === "only") && cli.uacce === "yes") cli.uacce = "no";
  if (cli.removal === "only") {
    // the removal boot alone: nothing else runs
    cli.selfTest = "no";
    cli.nvmeConfigs = "no";
    cli.secondKernel = "no";
    cli.uacce = "no";
  }
  if (cli.secondKernel === "only") {
    if (cli.nvmeConfigs === "yes") cli.nvmeConfigs = "no";
    if (cli.selfTest === "yes") cli.selfTest = "no";
  }
  if (cli.nvmeConfigs === "only") {
    if (cli.selfTest === "yes") cli.selfTest = "no";
    if (cli.secondKernel === "yes") cli.secondKernel = "no";
  }
  try {
    if (cli.nvmeConfigs !== "no") bootedConfigs(cli.nvmeConfigNames);
  } catch (e) {
    fail((e as Error).message);
  }
  return cli;
}

function fail(msg: string): never {
  console.error(`test:vm: ${msg}\n${USAGE}`);
  process.exit(2);
}

// The harness and the image builders report through `log`: on a terminal their sub-steps (apt-get
// downloads, archives) move one progress line; in CI only the lasting lines and a heartbeat show.
const bar = progress("vm");
const log = stepLog(bar, "[vm] ");

/** test/peers' archive (kernel nvme modules, nvme-cli); without it those tests fail and say why. */
async function peerTools(image: Parameters<typeof peerToolsArchive>[0]["image"], l: (m: string) => void): Promise<string[]> {
  try {
    return [await peerToolsArchive({ cacheRoot: CACHE_ROOT, image, log: l })];
  } catch (e) {
    l(`note: no kernel NVMe tools in the guest (${(e as Error).message.split("\n")[0]}); test/peers will fail`);
    return [];
  }
}

/** peerTools, plus the wd-dummy mdev module when it builds; without it the wd-dummy tests skip on vfio. */
async function guestExtras(image: Parameters<typeof peerToolsArchive>[0]["image"], l: (m: string) => void): Promise<string[]> {
  const out = await peerTools(image, l);
  try {
    out.push(await mdevModuleArchive({ cacheRoot: CACHE_ROOT, image, log: l }));
  } catch (e) {
    l(`note: no wd-dummy mdev module in the guest (${(e as Error).message.split("\n")[0]}); the wd-dummy tests skip on vfio`);
  }
  return out;
}

async function main() {
  const cli = parseArgs(process.argv.slice(2));
  let passed = 0;
  let failed = 0;
  const t0 = performance.now();

  // Per NVMe configuration: pass/fail counts, printed at the end.
  const byConfig: VariantResult[] = [];
  // Per guest kernel: "kernel 6.1 (6.1.0-57-amd64): N passed, M failed".
  const kernelLines: string[] = [];
  const mainRun = cli.selfTest !== "only" && cli.nvmeConfigs !== "only" && cli.secondKernel !== "only" && cli.uacce !== "only" && cli.removal !== "only";
  if (mainRun) {
    const opts: VmOptions = { kind: "test", timeout: cli.timeout, verbose: cli.verbose, rebuild: cli.rebuild, log, extraArchives: guestExtras, kernel: cli.kernel };
    if (cli.shellCmd !== undefined) {
      opts.kind = "shell";
      opts.shellCmd = cli.shellCmd;
    } else {
      const paths = cli.paths.length ? cli.paths : cli.smoke ? [DEFAULT_TESTS[0]] : DEFAULT_TESTS;
      // 60 s per test, as `bun run test` on the host: under TCG on a loaded machine 5 s is not enough for an open.
      opts.bunArgs = ["--timeout", "60000", ...paths, ...(cli.filter !== undefined ? ["-t", cli.filter] : [])];
    }
    const r = await runVm(opts);
    const rep = r.report;
    const mk = r.timings.marks;
    const at = (k: string) => (mk[k] === undefined ? "?" : mk[k].toFixed(1));
    log(`guest run: ${rep.ok ? "PASS" : "FAIL"} (${rep.reason})`);
    log(
      `timing: image ${r.timings.image.toFixed(1)} s, archives ${r.timings.archive.toFixed(1)} s, QEMU ${r.timings.qemu.toFixed(1)} s ` +
        `(after QEMU start: first output ${at("output")} s, /init ${at("boot")} s, devices bound ${at("ready")} s, ` +
        `command done ${at("run-end")} s, exit ${at("exit")} s)`,
    );
    if (rep.kind === "test") {
      for (const c of rep.cases.filter((c) => c.status === "fail")) bar.log(`[vm]   failed: ${c.name}`);
      passed += rep.passed;
      failed += rep.failed;
      if (!rep.ok && rep.failed === 0) failed += 1; // a crash, timeout or missing summary counts as one failure
    } else if (rep.ok) passed += 1;
    else failed += 1;
    if (!rep.ok) {
      bar.log(`\n--- guest log tail (${r.logPath}) ---\n${tail(r.serialLog, 60)}\n---`);
    }
    kernelLines.push(`kernel ${cli.kernel ?? DEFAULT_KERNEL} (${r.image.kernelRelease}), main run: ${rep.passed} passed, ${rep.failed + (!rep.ok && rep.failed === 0 ? 1 : 0)} failed`);
    // The main run's controller is the "default" configuration: its NVMe tests are named "[default] > ...".
    const own = rep.cases.filter((c) => c.name.startsWith("[default] "));
    if (own.length) {
      const f = own.filter((c) => c.status === "fail").length;
      byConfig.push({ name: "default", passed: own.filter((c) => c.status === "pass").length, failed: f, ok: f === 0, reason: "main run" });
    }
  }

  if (cli.selfTest !== "only" && cli.nvmeConfigs !== "no" && cli.uacce !== "only") {
    const results = await runNvmeVariants(bootedConfigs(cli.nvmeConfigNames), async (o) => {
      const r = await runVm({ kind: "test", timeout: cli.timeout, verbose: cli.verbose, log, kernel: cli.kernel, ...o }); // no peers tools or mdev module: only the NVMe tests run
      log(`nvme ${o.name}: ${r.report.ok ? "PASS" : "FAIL"} (${r.report.reason}), QEMU ${r.timings.qemu.toFixed(1)} s`);
      if (!r.report.ok) bar.log(`\n--- guest log tail (${r.logPath}) ---\n${tail(r.serialLog, 40)}\n---`);
      return r;
    }, log);
    for (const v of results) {
      passed += v.passed;
      failed += v.failed;
    }
    byConfig.push(...results);
  }
  for (const v of byConfig) bar.log(`nvme configuration ${v.name}: ${v.passed} passed, ${v.failed} failed${v.ok ? "" : ` (${v.reason})`}`);

  // The second kernel: the smoke test, the NVMe tests and the wd-dummy mdev tests (the module is
  // built for that kernel's headers), one boot.
  if (cli.selfTest !== "only" && cli.secondKernel !== "no" && cli.uacce !== "only") {
    const second = GUEST_KERNELS.find((k) => k !== DEFAULT_KERNEL)!;
    log(`kernel ${second}: ${SECOND_KERNEL_TESTS.join(" ")}`);
    const r = await runVm({
      kind: "test", timeout: cli.timeout, verbose: cli.verbose, rebuild: cli.rebuild, log, kernel: second, name: `kernel-${second.replace(/\./g, "-")}`, // no dot: runs/<name>.<pid> are work folders
      bunArgs: ["--timeout", "60000", ...SECOND_KERNEL_TESTS],
      extraArchives: async (image, l) => { try { return [await mdevModuleArchive({ cacheRoot: CACHE_ROOT, image, log: l })]; } catch (e) { l(`note: no wd-dummy mdev module for ${second} (${(e as Error).message.split("\n")[0]})`); return []; } },
    });
    const rep = r.report;
    const f = rep.failed + (!rep.ok && rep.failed === 0 ? 1 : 0);
    // The mdev tests skip when the module is missing: on the second kernel that is a failure (it is what this boot is for).
    const mdevRan = rep.cases.some((c) => c.name.startsWith("wd-dummy") && c.status === "pass");
    const missing = mdevRan ? 0 : 1;
    passed += rep.passed;
    failed += f + missing;
    for (const c of rep.cases.filter((x) => x.status === "fail")) bar.log(`[vm]   failed: ${c.name}`);
    if (!rep.ok) bar.log(`\n--- guest log tail (${r.logPath}) ---\n${tail(r.serialLog, 60)}\n---`);
    kernelLines.push(`kernel ${second} (${r.image.kernelRelease}): ${rep.passed} passed, ${f + missing} failed${rep.ok ? "" : ` (${rep.reason})`}${missing ? " (the wd-dummy mdev tests did not run)" : ""}`);
  }
  for (const l of kernelLines) bar.log(l);

  const defaultSet = cli.paths.length === 0 && !cli.smoke && cli.shellCmd === undefined;
  if ((cli.uacce === "only" || (cli.uacce === "yes" && defaultSet)) && cli.selfTest !== "only") {
    const u = await runUacceSuite({ log, timeout: cli.timeout, verbose: cli.verbose, filter: cli.filter });
    passed += u.passed;
    failed += u.failed;
  }

  // The removal boot: edu and NVMe behind root ports, unplugged and plugged back mid-I/O (removal-run.ts).
  if (cli.removal === "only" || (cli.removal === "yes" && defaultSet && cli.selfTest !== "only" && cli.uacce !== "only" && cli.nvmeConfigs !== "only" && cli.secondKernel !== "only")) {
    const rm = await runRemovalSuite({ log, timeout: cli.timeout, verbose: cli.verbose, filter: cli.filter });
    passed += rm.passed;
    failed += rm.failed;
  }

  if (cli.selfTest !== "no" && cli.uacce !== "only") {
    const s = await runHarnessCheck({ log, timeout: Math.min(cli.timeout, 300) });
    passed += s.passed;
    failed += s.failed;
  }

  log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  bar.end();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

main().catch((e) => {
  bar.end();
  console.error(`test:vm: ${e instanceof Error ? e.message : String(e)}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
});
