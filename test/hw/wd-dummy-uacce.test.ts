// wd-dummy on UACCE, what only this backend has: the kernel's sysfs view, available_instances as the
// queue allocator, buffers from the queue's DUS region (nothing else reaches the engine), START_Q /
// PUT_Q. Runs in the VM guest's uacce run (WD_BACKEND=uacce, devices/wd-dummy/uacce/ loaded).
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { DmaBuffer, DmaError, listUacceDevices, SysError, UacceError, UacceQueue, sys } from "@warpdrive/runtime";
import { DescStatus, WdDummyDevice } from "@warpdrive/wd-dummy";

const onUacce = process.env.WD_BACKEND === "uacce";
const WD_API = "wd_dummy_v1";
const DUS_SIZE = 4 << 20;
const open: WdDummyDevice[] = [];
afterEach(() => {
  for (const d of open.splice(0)) d.close();
});
async function openDev(): Promise<WdDummyDevice> {
  const d = await WdDummyDevice.open({ backend: "uacce" });
  open.push(d);
  return d;
}
const info = () => listUacceDevices().find((d) => d.api === WD_API)!;

describe.skipIf(!onUacce)("wd-dummy on UACCE", () => {
  test("sysfs: api, no SVA, memcpy, one MMIO page and a 4 MiB DUS per queue", () => {
    const d = info();
    expect(d).toBeDefined();
    expect(d.name).toMatch(/^wd_dummy-\d+$/);
    expect([d.flags, d.sva, d.algorithms, d.mmioSize, d.dusSize]).toEqual([0, false, ["memcpy"], 4096, DUS_SIZE]);
  });

  test("each open takes one of the kernel's queues; close gives it back", async () => {
    const before = info().available!;
    const a = await openDev();
    expect(info().available).toBe(before - 1);
    expect(a.device.address).toBe(`uacce:${info().name}`);
    a.close();
    expect(info().available).toBe(before);
  });

  test("with every queue taken, the next open is refused (EBUSY) and the open ones keep working", async () => {
    const n = info().available!;
    const devs: WdDummyDevice[] = [];
    for (let i = 0; i < n; i++) devs.push(await openDev());
    const err = await WdDummyDevice.open({ backend: "uacce" }).catch((e) => e);
    expect(err).toBeInstanceOf(UacceError);
    expect((err as UacceError).errno).toBe(16);
    const q = devs[0].requestQueue("cmd");
    const buf = devs[0].alloc(8192, "buf");
    buf.bytes.fill(7, 0, 100);
    q.send({ src: buf.ref(0, 100), dst: buf.ref(4096, 100), size: 100 });
    expect(q.recvSync(5000).status).toBe(DescStatus.DONE);
    expect(buf.bytes[4096 + 99]).toBe(7);
  });

  test("buffers come from DUS, at the description's dus-address; memory from elsewhere is refused naming the field", async () => {
    const dev = await openDev();
    const q = dev.requestQueue("cmd");
    const a = dev.alloc(4096, "a");
    const b = dev.alloc(4096, "b");
    const base = dev.device.spec.uacce!.dusAddress;
    for (const x of [a, b]) {
      const addr = x.iovaIn(dev.device)!;
      expect(addr).toBeGreaterThanOrEqual(base);
      expect(addr + x.size).toBeLessThanOrEqual(base + DUS_SIZE);
    }
    using heap = DmaBuffer.alloc(4096, { name: "heap" });
    expect(() => dev.device.share(heap)).toThrow(DmaError);
    expect(() => dev.device.share(heap)).toThrow(/cannot reach dma buffer heap: it reaches only the \d+ bytes of DUS memory/);
    expect(() => q.send({ src: heap.ref(0, 16), dst: b.ref(0, 16), size: 16 })).toThrow(/Descriptor\.src: dma buffer heap is not shared with device uacce:wd_dummy-\d+/);
    expect(q.inFlight).toBe(0);
  });

  test("the DUS pool runs out with a DmaError, and freed memory is handed out again, zeroed", async () => {
    const dev = await openDev();
    expect(() => dev.alloc(DUS_SIZE + 4096, "huge")).toThrow(/no room for dma buffer huge/);
    const big = dev.alloc(DUS_SIZE, "all");
    big.bytes.fill(0xaa);
    expect(() => dev.alloc(4096, "more")).toThrow(DmaError);
    big.free();
    const again = dev.alloc(4096, "again");
    expect(again.bytes.every((x) => x === 0)).toBe(true);
  });

  test("reset is PUT_Q + START_Q: the queue page is back at its power-on state and copies go on", async () => {
    const dev = await openDev();
    let q = dev.requestQueue("cmd");
    const buf = dev.alloc(8192, "buf");
    for (let i = 0; i < 3; i++) q.send({ src: buf.ref(0, 8), dst: buf.ref(4096, 8), size: 8 });
    q.flush();
    for (let i = 0; i < 3; i++) q.recvSync(5000);
    expect(dev.queue.completed.read()).toBe(3);
    dev.device.reset();
    expect(dev.queue.completed.read()).toBe(0);
    expect(dev.queue.head.read()).toBe(0);
    q = dev.requestQueue("cmd");
    q.send({ src: buf.ref(0, 8), dst: buf.ref(4096, 8), size: 8 });
    expect(q.recvSync(5000).status).toBe(DescStatus.DONE);
  });

  test("the kernel's rules seen raw: START_Q twice is EINVAL, a region mapped twice is EEXIST", async () => {
    const dev = await openDev();
    const bq = dev.device.backend as UacceQueue;
    expect(bq).toBeInstanceOf(UacceQueue);
    const startQ = () => sys.sys.ioctl(bq.fd, sys.uacceAbi.UACCE_CMD_START_Q, null, "UACCE_CMD_START_Q");
    expect(startQ).toThrow(SysError);
    expect(() => startQ()).toThrow(/EINVAL/);
    const again = () => sys.sys.mmap(4096, sys.PROT_READ, sys.MAP_SHARED, bq.fd, 0, "MMIO again");
    expect(again).toThrow(/EEXIST/);
  });
});

describe.skipIf(!onUacce)("the memcpy example on UACCE", () => {
  test("bun examples/wd-dummy-memcpy.ts --backend uacce: every copy checked, no mismatch", () => {
    const r = Bun.spawnSync(["bun", "examples/wd-dummy-memcpy.ts", "--backend", "uacce", "--count", "300"], { stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toMatch(/^uacce:wd_dummy-\d+: 300 copies of 4096 bytes in .* device counted 300, 0 mismatches\n$/);
  });
});

// Last: it unloads the parent module (and loads it again for whatever runs after). The kernel zaps
// the mappings before anything user space can observe changes; a ring read that lands between the
// zap and the wait's next check is caught by the mappings' SIGBUS guard (it reads zeros).
describe.skipIf(!onUacce)("the parent module removed with a queue open", () => {
  test("a recvSync waiting on it gets a typed UacceError, not SIGBUS; the memory reads zeros; close works; the module loads again", async () => {
    const ko = readFileSync("/etc/wd-uacce-modules", "utf8").split("\n").find((l) => l.endsWith("/wd_dummy_uacce.ko"))!;
    expect(ko).toBeDefined();
    const dev = await WdDummyDevice.open({ backend: "uacce" });
    const name = dev.device.address.replace(/^uacce:/, "");
    const q = dev.requestQueue("cmd");
    const buf = dev.alloc(8192, "buf");
    buf.bytes.fill(1, 0, 64);
    // the worker leaves the ring alone, so the request waits; the module goes away meanwhile
    writeFileSync("/sys/module/wd_dummy_uacce/parameters/paused", "1");
    q.send({ src: buf.ref(0, 64), dst: buf.ref(4096, 64), size: 64, cookie: 1 });
    q.flush();
    const rm = Bun.spawn(["sh", "-c", "sleep 1; rmmod wd_dummy_uacce"], { stdout: "pipe", stderr: "pipe" });
    let err: unknown;
    try {
      q.recvSync(30_000);
    } catch (e) {
      err = e;
    }
    expect(await rm.exited).toBe(0);
    expect(err).toBeInstanceOf(UacceError);
    expect((err as UacceError).errno).toBe(6);
    expect(String((err as Error).message)).toContain(`${name} was removed while its queue was open`);
    expect(existsSync(`/sys/class/uacce/${name}`)).toBe(false);
    // what the kernel took away is zeroed process memory now: no fault on a stale read
    expect(buf.bytes[0]).toBe(0);
    expect(dev.queue.depth.read()).toBe(0);
    expect(() => dev.device.reset()).toThrow(UacceError);
    dev.close();
    const r = Bun.spawnSync(["insmod", ko], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(listUacceDevices().some((d) => d.api === WD_API && d.available === 4)).toBe(true);
  });
});
