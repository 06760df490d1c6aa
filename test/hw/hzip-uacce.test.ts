// hzip on UACCE, what only this backend has: the kernel's sysfs view of the parent
// (devices/hzip/uacce/), the queue manager's user ABI seen raw (SET_QP_INFO, the queue number from
// SET_QP_CTX in every completion, the 64-bit doorbell word at MMIO 0x1000, the rings at the start of
// DUS), one queue pair per open with available_instances as the allocator, the example, and the
// parent module removed with a queue open. Runs in the VM guest's uacce run (WD_BACKEND=uacce).
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, inflateRawSync } from "node:zlib";
import { decodeQmDoorbellV2, listUacceDevices, UacceError, UacceQueue, sys } from "@warpdrive/runtime";
import { Hzip } from "@warpdrive/hzip";
import { SQE_SIZE } from "@warpdrive/hzip-generated/constants";
import { same, sample } from "./hzip-samples.ts";

const onUacce = process.env.WD_BACKEND === "uacce";
const API = "hzip_qm_v2";
const DUS_SIZE = 16 << 20;
const opened: Hzip[] = [];
afterEach(() => {
  for (const z of opened.splice(0)) z.close();
});
async function openHzip(): Promise<Hzip> {
  const z = await Hzip.open({ backend: "uacce" });
  opened.push(z);
  return z;
}
const info = () => listUacceDevices().find((d) => d.api === API)!;

describe.skipIf(!onUacce)("hzip on UACCE", () => {
  test("sysfs: api hzip_qm_v2, no SVA, the three formats, two MMIO pages and a 16 MiB DUS per queue", () => {
    const d = info();
    expect(d).toBeDefined();
    expect(d.name).toMatch(/^hzip-\d+$/);
    expect([d.flags, d.sva, d.algorithms, d.mmioSize, d.dusSize]).toEqual([0, false, ["deflate", "zlib", "gzip"], 0x2000, DUS_SIZE]);
  });

  test("the QM ioctls seen raw: SET_QP_INFO reports 128-byte SQEs and 1024-entry rings; SET_QP_CTX writes back the queue number", async () => {
    const z = await openHzip();
    const bq = z.client.device.backend as UacceQueue;
    const infoBytes = new Uint8Array(16);
    sys.sys.ioctl(bq.fd, sys.uacceAbi.UACCE_CMD_QM_SET_QP_INFO, infoBytes, "UACCE_CMD_QM_SET_QP_INFO");
    const v = new DataView(infoBytes.buffer);
    expect([v.getUint32(0, true), v.getUint16(4, true), v.getUint16(6, true)]).toEqual([SQE_SIZE, 1024, 1024]);
    const ctx = new Uint8Array(4);
    sys.sys.ioctl(bq.fd, sys.uacceAbi.UACCE_CMD_QM_SET_QP_CTX, ctx, "UACCE_CMD_QM_SET_QP_CTX");
    expect(new DataView(ctx.buffer).getUint16(0, true)).toBe(z.queueNumber);
  });

  test("MMIO page 0 shows the identity registers; after a request the word at 0x1000 is the SQ doorbell with the queue's number", async () => {
    const z = await openHzip();
    expect(z.client.qm.version.read()).toBe(0x00010000);
    expect(z.client.qm.qpNum.read()).toBe(4);
    expect(z.client.qm.maxDepth.read()).toBe(1024);
    const data = sample(3000, "text", 4);
    expect(same(gunzipSync(z.compress(data, "gzip")), data)).toBe(true);
    const db = decodeQmDoorbellV2(z.client.device.region("qm").io.read64(0x1000));
    expect(db).toEqual({ qn: z.queueNumber, cmd: 0, index: 1, priority: 0 });
    expect(z.client.qm.completed.read()).toBe(1);
    // the entry the device wrote back is at the start of DUS: the SQ the kernel placed there
    const dus = z.qp.queue.sqBuffer;
    expect(dus.size).toBe(1024 * SQE_SIZE);
    expect(new DataView(dus.bytes.buffer, dus.bytes.byteOffset).getUint32(16, true)).toBe(data.length);
  });

  test("each open is one queue pair with its own number; all of them at once work side by side; one more is EBUSY", async () => {
    const n = info().available!;
    expect(n).toBeGreaterThan(1);
    const zs: Hzip[] = [];
    for (let i = 0; i < n; i++) zs.push(await openHzip());
    expect(new Set(zs.map((z) => z.queueNumber)).size).toBe(n);
    expect(info().available).toBe(0);
    const err = await Hzip.open({ backend: "uacce" }).catch((e) => e);
    expect(err).toBeInstanceOf(UacceError);
    expect((err as UacceError).errno).toBe(16);
    const inputs = zs.map((_, i) => sample(20_000 + i, "text", 50 + i));
    zs.forEach((z, i) => {
      using buf = z.alloc(65_536);
      buf.bytes.set(inputs[i]!);
      z.submit("compress", "gzip", buf.ref(0, inputs[i]!.length), buf.ref(32_768, 32_768));
      z.flush();
      const r = z.reap();
      expect(r.statusName).toBe("OK");
      expect(same(gunzipSync(buf.bytes.subarray(32_768, 32_768 + r.produced)), inputs[i]!)).toBe(true);
    });
  });

  test("requests wrap the 1024-entry rings: 1100 requests, a few in flight at a time, every one checked", async () => {
    const z = await openHzip();
    const data = sample(300, "text", 9);
    using buf = z.alloc(8 * 8192);
    for (let s = 0; s < 8; s++) buf.bytes.set(data, s * 8192);
    let sent = 0;
    let got = 0;
    const slotOf = new Map<number, number>();
    const free = [0, 1, 2, 3, 4, 5, 6, 7];
    while (got < 1100) {
      while (sent < 1100 && free.length > 0) {
        const s = free.pop()!;
        slotOf.set(z.submit("compress", "deflate", buf.ref(s * 8192, data.length), buf.ref(s * 8192 + 4096, 4096)), s);
        sent++;
      }
      z.flush();
      const r = z.reap();
      expect(r.statusName).toBe("OK");
      const s = slotOf.get(r.tag)!;
      slotOf.delete(r.tag);
      expect(same(new Uint8Array(inflateRawSync(buf.bytes.subarray(s * 8192 + 4096, s * 8192 + 4096 + r.produced))), data)).toBe(true);
      free.push(s);
      got++;
    }
    expect(z.client.qm.completed.read()).toBe(1100);
  });
});

describe.skipIf(!onUacce)("the compress example on UACCE", () => {
  test("bun examples/compress.ts FILE --backend uacce: node:zlib and the accelerator give the input back", () => {
    const dir = mkdtempSync(join(tmpdir(), "wd-hzip-uacce-"));
    const file = join(dir, "input.txt");
    writeFileSync(file, sample(600_000, "text", 12));
    const r = Bun.spawnSync(["bun", "examples/compress.ts", file, "--backend", "uacce", "--chunk", String(128 * 1024)], { stdout: "pipe", stderr: "pipe" });
    rmSync(dir, { recursive: true, force: true });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    const out = r.stdout.toString();
    expect(out).toMatch(/^uacce:hzip-\d+: compressing /);
    expect(out).toContain("node:zlib gunzip: identical to the input");
    expect(out).toContain("hzip decompress: identical to the input");
  });
});

// Last: it unloads the parent module and loads it again for whatever runs after.
describe.skipIf(!onUacce)("the hzip parent module removed with a queue open", () => {
  test("a waiting reap gets a typed UacceError (ENXIO), not SIGBUS; the memory reads zeros; close works; the module loads again", async () => {
    const ko = readFileSync("/etc/wd-uacce-modules", "utf8").split("\n").find((l) => l.endsWith("/hzip_uacce.ko"))!;
    expect(ko).toBeDefined();
    const z = await Hzip.open({ backend: "uacce" });
    const name = z.address.replace(/^uacce:/, "");
    const buf = z.alloc(8192, "buf");
    buf.bytes.fill(1, 0, 64);
    // the worker leaves the ring alone, so the request waits; the module goes away meanwhile
    const paused = "/sys/module/hzip_uacce/parameters/paused";
    Bun.spawnSync(["sh", "-c", `echo 1 > ${paused}`]);
    z.submit("compress", "gzip", buf.ref(0, 64), buf.ref(4096, 4096));
    z.flush();
    const rm = Bun.spawn(["sh", "-c", "sleep 1; rmmod hzip_uacce"], { stdout: "pipe", stderr: "pipe" });
    let err: unknown;
    try {
      z.reap(30_000);
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
    expect(z.client.qm.version.read()).toBe(0);
    expect(() => z.client.device.reset()).toThrow(UacceError);
    z.close();
    const r = Bun.spawnSync(["insmod", ko], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(listUacceDevices().some((d) => d.api === API && d.available === 4)).toBe(true);
  });
});
