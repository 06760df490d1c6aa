// The wd-dummy mediated-device kernel module (devices/wd-dummy/mdev/) for the guest: built on the host
// against Debian's linux-headers-<kernel release> of the very kernel the guest boots (installed by
// .ci/vm-deps.sh), cached under .cache/vm/mdev/<source hash>-<release>/, and packed as one extra cpio
// archive: /lib/modules/<release>/extra/wd_dummy_mdev.ko and /etc/wd-mdev-module naming it. The
// guest's init loads it after `mdev` and creates instances; when anything here fails, the guest simply
// has no wd-dummy device and test/hw/wd-dummy.test.ts skips on vfio (the run says why).
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CpioWriter } from "./cpio.ts";
import type { GuestImage, Log } from "./guest-image.ts";

export const MDEV_SOURCE_DIR = join(import.meta.dir, "../../devices/wd-dummy/mdev");
export const MDEV_MODULE = "wd_dummy_mdev.ko";
export const GUEST_MDEV_MODULE_LIST = "/etc/wd-mdev-module";

/** Hash of every file of the module's source folder (name and content), build outputs excluded. */
export function sourceHash(dir = MDEV_SOURCE_DIR): string {
  const h = createHash("sha256");
  for (const f of readdirSync(dir).sort()) {
    if (!/\.(c|h)$|^Kbuild$|^Makefile$/.test(f)) continue;
    h.update(f).update("\0").update(readFileSync(join(dir, f))).update("\0");
  }
  return h.digest("hex").slice(0, 16);
}

/** The build tree Debian's linux-headers-<release> installs. */
export function headersDir(release: string): string {
  return `/usr/src/linux-headers-${release}`;
}

/** Builds (or takes from the cache) the module for `release`; returns the .ko path. */
export function buildMdevModule(cacheRoot: string, release: string, log: Log): string {
  const kdir = headersDir(release);
  const out = join(cacheRoot, "mdev", `${sourceHash()}-${release}`);
  const ko = join(out, MDEV_MODULE);
  if (existsSync(ko)) return ko;
  if (!existsSync(join(kdir, "Makefile"))) {
    throw new Error(`no kernel build tree at ${kdir}: install linux-headers-${release} (bash .ci/vm-deps.sh does)`);
  }
  const t0 = performance.now();
  const work = `${out}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const f of readdirSync(MDEV_SOURCE_DIR)) {
    if (/\.(c|h)$|^Kbuild$|^Makefile$/.test(f)) cpSync(join(MDEV_SOURCE_DIR, f), join(work, f));
  }
  const r = Bun.spawnSync(["make", "-C", kdir, `M=${work}`, "modules"], { stdout: "pipe", stderr: "pipe" });
  const text = `${r.stdout.toString()}${r.stderr.toString()}`;
  if (r.exitCode !== 0 || !existsSync(join(work, MDEV_MODULE))) {
    rmSync(work, { recursive: true, force: true });
    throw new Error(`building ${MDEV_MODULE} failed (exit ${r.exitCode}):\n${text.trim().split("\n").slice(-20).join("\n")}`);
  }
  const warnings = text.split("\n").filter((l) => /warning:/.test(l));
  if (warnings.length) log(`  ${MDEV_MODULE}: ${warnings.length} compiler warning(s):\n${warnings.join("\n")}`);
  writeFileSync(join(work, "build.log"), text);
  rmSync(out, { recursive: true, force: true });
  renameSync(work, out);
  log(`  built ${MDEV_MODULE} for ${release} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return ko;
}

/** The extra archive for the guest (module + its list file). */
export async function mdevModuleArchive(opts: { cacheRoot: string; image: GuestImage; log: Log }): Promise<string> {
  const { cacheRoot, image, log } = opts;
  const ko = buildMdevModule(cacheRoot, image.kernelRelease, log);
  const cpio = join(ko, "..", "mdev.cpio");
  if (existsSync(cpio)) return cpio;
  const guestKo = `/lib/modules/${image.kernelRelease}/extra/${MDEV_MODULE}`;
  const tmp = `${cpio}.tmp-${process.pid}`;
  const w = new CpioWriter(tmp);
  for (const d of ["lib", "lib/modules", `lib/modules/${image.kernelRelease}`, `lib/modules/${image.kernelRelease}/extra`, "etc"]) w.add({ kind: "dir", path: d });
  w.add({ kind: "file", path: guestKo.slice(1), data: readFileSync(ko) });
  w.add({ kind: "file", path: GUEST_MDEV_MODULE_LIST.slice(1), data: new TextEncoder().encode(`${guestKo}\n`) });
  await w.finish();
  renameSync(tmp, cpio);
  return cpio;
}
