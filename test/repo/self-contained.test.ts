// The repository speaks only of itself: no tracked text file points at material outside it (a
// sibling folder of notes, a notes/<topic>.md file) or at a folder of one machine (absolute paths
// under /work, /home, /root, /Users, /tmp/...). Facts a comment needs are stated in place.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
/** Text the checks read; binary and generated lock files are left out. */
const TEXT = /\.(ts|js|md|json|yaml|yml|toml|sh|c|h|txt)$|(^|\/)(Makefile|Kbuild|run)$/;

const FILES = Bun.spawnSync(["git", "ls-files"], { cwd: ROOT })
  .stdout.toString()
  .split("\n")
  .filter((f) => f !== "" && TEXT.test(f) && f !== "bun.lock" && existsSync(join(ROOT, f)));

// Built from parts so that this file does not match its own patterns.
const SHARED = new RegExp(["\\.\\.", "shared"].join("/"));
const NOTES = new RegExp(`(^|[^a-z-])${"notes"}/[\\w.-]+\\.md`);
const MACHINE = new RegExp(`(^|[\\s"'\`(=:])/(${["work", "home", "root", "Users", "mnt", "srv"].join("|")})/[\\w.-]`);

function hits(re: RegExp): string[] {
  const out: string[] = [];
  for (const f of FILES) {
    const lines = readFileSync(join(ROOT, f), "utf8").split("\n");
    lines.forEach((l, i) => {
      if (re.test(l)) out.push(`${f}:${i + 1}: ${l.trim().slice(0, 160)}`);
    });
  }
  return out;
}

describe("self-contained", () => {
  test(`the check reads the repository (${FILES.length} text files)`, () => {
    expect(FILES).toContain("README.md");
    expect(FILES).toContain("runtime/src/device.ts");
  });

  test("the patterns catch what they are for", () => {
    for (const bad of ["see ../" + "shared/style.md", "measured in notes" + "/vfio-irq.md", 'const p = "/' + 'work/main/x"', "cd /" + "home/me/x"]) {
      expect(`${bad}: ${SHARED.test(bad) || NOTES.test(bad) || MACHINE.test(bad)}`).toBe(`${bad}: true`);
    }
    for (const ok of ["/dev/vfio/vfio", "/sys/bus/pci/devices", "/proc/self/task", "/tmp is a tmpfs", "docs/notes.md"]) {
      expect(`${ok}: ${SHARED.test(ok) || NOTES.test(ok) || MACHINE.test(ok)}`).toBe(`${ok}: false`);
    }
  });

  test("nothing refers to a notes folder or a sibling shared folder outside the repository", () => {
    expect([...hits(SHARED), ...hits(NOTES)]).toEqual([]);
  });

  test("no absolute path of a machine's home or work folders", () => {
    expect(hits(MACHINE)).toEqual([]);
  });
});
