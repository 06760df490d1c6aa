// Process faults and several processes: a client SIGKILLed mid-stream leaves nothing behind that
// stops the next process (sim state is the process's own memfds, eventfds and model thread; the
// kernel takes them with the process), and several processes, each with its own sim device and all
// of its queues, run concurrently with every request verified.
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const CHILD = join(import.meta.dir, "child.ts");

function spawnChild(...args: string[]) {
  return Bun.spawn([process.execPath, CHILD, ...args], { stdout: "pipe", stderr: "pipe", cwd: join(import.meta.dir, "..", "..") });
}

/** Reads the child's stdout until a line equals `line` (or the stream ends). */
async function waitForLine(stream: ReadableStream<Uint8Array>, line: string): Promise<boolean> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    if (buf.split("\n").includes(line)) return true;
  }
  return false;
}

const shm = () => readdirSync("/dev/shm").sort();

describe("a client killed mid-stream", () => {
  test("SIGKILL with requests in flight: the next process opens the device and runs cleanly", async () => {
    const before = shm();
    const victim = spawnChild("stream", "200");
    expect(await waitForLine(victim.stdout, "streaming")).toBe(true);
    victim.kill("SIGKILL");
    await victim.exited;
    expect(victim.signalCode).toBe("SIGKILL");
    // nothing of it is left on the machine: its process is gone, no shared-memory files remain
    expect(() => process.kill(victim.pid, 0)).toThrow();
    expect(shm()).toEqual(before);
    // the next client, twice (a first run that cleans up after the dead one would pass once)
    for (let k = 0; k < 2; k++) {
      const next = spawnChild("run", "300");
      const [out, err, code] = await Promise.all([new Response(next.stdout).text(), new Response(next.stderr).text(), next.exited]);
      expect({ code, err }).toEqual({ code: 0, err: "" });
      expect(out.trim()).toBe(`ok ${5 * 300}`);
    }
  }, 60_000);
});

describe("several processes at once", () => {
  test("four processes, each driving every queue of its own sim device, every request verified", async () => {
    const kids = Array.from({ length: 4 }, () => spawnChild("run", "500"));
    const results = await Promise.all(
      kids.map(async (p) => {
        const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
        return { code, err, out: out.trim() };
      }),
    );
    for (const r of results) expect(r).toEqual({ code: 0, err: "", out: `ok ${5 * 500}` });
  }, 60_000);
});
