// The sim backend through Device: shared register memory, the DMA translation table (faults for
// anything not shared), eventfd interrupts, reset, model faults, close.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Device, DmaBuffer, DmaError, SimDevice, UseAfterReleaseError } from "@warpdrive/runtime";
import { PROBE, probeSpec } from "./models/specs.ts";

let dev: Device;
const regs = () => dev.region("regs").io;

/** Runs one probe command and waits (bounded by iterations, not time) for its status. */
function probe(cmd: number, iova = 0n, len = 0): number {
  const io = regs();
  io.write32(PROBE.STATUS, 0);
  io.write64(PROBE.IOVA, iova);
  io.write32(PROBE.LEN, len);
  io.write32(PROBE.CMD, cmd);
  for (let i = 0; i < 50_000_000; i++) {
    const s = io.read32(PROBE.STATUS);
    if (s !== 0 && io.read32(PROBE.CMD) === 0) return s;
    if ((i & 1023) === 1023) Bun.sleepSync(0.1);
  }
  throw new Error("probe model did not answer");
}

describe("sim backend", () => {
  beforeEach(async () => {
    dev = await Device.open(probeSpec(), { backend: "sim" });
  });
  afterEach(() => dev.close());

  test("the model ran init before open returned; the address names the sim device", () => {
    expect(regs().read32(PROBE.ID)).toBe(PROBE.ID_VALUE);
    expect(dev.address).toMatch(/^sim:probe\/\d+$/);
    expect(dev.backendKind).toBe("sim");
    expect(dev.backend).toBeInstanceOf(SimDevice);
  });

  test("DMA both ways through shared memory, at the buffer's IOVA", () => {
    const buf = dev.alloc(8192, "probe-buf");
    buf.bytes.set([1, 2, 3, 4], 4100);
    const iova = BigInt(dev.dma.addressOf(buf.ref(4100, 4), "iova"));
    expect(probe(PROBE.CMD_READ, iova, 4)).toBe(PROBE.OK);
    expect(regs().read32(PROBE.DATA)).toBe(0x04030201);
    regs().write32(PROBE.DATA, 0xdeadbeef);
    expect(probe(PROBE.CMD_WRITE, iova - 4n, 4)).toBe(PROBE.OK);
    expect(buf.view.getUint32(4096, true)).toBe(0xdeadbeef);
  });

  test("DMA to memory not shared is a fault the model sees (never a crash)", () => {
    const buf = dev.alloc(4096);
    const iova = BigInt(dev.dma.addressOf(buf.ref(), "iova"));
    expect(probe(PROBE.CMD_READ, iova + 4096n, 4)).toBe(PROBE.DMA_FAULT); // past the end
    expect(probe(PROBE.CMD_READ, iova + 4094n, 4)).toBe(PROBE.DMA_FAULT); // straddles the end
    expect(probe(PROBE.CMD_READ, 0n, 4)).toBe(PROBE.DMA_FAULT);
    expect(regs().read64(PROBE.FAULT_IOVA)).toBe(0n);
    dev.unshare(buf);
    expect(probe(PROBE.CMD_READ, iova, 4)).toBe(PROBE.DMA_FAULT); // unshared: gone from the table
    buf.free();
  });

  test("a buffer of another device (or not shared) is refused by the resolver, naming it", async () => {
    const other = await Device.open(probeSpec(), { backend: "sim" });
    try {
      const theirs = other.alloc(4096, "theirs");
      expect(() => dev.dma.addressOf(theirs.ref(), "iova")).toThrow(DmaError);
      expect(() => dev.dma.addressOf(theirs.ref(), "iova")).toThrow(/theirs is not shared with device sim:probe/);
      const loose = DmaBuffer.alloc(4096, { name: "loose" });
      expect(() => dev.dma.addressOf(loose.ref(), "iova")).toThrow(/loose is not shared/);
      dev.share(loose);
      expect(dev.dma.addressOf(loose.ref(16, 16), "iova")).toBe(loose.iovaIn(dev)! + 16);
      expect(() => dev.dma.addressOf(loose.ref(4090), "iova", 16)).toThrow(/iova: the device would touch 16 bytes .* window is \[4090, 4090\+6\)/);
      const kept = loose.ref(0, 1);
      loose.free();
      expect(() => dev.dma.addressOf(kept, "iova")).toThrow(/loose was freed/);
    } finally {
      other.close();
    }
  });

  test("buffers get distinct page-aligned IOVAs inside the window; unified mode uses process addresses", async () => {
    const a = dev.alloc(4096), b = dev.alloc(3 * 4096);
    const ia = a.iovaIn(dev)!, ib = b.iovaIn(dev)!;
    expect(ia % 4096).toBe(0);
    expect(ib % 4096).toBe(0);
    expect(ia + a.size <= ib || ib + b.size <= ia).toBe(true);
    const u = await Device.open(probeSpec(), { backend: "sim", unified: true });
    try {
      const buf = u.alloc(4096);
      expect(buf.iovaIn(u)).toBe(buf.ptr);
    } finally {
      u.close();
    }
  });

  test("interrupts are eventfds the model writes; a vector not enabled is dropped", () => {
    expect(probe(PROBE.CMD_RAISE, 1n)).toBe(PROBE.OK); // vector 1 not enabled yet: dropped
    const a = dev.irq("a");
    const b = dev.irq(1);
    expect(a).toBe(dev.irq(0));
    expect(b.take()).toBe(0);
    expect(probe(PROBE.CMD_RAISE, 0n)).toBe(PROBE.OK);
    expect(probe(PROBE.CMD_RAISE, 0n)).toBe(PROBE.OK);
    expect(a.wait(5000)).toBe(true);
    expect(a.take()).toBe(0); // wait consumed the count
    expect(b.wait(0)).toBe(false);
    expect(() => dev.irq("nope")).toThrow(/no interrupt "nope"/);
  });

  test("reset zeroes the register file and re-runs the model's reset", () => {
    regs().write32(PROBE.DATA, 0x55);
    expect(regs().read32(PROBE.RESETS)).toBe(0);
    dev.reset();
    expect(regs().read32(PROBE.DATA)).toBe(0);
    expect(regs().read32(PROBE.ID)).toBe(PROBE.ID_VALUE);
    expect(regs().read32(PROBE.RESETS)).toBe(1);
    expect(probe(PROBE.CMD_RAISE, 0n)).toBe(PROBE.OK); // still running
  });

  for (const [what, cmd, message] of [
    ["ctx.fault()", PROBE.CMD_FAULT, "probe asked to fault"],
    ["an uncaught error", PROBE.CMD_THROW, "Error: model bug"],
  ] as const) {
    test(`${what} stops the model as a hung device and is reported`, async () => {
      const sim = dev.backend as SimDevice;
      expect(sim.modelState).toBe("running");
      regs().write32(PROBE.CMD, cmd);
      for (let i = 0; i < 10_000 && sim.fault === undefined; i++) await Bun.sleep(1);
      expect(sim.modelState).toBe("faulted");
      expect(sim.fault).toContain(message);
      expect(() => dev.reset()).toThrow(/model is not running \(fault: .*/);
      expect(regs().read32(PROBE.STATUS)).toBe(0); // it never answered
    });
  }

  test("close is idempotent and everything after it is a clear error", () => {
    const buf = dev.alloc(4096);
    const io = regs();
    dev.close();
    dev.close();
    expect(dev.closed).toBe(true);
    expect(buf.freed).toBe(true); // memory from dev.alloc dies with the device
    expect(() => io.read32(0)).toThrow(UseAfterReleaseError);
    expect(() => dev.region("regs")).toThrow(/closed/);
    expect(() => dev.alloc(4096)).toThrow(/closed/);
    expect(() => dev.irq("a")).toThrow(/closed/);
  });

  test("open fails clearly: unknown backend, PCI address on sim, no model", async () => {
    await expect(Device.open(probeSpec(), { backend: "nope" as "sim" })).rejects.toThrow(/unknown backend "nope"/);
    await expect(Device.open(probeSpec(), { backend: "sim", address: "0000:00:03.0" })).rejects.toThrow(/not a sim device address/);
    await expect(Device.open({ ...probeSpec(), model: undefined }, { backend: "sim" })).rejects.toThrow(/no sim model/);
    await expect(Device.open({ ...probeSpec(), model: "file:///nonexistent/model.ts" }, { backend: "sim" })).rejects.toThrow(/could not be loaded/);
    // a package specifier (what generated specs carry) that no installed package provides
    await expect(Device.open({ ...probeSpec(), model: "@warpdrive/no-such-device/model" }, { backend: "sim" })).rejects.toThrow(/sim model "@warpdrive\/no-such-device\/model" of device \S+ cannot be resolved/);
    const badInit = new URL("./models/bad-init-model.ts", import.meta.url).href;
    await expect(Device.open({ ...probeSpec(), model: badInit }, { backend: "sim" })).rejects.toThrow(/model fault: self-test failed at power-on/);
  });
});

