// QEMU's edu device end to end through the generated client and devices/qemu-edu/behavior.ts, on
// the backend the environment names (WD_BACKEND, WD_DEVICE / WD_DEVICE_QEMU_EDU). Here: the sim
// model; in the VM suite: QEMU's real edu through vfio. Every expectation is one both must meet.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DmaError, type DmaBuffer } from "@warpdrive/runtime";
import { DMA_MAX_END, Edu, factorialMod32 } from "@warpdrive/qemu-edu";
import { DMA_BUFFER_SIZE, IRQ_DMA, IRQ_FACTORIAL } from "@warpdrive/qemu-edu-generated/constants";

let edu: Edu;
let a: DmaBuffer;
let b: DmaBuffer;

beforeAll(async () => {
  edu = await Edu.open();
  a = edu.client.alloc(2 * DMA_BUFFER_SIZE, "edu test a");
  b = edu.client.alloc(2 * DMA_BUFFER_SIZE, "edu test b");
});

afterAll(() => edu?.close());

const pattern = (buf: DmaBuffer, seed: number) => {
  for (let i = 0; i < buf.size; i++) buf.bytes[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
};

describe("edu: identity and liveness", () => {
  test("id register: magic 0xed, version 1.0", () => {
    expect(edu.regs.id.read()).toBe(0x010000ed);
    expect(edu.regs.id.fields()).toEqual({ magic: 0xed, minor: 0, major: 1 });
    expect(edu.version()).toEqual({ major: 1, minor: 0 });
  });

  test("liveness reads back the inverse of every value written, including a repeated one", () => {
    for (const v of [0, 1, 0xffffffff, 0x12345678, 0x80000000, 0x12345678, 0x12345678]) {
      edu.regs.liveness.write(v);
      expect(edu.regs.liveness.read()).toBe(~v >>> 0);
    }
    expect(edu.isAlive()).toBe(true);
  });
});

describe("edu: factorial", () => {
  test("n! for 0..15 by polling status (32-bit results)", () => {
    for (let n = 0; n <= 15; n++) expect(edu.factorial(n)).toBe(factorialMod32(n));
    expect(factorialMod32(12)).toBe(479001600);
  });

  test("the same n twice, and a value equal to the previous result", () => {
    expect(edu.factorial(5)).toBe(120);
    expect(edu.factorial(5)).toBe(120);
    expect(edu.factorial(120)).toBe(factorialMod32(120));
    expect(edu.factorial(1)).toBe(1);
    expect(edu.factorial(1)).toBe(1);
  });

  test("with the factorial interrupt: MSI delivered, irq_status bit 0 set, ack clears it", () => {
    expect(edu.factorial(10, { irq: true })).toBe(3628800);
    expect(edu.irqStatus() & IRQ_FACTORIAL).toBe(0);
    expect(edu.regs.status.get("irqOnFactorial")).toBe(0);
  });

  test("a read right after the factorial write never returns a stale result", () => {
    edu.regs.factorial.write(11);
    // On edu the write sets COMPUTING before the next access completes; it clears once done.
    const first = edu.regs.status.get("computing");
    expect([0, 1]).toContain(first);
    let spins = 0;
    while (edu.regs.status.get("computing") === 1) if (++spins > 1e8) throw new Error("computing never cleared");
    expect(edu.regs.factorial.read()).toBe(39916800);
  });
});

describe("edu: interrupts by software", () => {
  test("irq_raise ORs into irq_status and signals the MSI; irq_ack clears bits", () => {
    edu.ack(0xffffffff);
    edu.irq.take();
    edu.raise(0x1234);
    expect(edu.waitIrq(0x1234, 5000)).toBe(0x1234);
    edu.raise(0x1);
    expect(edu.irqStatus()).toBe(0x1235);
    edu.ack(0x1000);
    expect(edu.irqStatus()).toBe(0x235);
    edu.ack(0x235);
    expect(edu.irqStatus()).toBe(0);
    edu.ack(0x235); // acking twice is harmless
    expect(edu.irqStatus()).toBe(0);
  });
});

describe("edu: DMA through the 4 KiB on-board buffer", () => {
  test("host -> device -> host round trip, as much of the buffer as QEMU 7.2 allows", () => {
    const n = DMA_MAX_END; // 4095: a transfer must end before the buffer's last byte
    pattern(a, 1);
    b.bytes.fill(0);
    edu.dmaToDevice(a.ref(0, n), 0);
    edu.dmaFromDevice(0, b.ref(DMA_BUFFER_SIZE, n));
    expect(Buffer.from(b.bytes.subarray(DMA_BUFFER_SIZE, DMA_BUFFER_SIZE + n)).equals(Buffer.from(a.bytes.subarray(0, n)))).toBe(true);
    expect(b.bytes[DMA_BUFFER_SIZE + n]).toBe(0);
  });

  test("partial transfers at offsets, completion by interrupt", () => {
    pattern(a, 2);
    b.bytes.fill(0);
    edu.dmaToDevice(a.ref(100, 300), 1000, { irq: true });
    edu.dmaFromDevice(1000, b.ref(7, 300), { irq: true });
    expect(Buffer.from(b.bytes.subarray(7, 307)).equals(Buffer.from(a.bytes.subarray(100, 400)))).toBe(true);
    expect(b.bytes[6]).toBe(0);
    expect(b.bytes[307]).toBe(0);
    expect(edu.irqStatus() & IRQ_DMA).toBe(0);
  });

  test("transfers outside the on-board buffer are refused before the device sees them", () => {
    expect(() => edu.dmaToDevice(a.ref(0, 16), DMA_BUFFER_SIZE - 8)).toThrow(RangeError);
    expect(() => edu.dmaFromDevice(0, a.ref(0, DMA_BUFFER_SIZE + 1))).toThrow(RangeError);
    expect(() => edu.dmaFromDevice(0, a.ref(0, DMA_BUFFER_SIZE))).toThrow(/end before offset 4095/); // QEMU 7.2 would abort
    expect(() => edu.dmaToDevice(a.ref(0, 1), DMA_MAX_END)).toThrow(RangeError);
    expect(() => edu.dmaToDevice(a.ref(0, 0), 0)).toThrow(RangeError);
    expect(edu.isAlive()).toBe(true);
  });

  test("memory not shared with this edu is refused, naming the buffer", async () => {
    const { DmaBuffer } = await import("@warpdrive/runtime");
    const loose = DmaBuffer.alloc(4096, { name: "not-shared" });
    try {
      expect(() => edu.dmaToDevice(loose.ref(0, 64))).toThrow(DmaError);
      expect(() => edu.dmaToDevice(loose.ref(0, 64))).toThrow(/not-shared is not shared/);
    } finally {
      loose.free();
    }
  });
});
