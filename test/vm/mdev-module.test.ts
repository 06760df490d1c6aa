// Host side of the wd-dummy mdev module (test/vm/mdev-module.ts): the cache key, the refusal without
// headers, and (where .ci/vm-deps.sh installed the guest kernel's headers) a real build whose vermagic
// is the guest's release. Loading it is the guest's business (test/hw/wd-dummy-mdev.test.ts).
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { currentKernelPackage } from "./guest-image.ts";
import { buildMdevModule, headersDir, mdevModuleArchive, MDEV_MODULE, sourceHash } from "./mdev-module.ts";

const cacheRoot = mkdtempSync(join(tmpdir(), "wd-mdev-build-"));
afterAll(() => rmSync(cacheRoot, { recursive: true, force: true }));

/** The guest's kernel release as the harness derives it, when apt knows it (no network needed). */
function guestRelease(): string | undefined {
  const r = Bun.spawnSync(["apt-cache", "depends", "linux-image-amd64"], { stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString().match(/Depends:\s*linux-image-([0-9][^\s]*)/)?.[1];
}
const release = guestRelease();
const haveHeaders = release !== undefined && existsSync(join(headersDir(release), "Makefile"));

describe("wd-dummy mdev module build", () => {
  test("the cache key follows the source: stable, 16 hex digits", () => {
    expect(sourceHash()).toMatch(/^[0-9a-f]{16}$/);
    expect(sourceHash()).toBe(sourceHash());
  });

  test("without the kernel's headers: an error that names the package to install", () => {
    expect(() => buildMdevModule(cacheRoot, "0.0.0-0-nope", () => {})).toThrow(/no kernel build tree at \/usr\/src\/linux-headers-0\.0\.0-0-nope: install linux-headers-0\.0\.0-0-nope/);
  });

  test.skipIf(!haveHeaders)("builds against the guest kernel's headers; vermagic is that release; the second call is the cache", async () => {
    const logs: string[] = [];
    const ko = buildMdevModule(cacheRoot, release!, (m) => logs.push(m));
    expect(ko.endsWith(join(`${sourceHash()}-${release}`, MDEV_MODULE))).toBe(true);
    const bytes = readFileSync(ko);
    expect([...bytes.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
    expect(bytes.toString("latin1")).toContain(`vermagic=${release} `);
    expect(logs.some((l) => l.includes("warning"))).toBe(false);
    expect(buildMdevModule(cacheRoot, release!, () => logs.push("rebuilt"))).toBe(ko);
    expect(logs).not.toContain("rebuilt");
    const image = { dir: "", kernel: "", initramfs: "", kernelRelease: release!, kernelPackage: "", bunVersion: "" };
    const cpio = await mdevModuleArchive({ cacheRoot, image, log: () => {} });
    const text = readFileSync(cpio).toString("latin1");
    expect(text).toContain(`lib/modules/${release}/extra/${MDEV_MODULE}`);
    expect(text).toContain(`/lib/modules/${release}/extra/${MDEV_MODULE}\n`);
  }, 120000);

  // The second guest kernel (bookworm-backports' 6.12, whose mdev/vfio/eventfd APIs differ from 6.1's):
  // the same source builds without a warning, vermagic that release.
  const release612 = (() => {
    try {
      return currentKernelPackage(undefined, "6.12").name.replace(/^linux-image-/, "");
    } catch {
      return undefined;
    }
  })();
  test.skipIf(release612 === undefined || !existsSync(join(headersDir(release612), "Makefile")))("builds for the 6.12 guest kernel too", () => {
    const logs: string[] = [];
    const ko = buildMdevModule(cacheRoot, release612!, (m) => logs.push(m));
    expect(readFileSync(ko).toString("latin1")).toContain(`vermagic=${release612} `);
    expect(logs.some((l) => l.includes("warning"))).toBe(false);
  }, 120000);
});
