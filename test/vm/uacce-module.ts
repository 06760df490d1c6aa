// UACCE in the guest: Debian's kernels are built without CONFIG_UACCE, so the core (uacce.ko) is
// built here from the same kernel's source, next to our parent modules (devices/*/uacce/), against
// linux-headers-<guest release>:
//   1. linux-source-<major.minor> (.deb, ~139 MB, downloaded into .cache/vm/downloads like the
//      kernel image): only drivers/misc/uacce/uacce.c is extracted (the whole xz stream is
//      decompressed: ~15-20 s), cached under .cache/vm/uacce-src/<package version>/.
//   2. one out-of-tree build of uacce.c + the parent's sources (its Kbuild builds uacce.o when
//      uacce.c sits next to it and defines CONFIG_UACCE_MODULE for both, see the Kbuild's comment),
//      cached under .cache/vm/uacce/<source hash>-<release>/.
//   3. one extra cpio archive: the .ko files under /lib/modules/<release>/extra/ and
//      /etc/wd-uacce-modules listing them in load order (uacce first). The guest's init loads them;
//      when anything here fails, the guest has no UACCE devices and the uacce run says why.
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CpioWriter } from "./cpio.ts";
import type { GuestImage, Log } from "./guest-image.ts";
import { headersDir } from "./mdev-module.ts";

/** Parents built with the core, in load order after it. */
export const UACCE_PARENTS = [
  { dir: join(import.meta.dir, "../../devices/wd-dummy/uacce"), module: "wd_dummy_uacce.ko" },
  { dir: join(import.meta.dir, "../../devices/hzip/uacce"), module: "hzip_uacce.ko" },
];
export const UACCE_CORE = "uacce.ko";
export const GUEST_UACCE_MODULE_LIST = "/etc/wd-uacce-modules";

const SOURCE_FILE = /\.(c|h)$|^Kbuild$|^Makefile$/;

function run(cmd: string[], opts: { cwd?: string } = {}): { out: string; code: number } {
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd, stdout: "pipe", stderr: "pipe" });
  return { out: `${r.stdout.toString()}${r.stderr.toString()}`, code: r.exitCode ?? -1 };
}

/** "6.1.192-3" -> "6.1": the series linux-source-<series> is named after. */
export function sourceSeries(kernelVersion: string): string {
  const m = kernelVersion.match(/^(\d+)\.(\d+)/);
  if (!m) throw new Error(`cannot tell the kernel series of version ${JSON.stringify(kernelVersion)}`);
  return `${m[1]}.${m[2]}`;
}

/** The version of the guest's kernel package ("linux-image-6.1.0-57-amd64 6.1.192-3" -> "6.1.192-3"). */
export function imageVersion(image: GuestImage): string {
  const v = image.kernelPackage.split(/\s+/)[1];
  if (!v) throw new Error(`the guest image names no kernel package version (${image.kernelPackage})`);
  return v;
}

/** drivers/misc/uacce/uacce.c of the guest kernel's source, extracted once and cached. */
export function uacceSource(cacheRoot: string, image: GuestImage, log: Log): string {
  const version = imageVersion(image);
  const pkg = `linux-source-${sourceSeries(version)}`;
  const out = join(cacheRoot, "uacce-src", version.replace(/[^A-Za-z0-9._+-]/g, "_"));
  const file = join(out, "uacce.c");
  if (existsSync(file)) return file;
  const dl = join(cacheRoot, "downloads");
  mkdirSync(dl, { recursive: true });
  const want = `${pkg}_${version.replace(/:/g, "%3a")}_all.deb`;
  if (!existsSync(join(dl, want))) {
    log(`  apt-get download ${pkg}=${version} (the UACCE core's source; ~140 MB, once)`);
    const r = run(["apt-get", "download", "-q", `${pkg}=${version}`], { cwd: dl });
    if (r.code !== 0 || !existsSync(join(dl, want))) {
      throw new Error(`apt-get download ${pkg}=${version} failed (exit ${r.code}): ${r.out.trim().split("\n").slice(-3).join(" ")}`);
    }
  }
  const t0 = performance.now();
  const work = `${out}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // the .deb holds usr/src/linux-source-<series>.tar.xz; of that, only the one folder is written out
  const tarball = `./usr/src/${pkg}.tar.xz`;
  const inner = `${pkg}/drivers/misc/uacce/uacce.c`;
  const pipe = `dpkg-deb --fsys-tarfile '${join(dl, want)}' | tar -xO '${tarball}' | xz -dc | tar -x -C '${work}' '${inner}'`;
  const r = run(["bash", "-c", `set -o pipefail; ${pipe}`]);
  if (r.code !== 0 || !existsSync(join(work, inner))) {
    rmSync(work, { recursive: true, force: true });
    throw new Error(`extracting ${inner} from ${want} failed (exit ${r.code}): ${r.out.trim().split("\n").slice(-3).join(" ")}`);
  }
  cpSync(join(work, inner), join(work, "uacce.c"));
  rmSync(join(work, pkg), { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  renameSync(work, out);
  log(`  extracted ${inner} from ${want} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return file;
}

/** Hash of the parents' sources and the core's source (names and contents). */
export function uacceSourceHash(coreSource: string): string {
  const h = createHash("sha256");
  h.update(readFileSync(coreSource));
  for (const p of UACCE_PARENTS) {
    for (const f of readdirSync(p.dir).sort()) {
      if (SOURCE_FILE.test(f)) h.update(f).update("\0").update(readFileSync(join(p.dir, f))).update("\0");
    }
  }
  return h.digest("hex").slice(0, 16);
}

/** Builds (or takes from the cache) uacce.ko and the parents for `release`; returns the .ko paths in load order. */
export function buildUacceModules(cacheRoot: string, release: string, coreSource: string, log: Log): string[] {
  const kdir = headersDir(release);
  const out = join(cacheRoot, "uacce", `${uacceSourceHash(coreSource)}-${release}`);
  const kos = [UACCE_CORE, ...UACCE_PARENTS.map((p) => p.module)].map((m) => join(out, m));
  if (kos.every((k) => existsSync(k))) return kos;
  if (!existsSync(join(kdir, "Makefile"))) {
    throw new Error(`no kernel build tree at ${kdir}: install linux-headers-${release} (bash .ci/vm-deps.sh does)`);
  }
  const t0 = performance.now();
  const work = `${out}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    // one folder per parent, each with its own copy of the core (Kbuild builds uacce.o next to it); the
    // first parent's uacce.ko is the one loaded, the others link against its Module.symvers
    for (const [i, p] of UACCE_PARENTS.entries()) {
      const dir = join(work, String(i));
      mkdirSync(dir);
      for (const f of readdirSync(p.dir)) if (SOURCE_FILE.test(f)) cpSync(join(p.dir, f), join(dir, f));
      if (i === 0) cpSync(coreSource, join(dir, "uacce.c"));
      const extra = i === 0 ? [] : [`KBUILD_EXTRA_SYMBOLS=${join(work, "uacce.symvers")}`];
      const r = run(["make", "-C", kdir, `M=${dir}`, ...extra, "modules"]);
      if (r.code !== 0 || !existsSync(join(dir, p.module))) {
        throw new Error(`building ${p.module} failed (exit ${r.code}):\n${r.out.trim().split("\n").slice(-20).join("\n")}`);
      }
      const warnings = r.out.split("\n").filter((l) => /warning:/.test(l));
      if (warnings.length) log(`  ${p.module}: ${warnings.length} compiler warning(s):\n${warnings.join("\n")}`);
      writeFileSync(join(work, `build-${i}.log`), r.out);
      cpSync(join(dir, p.module), join(work, p.module));
      if (i === 0) {
        cpSync(join(dir, UACCE_CORE), join(work, UACCE_CORE));
        cpSync(join(dir, "Module.symvers"), join(work, "uacce.symvers"));
      }
      rmSync(dir, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
  rmSync(out, { recursive: true, force: true });
  renameSync(work, out);
  log(`  built ${[UACCE_CORE, ...UACCE_PARENTS.map((p) => p.module)].join(", ")} for ${release} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return kos;
}

/** The extra archive for the guest (modules + their list file). */
export async function uacceModulesArchive(opts: { cacheRoot: string; image: GuestImage; log: Log }): Promise<string> {
  const { cacheRoot, image, log } = opts;
  const core = uacceSource(cacheRoot, image, log);
  const kos = buildUacceModules(cacheRoot, image.kernelRelease, core, log);
  const cpio = join(kos[0], "..", "uacce.cpio");
  if (existsSync(cpio)) return cpio;
  const extra = `/lib/modules/${image.kernelRelease}/extra`;
  const tmp = `${cpio}.tmp-${process.pid}`;
  const w = new CpioWriter(tmp);
  for (const d of ["lib", "lib/modules", `lib/modules/${image.kernelRelease}`, extra.slice(1), "etc"]) w.add({ kind: "dir", path: d });
  const names = kos.map((k) => k.slice(k.lastIndexOf("/") + 1));
  for (const [i, k] of kos.entries()) w.add({ kind: "file", path: `${extra.slice(1)}/${names[i]}`, data: readFileSync(k) });
  w.add({ kind: "file", path: GUEST_UACCE_MODULE_LIST.slice(1), data: new TextEncoder().encode(names.map((n) => `${extra}/${n}\n`).join("")) });
  await w.finish();
  renameSync(tmp, cpio);
  return cpio;
}
