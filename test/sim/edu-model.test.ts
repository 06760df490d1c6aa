// The edu sim model's corners that the hardware suite cannot exercise safely on QEMU (a bad DMA
// range stops QEMU 7.2) or that only the model needs to get right: access widths, writes ignored
// while busy, IOMMU faults, and ordering of registers before the MSI.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { SimDevice } from "@warpdrive/runtime";
import { QemuEduDevice } from "@warpdrive/qemu-edu-generated/client";
import { Edu } from "@warpdrive/qemu-edu";

let edu: Edu;
const io = () => edu.client.device.region("bar0").io;

describe("edu sim model", () => {
  beforeEach(async () => {
    edu = await Edu.open({ backend: "sim" });
  });
  afterEach(() => edu.close());

  test("offsets edu does not decode read as all ones; non-32-bit accesses below 0x80 are ignored", () => {
    expect(io().read32(0x10)).toBe(0xffffffff);
    expect(io().read32(0x1000)).toBe(0xffffffff);
    io().write16(0x04, 0x1234); // ignored: liveness keeps its value
    expect(io().read32(0x04)).toBe(0);
    io().write32(0x80, 0xabc); // the DMA block takes 32-bit writes
    expect(io().read64(0x80)).toBe(0xabcn);
  });

  test("a factorial write while computing is ignored", () => {
    const r = edu.regs;
    r.factorial.write(6);
    r.factorial.write(3); // COMPUTING is set: edu drops it
    while (r.status.get("computing")) {}
    expect(r.factorial.read()).toBe(720);
  });

  test("DMA register writes while a transfer runs are ignored; the transfer is not restarted", () => {
    const buf = edu.client.alloc(4096);
    buf.bytes.fill(7);
    const r = edu.regs;
    r.dmaSrc.write(BigInt(edu.client.dma.addressOf(buf.ref(0, 16), "dma_src")));
    r.dmaDst.write(0x40000n);
    r.dmaCount.write(16n);
    r.dmaCmd.writeFields({ start: 1, direction: 0, irq: 0 });
    r.dmaCount.write(4096n); // ignored while running
    if ((r.dmaCmd.read() & 1n) === 1n) expect(r.dmaCount.read()).toBe(16n);
    while (r.dmaCmd.read() & 1n) {}
    expect(r.dmaCount.read()).toBe(16n);
  });

  test("a DMA to memory not shared with the device is an IOMMU fault: nothing moves, it still completes", () => {
    const buf = edu.client.alloc(4096);
    buf.bytes.fill(0);
    const r = edu.regs;
    // put 16 known bytes on board, then try to fetch from an unmapped IOVA into the same place
    buf.bytes.fill(9, 0, 16);
    edu.dmaToDevice(buf.ref(0, 16), 0);
    r.dmaSrc.write(0x0ff0000n);
    r.dmaDst.write(0x40000n);
    r.dmaCount.write(16n);
    r.dmaCmd.writeFields({ start: 1, direction: 0, irq: 1 });
    expect(edu.waitIrq(0x100, 5000) & 0x100).toBe(0x100);
    edu.ack(0x100);
    edu.dmaFromDevice(0, buf.ref(100, 16));
    expect([...buf.bytes.subarray(100, 116)]).toEqual(new Array(16).fill(9));
  });

  for (const [what, src, count, message] of [
    ["past the end", 0x40ff0n, 0x20n, "EDU: DMA range 0x0000000000040ff0-0x000000000004100f out of bounds"],
    ["ending exactly at the end (QEMU 7.2's strict check)", 0x40000n, 0x1000n, "EDU: DMA range 0x0000000000040000-0x0000000000040fff out of bounds"],
    ["of zero bytes", 0x40010n, 0n, "out of bounds"],
  ] as const) {
    test(`a DMA range ${what} stops the device, as it stops QEMU 7.2`, async () => {
      const sim = edu.client.device.backend as SimDevice;
      const r = edu.regs;
      r.dmaSrc.write(src);
      r.dmaDst.write(0x10000n);
      r.dmaCount.write(count);
      r.dmaCmd.writeFields({ start: 1, direction: 1, irq: 0 });
      for (let i = 0; i < 5000 && sim.fault === undefined; i++) await Bun.sleep(1);
      expect(sim.modelState).toBe("faulted");
      expect(sim.fault).toContain(message);
    });
  }

  test("the last usable byte: a transfer ending one byte before the end works", () => {
    const buf = edu.client.alloc(8192);
    for (let i = 0; i < 4096; i++) buf.bytes[i] = i & 0xff;
    edu.dmaToDevice(buf.ref(0, 95), 4000);
    edu.dmaFromDevice(4000, buf.ref(4096, 95));
    expect([...buf.bytes.subarray(4096, 4096 + 95)]).toEqual([...buf.bytes.subarray(0, 95)]);
  });

  test("reset restores power-on state", () => {
    edu.regs.liveness.write(1);
    edu.raise(0x8);
    edu.reset();
    expect(edu.regs.liveness.read()).toBe(0);
    expect(edu.irqStatus()).toBe(0);
    expect(edu.regs.id.read()).toBe(0x010000ed);
    expect(edu.factorial(4)).toBe(24);
  });

  test("the generated client opens the same model directly", async () => {
    const c = await QemuEduDevice.open({ backend: "sim" });
    try {
      expect(c.bar0.id.fields().magic).toBe(0xed);
    } finally {
      c.close();
    }
  });
});

describe("edu sim model never blocks inside poll", () => {
  test("factorial of 2^32-1 answers like edu (0) without holding poll: reads keep answering, close unmaps", async () => {
    const { ourMapLines } = await import("../helpers/proc.ts");
    const e = await Edu.open({ backend: "sim" });
    const sim = e.client.device.backend as SimDevice;
    try {
      const r = e.regs;
      // edu's own loop would take 2^32 multiplications (seconds inside one poll call): each read
      // below waits for the model to drain the write (2 s at most before a TimeoutError)
      r.factorial.write(0xffffffff);
      // each liveness write must be taken by the model before the read returns: a model stuck in
      // poll cannot, and the read fails (TimeoutError) instead of answering
      for (let i = 1; r.status.get("computing") || i < 64; i++) {
        r.liveness.write(i);
        expect(r.liveness.read()).toBe(~i >>> 0);
      }
      expect(r.factorial.read()).toBe(0); // 34! and beyond hold 2^32: 0 mod 2^32
      r.factorial.write(12);
      while (r.status.get("computing")) {}
      expect(r.factorial.read()).toBe(479001600);
      r.factorial.write(33);
      while (r.status.get("computing")) {}
      expect(r.factorial.read()).toBe(2147483648); // 33! mod 2^32: the last one that is not 0
      expect(sim.modelState).toBe("running");
    } finally {
      e.close();
    }
    expect(ourMapLines()).toEqual([]); // the model stopped in time, so its memory was unmapped
  });
});
