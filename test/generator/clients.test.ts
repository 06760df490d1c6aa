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

describe("nvme client on the sim", () => {
  test("typed admin and I/O queues: enable, identify, create a pair, write and read back", async () => {
    const { NvmeDevice, IdentifyController, IdentifyCns, CommandSet, IOSQES, IOCQES } = await import("@warpdrive/nvme");
    using dev = await NvmeDevice.open({ backend: "sim" });
    const regs = dev.bar0;
    const waitFor = (what: string, ok: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        Bun.sleepSync(1);
      }
    };
    using admin = dev.requestQueue("admin", { depth: 16 });
    regs.aqa.writeFields({ asqs: admin.queue.sqDepth - 1, acqs: admin.queue.cqDepth - 1 });
    regs.asq.write(admin.queue.sqBuffer.ref());
    regs.acq.write(admin.queue.cqBuffer.ref());
    regs.cc.writeFields({ css: CommandSet.NVM, iosqes: IOSQES, iocqes: IOCQES, en: 1 });
    waitFor("CSTS.RDY", () => regs.csts.get("rdy") === 1);

    const page = dev.alloc(4096, "identify");
    const tag = admin.identify({ buffer: page.ref(0, 4096), cns: IdentifyCns.CONTROLLER });
    const done = admin.recvSync(5000);
    expect(done.cid).toBe(tag);
    expect(done.status >>> 1 & 0xff).toBe(0);
    expect(IdentifyController.decode(page.view, 0).vid).toBe(0x1b36);

    using io = dev.requestQueue("io", { id: 1, depth: 16 });
    admin.createIoCq({ buffer: io.queue.cqBuffer.ref(), qid: 1, qsize: io.queue.cqDepth - 1, cqFlags: { pc: 1, ien: 1 }, iv: 1 });
    expect(admin.recvSync(5000).status >>> 1 & 0xff).toBe(0);
    admin.createIoSq({ buffer: io.queue.sqBuffer.ref(), qid: 1, qsize: io.queue.sqDepth - 1, sqFlags: { pc: 1 }, cqid: 1 });
    expect(admin.recvSync(5000).status >>> 1 & 0xff).toBe(0);

    const out = dev.alloc(4096, "out");
    const back = dev.alloc(4096, "back");
    for (let i = 0; i < 512; i++) out.bytes[i] = (i * 7) & 0xff;
    io.write({ nsid: 1, buffer: out.ref(0, 512), slba: 3n, nlb: 0 });
    expect(io.recvSync(5000).status >>> 1 & 0xff).toBe(0);
    io.read({ nsid: 1, buffer: back.ref(0, 512), slba: 3n, nlb: 0 });
    expect(io.recvSync(5000).status >>> 1 & 0xff).toBe(0);
    expect([...back.bytes.subarray(0, 512)]).toEqual([...out.bytes.subarray(0, 512)]);
    io.flushCommand({ nsid: 1 });
    expect(io.recvSync(5000).status >>> 1 & 0xff).toBe(0);
  });
});

describe("queue wrappers and scope exit", () => {
  test("a queue already released by reset() is not released again when its scope ends", async () => {
    using dev = await WdDummyDevice.open({ backend: "sim" });
    {
      using q = dev.requestQueue("cmd");
      dev.device.reset();
      expect(q.queue.released).toBe(true);
      expect(() => q.release()).toThrow(); // an explicit second release is still a caller bug
    }
    // The queue id is free again after the reset, and a fresh queue works.
    using again = dev.requestQueue("cmd");
    expect(again.queue.released).toBe(false);
  });
});
