// The generated clients against the sim backend: the typed API reaches the device models through the
// real runtime (registers, DMA buffers, queues), not just a fake. Skips nothing: the sim backend runs
// everywhere the tests run.
import { describe, expect, test } from "bun:test";
import { QemuEduDevice } from "@warpdrive/qemu-edu";
import { DescStatus, WdDummyDevice } from "@warpdrive/wd-dummy";

describe("qemu-edu client on the sim", () => {
  test("id fields, liveness, factorial through typed registers", async () => {
    using dev = await QemuEduDevice.open({ backend: "sim" });
    expect(dev.bar0.id.fields()).toEqual({ magic: 0xed, minor: 0, major: 1 });
    dev.bar0.liveness.write(0x12345678);
    expect(dev.bar0.liveness.read()).toBe(~0x12345678 >>> 0);
    dev.bar0.factorial.write(5);
    const deadline = Date.now() + 5000;
    while (dev.bar0.status.get("computing") === 1 && Date.now() < deadline) Bun.sleepSync(1);
    expect(dev.bar0.factorial.read()).toBe(120);
  });
});

describe("wd-dummy client on the sim", () => {
  test("typed send/recvSync copy a buffer through the index ring", async () => {
    using dev = await WdDummyDevice.open({ backend: "sim" });
    const src = dev.alloc(4096, "src");
    const dst = dev.alloc(4096, "dst");
    src.bytes.set([1, 2, 3, 4, 5], 0);
    using q = dev.requestQueue("cmd");
    q.send({ src: src.ref(0, 5), dst: dst.ref(100, 5), size: 5, cookie: 42 });
    const done = q.recvSync(5000);
    expect(done.status).toBe(DescStatus.DONE);
    expect(done.cookie).toBe(42);
    expect([...dst.bytes.subarray(100, 105)]).toEqual([1, 2, 3, 4, 5]);
  });

  test("a bad size comes back as BAD_SIZE, decoded", async () => {
    using dev = await WdDummyDevice.open({ backend: "sim" });
    const buf = dev.alloc(4096);
    using q = dev.requestQueue("cmd");
    q.send({ src: buf.ref(0, 8), dst: buf.ref(8, 8), size: 0 });
    expect(q.recvSync(5000).status).toBe(DescStatus.BAD_SIZE);
  });
});
