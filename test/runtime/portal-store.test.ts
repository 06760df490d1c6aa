// The two ways a descriptor reaches a portal. Native: MOVDIR64B, issued only where CPUID reports
// it (compared with the kernel's /proc/cpuinfo flags, an independent reading of the same CPUID
// bits), stores 64 bytes whole; a missing instruction, a missing mapping or a descriptor that is
// not 64 bytes is a ConfigError, never a weaker store. Sim: the mailbox hands the model every
// descriptor whole and in order, also while another thread is writing them.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { ConfigError, DmaBuffer, mappedPortal, portalInstructions, type MappedRegion } from "@warpdrive/runtime";
import { nativeMmio } from "@warpdrive/runtime/mem/native";
import { MailboxPort, MailboxReader, MAILBOX_SLOTS, newMailbox } from "@warpdrive/runtime/sim/portal-mailbox";

const cpuFlags = (() => {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("flags"));
    return new Set((line ?? "").split(":")[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set<string>();
  }
})();
const native = nativeMmio() !== null;

function regionOver(buf: DmaBuffer): MappedRegion {
  return { index: 2, size: buf.size, ptr: buf.ptr, kind: "mmio", io: undefined as never };
}

describe("native portal stores", () => {
  test.if(native && process.arch === "x64")("CPUID as the runtime reads it agrees with the kernel's flags", () => {
    expect(portalInstructions()).toEqual({ movdir64b: cpuFlags.has("movdir64b"), enqcmd: cpuFlags.has("enqcmd") });
  });

  test.if(native && cpuFlags.has("movdir64b"))("MOVDIR64B stores the 64 staged bytes at the portal offset, nothing around them", () => {
    const portal = DmaBuffer.alloc(4096, { name: "portal page" });
    const staging = DmaBuffer.alloc(4096, { name: "staging" });
    try {
      for (let i = 0; i < 64; i++) staging.bytes[i] = (i * 37 + 11) & 0xff;
      portal.bytes.fill(0xcc);
      const port = mappedPortal(regionOver(portal), "movdir64b", 64, "test portal");
      expect(port.primitive).toBe("movdir64b");
      expect(port.submit(0x140, staging.bytes.subarray(0, 64), staging.ptr)).toBe(true);
      expect(portal.bytes.subarray(0x140, 0x180)).toEqual(staging.bytes.subarray(0, 64));
      expect(portal.bytes.subarray(0, 0x140).every((b) => b === 0xcc)).toBe(true);
      expect(portal.bytes.subarray(0x180).every((b) => b === 0xcc)).toBe(true);
    } finally {
      portal.free();
      staging.free();
    }
  });

  test("an instruction the CPU lacks, a missing mapping or a non-64-byte descriptor is a ConfigError", () => {
    const page = DmaBuffer.alloc(4096, { name: "page" });
    try {
      expect(() => mappedPortal(regionOver(page), "movdir64b", 32, "p")).toThrow(/32-byte descriptor/);
      expect(() => mappedPortal({ ...regionOver(page), ptr: 0 }, "movdir64b", 64, "p")).toThrow(ConfigError);
      const has = portalInstructions();
      for (const store of ["movdir64b", "enqcmd"] as const) {
        if (has[store]) continue;
        expect(() => mappedPortal(regionOver(page), store, 64, "p")).toThrow(native ? /does not report/ : /native MMIO helper/);
      }
    } finally {
      page.free();
    }
  });
});

describe("sim portal mailbox", () => {
  test("descriptors arrive whole, in order, with their portal offsets; a full shared queue says retry", () => {
    const m = newMailbox();
    const port = new MailboxPort(m, true, () => {});
    const reader = new MailboxReader(m);
    const desc = new Uint8Array(64);
    for (let i = 0; i < MAILBOX_SLOTS; i++) {
      desc.fill(i & 0xff);
      expect(port.submit(i * 64, desc, 0)).toBe(true);
    }
    expect(port.submit(0, desc, 0)).toBe(false); // ENQCMD's retry: nothing was stored
    const seen: number[] = [];
    reader.drain((offset, d, size) => {
      expect(size).toBe(64);
      const first = d.getUint8(0);
      for (let k = 0; k < 64; k++) expect(d.getUint8(k)).toBe(first);
      expect(offset).toBe(seen.length * 64);
      seen.push(first);
    });
    expect(seen).toEqual(Array.from({ length: MAILBOX_SLOTS }, (_, i) => i & 0xff));
    expect(reader.pending).toBe(0);
  });

  test("a writer thread never shows the reader half a descriptor", async () => {
    const m = newMailbox();
    const reader = new MailboxReader(m);
    const N = 20000;
    const worker = new Worker(new URL("./portal-writer-worker.ts", import.meta.url).href);
    const done = new Promise<void>((resolve, reject) => {
      worker.onmessage = () => resolve();
      worker.onerror = (e) => reject(e);
    });
    worker.postMessage({ mailbox: m, count: N });
    let got = 0;
    let torn = 0;
    const t0 = performance.now();
    while (got < N && performance.now() - t0 < 20000) {
      reader.drain((_o, d) => {
        // the writer fills each descriptor with its sequence number in every 32-bit word
        const want = got;
        for (let k = 0; k < 64; k += 4) if (d.getUint32(k, true) !== want) torn++;
        got++;
      });
    }
    await done;
    // wait until the thread is gone: its event loop's descriptors close with it, not later in
    // another test that counts descriptors (test/sim/lifecycle.test.ts)
    const closed = new Promise<void>((resolve) => worker.addEventListener("close", () => resolve()));
    worker.terminate();
    await closed;
    expect(got).toBe(N);
    expect(torn).toBe(0);
  });
});
