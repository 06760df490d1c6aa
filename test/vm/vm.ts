// One guest run: cached image + per-run code archive -> QEMU (q35, TCG, intel-iommu, edu, nvme,
// isa-debug-exit) with a hard timeout -> serial log -> RunReport.
import { appendFileSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, truncateSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CodeArchiveStats, envFile, repoRoot, shellQuote, writeCodeArchive } from "./code-archive.ts";
import { CpioWriter } from "./cpio.ts";
import { ensureGuestImage, type GuestImage, type GuestKernel, type Log } from "./guest-image.ts";
import { nvmeQemuArgs, type NvmeQemuConfig } from "./nvme-variants.ts";
import { virtioQemuArgs } from "./virtio-devices.ts";
import { type QemuEnd, parseRun, type RunReport } from "./report.ts";

export interface VmOptions {
  /** "test": bun test with bunArgs; "shell": shellCmd through sh -c. */
  kind: "test" | "shell";
  bunArgs?: string[];
  shellCmd?: string;
  /** Hard limit for the whole QEMU run, seconds. */
  timeout?: number;
  /** Print every guest line (kernel included), not only the command's output and WDVM lines. */
  verbose?: boolean;
  /** Print nothing from the guest while it runs (the harness self-check). */
  silent?: boolean;
  /** Extra kernel command line words (the self-check uses this to provoke failures). */
  append?: string[];
  /** Name for the run folder under .cache/vm/runs/. */
  name?: string;
  rebuild?: boolean;
  /** Boot a second time when the kernel died before /init ran (default true). */
  retryEarlyFailure?: boolean;
  log?: Log;
  /** Environment for the command only (after the guest's own: WD_BACKEND=uacce for the uacce run). */
  env?: Record<string, string>;
  /** Extra cpio archives appended after the repo's code, once the guest image is known (test/peers' kernel NVMe tools). */
  extraArchives?: (image: GuestImage, log: Log) => Promise<string[]>;
  /** QEMU properties of the NVMe controller and its namespaces (test/vm/nvme-configs.ts); default: QEMU's defaults. */
  nvme?: NvmeQemuConfig;
  /** Guest kernel series (guest-image.ts GUEST_KERNELS); default 6.1. */
  kernel?: GuestKernel;
  /** Replaces the default edu + NVMe devices (the removal boot puts them behind PCIe root ports);
   *  `nvmeImage` is the run's fresh NVMe backing file. */
  devices?: (nvmeImage: string) => string[];
  /** A QMP monitor on this unix socket (test/vm/hotplug.ts talks to it). */
  qmpSocket?: string;
  /** Every serial line as it arrives (the removal boot's guest asks for hot-plug actions this way). */
  onLine?: (line: string) => void;
}

export interface VmResult {
  report: RunReport;
  end: QemuEnd;
  serialLog: string;
  logPath: string;
  /** Seconds: image lookup/build, archives, QEMU; marks: host seconds after QEMU's start per guest step. */
  timings: { image: number; archive: number; qemu: number; marks: Record<string, number> };
  image: GuestImage;
}

export const CACHE_ROOT = join(repoRoot(), ".cache", "vm");
const QEMU = "qemu-system-x86_64";
const QBOOT = "/usr/share/qemu/qboot.rom";

/**
 * The QEMU command line (why each part is there: the comments on the options below).
 * `nvmeDevice`: the NVMe controller's -drive/-device arguments (nvme-variants.ts), default one
 * controller with QEMU's default properties over `nvmeImage`.
 */
export function qemuArgs(image: GuestImage, initrd: string, nvmeImage: string, append: string[], nvmeDevice?: string[], extra: { devices?: string[]; qmpSocket?: string } = {}): string[] {
  // no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer test can miss its window
  // and panic ("timer doesn't work through Interrupt-remapped IO-APIC"), seen here at load 8 on 2 cores.
  const cmdline = ["console=ttyS0", "intel_iommu=on", "quiet", "loglevel=4", "panic=-1", "oops=panic", "no_timer_check", ...append];
  const args = [
    QEMU,
    "-machine", "q35",
    "-accel", "tcg,thread=multi",
    "-cpu", "max", // Bun needs AVX2
    "-smp", "2",
    "-m", "2G",
    "-nodefaults",
    "-no-reboot", // a panic (panic=-1 reboots) ends QEMU with status 0: never a pass
    "-device", "intel-iommu,intremap=on,caching-mode=on",
    ...(extra.devices ?? ["-device", "edu", ...(nvmeDevice ?? ["-drive", `file=${nvmeImage},if=none,id=nvm,format=raw`, "-device", "nvme,serial=wd0001,drive=nvm"])]),
    ...(extra.qmpSocket ? ["-qmp", `unix:${extra.qmpSocket},server=on,wait=off`] : []),
    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    "-display", "none",
    "-serial", "stdio",
    "-kernel", image.kernel,
    "-initrd", initrd,
    "-append", cmdline.join(" "),
  ];
  if (existsSync(QBOOT)) args.push("-bios", QBOOT);
  return args;
}

export async function runVm(opts: VmOptions): Promise<VmResult> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const repo = repoRoot();
  if (!Bun.which(QEMU)) throw new Error(`${QEMU} not found: run bash .ci/vm-deps.sh (installs qemu-system-x86, busybox-static, cpio)`);

  const t0 = performance.now();
  const image = await ensureGuestImage(CACHE_ROOT, log, { rebuild: opts.rebuild, kernel: opts.kernel });
  const t1 = performance.now();

  // Work files per process (two engineers' runs on one machine must not share them); the serial log
  // goes to runs/<name>/serial.log, the latest run's, where people look for it.
  removeStaleWorkDirs(join(CACHE_ROOT, "runs"));
  const name = opts.name ?? "last";
  const runDir = join(CACHE_ROOT, "runs", `${name}.${process.pid}`);
  const logDir = join(CACHE_ROOT, "runs", name);
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  rmSync(join(logDir, "serial-first-attempt.log"), { force: true });

  // The repo's code: one archive per process, shared by all boots of this `bun run test:vm`.
  const code = await repoArchive(repo, log);

  let cmd: string;
  if (opts.kind === "shell") {
    if (!opts.shellCmd) throw new Error("shell run without a command");
    cmd = opts.shellCmd;
  } else {
    const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
    cmd = [...(env.length ? ["env", ...env] : []), "bun", "test", ...(opts.bunArgs ?? [])].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : shellQuote(a))).join(" ");
  }
  // This run's own files, in a third small archive: /init and the command.
  const runCpio = join(runDir, "run.cpio");
  const w = new CpioWriter(runCpio);
  w.add({ kind: "file", path: "init", data: readFileSync(join(import.meta.dir, "guest/init.sh")), mode: 0o755 });
  w.add({ kind: "file", path: "wd/.vm/run.env", data: envFile({ WDVM_KIND: opts.kind, WDVM_CMD: cmd }) });
  await w.finish();

  // One initrd file: base, code and run archives back to back (the kernel unpacks them in turn).
  const initrd = join(runDir, "initramfs.cpio");
  copyFileSync(image.initramfs, initrd);
  appendFileSync(initrd, readFileSync(code.path));
  for (const extra of (await opts.extraArchives?.(image, log)) ?? []) appendFileSync(initrd, readFileSync(extra));
  appendFileSync(initrd, readFileSync(runCpio));
  rmSync(runCpio);
  // A fresh, sparse NVMe backing file per run: 64 MiB = 131072 blocks of 512 bytes.
  const nvmeImage = join(runDir, "nvme.img");
  closeSync(openSync(nvmeImage, "w"));
  truncateSync(nvmeImage, 64 << 20);
  const nvmeDevice = opts.nvme ? nvmeQemuArgs(opts.nvme, runDir) : undefined;
  const extra = { devices: opts.devices?.(nvmeImage), qmpSocket: opts.qmpSocket };
  const extraDevices = virtioQemuArgs(runDir);
  const t2 = performance.now();
  if (!opts.silent) log(`guest: ${cmd}`);

  let { end, serialLog, marks } = await boot([...qemuArgs(image, initrd, nvmeImage, opts.append ?? [], nvmeDevice, extra), ...extraDevices], opts);
  if (opts.retryEarlyFailure !== false && !serialLog.includes("WDVM boot") && !end.timedOut) {
    // The kernel died before /init ran: nothing of ours was executed, so this is the emulator or the
    // host, not a test result. One more boot; its result stands on its own (never a pass by default).
    const first = serialLog.split("\n").find((l) => /panic|error/i.test(l))?.trim() ?? `QEMU status ${end.code}`;
    log(`the guest died before /init (${first}); booting once more`);
    writeFileSync(join(logDir, "serial-first-attempt.log"), serialLog);
    ({ end, serialLog, marks } = await boot([...qemuArgs(image, initrd, nvmeImage, opts.append ?? [], nvmeDevice, extra), ...extraDevices], opts));
  }
  const t3 = performance.now();
  const logPath = join(logDir, "serial.log");
  writeFileSync(logPath, serialLog);
  const report = parseRun(serialLog, end, opts.kind);
  // The verdict and every test case, for tools: runs/<name>/result.json.
  writeFileSync(join(logDir, "result.json"), `${JSON.stringify({ command: cmd, end, report, marks }, null, 2)}\n`);
  if (process.env.WDVM_KEEP) log(`kept ${runDir} (initramfs.cpio, nvme.img)`);
  else rmSync(runDir, { recursive: true, force: true });
  return {
    report,
    end,
    serialLog,
    logPath,
    timings: { image: (t1 - t0) / 1000, archive: (t2 - t1) / 1000, qemu: (t3 - t2) / 1000, marks },
    image,
  };
}

/** Work folders of processes that are gone (killed runs): <name>.<pid> and code-<pid>. */
function removeStaleWorkDirs(runs: string) {
  if (!existsSync(runs)) return;
  for (const d of readdirSync(runs)) {
    const m = d.match(/^(?:.+\.|code-)(\d+)$/);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ESRCH") rmSync(join(runs, d), { recursive: true, force: true });
    }
  }
}

let codeMemo: Promise<CodeArchiveStats> | null = null;

/** The repo under /wd plus the prebuilt MMIO helper, archived once per process. */
function repoArchive(repo: string, log: Log): Promise<CodeArchiveStats> {
  codeMemo ??= (async () => {
    const t0 = performance.now();
    const dir = join(CACHE_ROOT, "runs", `code-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    // The guest has no compiler: build the runtime's MMIO helper here when the runtime has one.
    const extra: { path: string; data: Uint8Array; mode?: number }[] = [];
    const nativeTs = join(repo, "runtime/src/mem/native.ts");
    if (existsSync(nativeTs)) {
      const r = Bun.spawnSync([process.execPath, nativeTs, join(dir, "mmio")], { cwd: repo, stdout: "pipe", stderr: "pipe" });
      const lib = r.stdout.toString().trim().split("\n").pop() ?? "";
      if (r.exitCode === 0 && lib && existsSync(lib)) extra.push({ path: "wd/.vm/libwdmmio.so", data: readFileSync(lib), mode: 0o755 });
      else log(`note: could not prebuild the runtime's MMIO helper (${r.stderr.toString().trim().split("\n").pop()}); the guest uses the bun:ffi fallback`);
    }
    const stats = await writeCodeArchive({ repo, out: join(dir, "code.cpio"), extra });
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    log(
      `code archive: ${stats.files} files, ${stats.links} links kept, ${stats.resolvedLinks} resolved, ` +
        `${(stats.bytes / 1048576).toFixed(1)} MiB (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
    return stats;
  })();
  return codeMemo;
}

/** Runs QEMU, streaming its serial console line by line; kills it at the timeout. */
async function boot(args: string[], opts: VmOptions): Promise<{ end: QemuEnd; serialLog: string; marks: Record<string, number> }> {
  const timeout = opts.timeout ?? 300;
  const start = performance.now();
  const proc = Bun.spawn(args, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeout * 1000);
  // Interrupted (Ctrl-C, CI cancel): take QEMU down too instead of leaving it running.
  const onSignal = (sig: NodeJS.Signals) => {
    proc.kill("SIGKILL");
    console.error(`test:vm: ${sig}, QEMU stopped`);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  // Host seconds since spawn at which the guest reached each step (for the timing line).
  const marks: Record<string, number> = {};
  let inRun = false;
  const show = (line: string) => {
    const clean = line.replace(/\r/g, "");
    const m = clean.match(/WDVM (boot|ready|run-begin|run-end|exit)\b/);
    if (m && marks[m[1]] === undefined) marks[m[1]] = (performance.now() - start) / 1000;
    opts.onLine?.(clean);
    if (opts.silent) return;
    if (clean.includes("WDVM run-begin")) inRun = true;
    if (opts.verbose || inRun || clean.includes("WDVM ")) process.stdout.write(`${opts.verbose ? "" : "  | "}${clean}\n`);
    if (clean.includes("WDVM run-end")) inRun = false;
  };

  let text = "";
  let partial = "";
  const decoder = new TextDecoder();
  const readOut = (async () => {
    for await (const chunk of proc.stdout) {
      const s = decoder.decode(chunk, { stream: true });
      if (marks.output === undefined) marks.output = (performance.now() - start) / 1000;
      text += s;
      partial += s;
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      for (const p of parts) show(p);
    }
    if (partial) show(partial);
  })();
  const errText = new Response(proc.stderr).text();
  const code = await proc.exited;
  clearTimeout(timer);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  await readOut;
  const stderr = (await errText).trim();
  // QEMU's own messages (a hardware error, then a register dump), each line marked.
  if (stderr) text += `\n${stderr.split("\n").map((l) => `[qemu] ${l}`).join("\n")}\n`;
  return {
    end: { code: timedOut ? null : code, timedOut, seconds: (performance.now() - start) / 1000 },
    serialLog: text,
    marks,
  };
}

/**
 * The last n lines the guest printed, for failure reports, then QEMU's first few messages (the CPU
 * register dump after a QEMU hardware error is left out: it would push the guest's lines away).
 */
export function tail(text: string, n: number): string {
  const lines = text.split("\n").map((l) => l.replace(/\r/g, ""));
  const guest = lines.filter((l) => !l.startsWith("[qemu] "));
  while (guest.length && guest[guest.length - 1] === "") guest.pop();
  const qemu = lines.filter((l) => l.startsWith("[qemu] ")).slice(0, 4);
  return [...guest.slice(-n), ...qemu].join("\n");
}
