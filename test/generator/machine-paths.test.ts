// A generated package names its source the way the repository does (devices/x.yaml), never by the
// absolute path of the machine that generated it: not in file headers, not in package.json, not in
// the README, whether the description lies inside the repository or anywhere else.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { emitDevice } from "@warpdrive/generator/emit/index";
import { loadDevice, loadDeviceSource, REPO_ROOT, sourceName } from "@warpdrive/generator/load";
import { findMachinePath, machinePaths } from "../../fuzz/describe/pipeline.ts";

const SPAWN_TIMEOUT = 60_000;

function filesUnder(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, "utf8"));
    }
  };
  walk(dir);
  return out;
}

describe("no absolute machine paths in generated packages", () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "wd-paths-"));
    mkdirSync(join(tmp, "elsewhere"));
    cpSync(join(REPO_ROOT, "devices", "wd-dummy.yaml"), join(tmp, "elsewhere", "wd-dummy.yaml"));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test("the checker itself sees a path of this machine", () => {
    expect(machinePaths()).toContain(REPO_ROOT);
    expect(findMachinePath(new Map([["a.ts", `// from ${join(REPO_ROOT, "devices/x.yaml")}`]]))).toContain("a.ts contains the machine path");
    expect(findMachinePath(new Map([["a.ts", "// from devices/x.yaml"]]))).toBeNull();
  });

  test("a description outside the repository is named by its file name", () => {
    const file = join(tmp, "elsewhere", "wd-dummy.yaml");
    expect(sourceName(file)).toBe("wd-dummy.yaml");
    const r = loadDevice(file);
    expect(r.model?.source.file).toBe("wd-dummy.yaml");
    const files = emitDevice(r.model!);
    expect(findMachinePath(files)).toBeNull();
    expect(files.get("package.json")).toContain('"source": "wd-dummy.yaml"');
  });

  test("a description inside the repository, given by absolute path, is named relative to it", () => {
    const r = loadDevice(join(REPO_ROOT, "devices", "qemu-edu.yaml"));
    expect(r.model?.source.file).toBe("devices/qemu-edu.yaml");
    expect(findMachinePath(emitDevice(r.model!))).toBeNull();
  });

  test("an absolute name handed to loadDeviceSource does not reach the package either", () => {
    const text = readFileSync(join(REPO_ROOT, "devices", "qemu-edu.yaml"), "utf8");
    const r = loadDeviceSource(join(tmp, "x", "qemu-edu.yaml"), text);
    expect(r.model?.source.file).toBe("qemu-edu.yaml");
  });

  test("wd generate of a file outside the repository writes no path of this machine", () => {
    const out = join(tmp, "out");
    const p = Bun.spawnSync(["bun", join(REPO_ROOT, "generator/src/cli.ts"), "generate", join(tmp, "elsewhere", "wd-dummy.yaml"), "--out", out], { cwd: tmp, stdout: "pipe", stderr: "pipe" });
    expect(p.stderr.toString()).toBe("");
    expect(p.exitCode).toBe(0);
    const written = filesUnder(join(out, "wd-dummy"));
    expect(written.has("package.json")).toBe(true);
    expect(findMachinePath(written)).toBeNull();
    for (const [name, text] of written) expect({ name, tmp: text.includes(tmp) }).toEqual({ name, tmp: false });
  }, SPAWN_TIMEOUT);

  test("the committed packages in generated/ hold no path of this machine", () => {
    for (const dev of readdirSync(join(REPO_ROOT, "generated"))) {
      expect({ dev, found: findMachinePath(filesUnder(join(REPO_ROOT, "generated", dev))) }).toEqual({ dev, found: null });
    }
  });
});
