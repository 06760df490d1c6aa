// NVMe end to end: the generated client + devices/nvme/behavior.ts on whichever backend the
// environment names (WD_BACKEND, WD_DEVICE). Runs against the sim model here and, in the VM suite,
// against QEMU 7.2's emulated controller through vfio, so every expectation is one both must meet:
// identify fields are checked for consistency with each other and with the registers, never for
// the sim's own strings.
//
// The whole suite runs once per controller configuration (test/vm/nvme-configs.ts): on the sim, against
// every configuration the model presents (or the one WD_NVME_CONFIG names); on vfio, against the
// one the VM harness gave QEMU for this boot (WD_NVME_CONFIG, default "default").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DmaBuffer, simBackend, type Backend } from "@warpdrive/runtime";
import { encodeCreateIoCq, encodeCreateIoSq, encodeDeleteIoSq, encodeRead } from "@warpdrive/nvme-generated/commands";
import { FeatureId, ShutdownStatus } from "@warpdrive/nvme-generated/enums";
import { asciiField, Nvme, NvmeStatusError } from "@warpdrive/nvme";
import { ASKED, NVME_CONFIG_ENV, NVME_CONFIGS, nvmeConfig, type NvmeConfig } from "../vm/nvme-configs.ts";

const onVfio = (process.env.WD_BACKEND || "sim") === "vfio";
const named = process.env[NVME_CONFIG_ENV];
const configs = named ? [nvmeConfig(named)] : onVfio ? [nvmeConfig("default")] : NVME_CONFIGS;

/** The sim backend with the configuration's model options in the spec the model reads. */
function simWith(config: NvmeConfig): Backend {
  return { kind: "sim", open: (spec, address) => simBackend.open({ ...spec, modelOptions: { ...config.sim } }, address) };
}

for (const config of configs) {
  describe(`[${config.name}]`, () => nvmeSuite(config));
}

function nvmeSuite(config: NvmeConfig) {
  let nvme: Nvme;
  let data: DmaBuffer;
  let back: DmaBuffer;

  beforeAll(async () => {
    nvme = await Nvme.open({ ...ASKED, backend: onVfio ? "vfio" : simWith(config) });
    // Big enough for the largest transfer below (one command over MDTS, split by the driver).
    const size = Math.max(nvme.maxTransferBytes * 2 + 64 * 1024, 1 << 20);
    data = nvme.device.alloc(size, "nvme test data");
    back = nvme.device.alloc(size, "nvme test readback");
    // The data tests use LBAs up to ~5100 (plus the end of the namespace): 4 MiB of 512-byte blocks.
    if (nvme.blocks < 8192n) throw new Error(`namespace ${nvme.nsid} has ${nvme.blocks} blocks; these tests need at least 8192`);
  });

  afterAll(() => {
    nvme?.close();
  });

  /** The last I/O queue pair: the second when two were granted, else the only one. */
  const lastQueue = () => nvme.io[nvme.io.length - 1]!;

  /** I/O queue pairs the controller grants (Get Features / Number of Queues, the smaller count). */
  const granted = () => {
    const dw0 = nvme.getFeature(FeatureId.NUMBER_OF_QUEUES);
    return Math.min(dw0 & 0xffff, dw0 >>> 16) + 1;
  };

  /** A different byte pattern for every (lba, seed): xorshift over the block number. */
  function fill(bytes: Uint8Array, lba: number, blockSize: number, seed: number) {
    for (let b = 0; b * blockSize < bytes.length; b++) {
      let x = ((lba + b) * 2654435761 + seed * 97 + 1) >>> 0 || 1;
      const end = Math.min(bytes.length, (b + 1) * blockSize);
      for (let i = b * blockSize; i < end; i += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        bytes[i] = x & 0xff;
        bytes[i + 1] = (x >>> 8) & 0xff;
        bytes[i + 2] = (x >>> 16) & 0xff;
        bytes[i + 3] = x >>> 24;
      }
    }
  }

  function expectStatus(fn: () => void, status: string) {
    let caught: unknown;
    try {
      fn();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NvmeStatusError);
    expect((caught as NvmeStatusError).status).toBe(status);
    // The message names the status so a log line alone says what went wrong.
    expect((caught as NvmeStatusError).message).toContain(status);
  }

  describe("bring-up", () => {
    test("controller is ready with the queues, depth, vector and page size the configuration allows", () => {
      const csts = nvme.regs.csts.fields();
      expect(csts.rdy).toBe(1);
      expect(csts.cfs).toBe(0);
      const cc = nvme.regs.cc.fields();
      expect(cc.en).toBe(1);
      expect(cc.iosqes).toBe(6);
      expect(cc.iocqes).toBe(4);
      expect(2 ** (12 + cc.mps)).toBe(nvme.pageSize);
      expect(nvme.io.length).toBe(config.expect.ioQueues);
      expect(nvme.ioDepth).toBe(Math.min(ASKED.ioDepth, nvme.cap.mqes + 1));
      expect(nvme.ioDepth).toBe(config.expect.ioDepth);
      for (const q of nvme.io) expect(q.queue.sqDepth).toBe(config.expect.ioDepth);
      expect(nvme.ioVector).toBe(config.expect.ioVector);
      expect(nvme.cap.css & 1).toBe(1); // NVM command set
    });

    test("identify controller agrees with itself and with the registers", () => {
      const id = nvme.controller;
      expect(id.vid).not.toBe(0);
      for (const text of [asciiField(id.sn), asciiField(id.mn), asciiField(id.fr)]) {
        expect(text.length).toBeGreaterThan(0);
        expect(/^[\x20-\x7e]+$/.test(text)).toBe(true);
      }
      const vs = nvme.regs.vs.read();
      expect(vs >>> 16).toBe(1);
      if (id.ver !== 0) expect(id.ver).toBe(vs);
      const sqes = typeof id.sqes === "number" ? { min: id.sqes & 0xf, max: id.sqes >> 4 } : id.sqes;
      const cqes = typeof id.cqes === "number" ? { min: id.cqes & 0xf, max: id.cqes >> 4 } : id.cqes;
      expect(sqes.min).toBeLessThanOrEqual(6);
      expect(sqes.max).toBeGreaterThanOrEqual(6);
      expect(cqes.min).toBeLessThanOrEqual(4);
      expect(cqes.max).toBeGreaterThanOrEqual(4);
      expect(id.nn).toBeGreaterThanOrEqual(1);
      if (id.mdts !== 0) expect(nvme.maxTransferBytes).toBeLessThanOrEqual(2 ** id.mdts * 2 ** (12 + nvme.cap.mpsmin));
      expect(id.mdts).toBe(config.expect.mdts);
      expect(nvme.maxTransferBytes).toBe(config.expect.maxTransferBytes);
    });

    test("the namespace in use is the first active one and sized consistently", () => {
      const ns = nvme.namespace;
      const active = nvme.activeNamespaces();
      expect(active).toEqual(config.expect.namespaces.map((n) => n.nsid));
      expect(nvme.nsid).toBe(active[0]!);
      expect(nvme.blockSize).toBe(config.expect.namespaces[0]!.blockSize);
      expect(BigInt(ns.nsze)).toBeGreaterThan(0n);
      expect(BigInt(ns.ncap)).toBeLessThanOrEqual(BigInt(ns.nsze));
      expect(BigInt(ns.nuse)).toBeLessThanOrEqual(BigInt(ns.ncap));
      expect(nvme.blockSize).toBeGreaterThanOrEqual(512);
      expect(nvme.blockSize).toBeLessThanOrEqual(4096);
      expect(nvme.blocks).toBe(BigInt(ns.nsze));
    });

    test("every active namespace reports the configured block size", () => {
      for (const want of config.expect.namespaces) {
        const ns = nvme.identifyNamespace(want.nsid);
        const format = typeof ns.flbas === "number" ? ns.flbas & 0xf : (ns.flbas as { format: number }).format;
        expect({ nsid: want.nsid, blockSize: 2 ** ns.lbaf[format]!.lbads }).toEqual(want);
        expect(BigInt(ns.nsze)).toBeGreaterThan(0n);
      }
    });

    test("queue pairs created are those asked for, or as many as Get Features grants", () => {
      expect(nvme.io.length).toBe(Math.min(ASKED.ioQueues, granted()));
      expect(nvme.io.map((q) => q.id)).toEqual(Array.from({ length: nvme.io.length }, (_, i) => i + 1));
    });
  });

  describe("data", () => {
    // Sizes chosen to hit each PRP shape: one page, PRP1 + PRP2, a PRP list, several commands.
    const cases = () => [
      { name: "1 block", lba: 0, blocks: 1, offset: 0 },
      { name: "2 pages from an offset (PRP2)", lba: 17, blocks: 8, offset: 2048 },
      { name: "PRP list", lba: 300, blocks: (64 * 1024) / nvme.blockSize, offset: 512 },
      { name: "past MDTS: split into commands", lba: 1000, blocks: Math.floor((nvme.maxTransferBytes * 2 + 8192) / nvme.blockSize), offset: 0 },
    ];

    test("write then read back with a different pattern per case and per pass", () => {
      for (const [seed, c] of cases().entries()) {
        for (const pass of [0, 1]) {
          const bytes = c.blocks * nvme.blockSize;
          const src = data.bytes.subarray(c.offset, c.offset + bytes);
          fill(src, c.lba, nvme.blockSize, seed * 2 + pass);
          back.bytes.fill(0xee, 0, c.offset + bytes + 64);
          nvme.write(c.lba, c.blocks, data.ref(c.offset, bytes));
          nvme.read(c.lba, c.blocks, back.ref(c.offset, bytes));
          const got = back.bytes.subarray(c.offset, c.offset + bytes);
          const same = Buffer.compare(got, src) === 0;
          if (!same) {
            const at = got.findIndex((b, i) => b !== src[i]);
            throw new Error(`${c.name}, pass ${pass}: first difference at byte ${at} (block ${Math.floor(at / nvme.blockSize)})`);
          }
          // Nothing written outside the window.
          expect(back.bytes[c.offset + bytes]).toBe(0xee);
          if (c.offset > 0) expect(back.bytes[c.offset - 1]).toBe(0xee);
        }
      }
    });

    test("many single-block writes on both queues, then one read of them all", () => {
      const n = 96;
      const bs = nvme.blockSize;
      const base = 5000;
      for (let i = 0; i < n; i++) {
        const at = i * bs;
        fill(data.bytes.subarray(at, at + bs), base + i, bs, 77);
        nvme.write(base + i, 1, data.ref(at, bs), nvme.io[i % nvme.io.length]);
      }
      nvme.flush(nvme.io[0]);
      back.bytes.fill(0, 0, n * bs);
      nvme.read(base, n, back.ref(0, n * bs), lastQueue());
      expect(Buffer.compare(back.bytes.subarray(0, n * bs), data.bytes.subarray(0, n * bs))).toBe(0);
    });

    test("pipelined: a queue kept full of reads, one of them out of range, completes each once", () => {
      const q = lastQueue();
      const bs = nvme.blockSize;
      const n = 200;
      const base = 5000; // written by the previous test: block base + i holds fill(.., base + i, .., 77)
      const tags = new Map<number, number>();
      const errors: string[] = [];
      let bad = -1;
      let next = 0;
      back.bytes.fill(0, 0, n * bs);
      const take = (wait: boolean) => {
        const c = nvme.reap(q, wait ? 10_000 : 0);
        if (c === null) return false;
        expect(tags.has(c.tag)).toBe(true);
        const i = tags.get(c.tag)!;
        tags.delete(c.tag);
        if (c.error) errors.push(`${i}:${c.error.status}`);
        return true;
      };
      while (next < n || tags.size > 0) {
        if (next < n) {
          // Request 150 asks for the block past the end; the rest read blocks 5000..5095 twice over.
          const lba = next === 150 ? nvme.blocks : BigInt(base + (next % 96));
          const tag = nvme.trySubmit("read", lba, 1, back.ref(next * bs, bs), q);
          if (tag >= 0) {
            if (next === 150) bad = tag;
            tags.set(tag, next++);
            continue;
          }
        }
        q.queue.flush();
        take(true);
        while (take(false));
      }
      expect(bad).toBeGreaterThanOrEqual(0);
      expect(errors).toEqual(["150:LBA_OUT_OF_RANGE"]);
      expect(q.pending.size).toBe(0);
      const expected = new Uint8Array(bs);
      for (let i = 0; i < n; i++) {
        if (i === 150) continue;
        fill(expected, base + (i % 96), bs, 77);
        if (Buffer.compare(back.bytes.subarray(i * bs, (i + 1) * bs), expected) !== 0) throw new Error(`request ${i}: wrong data`);
      }
    });

    test("the last block reads; one past the end is LBA_OUT_OF_RANGE", () => {
      const last = nvme.blocks - 1n;
      nvme.read(last, 1, back.ref(0, nvme.blockSize));
      expectStatus(() => nvme.read(last, 2, back.ref(0, 2 * nvme.blockSize)), "LBA_OUT_OF_RANGE");
      expectStatus(() => nvme.read(nvme.blocks, 1, back.ref(0, nvme.blockSize)), "LBA_OUT_OF_RANGE");
      expectStatus(() => nvme.write(nvme.blocks + 10n, 1, data.ref(0, nvme.blockSize)), "LBA_OUT_OF_RANGE");
    });

    test("SMART log: read commands are counted; temperature and spare are plausible", () => {
      const before = nvme.smartLog();
      for (let i = 0; i < 10; i++) nvme.read(i, 1, back.ref(0, nvme.blockSize));
      const after = nvme.smartLog();
      expect(after.hostReadCommands[0]! - before.hostReadCommands[0]!).toBeGreaterThanOrEqual(10n);
      expect(after.hostWriteCommands[0]!).toBeGreaterThan(0n); // the tests above wrote
      expect(after.compositeTemperature).toBeGreaterThan(200); // kelvin
      expect(after.availableSpare).toBeLessThanOrEqual(100);
    });

    test("flush succeeds", () => {
      nvme.flush();
    });
  });

  describe("errors", () => {
    test("an unknown I/O opcode completes with INVALID_OPCODE", () => {
      const q = nvme.io[0]!.queue;
      expectStatus(() => nvme.command(q, "opcode 0x7e", (v, o) => {
        v.setUint8(o, 0x7e);
        v.setUint32(o + 4, nvme.nsid, true);
      }), "INVALID_OPCODE");
      // The queue keeps working afterwards.
      nvme.flush();
    });

    test("a read naming an inactive namespace is INVALID_FIELD; an id past every namespace INVALID_NAMESPACE_OR_FORMAT", () => {
      const q = nvme.io[0]!.queue;
      const read = (nsid: number) => () =>
        nvme.command(q, `read on namespace ${nsid}`, (v, o, dma) =>
          encodeRead(v, o, { nsid, buffer: back.ref(0, nvme.blockSize), prp2: 0n, slba: 0n, nlb: 0 }, dma));
      const active = config.expect.namespaces.map((n) => n.nsid);
      const inactive = Array.from({ length: Math.max(...active) }, (_, i) => i + 1).find((id) => !active.includes(id));
      if (inactive !== undefined) expectStatus(read(inactive), "INVALID_FIELD");
      expectStatus(read(0xfffffff0), "INVALID_NAMESPACE_OR_FORMAT");
      read(nvme.nsid)();
    });

    test("an unknown admin opcode completes with INVALID_OPCODE", () => {
      expectStatus(() => nvme.command(nvme.admin, "admin opcode 0x7f", (v, o) => v.setUint8(o, 0x7f)), "INVALID_OPCODE");
    });

    test("queue creation with a bad id or size and deletion of a missing queue", () => {
      const ring = nvme.device.alloc(nvme.pageSize, "bogus ring");
      const dma = nvme.device.dma;
      try {
        expectStatus(() => nvme.command(nvme.admin, "create I/O CQ 0xffff", (v, o) =>
          encodeCreateIoCq(v, o, { buffer: ring.ref(), qid: 0xffff, qsize: 1, cqFlags: { pc: 1, ien: 0 }, iv: 0 }, dma)), "INVALID_QUEUE_ID");
        expectStatus(() => nvme.command(nvme.admin, "create I/O CQ 0", (v, o) =>
          encodeCreateIoCq(v, o, { buffer: ring.ref(), qid: 0, qsize: 1, cqFlags: { pc: 1, ien: 0 }, iv: 0 }, dma)), "INVALID_QUEUE_ID");
        // A size error needs an id the controller would otherwise accept: the highest granted one,
        // when the suite's queues leave it free; an id past the granted ones is refused first.
        const max = granted();
        const spare = max > nvme.io.length ? max : undefined;
        if (spare !== undefined) {
          expectStatus(() => nvme.command(nvme.admin, `create I/O CQ ${spare} with 1 entry`, (v, o) =>
            encodeCreateIoCq(v, o, { buffer: ring.ref(), qid: spare, qsize: 0, cqFlags: { pc: 1, ien: 0 }, iv: 0 }, dma)), "INVALID_QUEUE_SIZE");
        }
        expectStatus(() => nvme.command(nvme.admin, `create I/O CQ ${max + 1}, past the granted ones`, (v, o) =>
          encodeCreateIoCq(v, o, { buffer: ring.ref(), qid: max + 1, qsize: 1, cqFlags: { pc: 1, ien: 0 }, iv: 0 }, dma)), "INVALID_QUEUE_ID");
        expectStatus(() => nvme.command(nvme.admin, "create I/O SQ on a missing CQ", (v, o) =>
          encodeCreateIoSq(v, o, { buffer: ring.ref(), qid: 60, qsize: 1, sqFlags: { pc: 1, qprio: 0 }, cqid: 61 }, dma)), "COMPLETION_QUEUE_INVALID");
        expectStatus(() => nvme.command(nvme.admin, "delete I/O SQ 60", (v, o) => encodeDeleteIoSq(v, o, { qid: 60 })), "INVALID_QUEUE_ID");
      } finally {
        ring.free();
      }
    });

    test("host-side checks refuse bad transfers before anything reaches the device", () => {
      const bs = nvme.blockSize;
      expect(() => nvme.read(0, 4, back.ref(0, 3 * bs))).toThrow(/need .* bytes/);
      expect(() => nvme.read(0, 1, back.ref(2, bs))).toThrow(/multiple of 4/);
      expect(() => nvme.read(0, 0, back.ref(0, bs))).toThrow(/positive integer/);
      const tooBig = Math.floor(nvme.maxTransferBytes / bs) + 1;
      expect(() => nvme.trySubmit("read", 0, tooBig, back.ref(0, tooBig * bs))).toThrow(/MDTS/);
      // A buffer never shared with this device: the DMA check names the field.
      const stray = DmaBuffer.alloc(bs, { name: "stray" });
      try {
        expect(() => nvme.write(0, 1, stray.ref(0, bs))).toThrow(/prp1/);
      } finally {
        stray.free();
      }
      expect(nvme.io[0]!.pending.size).toBe(0);
      nvme.flush();
    });

    test("identify of a namespace id beyond NN is refused", () => {
      expectStatus(() => nvme.identifyNamespace(0xfffffff0), "INVALID_NAMESPACE_OR_FORMAT");
    });
  });

  describe("recovery", () => {
    test("an enable the controller refuses sets CSTS.CFS; the driver resets and brings it up again", () => {
      nvme.disable();
      nvme.regs.cc.writeFields({ iosqes: 5, iocqes: 4, en: 1 }); // 32-byte SQEs: refused by both
      const deadline = performance.now() + 10_000;
      while (nvme.regs.csts.fields().cfs === 0 && performance.now() < deadline) Bun.sleepSync(1);
      expect(nvme.regs.csts.fields()).toMatchObject({ cfs: 1, rdy: 0 });
      nvme.init();
      expect(nvme.regs.csts.fields()).toMatchObject({ cfs: 0, rdy: 1 });
      expect(nvme.io.length).toBe(config.expect.ioQueues);
      // The medium kept what the data tests wrote.
      nvme.read(5000, 4, back.ref(0, 4 * nvme.blockSize));
      fill(data.bytes.subarray(0, 4 * nvme.blockSize), 5000, nvme.blockSize, 77);
      expect(Buffer.compare(back.bytes.subarray(0, 4 * nvme.blockSize), data.bytes.subarray(0, 4 * nvme.blockSize))).toBe(0);
    });
  });

  describe("teardown", () => {
    test("I/O queue pairs can be deleted and created again; data survives", () => {
      const q = lastQueue();
      nvme.deleteIoQueuePair(q);
      expect(q.queue.released).toBe(true);
      const again = nvme.createIoQueuePair(q.id, Math.min(16, nvme.ioDepth));
      nvme.io.push(again);
      nvme.read(5000, 4, back.ref(0, 4 * nvme.blockSize), again);
      fill(data.bytes.subarray(0, 4 * nvme.blockSize), 5000, nvme.blockSize, 77);
      expect(Buffer.compare(back.bytes.subarray(0, 4 * nvme.blockSize), data.bytes.subarray(0, 4 * nvme.blockSize))).toBe(0);
    });

    test("normal shutdown reaches SHST complete", () => {
      nvme.shutdown();
      expect(nvme.regs.csts.fields().shst).toBe(ShutdownStatus.COMPLETE);
      expect(nvme.io.length).toBe(0);
    });
  });
}
