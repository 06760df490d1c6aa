// The kernel's side of the NVMe cross-check, inside the QEMU guest: moving the PCI function between
// vfio-pci and the kernel's nvme driver, nvme-cli, dd with O_DIRECT, and the guest process's open
// file descriptors (for the leak check). Every command that produces data for a comparison is
// returned with its command line so a mismatch can name it.
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { GUEST_NVME_CLI, GUEST_NVME_MODULE_LIST } from "./guest-tools.ts";

export interface Ran {
  command: string;
  code: number;
  stdout: Uint8Array;
  text: string;
  stderr: string;
}

export function run(argv: string[], stdin?: Uint8Array): Ran {
  const r = Bun.spawnSync(argv, { stdin: stdin ?? "ignore", stdout: "pipe", stderr: "pipe" });
  const stdout = new Uint8Array(r.stdout);
  return { command: argv.join(" "), code: r.exitCode ?? -1, stdout, text: new TextDecoder().decode(stdout), stderr: r.stderr.toString() };
}

function must(argv: string[], stdin?: Uint8Array): Ran {
  const r = run(argv, stdin);
  if (r.code !== 0) throw new Error(`${r.command} exited ${r.code}: ${(r.stderr || r.text).trim().slice(0, 500)}`);
  return r;
}

/** Why the kernel path cannot be used here, or undefined when it can. */
export function kernelPathMissing(): string | undefined {
  if (process.env.WD_BACKEND !== "vfio") return "no kernel NVMe path: WD_BACKEND is not vfio (runs in the QEMU guest: bun run test:vm)";
  if (!process.env.WD_NVME_DEVICE) return "WD_NVME_DEVICE is not set";
  return undefined;
}

/** What the guest image lacks for the kernel path (the VM harness appends the guest-tools archive). */
export function guestToolsMissing(): string | undefined {
  for (const f of [GUEST_NVME_CLI, GUEST_NVME_MODULE_LIST, "/sys/bus/pci/drivers_probe"]) {
    if (!existsSync(f)) return `${f} is missing from the guest (the archive of test/vm/guest-tools.ts was not appended)`;
  }
  return undefined;
}

const sleep = (ms: number) => Bun.sleepSync(ms);

/** Polls `done` every 20 ms; throws naming `what` after `limitMs` (a hang is a failure, not a pass). */
function waitFor<T>(what: string, limitMs: number, done: () => T | undefined | false): T {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = done();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`gave up after ${limitMs} ms waiting for ${what}`);
    sleep(20);
  }
}

export function loadNvmeModules(): void {
  if (existsSync("/sys/module/nvme")) return;
  for (const m of readFileSync(GUEST_NVME_MODULE_LIST, "utf8").split("\n").filter(Boolean)) {
    const name = m.split("/").pop()!.replace(/\.ko$/, "").replace(/-/g, "_");
    if (existsSync(`/sys/module/${name}`)) continue;
    must(["insmod", m]);
  }
}

export function driverOf(bdf: string): string | undefined {
  try {
    return readlinkSync(`/sys/bus/pci/devices/${bdf}/driver`).split("/").pop();
  } catch {
    return undefined;
  }
}

export function iommuGroupOf(bdf: string): string {
  return readlinkSync(`/sys/bus/pci/devices/${bdf}/iommu_group`).split("/").pop()!;
}

/** Open descriptors of this process, by what they point at. */
export function openFds(): Map<number, string> {
  const fds = new Map<number, string>();
  for (const n of readdirSync("/proc/self/fd")) {
    try {
      fds.set(Number(n), readlinkSync(`/proc/self/fd/${n}`));
    } catch {
      // closed while listing (the listing's own descriptor)
    }
  }
  return fds;
}

/** Descriptors that keep a device in use: VFIO files, NVMe nodes, eventfds (MSI-X), device memory. */
export function deviceFds(): string[] {
  return [...openFds()].filter(([, t]) => /^\/dev\/(vfio|nvme)|eventfd|vfio/.test(t)).map(([fd, t]) => `${fd} -> ${t}`);
}

export function unbind(bdf: string): void {
  const drv = driverOf(bdf);
  if (drv === undefined) return;
  if (drv === "vfio-pci") {
    // vfio-pci's remove waits for every user to let go: with a descriptor still open here the write
    // below would block this process for good. Refuse instead, naming the descriptors.
    const fds = deviceFds();
    const group = `/dev/vfio/${iommuGroupOf(bdf)}`;
    const groups = fds.filter((d) => /\/dev\/vfio\/\d+$/.test(d));
    const devices = fds.filter((d) => d.includes("[vfio-device]"));
    // Its group open here, or a VFIO device fd with no group of another device to account for it.
    const held = fds.filter((d) => d.endsWith(` -> ${group}`) || (devices.length > 0 && groups.length === 0 && d.includes("[vfio-device]")));
    if (held.length) throw new Error(`${bdf} is still open through VFIO in this process (${held.join(", ")}): close it before rebinding`);
  }
  writeFileSync(`/sys/bus/pci/devices/${bdf}/driver/unbind`, bdf);
  waitFor(`${bdf} to leave ${drv}`, 15_000, () => driverOf(bdf) === undefined);
}

export interface KernelNvme {
  /** Controller character device, e.g. /dev/nvme0. */
  ctrl: string;
  /** Namespace 1 block device, e.g. /dev/nvme0n1. */
  ns: string;
}

/** Moves the function to the kernel's nvme driver and waits for namespace 1's block device. */
export function bindKernel(bdf: string): KernelNvme {
  loadNvmeModules();
  if (driverOf(bdf) !== "nvme") {
    unbind(bdf);
    writeFileSync(`/sys/bus/pci/devices/${bdf}/driver_override`, "\n"); // empty: match by id table again
    writeFileSync("/sys/bus/pci/drivers_probe", bdf);
    waitFor(`${bdf} to bind to nvme`, 15_000, () => driverOf(bdf) === "nvme");
  }
  const name = waitFor(`${bdf}'s nvme controller in sysfs`, 15_000, () => {
    try {
      return readdirSync(`/sys/bus/pci/devices/${bdf}/nvme`).find((n) => /^nvme\d+$/.test(n));
    } catch {
      return undefined;
    }
  });
  const sys = `/sys/bus/pci/devices/${bdf}/nvme/${name}`;
  waitFor(`${name} to be live`, 30_000, () => readFileSync(`${sys}/state`, "utf8").trim() === "live");
  const nsName = waitFor(`${name}'s namespace 1`, 30_000, () => readdirSync(sys).find((n) => n.startsWith(name) && /n1$/.test(n)));
  const k = { ctrl: `/dev/${name}`, ns: `/dev/${nsName}` };
  waitFor(`${k.ns} and ${k.ctrl}`, 15_000, () => existsSync(k.ns) && existsSync(k.ctrl));
  return k;
}

/** Moves the function back to vfio-pci (as the VM harness bound it) and waits for its group node. */
export function bindVfio(bdf: string): void {
  if (driverOf(bdf) !== "vfio-pci") {
    unbind(bdf);
    writeFileSync(`/sys/bus/pci/devices/${bdf}/driver_override`, "vfio-pci");
    writeFileSync("/sys/bus/pci/drivers_probe", bdf);
    waitFor(`${bdf} to bind to vfio-pci`, 15_000, () => driverOf(bdf) === "vfio-pci");
  }
  const group = iommuGroupOf(bdf);
  waitFor(`/dev/vfio/${group}`, 15_000, () => existsSync(`/dev/vfio/${group}`));
}

/** `nvme <sub> <dev> -o json`, parsed by the caller; throws with nvme-cli's message on failure. */
export function nvmeCliJson(sub: string, dev: string, extra: string[] = []): Ran {
  return must([GUEST_NVME_CLI, sub, dev, ...extra, "-o", "json"]);
}

export interface PeerStatus {
  command: string;
  /** nvme-cli's status value: SC 7:0, SCT 10:8, CRD 12:11, MORE 13, DNR 14 (the CQE status >> 1). */
  raw: number;
  sct: number;
  sc: number;
  dnr: boolean;
  text: string;
}

/** Runs an `nvme io-passthru` / `admin-passthru` expected to fail and reads the NVMe status it printed. */
export function passthruStatus(argv: string[]): PeerStatus {
  const r = run([GUEST_NVME_CLI, ...argv]);
  const out = `${r.text}\n${r.stderr}`;
  const m = out.match(/NVMe status:.*\((0x[0-9a-fA-F]+)\)/);
  if (!m) {
    throw new Error(`${r.command} (exit ${r.code}) printed no NVMe status: ${out.trim().slice(0, 400)}`);
  }
  const raw = Number(m[1]);
  return { command: r.command, raw, sc: raw & 0xff, sct: (raw >> 8) & 0x7, dnr: ((raw >> 14) & 1) === 1, text: m[0] };
}

/** Reads `blocks` blocks at `lba` through the block device, bypassing the page cache. */
export function ddRead(dev: string, lba: number, blocks: number, blockSize: number): Ran {
  const r = must(["dd", `if=${dev}`, `bs=${blockSize}`, `skip=${lba}`, `count=${blocks}`, "iflag=direct"]);
  if (r.stdout.length !== blocks * blockSize) {
    throw new Error(`${r.command} gave ${r.stdout.length} bytes, expected ${blocks * blockSize}: ${r.stderr.trim()}`);
  }
  return r;
}

/** Writes `data` at `lba` through the block device with O_DIRECT, then syncs it. */
export function ddWrite(dev: string, lba: number, data: Uint8Array, blockSize: number, tmp: string): Ran {
  writeFileSync(tmp, data);
  const r = must(["dd", `if=${tmp}`, `of=${dev}`, `bs=${blockSize}`, `seek=${lba}`, `count=${data.length / blockSize}`, "oflag=direct", "conv=fsync,notrunc"]);
  return r;
}
