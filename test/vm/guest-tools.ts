// The peers' side of the guest: what the kernel's own NVMe path needs inside the QEMU guest, packed as
// one extra cpio archive that the VM harness appends after its base image and the code archive.
//
//   - the kernel's nvme driver: nvme.ko, nvme-core.ko and what they depend on, from the same Debian
//     kernel package the guest boots (not loaded at boot: /etc/wd-nvme-modules lists them in load
//     order for the test that rebinds the device); likewise virtio_pci and virtio_blk
//     (/etc/wd-virtio-modules);
//   - nvme-cli (`nvme id-ctrl`, `io-passthru` ...) and, for `bun run bench:vm`, fio: Debian's binaries
//     (`apt-get download` + `dpkg-deb -x`, never installed on the host) with every shared library
//     `ldd` names, taken from the host when it has them, else from the Debian packages they come from.
//
// Built once per (kernel package, tool package versions, PEER_TOOLS_VERSION) under .cache/vm/peers/.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { CpioWriter } from "./cpio.ts";
import { moduleBytes, plainKo, resolveModules, type GuestImage, type Log } from "./guest-image.ts";

/** Bump when the archive's content or layout changes. */
export const PEER_TOOLS_VERSION = 2;

/** The kernel's NVMe PCIe driver (its dependencies are resolved from modules.dep). */
export const NVME_MODULES = ["nvme-core", "nvme"];
/** The kernel's virtio PCI transport and block driver (test/peers/virtio-blk-peers.test.ts). */
export const VIRTIO_MODULES = ["virtio_pci", "virtio_blk"];

/** Guest paths. */
export const GUEST_NVME_CLI = "/usr/sbin/nvme";
export const GUEST_FIO = "/usr/bin/fio";
export const GUEST_NVME_MODULE_LIST = "/etc/wd-nvme-modules";
export const GUEST_VIRTIO_MODULE_LIST = "/etc/wd-virtio-modules";

interface Tool {
  pkg: string;
  /** Path of the binary inside the package. */
  binary: string;
  guestPath: string;
}

const NVME_CLI: Tool = { pkg: "nvme-cli", binary: "usr/sbin/nvme", guestPath: GUEST_NVME_CLI };
const FIO: Tool = { pkg: "fio", binary: "usr/bin/fio", guestPath: GUEST_FIO };

function sh(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): { out: string; err: string; code: number } {
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd, env: opts.env ? { ...process.env, ...opts.env } : undefined, stdout: "pipe", stderr: "pipe" });
  return { out: r.stdout.toString(), err: r.stderr.toString(), code: r.exitCode ?? -1 };
}

function must(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): string {
  const r = sh(cmd, opts);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed (exit ${r.code}): ${r.err.trim() || r.out.trim()}`);
  return r.out;
}

function candidateVersion(pkg: string): string {
  const out = must(["apt-cache", "show", "--no-all-versions", pkg]);
  const v = out.match(/^Version:\s*(\S+)/m);
  if (!v) throw new Error(`apt-cache show ${pkg} gives no Version`);
  return v[1];
}

/** The .deb of `pkg` at apt's candidate version, downloaded into `dl` unless already there. */
function debOf(pkg: string, dl: string, log: Log): string {
  const version = candidateVersion(pkg).replace(/:/g, "%3a");
  const find = () => readdirSync(dl).find((f) => f.startsWith(`${pkg}_${version}_`) && f.endsWith(".deb"));
  let deb = find();
  if (!deb) {
    log(`  apt-get download ${pkg}`);
    const r = sh(["apt-get", "download", "-q", pkg], { cwd: dl });
    if (r.code !== 0) throw new Error(`apt-get download ${pkg} failed: ${r.err.trim()}\n(stale package lists? run apt-get update)`);
    deb = find();
    if (!deb) throw new Error(`apt-get download ${pkg} left no ${pkg}_${version}_*.deb in ${dl}`);
  }
  return join(dl, deb);
}

function installedOnHost(pkg: string): boolean {
  const r = sh(["dpkg-query", "-W", "-f=${Status}", pkg]);
  return r.code === 0 && r.out.includes("install ok installed");
}

/** Library packages in `pkg`'s dependency closure that the host does not have installed. */
function missingLibraryPackages(pkg: string): string[] {
  const out = must([
    "apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
    "--no-breaks", "--no-replaces", "--no-enhances", pkg,
  ]);
  const names = new Set(out.split("\n").filter((l) => /^lib[\w.+-]+$/.test(l.trim()) && !l.startsWith(" ")).map((l) => l.trim()));
  return [...names].filter((n) => !installedOnHost(n)).sort();
}

interface Resolved {
  /** Guest path -> host file. */
  files: Map<string, string>;
  packages: string[];
}

/**
 * The tool's binary and its libraries. `ldd` runs with the extracted packages' library folders
 * first on LD_LIBRARY_PATH; a library it cannot find brings in the missing library packages of the
 * tool's dependency closure, once.
 */
function resolveTool(tool: Tool, dl: string, stage: string, log: Log): Resolved {
  const packages = [tool.pkg];
  const extract = (pkg: string) => must(["dpkg-deb", "-x", debOf(pkg, dl, log), stage]);
  extract(tool.pkg);
  const binary = join(stage, tool.binary);
  if (!existsSync(binary)) throw new Error(`${tool.pkg} has no ${tool.binary}`);
  const libDirs = () =>
    ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu/ceph", "usr/lib/x86_64-linux-gnu/glusterfs"]
      .map((d) => join(stage, d))
      .filter((d) => existsSync(d))
      .join(":");
  const ldd = () => sh(["ldd", binary], { env: { LD_LIBRARY_PATH: libDirs() } });
  let r = ldd();
  if (/not found/.test(r.out)) {
    for (const p of missingLibraryPackages(tool.pkg)) {
      packages.push(p);
      extract(p);
    }
    r = ldd();
  }
  const missing = r.out.split("\n").filter((l) => l.includes("not found"));
  if (r.code !== 0 || missing.length) {
    throw new Error(`ldd ${tool.binary} (from ${tool.pkg}): ${missing.map((l) => l.trim()).join(", ") || r.err.trim()}`);
  }
  const files = new Map<string, string>([[tool.guestPath, binary]]);
  for (const line of r.out.split("\n")) {
    const m = line.match(/^\s*(\S+)\s+=>\s*(\/\S+)/);
    if (!m) continue; // the loader and vdso are in the base image / the kernel
    files.set(`/lib/x86_64-linux-gnu/${basename(m[1])}`, m[2]);
  }
  return { files, packages };
}

export interface PeerToolsOptions {
  cacheRoot: string;
  image: GuestImage;
  /** Include fio (tens of MiB of libraries: only `bun run bench:vm` asks for it). */
  fio?: boolean;
  log?: Log;
}

/** Path of the cached peers archive for this guest image, built when missing. */
export async function peerToolsArchive(opts: PeerToolsOptions): Promise<string> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const tools = opts.fio ? [NVME_CLI, FIO] : [NVME_CLI];
  const versions = tools.map((t) => `${t.pkg}_${candidateVersionOrCached(t.pkg, opts.cacheRoot)}`).join("-");
  const key = `${opts.image.kernelRelease}-${versions}-p${PEER_TOOLS_VERSION}`.replace(/[^A-Za-z0-9._+-]/g, "_");
  const dir = join(opts.cacheRoot, "peers");
  const out = join(dir, `${key}.cpio`);
  if (existsSync(out)) return out;

  const t0 = performance.now();
  log(`building the peers archive ${basename(out)} (once; kernel nvme driver, ${tools.map((t) => t.pkg).join(", ")})`);
  mkdirSync(dir, { recursive: true });
  const dl = join(opts.cacheRoot, "downloads");
  mkdirSync(dl, { recursive: true });
  const work = join(dir, `work-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const w = new CpioWriter(`${out}.tmp-${process.pid}`);

    // The kernel's nvme modules, from the very package the guest boots.
    const [kname, kversion] = opts.image.kernelPackage.split(" ");
    const kdeb = readdirSync(dl).find((f) => f.startsWith(`${kname}_`) && f.endsWith(".deb") && f.includes(kversion.replace(/:/g, "%3a")));
    if (!kdeb) throw new Error(`the guest's kernel package ${opts.image.kernelPackage} is not in ${dl} (run bun run test:vm -- --rebuild)`);
    const kroot = join(work, "kernel");
    must(["dpkg-deb", "-x", join(dl, kdeb), kroot]);
    if (!existsSync(join(kroot, "lib/modules")) && existsSync(join(kroot, "usr/lib/modules"))) {
      mkdirSync(join(kroot, "lib"), { recursive: true });
      symlinkSync("../usr/lib/modules", join(kroot, "lib/modules"));
    }
    const rel = opts.image.kernelRelease;
    must([Bun.which("busybox") ?? "busybox", "depmod", "-b", kroot, rel]);
    const modules = resolveModules(join(kroot, "lib/modules", rel), NVME_MODULES);
    for (const m of modules) {
      w.add({ kind: "file", path: `lib/modules/${rel}/${plainKo(m)}`, data: moduleBytes(join(kroot, "lib/modules", rel, m)) });
    }
    w.add({ kind: "file", path: GUEST_NVME_MODULE_LIST.slice(1), data: new TextEncoder().encode(modules.map((m) => `/lib/modules/${rel}/${plainKo(m)}\n`).join("")) });
    // the same for the kernel's virtio block path (modules the nvme list already carries are not repeated)
    const virtio = resolveModules(join(kroot, "lib/modules", rel), VIRTIO_MODULES);
    for (const m of virtio.filter((x) => !modules.includes(x))) {
      w.add({ kind: "file", path: `lib/modules/${rel}/${plainKo(m)}`, data: moduleBytes(join(kroot, "lib/modules", rel, m)) });
    }
    w.add({ kind: "file", path: GUEST_VIRTIO_MODULE_LIST.slice(1), data: new TextEncoder().encode(virtio.map((m) => `/lib/modules/${rel}/${plainKo(m)}\n`).join("")) });

    // The tools and their libraries.
    const manifest: Record<string, string[]> = {};
    const stage = join(work, "stage");
    mkdirSync(stage, { recursive: true });
    for (const tool of tools) {
      const r = resolveTool(tool, dl, stage, log);
      manifest[tool.pkg] = r.packages;
      for (const [guest, host] of r.files) w.add({ kind: "file", path: guest.slice(1), mode: 0o755, data: readFileSync(host) });
    }
    // nvme-cli reads its host NQN/ID files when present; an empty /etc/nvme keeps it from guessing.
    w.add({ kind: "dir", path: "etc/nvme" });
    w.add({ kind: "file", path: "etc/wd-peers.json", data: new TextEncoder().encode(`${JSON.stringify({ key, modules, packages: manifest }, null, 2)}\n`) });
    await w.finish();
    renameSync(`${out}.tmp-${process.pid}`, out);
    writeVersions(opts.cacheRoot, tools.map((t) => t.pkg));
    log(`  peers archive ready: ${(statSync(out).size / 1048576).toFixed(1)} MiB, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return out;
  } catch (e) {
    rmSync(`${out}.tmp-${process.pid}`, { force: true });
    throw e;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function candidateVersionOrCached(pkg: string, cacheRoot: string): string {
  const memo = join(cacheRoot, "peers", "versions.json");
  try {
    return candidateVersion(pkg);
  } catch (e) {
    // Offline: the version seen last time.
    if (existsSync(memo)) {
      const m = JSON.parse(readFileSync(memo, "utf8")) as Record<string, string>;
      if (m[pkg]) return m[pkg];
    }
    throw e;
  }
}

function writeVersions(cacheRoot: string, pkgs: string[]) {
  const memo = join(cacheRoot, "peers", "versions.json");
  let m: Record<string, string> = {};
  try {
    m = JSON.parse(readFileSync(memo, "utf8")) as Record<string, string>;
  } catch {
    // first time
  }
  for (const p of pkgs) m[p] = candidateVersion(p);
  writeFileSync(memo, JSON.stringify(m, null, 2));
}
