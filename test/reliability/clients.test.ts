// Several clients of one sim device in one process, each with its own queue, running concurrently
// (interleaved at every await), every request verified, including DMA into each client's own
// buffers; and the queue allocation: one queue id is never handed to two clients at once.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Device, WarpDriveError, type Queue } from "@warpdrive/runtime";
import { faultySpec } from "./models/specs.ts";
import { closeSqCq, echo, fill, openSqCq, result, ringEntry, sum } from "./helpers.ts";

let dev: Device;
beforeEach(async () => {
  dev = await Device.open(faultySpec(), { backend: "sim" });
});
afterEach(() => dev.close());

const tick = () => new Promise<void>((r) => setImmediate(r));

/** One client: `n` requests on its own queue, yielding to the others after every batch. */
async function client(q: Queue, k: number, n: number): Promise<number> {
  const ring = q.name === "ring";
  const buf = dev.alloc(4096, `client ${k}`);
  let verified = 0;
  for (let i = 0; i < n; i++) {
    const v = (k << 20) + i;
    if (!ring && i % 8 === 0) {
      // DMA through the client's own buffer: FILL then SUM must see this client's byte only
      q.send(fill(buf.ref(0, 64), k + i));
      q.send(sum(buf.ref(0, 64)));
      q.flush();
      expect(result(q.recvSync(5000))).toBe(64);
      await tick();
      expect(result(q.recvSync(5000))).toBe(64 * ((k + i) & 0xff));
      verified += 2;
      continue;
    }
    const tag = q.send(ring ? ringEntry(v) : echo(v));
    q.flush();
    if (i % 3 === 0) await tick(); // let the others run while this request is in flight
    const c = q.recvSync(5000);
    expect(c.tag).toBe(tag);
    expect(ring ? c.view.getUint32(c.offset + 4, true) : result(c)).toBe((v * 3) >>> 0);
    verified++;
  }
  buf.free();
  return verified;
}

describe("several clients on one device", () => {
  test("five clients, five queues, concurrently: every request verified", async () => {
    const queues: Queue[] = [openSqCq(dev, "admin"), openSqCq(dev, "io", 1), openSqCq(dev, "io", 2), openSqCq(dev, "io", 3), dev.requestQueue("ring")];
    const counts = await Promise.all(queues.map((q, k) => client(q, k + 1, 400)));
    expect(counts.every((c) => c >= 400)).toBe(true);
  }, 60_000);

  test("a queue id is handed out once: a second claim is refused until the first is released", async () => {
    const q = openSqCq(dev, "io", 2);
    expect(() => dev.requestQueue("io", { id: 2 })).toThrow(WarpDriveError);
    expect(() => dev.requestQueue("io", { id: 2 })).toThrow("already in use");
    expect(() => dev.requestQueue("ring")).not.toThrow();
    expect(() => dev.requestQueue("ring")).toThrow("already in use");
    // many clients racing for the same ids: each id has exactly one winner
    const claims = await Promise.all(
      Array.from({ length: 12 }, async (_, k) => {
        await tick();
        try {
          return dev.requestQueue("io", { id: 1 + (k % 3) }).id;
        } catch {
          return -1;
        }
      }),
    );
    // id 2 was already held; ids 1 and 3 went to one client each
    expect(claims.filter((id) => id >= 0).sort()).toEqual([1, 3]);
    expect(dev.queues.map((x) => `${x.name}#${x.id}`).sort()).toEqual(["io#1", "io#2", "io#3", "ring#0"]);
    closeSqCq(dev, q);
    expect(dev.requestQueue("io", { id: 2 }).id).toBe(2);
  });
});
