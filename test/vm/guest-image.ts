// The cached part of the guest: a Debian kernel (uncompressed vmlinux, for a fast boot under TCG) and
// a "base" initramfs with busybox, the vfio modules, the host's Bun binary and the libraries it links.
// Built once per (kernel package version, Bun version, HARNESS_VERSION) under .cache/vm/; the repo's
// code goes into a second archive per run (code-archive.ts).
//
// Steps (each one is there for a reason measured in this guest; the reasons are in the comments below):
//   apt-cache depends linux-image-amd64  -> the real image package (never a hard-coded ABI number);
//                                           --kernel 6.12: the linux-image-amd64 of bookworm-backports
//   apt-get download + dpkg-deb -x       -> the kernel is extracted, not installed on the host
//   busybox depmod                       -> modules.dep (the .deb ships none), read for load order
//   the xz (6.1) or zstd (6.12) payload of the bzImage -> vmlinux, booted directly by QEMU
//   .ko.xz modules (6.12)                -> decompressed here: busybox insmod takes plain .ko files
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { CpioWriter } from "./cpio.ts";

/** Bump when the base image's content or layout changes: old caches are then rebuilt. */
export const HARNESS_VERSION = 1;

/** vfio-pci and everything it needs; mdev for the mediated-device experiments. Order is resolved. */
export const GUEST_MODULES = ["irqbypass", "vfio", "vfio_virqfd", "vfio_iommu_type1", "vfio-pci-core", "vfio-pci", "mdev"];
/** Modules some kernels do not have as modules: since 6.2 vfio_virqfd is part of vfio.ko. */
const OPTIONAL_GUEST_MODULES = ["vfio_virqfd"];

/** The guest kernels the suite boots: Debian's current 6.1 (linux-image-amd64) and 6.12 from bookworm-backports. */
export const GUEST_KERNELS = ["6.1", "6.12"] as const;
export type GuestKernel = (typeof GUEST_KERNELS)[number];
export const DEFAULT_KERNEL: GuestKernel = "6.1";

export interface GuestImage {
  dir: string;
  kernel: string; // path of the uncompressed vmlinux
  initramfs: string; // path of the base cpio
  kernelRelease: string; // e.g. 6.1.0-56-amd64
  kernelPackage: string; // e.g. linux-image-6.1.0-56-amd64 6.1.192-2
  bunVersion: string;
  builtIn?: number; // seconds, set when this call built it
}

export type Log = (msg: string) => void;

function sh(cmd: string[], opts: { cwd?: string } = {}): string {
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    throw new Error(`${cmd.join(" ")} failed (exit ${r.exitCode}): ${r.stderr.toString().trim() || r.stdout.toString().trim()}`);
  }
  return r.stdout.toString();
}

function need(tool: string, pkg: string): string {
  const p = Bun.which(tool) ?? (existsSync(`/usr/sbin/${tool}`) ? `/usr/sbin/${tool}` : existsSync(`/sbin/${tool}`) ? `/sbin/${tool}` : null);
  if (!p) throw new Error(`${tool} not found: install ${pkg} (bash .ci/vm-deps.sh installs everything the VM suite needs)`);
  return p;
}

/**
 * What the apt answer depends on: the package lists and apt's binary cache. Same fingerprint, same
 * answer, so the lookup (~4 s of apt-cache on 2 cores) is cached in .cache/vm/kernel-package.json.
 */
function aptFingerprint(): string {
  const parts: string[] = [];
  for (const dir of ["/var/lib/apt/lists", "/var/cache/apt"]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      if (!/Packages|\.bin$|Release/.test(f)) continue;
      const st = statSync(join(dir, f));
      parts.push(`${f}:${st.size}:${st.mtimeMs}`);
    }
  }
  return parts.join("|");
}

/** The kernel image package Debian's linux-image-amd64 points at for `kernel` (6.1: the candidate; 6.12: the backports version), and its version. */
export function currentKernelPackage(cacheRoot?: string, kernel: GuestKernel = DEFAULT_KERNEL): { name: string; version: string } {
  const memo = cacheRoot ? join(cacheRoot, kernel === DEFAULT_KERNEL ? "kernel-package.json" : `kernel-package-${kernel}.json`) : null;
  const fp = aptFingerprint();
  if (memo && fp && existsSync(memo)) {
    try {
      const m = JSON.parse(readFileSync(memo, "utf8")) as { fingerprint: string; name: string; version: string };
      if (m.fingerprint === fp) return { name: m.name, version: m.version };
    } catch {
      // rebuilt below
    }
  }
  const found = askApt(kernel);
  if (memo && fp) writeFileSync(memo, JSON.stringify({ fingerprint: fp, ...found }));
  return found;
}

function askApt(kernel: GuestKernel): { name: string; version: string } {
  need("apt-cache", "apt");
  let meta = "linux-image-amd64";
  if (kernel !== DEFAULT_KERNEL) {
    // `apt-cache madison` lists every version apt knows with its suite: the backports one of this series.
    const versions = sh(["apt-cache", "madison", "linux-image-amd64"]).split("\n").map((l) => l.split("|").map((x) => x.trim()));
    const v = versions.find((f) => f[1]?.startsWith(`${kernel}.`));
    if (!v) throw new Error(`apt knows no linux-image-amd64 ${kernel}.x: run bash .ci/vm-deps.sh (adds bookworm-backports, apt-get update)`);
    meta = `linux-image-amd64=${v[1]}`;
  }
  const deps = sh(["apt-cache", "depends", meta]);
  const m = deps.match(/Depends:\s*(linux-image-[0-9][^\s]*)/);
  if (!m) throw new Error(`apt-cache depends ${meta} names no linux-image-<abi> package:\n${deps}`);
  const name = m[1];
  const policy = sh(["apt-cache", "show", "--no-all-versions", name]);
  const v = policy.match(/^Version:\s*(\S+)/m);
  if (!v) throw new Error(`apt-cache show ${name} gives no Version`);
  if (!v[1].startsWith(`${kernel}.`)) throw new Error(`${name} is version ${v[1]}, not a ${kernel} kernel`);
  return { name, version: v[1] };
}

export function bunBinary(): string {
  return readlinkSync("/proc/self/exe");
}

function cacheKey(pkg: { name: string; version: string }): string {
  return `${pkg.name}_${pkg.version}-bun${Bun.version}-h${HARNESS_VERSION}`.replace(/[^A-Za-z0-9._+-]/g, "_");
}

/**
 * Returns the cached guest image, building it when missing. When apt knows no kernel package
 * (offline, no apt), falls back to the newest cached image built with this Bun and harness version.
 */
export async function ensureGuestImage(cacheRoot: string, log: Log, opts: { rebuild?: boolean; kernel?: GuestKernel } = {}): Promise<GuestImage> {
  mkdirSync(cacheRoot, { recursive: true });
  const kernel = opts.kernel ?? DEFAULT_KERNEL;
  let pkg: { name: string; version: string };
  try {
    pkg = currentKernelPackage(cacheRoot, kernel);
  } catch (e) {
    const suffix = `-bun${Bun.version}-h${HARNESS_VERSION}`;
    const cached = readdirSync(cacheRoot)
      .filter((d) => d.startsWith(`image-linux-image-${kernel}.`) && d.endsWith(suffix) && existsSync(join(cacheRoot, d, "image.json")))
      .sort();
    if (cached.length === 0) throw e;
    const dir = join(cacheRoot, cached[cached.length - 1]);
    log(`apt-cache unavailable (${(e as Error).message.split("\n")[0]}); using cached ${basename(dir)}`);
    return JSON.parse(readFileSync(join(dir, "image.json"), "utf8")) as GuestImage;
  }
  const dir = join(cacheRoot, `image-${cacheKey(pkg)}`);
  const meta = join(dir, "image.json");
  if (!opts.rebuild && existsSync(meta)) return JSON.parse(readFileSync(meta, "utf8")) as GuestImage;

  const t0 = performance.now();
  log(`building guest image ${basename(dir)} (once; cached under ${cacheRoot})`);
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  // 1. The kernel package, downloaded into the shared download folder and extracted.
  const dl = join(cacheRoot, "downloads");
  mkdirSync(dl, { recursive: true });
  need("apt-get", "apt");
  need("dpkg-deb", "dpkg");
  let deb = readdirSync(dl).find((f) => f.startsWith(`${pkg.name}_`) && f.endsWith(".deb") && f.includes(pkg.version.replace(/:/g, "%3a")));
  if (!deb) {
    log(`  apt-get download ${pkg.name}=${pkg.version}`);
    try {
      sh(["apt-get", "download", "-q", `${pkg.name}=${pkg.version}`], { cwd: dl });
    } catch (e) {
      throw new Error(`${(e as Error).message}\n(stale package lists? run apt-get update, then try again)`);
    }
    deb = readdirSync(dl).find((f) => f.startsWith(`${pkg.name}_`) && f.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${pkg.name} left no .deb in ${dl}`);
  }
  const root = join(work, "kernel");
  log(`  dpkg-deb -x ${deb}`);
  sh(["dpkg-deb", "-x", join(dl, deb), root]);
  // Newer (merged-/usr) kernel packages ship usr/lib/modules: give depmod the lib/modules it expects.
  if (!existsSync(join(root, "lib/modules")) && existsSync(join(root, "usr/lib/modules"))) {
    mkdirSync(join(root, "lib"), { recursive: true });
    symlinkSync("../usr/lib/modules", join(root, "lib/modules"));
  }
  const release = readdirSync(join(root, "lib/modules"))[0];
  if (!release) throw new Error(`${deb} has no lib/modules/<release>`);

  // 2. vmlinux: the bzImage's payload, decompressed.
  const vmlinux = join(work, "vmlinux");
  extractVmlinux(join(root, "boot", `vmlinuz-${release}`), vmlinux);

  // 3. Module load order from busybox depmod's modules.dep.
  const busybox = need("busybox", "busybox-static");
  sh([busybox, "depmod", "-b", root, release]);
  const modules = resolveModules(join(root, "lib/modules", release), GUEST_MODULES, { optional: OPTIONAL_GUEST_MODULES });

  // 4. The base initramfs.
  const cpioPath = join(work, "base.cpio");
  const w = new CpioWriter(cpioPath);
  for (const d of ["bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run", "mnt", "lib64", "usr/bin", "usr/sbin", "lib/x86_64-linux-gnu"]) {
    w.add({ kind: "dir", path: d });
  }
  w.add({ kind: "chardev", path: "dev/console", major: 5, minor: 1 });
  w.add({ kind: "chardev", path: "dev/null", mode: 0o666, major: 1, minor: 3 });
  w.add({ kind: "file", path: "bin/busybox", mode: 0o755, data: readFileSync(busybox) });
  for (const applet of sh([busybox, "--list"]).split("\n").map((s) => s.trim()).filter(Boolean)) {
    if (applet === "busybox") continue;
    w.add({ kind: "symlink", path: `bin/${applet}`, target: "busybox" });
  }
  const bun = bunBinary();
  w.add({ kind: "file", path: "bin/bun", mode: 0o755, data: readFileSync(bun) });
  for (const lib of sharedLibraries(bun)) {
    w.add({ kind: "file", path: lib.slice(1), mode: 0o755, data: readFileSync(lib) });
  }
  for (const m of modules) {
    w.add({ kind: "file", path: `lib/modules/${release}/${plainKo(m)}`, data: moduleBytes(join(root, "lib/modules", release, m)) });
  }
  w.add({ kind: "file", path: "etc/wd-modules", data: new TextEncoder().encode(modules.map((m) => `/lib/modules/${release}/${plainKo(m)}\n`).join("")) });
  w.add({ kind: "file", path: "etc/passwd", data: new TextEncoder().encode("root:x:0:0:root:/root:/bin/sh\n") });
  w.add({ kind: "file", path: "etc/group", data: new TextEncoder().encode("root:x:0:\n") });
  const size = await w.finish();

  const image: GuestImage = {
    dir,
    kernel: join(dir, "vmlinux"),
    initramfs: join(dir, "base.cpio"),
    kernelRelease: release,
    kernelPackage: `${pkg.name} ${pkg.version}`,
    bunVersion: Bun.version,
  };
  rmSync(root, { recursive: true, force: true });
  writeFileSync(join(work, "image.json"), JSON.stringify(image, null, 2));
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir);
  image.builtIn = (performance.now() - t0) / 1000;
  log(`  guest image ready: kernel ${release}, base initramfs ${(size / 1048576).toFixed(0)} MiB, ${image.builtIn.toFixed(1)} s`);
  return image;
}

/**
 * Cuts the compressed payload out of a bzImage and decompresses it to an ELF vmlinux: xz (Debian's
 * 6.1) or zstd (6.12). The payload is followed by other data, so the decompressor stops after one
 * stream/frame and may complain about what follows: only the ELF it printed counts.
 */
export function extractVmlinux(bzImage: string, out: string): void {
  const bytes = readFileSync(bzImage);
  const formats = [
    { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], cmd: () => [need("xz", "xz-utils"), "-dc", "--single-stream"] },
    { magic: [0x28, 0xb5, 0x2f, 0xfd], cmd: () => [need("zstd", "zstd"), "-dcq"] },
  ];
  for (const f of formats) {
    const magic = Buffer.from(f.magic);
    let at = bytes.indexOf(magic);
    while (at >= 0) {
      const r = Bun.spawnSync(f.cmd(), { stdin: bytes.subarray(at), stdout: "pipe", stderr: "pipe" });
      const elf = r.stdout;
      if (elf.length > 4 && elf[0] === 0x7f && elf[1] === 0x45 && elf[2] === 0x4c && elf[3] === 0x46) {
        writeFileSync(out, elf);
        return;
      }
      at = bytes.indexOf(magic, at + 1);
    }
  }
  throw new Error(`no xz- or zstd-compressed ELF found in ${bzImage} (is the kernel compressed with something else?)`);
}

/** "kernel/x.ko.xz" -> "kernel/x.ko": where a module lands in the guest (decompressed). */
export function plainKo(path: string): string {
  return path.replace(/\.ko\.xz$/, ".ko");
}

/** A module file's bytes, decompressed when it is .ko.xz (busybox insmod takes plain .ko files). */
export function moduleBytes(path: string): Uint8Array {
  if (!path.endsWith(".ko.xz")) return readFileSync(path);
  const r = Bun.spawnSync([need("xz", "xz-utils"), "-dc", path], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`xz -dc ${path} failed: ${r.stderr.toString().trim()}`);
  return r.stdout;
}

/**
 * The given modules and their dependencies, in an order where each comes after what it needs.
 * optional: wanted modules that may be absent (folded into another module by this kernel).
 */
export function resolveModules(modDir: string, wanted: string[], opts: { optional?: string[] } = {}): string[] {
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(join(modDir, "modules.dep"), "utf8").split("\n")) {
    const [mod, rest] = line.split(":");
    if (!mod || rest === undefined) continue;
    deps.set(mod.trim(), rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map<string, string>();
  for (const path of deps.keys()) byName.set(basename(path).replace(/\.ko(\.\w+)?$/, "").replace(/-/g, "_"), path);
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (path: string, chain: string[]) => {
    if (seen.has(path)) return;
    if (chain.includes(path)) throw new Error(`module dependency cycle: ${[...chain, path].join(" -> ")}`);
    for (const d of deps.get(path) ?? []) visit(d, [...chain, path]);
    seen.add(path);
    order.push(path);
  };
  const optional = new Set((opts.optional ?? []).map((n) => n.replace(/-/g, "_")));
  for (const name of wanted) {
    const key = name.replace(/-/g, "_");
    const path = byName.get(key);
    if (!path && optional.has(key)) continue;
    if (!path) throw new Error(`module ${name} is not in ${modDir}/modules.dep`);
    visit(path, []);
  }
  for (const m of order) {
    // .ko.xz is decompressed on the way into the guest (moduleBytes); other formats are not.
    if (/\.ko\.\w+$/.test(m) && !m.endsWith(".ko.xz")) throw new Error(`${m} is compressed with something other than xz; busybox insmod in the guest needs plain .ko files`);
  }
  return order;
}

/** Absolute paths of the libraries `ldd` lists for a binary (symlinks resolved, stored under their listed names). */
export function sharedLibraries(binary: string): string[] {
  need("ldd", "libc-bin");
  const out = sh(["ldd", binary]);
  const libs: string[] = [];
  for (const line of out.split("\n")) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (m) libs.push(m[1]);
  }
  if (!libs.some((l) => l.includes("ld-linux"))) throw new Error(`ldd ${binary} lists no dynamic loader:\n${out}`);
  return libs;
}

export function fileSize(path: string): number {
  return statSync(path).size;
}
