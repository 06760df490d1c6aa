// Our NVMe client cross-checked against real peers: the kernel's nvme driver and nvme-cli, on the same
// emulated controller inside the QEMU guest (bun run test:vm). The PCI function is moved between
// vfio-pci (our client) and the kernel's nvme driver (nvme-cli, dd with O_DIRECT) and back:
//   identify  every field both our decoder and `nvme id-ctrl/id-ns -o json` report is equal;
//   data      blocks we write the kernel reads back, and the reverse, byte for byte;
//   errors    the same command fails with the same status code on both paths;
//   rebinding several moves lose no data and leave no descriptor open in this process.
// On the host (no WD_BACKEND=vfio) the kernel part is skipped with its reason, and the sim model is
// held to the same identify rules, data checks and status codes, so model and QEMU agree.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeDeleteIoCq, encodeDeleteIoSq } from "@warpdrive/nvme-generated/commands";
import { Nvme, NvmeStatusError } from "@warpdrive/nvme";
import {
  compareRecords,
  controllerAsCli,
  identifyProblems,
  namespaceAsCli,
  parseCliJson,
  renderCliJson,
  REQUIRED_CTRL,
  REQUIRED_NS,
  type CliRecord,
} from "./identify-compare.ts";
import {
  bindKernel,
  bindVfio,
  ddRead,
  ddWrite,
  deviceFds,
  driverOf,
  guestToolsMissing,
  kernelPathMissing,
  nvmeCliJson,
  openFds,
  passthruStatus,
  run,
  type KernelNvme,
} from "../vm/kernel-path.ts";
import { firstDifference, pattern, regions, witness, type Region } from "./patterns.ts";

const LONG = 240_000;
const missing = kernelPathMissing();
if (missing) console.log(`test/peers/nvme-peers: kernel part skipped: ${missing}`);

// ---- what both paths must answer for each failing command ------------------------------------

interface Expected {
  sct: number;
  sc: number;
  dnr: boolean;
}

interface ErrorCase {
  name: string;
  /** QEMU 7.2's answer (as the kernel path sees it); the sim model must give the same. */
  expect: Expected;
  /** Set when the sim model answers differently from QEMU (a known model bug, reported). */
  simDiffers?: string;
  ours: (nvme: Nvme) => { command: string; run: () => void };
  kernel: (k: KernelNvme, nsze: bigint) => string[];
}

const lo = (v: bigint) => (v & 0xffffffffn).toString();
const hi = (v: bigint) => (v >> 32n).toString();

const ERROR_CASES: ErrorCase[] = [
  {
    name: "read of one block just past the namespace end",
    expect: { sct: 0, sc: 0x80, dnr: true },
    ours: (n) => ({ command: `Nvme.read(LBA ${n.blocks}, 1 block)`, run: () => n.read(n.blocks, 1, scratch(n)) }),
    kernel: (k, nsze) => ["io-passthru", k.ns, "--opcode=0x02", "--namespace-id=1", "--data-len=512", "--read", `--cdw10=${lo(nsze)}`, `--cdw11=${hi(nsze)}`, "--cdw12=0"],
  },
  {
    name: "read of two blocks straddling the namespace end",
    expect: { sct: 0, sc: 0x80, dnr: true },
    ours: (n) => ({ command: `Nvme.read(LBA ${n.blocks - 1n}, 2 blocks)`, run: () => n.read(n.blocks - 1n, 2, scratch(n)) }),
    kernel: (k, nsze) => ["io-passthru", k.ns, "--opcode=0x02", "--namespace-id=1", "--data-len=1024", "--read", `--cdw10=${lo(nsze - 1n)}`, `--cdw11=${hi(nsze - 1n)}`, "--cdw12=1"],
  },
  {
    name: "I/O command with an unsupported opcode (0x7c)",
    expect: { sct: 0, sc: 0x01, dnr: true },
    ours: (n) => ({
      command: "raw SQE opcode 0x7c NSID 1 on I/O queue 1",
      run: () =>
        n.command(n.io[0]!.queue, "opcode 0x7c", (v, o) => {
          v.setUint8(o, 0x7c);
          v.setUint32(o + 4, 1, true);
        }),
    }),
    kernel: (k) => ["io-passthru", k.ns, "--opcode=0x7c", "--namespace-id=1"],
  },
  {
    name: "admin command with an unsupported opcode (0xc4)",
    expect: { sct: 0, sc: 0x01, dnr: true },
    ours: (n) => ({ command: "raw SQE opcode 0xc4 on the admin queue", run: () => n.command(n.admin, "admin opcode 0xc4", (v, o) => v.setUint8(o, 0xc4)) }),
    kernel: (k) => ["admin-passthru", k.ctrl, "--opcode=0xc4"],
  },
  {
    name: "Delete I/O SQ of a queue id that does not exist (0xffff)",
    expect: { sct: 1, sc: 0x01, dnr: true },
    ours: (n) => ({ command: "Delete I/O SQ QID 0xffff", run: () => n.command(n.admin, "delete I/O SQ 0xffff", (v, o) => encodeDeleteIoSq(v, o, { qid: 0xffff })) }),
    kernel: (k) => ["admin-passthru", k.ctrl, "--opcode=0x00", "--cdw10=0xffff"],
  },
  {
    name: "Delete I/O CQ of a queue id that does not exist (0xffff)",
    expect: { sct: 1, sc: 0x00, dnr: true },
    ours: (n) => ({ command: "Delete I/O CQ QID 0xffff", run: () => n.command(n.admin, "delete I/O CQ 0xffff", (v, o) => encodeDeleteIoCq(v, o, { qid: 0xffff })) }),
    kernel: (k) => ["admin-passthru", k.ctrl, "--opcode=0x04", "--cdw10=0xffff"],
  },
];

const scratches = new WeakMap<Nvme, ReturnType<Nvme["device"]["alloc"]>>();
function scratch(n: Nvme) {
  let b = scratches.get(n);
  if (!b) scratches.set(n, (b = n.device.alloc(64 * 1024, "peers scratch")));
  return b;
}

/** Runs our side of a case; the status it failed with, or a description of how it did not fail. */
function ourStatus(n: Nvme, c: ErrorCase): { command: string; status?: Expected; other?: string } {
  const { command, run } = c.ours(n);
  try {
    run();
    return { command, other: "succeeded" };
  } catch (e) {
    if (e instanceof NvmeStatusError) return { command, status: { sct: e.sct, sc: e.sc, dnr: e.dnr } };
    return { command, other: `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` };
  }
}

const fmt = (s: Expected) => `SCT ${s.sct} SC 0x${s.sc.toString(16).padStart(2, "0")}${s.dnr ? " DNR" : ""}`;

// ---- the sim model on the host: same rules, same data checks, same codes ----------------------

describe.skipIf(process.env.WD_BACKEND === "vfio")("sim model held to the peers' expectations", () => {
  let nvme: Nvme;
  beforeAll(async () => {
    nvme = await Nvme.open({ backend: "sim", ioQueues: 1, ioDepth: 32 });
  });
  afterAll(() => nvme?.close());

  test("identify follows the rules QEMU's controller follows (nvme-cli's view)", () => {
    const ctrl = controllerAsCli(nvme.identifyController());
    const ns = namespaceAsCli(nvme.identifyNamespace(1));
    expect(identifyProblems("sim", ctrl, ns)).toEqual([]);
    for (const f of REQUIRED_CTRL) expect(ctrl).toHaveProperty(f);
    for (const f of REQUIRED_NS) expect(ns).toHaveProperty(f);
  });

  test("the comparison finds a changed field and names both values and commands", () => {
    const ctrl = controllerAsCli(nvme.controller);
    // Through nvme-cli's JSON shape and back: nothing may change on the way.
    const again = parseCliJson(renderCliJson(ctrl));
    const same = compareRecords("id-ctrl", { name: "ours", command: "A", data: ctrl }, { name: "peer", command: "B", data: again }, REQUIRED_CTRL);
    expect(same.mismatches).toEqual([]);
    expect(same.compared.length).toBeGreaterThan(60);
    const changed: CliRecord = { ...again, mdts: (again.mdts as bigint) + 1n, sn: "X" };
    const diff = compareRecords("id-ctrl", { name: "ours", command: "cmd-A", data: ctrl }, { name: "kernel", command: "cmd-B", data: changed }, REQUIRED_CTRL);
    expect(diff.mismatches.length).toBe(2);
    const mdts = diff.mismatches.find((m) => m.includes("field mdts"))!;
    expect(mdts).toContain(`ours ${ctrl.mdts}`);
    expect(mdts).toContain(`kernel ${(ctrl.mdts as bigint) + 1n}`);
    expect(mdts).toContain("cmd-A");
    expect(mdts).toContain("cmd-B");
  });

  test("blocks written to the regions read back exactly", () => {
    const bs = nvme.blockSize;
    using buf = nvme.device.alloc(512 * bs, "peers data");
    for (const [i, r] of regions(Number(nvme.blocks)).entries()) {
      const want = pattern(r.lba, r.blocks, bs, 7 + i);
      buf.bytes.set(want);
      nvme.write(r.lba, r.blocks, buf.ref(0, r.blocks * bs));
      buf.bytes.fill(0);
      nvme.read(r.lba, r.blocks, buf.ref(0, r.blocks * bs));
      const diff = firstDifference(want, buf.bytes.slice(0, r.blocks * bs), r.lba, bs, { side: "sim", command: "write" }, { side: "sim", command: "read" });
      expect(diff).toBeUndefined();
    }
  });

  for (const c of ERROR_CASES) {
    const t = c.simDiffers ? test.failing : test;
    t(`${c.name}: ${fmt(c.expect)} as on QEMU${c.simDiffers ? ` (known: ${c.simDiffers})` : ""}`, () => {
      const got = ourStatus(nvme, c);
      expect(got.other).toBeUndefined();
      expect(fmt(got.status!)).toBe(fmt(c.expect));
    });
  }
});

// ---- the kernel path in the guest ---------------------------------------------------------------

describe.skipIf(missing !== undefined)("NVMe: our client (vfio) vs the kernel's nvme driver and nvme-cli", () => {
  const bdf = process.env.WD_NVME_DEVICE ?? "";
  let deviceFdsBefore: string[] = [];

  /** Opens our client on vfio, runs fn, closes it, and checks that nothing of the device stays open. */
  async function withOurs<T>(fn: (nvme: Nvme) => T): Promise<T> {
    bindVfio(bdf);
    const before = deviceFds();
    const nvme = await Nvme.open({ backend: "vfio", address: bdf, ioQueues: 1, ioDepth: 32 });
    try {
      return fn(nvme);
    } finally {
      nvme.close();
      const left = deviceFds().filter((d) => !before.includes(d));
      if (left.length) throw new Error(`after Nvme.close() this process still holds: ${left.join(", ")}`);
    }
  }

  const tmp = "/tmp/wd-peers-pattern.bin";

  function writeOurs(n: Nvme, r: Region, seed: number) {
    const bs = n.blockSize;
    using buf = n.device.alloc(r.blocks * bs, "peers write");
    buf.bytes.set(pattern(r.lba, r.blocks, bs, seed));
    n.write(r.lba, r.blocks, buf);
    n.flush();
  }

  function readOurs(n: Nvme, r: Region): Uint8Array {
    using buf = n.device.alloc(r.blocks * n.blockSize, "peers read");
    n.read(r.lba, r.blocks, buf);
    return buf.bytes.slice(0, r.blocks * n.blockSize);
  }

  const ourWrite = (r: Region, seed: number) => ({ side: "ours", command: `Nvme.write(LBA ${r.lba}, ${r.blocks} blocks, pattern ${seed}) + flush via vfio` });
  const ourRead = (r: Region) => ({ side: "ours", command: `Nvme.read(LBA ${r.lba}, ${r.blocks} blocks) via vfio` });

  beforeAll(() => {
    const lacking = guestToolsMissing();
    if (lacking) throw new Error(lacking);
    bindVfio(bdf);
    // Bun opens some descriptors of its own (an eventfd) the first time it spawns a process: do
    // that once before taking the baseline.
    run(["true"]);
    deviceFdsBefore = deviceFds();
  });

  afterAll(() => {
    // Leave the function as the harness bound it, for the test files that run after this one.
    bindVfio(bdf);
  });

  test(
    "identify controller and namespace: every field both report is equal",
    async () => {
      const ours = await withOurs((n) => ({ ctrl: controllerAsCli(n.identifyController()), ns: namespaceAsCli(n.identifyNamespace(1)) }));
      const k = bindKernel(bdf);
      const kc = nvmeCliJson("id-ctrl", k.ctrl);
      const kn = nvmeCliJson("id-ns", k.ns);
      const ctrl = compareRecords(
        "identify controller",
        { name: "ours", command: `Identify CNS 01h via vfio (Nvme.identifyController) on ${bdf}`, data: ours.ctrl },
        { name: "kernel", command: kc.command, data: parseCliJson(kc.text) },
        REQUIRED_CTRL,
      );
      const ns = compareRecords(
        "identify namespace",
        { name: "ours", command: `Identify CNS 00h NSID 1 via vfio (Nvme.identifyNamespace) on ${bdf}`, data: ours.ns },
        { name: "kernel", command: kn.command, data: parseCliJson(kn.text) },
        REQUIRED_NS,
      );
      console.log(
        `identify: ${ctrl.compared.length} controller and ${ns.compared.length} namespace fields compared; ` +
          `only nvme-cli prints: ${[...ctrl.onlyIn.kernel!, ...ns.onlyIn.kernel!].join(" ") || "-"}; only we decode: ${[...ctrl.onlyIn.ours!, ...ns.onlyIn.ours!].join(" ") || "-"}`,
      );
      expect([...ctrl.mismatches, ...ns.mismatches]).toEqual([]);
      for (const f of ["vid", "ssvid", "sn", "mn", "fr", "mdts", "nn"]) expect(ctrl.compared).toContain(f);
      for (const f of ["nsze", "ncap", "nuse", "flbas", "lbafs[0].ds", "lbafs[0].ms"]) expect(ns.compared).toContain(f);
      // The same rules the sim model is held to, on both views of the QEMU controller.
      expect(identifyProblems("ours", ours.ctrl, ours.ns)).toEqual([]);
      expect(identifyProblems("kernel", parseCliJson(kc.text), parseCliJson(kn.text))).toEqual([]);
    },
    LONG,
  );

  test(
    "data: blocks our client writes, the kernel reads back (dd iflag=direct) byte for byte",
    async () => {
      const { nsze, bs } = await withOurs((n) => {
        regions(Number(n.blocks)).forEach((r, i) => writeOurs(n, r, 10 + i));
        return { nsze: Number(n.blocks), bs: n.blockSize };
      });
      const k = bindKernel(bdf);
      const problems: string[] = [];
      regions(nsze).forEach((r, i) => {
        const got = ddRead(k.ns, r.lba, r.blocks, bs);
        const d = firstDifference(pattern(r.lba, r.blocks, bs, 10 + i), got.stdout, r.lba, bs, ourWrite(r, 10 + i), { side: "kernel", command: got.command });
        if (d) problems.push(d);
      });
      expect(problems).toEqual([]);
    },
    LONG,
  );

  test(
    "data: blocks the kernel writes (dd oflag=direct), our client reads back byte for byte",
    async () => {
      const info = await withOurs((n) => ({ nsze: Number(n.blocks), bs: n.blockSize }));
      const k = bindKernel(bdf);
      const written = regions(info.nsze).map((r, i) => ddWrite(k.ns, r.lba, pattern(r.lba, r.blocks, info.bs, 20 + i), info.bs, tmp).command);
      const problems = await withOurs((n) =>
        regions(info.nsze).flatMap((r, i) => {
          const d = firstDifference(pattern(r.lba, r.blocks, info.bs, 20 + i), readOurs(n, r), r.lba, info.bs, { side: "kernel", command: written[i]! }, ourRead(r));
          return d ? [d] : [];
        }),
      );
      expect(problems).toEqual([]);
    },
    LONG,
  );

  test(
    "errors: past the end, unsupported opcodes, invalid queue ids give the same status on both paths",
    async () => {
      const ours = await withOurs((n) => ({ nsze: n.blocks, results: ERROR_CASES.map((c) => ourStatus(n, c)) }));
      const k = bindKernel(bdf);
      const problems: string[] = [];
      ERROR_CASES.forEach((c, i) => {
        const o = ours.results[i]!;
        const kr = passthruStatus(c.kernel(k, ours.nsze));
        const ks = { sct: kr.sct, sc: kr.sc, dnr: kr.dnr };
        const os = o.status ? fmt(o.status) : `no status (${o.other})`;
        if (os !== fmt(ks)) problems.push(`${c.name}: ours ${os} [${o.command}] != kernel ${fmt(ks)} [${kr.command}: ${kr.text}]`);
        else if (fmt(ks) !== fmt(c.expect)) problems.push(`${c.name}: both give ${fmt(ks)}, QEMU 7.2 was seen to give ${fmt(c.expect)} [${kr.command}]`);
      });
      expect(problems).toEqual([]);
    },
    LONG,
  );

  test(
    "rebinding vfio-pci <-> nvme three times loses no data and leaks no descriptor",
    async () => {
      const cycles = 3;
      let nsze = 0;
      let bs = 0;
      const w = (n: number) => witness(n);
      // The witness region is written once and must survive every move.
      await withOurs((n) => {
        nsze = Number(n.blocks);
        bs = n.blockSize;
        writeOurs(n, w(nsze), 99);
      });
      const counts: number[] = [];
      const problems: string[] = [];
      for (let c = 1; c <= cycles; c++) {
        const r = regions(nsze)[c % 6]!;
        await withOurs((n) => writeOurs(n, r, 100 + c));
        let k = bindKernel(bdf);
        for (const [reg, seed, src] of [
          [r, 100 + c, ourWrite(r, 100 + c)],
          [w(nsze), 99, ourWrite(w(nsze), 99)],
        ] as const) {
          const got = ddRead(k.ns, reg.lba, reg.blocks, bs);
          const d = firstDifference(pattern(reg.lba, reg.blocks, bs, seed), got.stdout, reg.lba, bs, src, { side: "kernel", command: got.command });
          if (d) problems.push(`cycle ${c}: ${d}`);
        }
        const kw = ddWrite(k.ns, r.lba, pattern(r.lba, r.blocks, bs, 200 + c), bs, tmp);
        await withOurs((n) => {
          for (const [reg, seed, src] of [
            [r, 200 + c, { side: "kernel", command: kw.command }],
            [w(nsze), 99, ourWrite(w(nsze), 99)],
          ] as const) {
            const d = firstDifference(pattern(reg.lba, reg.blocks, bs, seed), readOurs(n, reg), reg.lba, bs, src, ourRead(reg));
            if (d) problems.push(`cycle ${c}: ${d}`);
          }
        });
        k = bindKernel(bdf);
        expect(driverOf(bdf)).toBe("nvme");
        bindVfio(bdf);
        expect(deviceFds().filter((d) => !deviceFdsBefore.includes(d))).toEqual([]);
        counts.push(openFds().size);
      }
      expect(problems).toEqual([]);
      // Descriptors of the whole process: after the first cycle (lazily opened things settle) the
      // count may not grow from one cycle to the next.
      console.log(`open descriptors after each cycle: ${counts.join(", ")} (device descriptors before: ${deviceFdsBefore.length})`);
      for (let i = 1; i < counts.length; i++) expect(counts[i]!).toBeLessThanOrEqual(counts[0]!);
    },
    LONG,
  );
});
