// wd-dummy as a VFIO mediated device (devices/wd-dummy/mdev/): what only the real kernel path has.
// Several processes at once, each with its own queue from the resource agent; a process killed in
// the middle of a stream and its queue reused; a recvSync that times out; module unload leaving
// nothing behind. Runs on vfio where an mdev type "wd-dummy" exists (the QEMU guest of test:vm);
// skipped elsewhere (the sim has no processes or instances to share out).
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DeviceRemovedError, TimeoutError, VfioError } from "@warpdrive/runtime";
import { createMdev, findMdevTypes, listMdevInstances } from "@warpdrive/runtime/vfio/mdev";
import { DescStatus, MAX_COPY_SIZE, RING_DEPTH, WdDummyDevice } from "@warpdrive/wd-dummy";

const onVfio = process.env.WD_BACKEND === "vfio";
const haveType = onVfio && findMdevTypes("wd-dummy").length > 0;
const PEER = join(import.meta.dir, "wd-dummy-mdev-peer.ts");
const PAUSED = "/sys/module/wd_dummy_mdev/parameters/paused";

interface Peer {
  proc: ReturnType<typeof Bun.spawn>;
  lines: string[];
  waitFor(prefix: string, ms: number): Promise<string>;
}

/** A peer process with the agent's view: no device named in its environment. */
function spawnPeer(env: Record<string, string>): Peer {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^WD_DEVICE/.test(k)) clean[k] = v;
  const proc = Bun.spawn(["bun", PEER], { env: { ...clean, ...env }, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  (async () => {
    let buf = "";
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      buf += new TextDecoder().decode(chunk);
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        for (const w of waiters.splice(0)) w();
      }
    }
    for (const w of waiters.splice(0)) w();
  })();
  return {
    proc,
    lines,
    async waitFor(prefix, ms) {
      const t0 = performance.now();
      for (;;) {
        const hit = lines.find((l) => l.startsWith(prefix));
        if (hit) return hit.slice(prefix.length).trim();
        if (proc.exitCode !== null || performance.now() - t0 > ms) {
          throw new Error(`peer ${proc.pid}: no "${prefix}" line (exit ${proc.exitCode}); output: ${lines.join(" | ")}`);
        }
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
  };
}

function go(p: Peer): void {
  const sink = p.proc.stdin as import("bun").FileSink;
  sink.write("go\n");
  sink.flush();
}

/** Opens an instance by UUID, waiting out a group still held by a process that is exiting. */
async function openWhenFree(uuid: string, ms = 10000): Promise<WdDummyDevice> {
  const t0 = performance.now();
  for (;;) {
    try {
      return await WdDummyDevice.open({ backend: "vfio", address: uuid });
    } catch (e) {
      if (!(e instanceof VfioError && e.errno === 16) || performance.now() - t0 > ms) throw e;
      await Bun.sleep(50);
    }
  }
}

describe.skipIf(!haveType)("wd-dummy over VFIO-MDEV", () => {
  const peers: Peer[] = [];
  afterAll(() => {
    for (const p of peers) if (p.proc.exitCode === null) p.proc.kill(9);
  });

  test("a recvSync with nothing coming back in time throws TimeoutError; the late completions still arrive", async () => {
    using dev = await openWhenFree(process.env.WD_DEVICE_WD_DUMMY!);
    const q = dev.requestQueue("cmd");
    const src = dev.alloc(1 << 16, "src");
    const dst = dev.alloc(1 << 16, "dst");
    src.bytes.fill(0x5a);
    // the module's test knob: workers leave the rings alone, as a device busy elsewhere would
    writeFileSync(PAUSED, "1");
    try {
      for (let i = 0; i < 8; i++) q.send({ src: src.ref(i * 8192, 8192), dst: dst.ref(i * 8192, 8192), size: 8192, cookie: i });
      q.flush();
      const t0 = performance.now();
      expect(() => q.recvSync(100)).toThrow(TimeoutError);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
      expect(q.inFlight).toBe(8);
      expect(dst.bytes.every((b) => b === 0)).toBe(true);
    } finally {
      writeFileSync(PAUSED, "0");
    }
    for (let i = 0; i < 8; i++) {
      const d = q.recvSync(5000);
      expect([d.cookie, d.status]).toEqual([i, DescStatus.DONE]);
    }
    expect(dst.bytes.every((b) => b === 0x5a)).toBe(true);
  }, 60000);

  test("four processes at once, each its own instance from the agent (one created for them); a fifth claim is refused; all copies verified", async () => {
    const before = listMdevInstances("/sys").length;
    for (let i = 0; i < 4; i++) peers.push(spawnPeer({ WD_PEER_COUNT: "3000", WD_PEER_SIZE: "4096", WD_PEER_BATCH: "32", WD_PEER_SEED: String(i * 31 + 5) }));
    const uuids = await Promise.all(peers.map((p) => p.waitFor("READY", 60000)));
    expect(new Set(uuids).size).toBe(4);
    const instances = listMdevInstances("/sys");
    expect(instances.length).toBeGreaterThanOrEqual(Math.max(before, 4));
    for (const u of uuids) expect(instances.some((i) => i.uuid === u)).toBe(true);
    // every instance of the type is held now (4 is the type's limit): the agent says so
    const saved = { a: process.env.WD_DEVICE_WD_DUMMY, b: process.env.WD_DEVICE };
    delete process.env.WD_DEVICE_WD_DUMMY;
    delete process.env.WD_DEVICE;
    try {
      await expect(WdDummyDevice.open({ backend: "vfio" })).rejects.toThrow(/every wd-dummy instance is in use/);
    } finally {
      if (saved.a !== undefined) process.env.WD_DEVICE_WD_DUMMY = saved.a;
      if (saved.b !== undefined) process.env.WD_DEVICE = saved.b;
    }
    const t0 = performance.now();
    for (const p of peers) go(p);
    const results = (await Promise.all(peers.map((p) => p.waitFor("RESULT", 120000)))).map(
      (r) => JSON.parse(r) as { uuid: string; copies: number; bad: number; seconds: number; rps: number; completed: number },
    );
    const wall = (performance.now() - t0) / 1000;
    for (const r of results) {
      expect(r.bad).toBe(0);
      expect(r.copies).toBe(3000);
      expect(r.completed).toBe(3000); // each instance counted only its own process's copies
    }
    expect(results.map((r) => r.uuid).sort()).toEqual([...uuids].sort());
    await Promise.all(peers.map((p) => p.proc.exited));
    expect(peers.map((p) => p.proc.exitCode)).toEqual([0, 0, 0, 0]);
    console.log(
      `[mdev] 4 processes x 3000 copies of 4 KiB (batches of 32): ${results.map((r) => r.rps.toFixed(0)).join(", ")} requests/s each, ` +
        `${((4 * 3000) / wall).toFixed(0)} requests/s together`,
    );
    peers.length = 0;
  }, 240000);

  test("a process killed in the middle of a stream: its instance is free again and starts afresh", async () => {
    const uuid = process.env.WD_DEVICE_WD_DUMMY!;
    const p = spawnPeer({ WD_PEER_MODE: "stream", WD_PEER_ADDRESS: uuid, WD_PEER_SIZE: "65536", WD_PEER_BATCH: "64" });
    peers.push(p);
    expect(await p.waitFor("READY", 60000)).toBe(uuid);
    go(p);
    await p.waitFor("STREAMING", 60000);
    await Bun.sleep(100); // in the middle of a batch of 64 copies
    p.proc.kill(9);
    await p.proc.exited;
    expect(p.proc.signalCode).toBe("SIGKILL");
    using dev = await openWhenFree(uuid);
    expect(dev.queue.tail.read()).toBe(0);
    expect(dev.queue.completed.read()).toBe(0);
    const q = dev.requestQueue("cmd");
    const src = dev.alloc(1 << 16, "src");
    const dst = dev.alloc(1 << 16, "dst");
    for (let i = 0; i < src.size; i++) src.bytes[i] = (i * 29) & 0xff;
    for (let round = 0; round < 4; round++) {
      dst.bytes.fill(0);
      for (let i = 0; i < 16; i++) q.send({ src: src.ref(i * 4096, 4096), dst: dst.ref(i * 4096, 4096), size: 4096, cookie: round * 16 + i });
      q.flush();
      for (let i = 0; i < 16; i++) {
        const d = q.recvSync(5000);
        expect([d.cookie, d.status]).toEqual([round * 16 + i, DescStatus.DONE]);
      }
      expect(Buffer.from(dst.bytes).equals(Buffer.from(src.bytes))).toBe(true);
    }
    expect(dev.queue.completed.read()).toBe(64);
  }, 120000);

  test("one process: requests/s at queue depth 1 and in batches of 32 (4 KiB copies)", async () => {
    using dev = await openWhenFree(process.env.WD_DEVICE_WD_DUMMY!);
    const q = dev.requestQueue("cmd");
    const src = dev.alloc(32 * 4096, "src");
    const dst = dev.alloc(32 * 4096, "dst");
    const rate = (n: number, batch: number) => {
      const t0 = performance.now();
      for (let done = 0; done < n; done += batch) {
        for (let i = 0; i < batch; i++) q.send({ src: src.ref(i * 4096, 4096), dst: dst.ref(i * 4096, 4096), size: 4096 });
        q.flush();
        for (let i = 0; i < batch; i++) expect(q.recvSync(5000).status).toBe(DescStatus.DONE);
      }
      return n / ((performance.now() - t0) / 1000);
    };
    rate(64, 32); // warm up
    const qd1 = rate(500, 1);
    const b32 = rate(3200, 32);
    console.log(`[mdev] one process, 4 KiB copies: ${qd1.toFixed(0)} requests/s at depth 1, ${b32.toFixed(0)} requests/s in batches of 32`);
    expect(qd1).toBeGreaterThan(0);
  }, 120000);

  // The kernel's remove waits until every holder of the instance lets go, and asks them to (the
  // VFIO request notifier). The runtime answers the request: the queue ends with DeviceRemovedError
  // and the device's files are closed, so the removal finishes without the process calling close().
  test("removing an instance that a process has open: the kernel asks, the process lets go, the removal finishes; nothing is left of it afterwards", async () => {
    const keep = new Set([process.env.WD_DEVICE_WD_DUMMY, process.env.WD_DEVICE_WD_DUMMY_2]);
    let victim = listMdevInstances("/sys").find((i) => !keep.has(i.uuid));
    const type = findMdevTypes("wd-dummy")[0];
    if (!victim) victim = { uuid: createMdev(type), typeId: type.id, parent: type.parent, group: undefined };
    const dev = await openWhenFree(victim.uuid);
    const q = dev.requestQueue("cmd");
    const src = dev.alloc(MAX_COPY_SIZE, "src");
    const dst = dev.alloc(MAX_COPY_SIZE, "dst");
    for (let i = 0; i < RING_DEPTH; i++) q.send({ src: src.ref(), dst: dst.ref(), size: MAX_COPY_SIZE, cookie: i });
    q.flush();
    const late = { src: src.ref(), dst: dst.ref(), size: 64, cookie: 99 };
    const remover = Bun.spawn(["sh", "-c", `echo 1 > /sys/bus/mdev/devices/${victim.uuid}/remove`], { stderr: "pipe" });
    try {
      // the event loop is free while we wait: the runtime's removal watch sees the request and lets go
      expect(await remover.exited).toBe(0);
      expect(await new Response(remover.stderr).text()).toBe("");
      expect(dev.device.removed?.event).toBe("removed");
      expect(() => q.recvSync(1000)).toThrow(DeviceRemovedError);
      expect(() => q.send(late)).toThrow(DeviceRemovedError);
    } finally {
      dev.close(); // still needed and harmless after a removal: it frees what the process held
    }
    expect(existsSync(`/sys/bus/mdev/devices/${victim.uuid}`)).toBe(false);
    expect(listMdevInstances("/sys").some((i) => i.uuid === victim!.uuid)).toBe(false);
    expect(findMdevTypes("wd-dummy")[0].available).toBeGreaterThanOrEqual(1);
  }, 120000);

  test("module unload removes every instance and leaves nothing behind; reloading brings the same UUIDs back", () => {
    const list = "/etc/wd-mdev-module";
    if (!existsSync(list)) return; // not the test:vm guest: leave the host's module alone
    const ko = readFileSync(list, "utf8").trim();
    const type = findMdevTypes("wd-dummy")[0];
    const keep = [process.env.WD_DEVICE_WD_DUMMY, process.env.WD_DEVICE_WD_DUMMY_2].filter((u): u is string => Boolean(u));
    const rm = Bun.spawnSync(["rmmod", "wd_dummy_mdev"], { stderr: "pipe" });
    expect(rm.stderr.toString()).toBe("");
    expect(rm.exitCode).toBe(0);
    expect(readFileSync("/proc/modules", "utf8")).not.toContain("wd_dummy_mdev");
    expect(existsSync(`/sys/class/mdev_bus/${type.parent}`)).toBe(false);
    expect(existsSync("/sys/class/wd_dummy")).toBe(false);
    expect(listMdevInstances("/sys")).toEqual([]);
    const workers = readdirSync("/proc").filter((p) => /^\d+$/.test(p) && (() => { try { return readFileSync(`/proc/${p}/comm`, "utf8").startsWith("wd_dummy"); } catch { return false; } })());
    expect(workers).toEqual([]);
    const ins = Bun.spawnSync(["insmod", ko], { stderr: "pipe" });
    expect(ins.exitCode).toBe(0);
    const again = findMdevTypes("wd-dummy")[0];
    expect(again.available).toBe(4);
    for (const u of keep) writeFileSync(join(again.dir, "create"), u);
    expect(listMdevInstances("/sys").map((i) => i.uuid).sort()).toEqual([...keep].sort());
  });
});
