// The queue's request union is typed per command: a request carries the fields of its own command
// and no other (a fill with a `dst2`, a memmove with a `pattern`, an unknown command do not
// compile), while each command's own fields do. Runs tsc over a small program against the
// generated dsa-copy package; each misuse must fail on exactly its line.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

const PROGRAM = `import type { DmaRef } from "@warpdrive/runtime";
import type { WqQueue } from "@warpdrive/dsa-copy-generated/client";
import { encodeWqRequest, type WqRequest } from "@warpdrive/dsa-copy-generated/commands";
declare const q: WqQueue;
declare const ref: DmaRef;
declare const view: DataView;
export function use(): void {
  q.sendCommand({ command: "fill", pattern: 0x0101010101010101n, dst: ref, size: 64 });
  q.sendCommand({ command: "dualcast", src: ref, dst: ref, dst2: ref, size: 64 });
  const r: WqRequest = { command: "crc_gen", src: ref, size: 64, seed: 0 };
  encodeWqRequest(view, 0, r);
  q.sendCommand({ command: "fill", pattern: 1n, dst: ref, dst2: ref, size: 64 }); // MISUSE: dst2 belongs to dualcast
  q.sendCommand({ command: "memmove", src: ref, dst: ref, pattern: 1n, size: 64 }); // MISUSE: pattern belongs to fill
  q.sendCommand({ command: "memcopy", src: ref, dst: ref, size: 64 }); // MISUSE: no such command
  q.sendCommand({ src: ref, dst: ref, size: 64 }); // MISUSE: the command is required
  q.fill({ pattern: 1n, dst: ref, size: 64, dst2: ref }); // MISUSE: the fill command has no dst2 either
}
`;

test("a request with another command's field, or no known command, does not type-check", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wd-requests-"));
  try {
    const file = join(dir, "requests.ts");
    await Bun.write(file, PROGRAM);
    await Bun.write(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: join(ROOT, "tsconfig.json"),
        compilerOptions: {
          typeRoots: [join(ROOT, "node_modules/@types")],
          paths: { "@warpdrive/runtime": [join(ROOT, "runtime/src/index.ts")], "@warpdrive/runtime/*": [join(ROOT, "runtime/src/*")], "@warpdrive/dsa-copy-generated/*": [join(ROOT, "generated/dsa-copy/src/*")] },
        },
        include: [file],
        exclude: [],
      }),
    );
    const r = Bun.spawnSync(["bun", "x", "tsc", "-p", join(dir, "tsconfig.json"), "--noEmit"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const out = r.stdout.toString();
    const errorLines = [...new Set(out.split("\n").map((l) => /requests\.ts\((\d+),\d+\): error TS/.exec(l)?.[1]).filter((x): x is string => x !== undefined))].map(Number).sort((a, b) => a - b);
    const misuseLines = PROGRAM.split("\n").flatMap((l, i) => (l.includes("// MISUSE") ? [i + 1] : []));
    expect(misuseLines.length).toBe(5);
    expect(errorLines).toEqual(misuseLines);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
