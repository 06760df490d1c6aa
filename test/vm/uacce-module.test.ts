// Host side of the UACCE modules for the guest (test/vm/uacce-module.ts): names derived from the guest
// image, the cache key, the refusal without headers, and (where the kernel's headers and the cached
// core source are there) a real build of uacce.ko + the wd-dummy parent whose vermagic is the guest's.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GuestImage } from "./guest-image.ts";
import { headersDir } from "./mdev-module.ts";
import { buildUacceModules, imageVersion, sourceSeries, uacceSourceHash, UACCE_CORE } from "./uacce-module.ts";
import { CACHE_ROOT } from "./vm.ts";

const cacheRoot = mkdtempSync(join(tmpdir(), "wd-uacce-build-"));
afterAll(() => rmSync(cacheRoot, { recursive: true, force: true }));

const image = (kernelPackage: string): GuestImage => ({ dir: "", kernel: "", initramfs: "", kernelRelease: "6.1.0-57-amd64", kernelPackage, bunVersion: Bun.version });

describe("UACCE modules for the guest", () => {
  test("the source package follows the guest kernel's version", () => {
    expect(imageVersion(image("linux-image-6.1.0-57-amd64 6.1.192-3"))).toBe("6.1.192-3");
    expect(sourceSeries("6.1.192-3")).toBe("6.1");
    expect(sourceSeries("6.12.9-1")).toBe("6.12");
    expect(() => imageVersion(image("linux-image-6.1.0-57-amd64"))).toThrow(/names no kernel package version/);
    expect(() => sourceSeries("unstable")).toThrow(/cannot tell the kernel series/);
  });

  test("the cache key covers the core's source and the parents' sources", () => {
    const a = join(cacheRoot, "a.c");
    writeFileSync(a, "int a;\n");
    const h = uacceSourceHash(a);
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(uacceSourceHash(a)).toBe(h);
    writeFileSync(a, "int b;\n");
    expect(uacceSourceHash(a)).not.toBe(h);
  });

  test("without the kernel's headers: an error that names the package to install", () => {
    const a = join(cacheRoot, "core.c");
    writeFileSync(a, "\n");
    expect(() => buildUacceModules(cacheRoot, "0.0.0-0-nope", a, () => {})).toThrow(/no kernel build tree at \/usr\/src\/linux-headers-0\.0\.0-0-nope: install linux-headers-0\.0\.0-0-nope/);
  });

  // The core's source comes from a ~140 MB package: only when a VM run already extracted it.
  const release = Bun.spawnSync(["apt-cache", "depends", "linux-image-amd64"], { stdout: "pipe" }).stdout.toString().match(/Depends:\s*linux-image-([0-9][^\s]*)/)?.[1];
  const version = release === undefined ? undefined : Bun.spawnSync(["apt-cache", "show", "--no-all-versions", `linux-image-${release}`], { stdout: "pipe" }).stdout.toString().match(/^Version:\s*(\S+)/m)?.[1];
  const core = version === undefined ? undefined : join(CACHE_ROOT, "uacce-src", version, "uacce.c");
  const ready = release !== undefined && core !== undefined && existsSync(core) && existsSync(join(headersDir(release), "Makefile"));
  test.skipIf(!ready)("builds uacce.ko, wd_dummy_uacce.ko and hzip_uacce.ko against the guest kernel's headers; vermagic is that release", () => {
    const logs: string[] = [];
    const kos = buildUacceModules(cacheRoot, release!, core!, (m) => logs.push(m));
    expect(kos.map((k) => k.slice(k.lastIndexOf("/") + 1))).toEqual([UACCE_CORE, "wd_dummy_uacce.ko", "hzip_uacce.ko"]);
    for (const k of kos) expect(readFileSync(k).toString("latin1")).toContain(`vermagic=${release} `);
    // the parents were built against the real uacce_alloc, not the header's -ENODEV stub
    for (const k of kos.slice(1)) expect(readFileSync(k).toString("latin1")).toContain("uacce_alloc");
    expect(logs.some((l) => l.includes("warning"))).toBe(false);
    expect(buildUacceModules(cacheRoot, release!, core!, () => logs.push("rebuilt"))).toEqual(kos);
    expect(logs).not.toContain("rebuilt");
  }, 120_000);
});
