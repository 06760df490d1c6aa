// test/vm/hotplug.ts against a fake QMP server on a unix socket (host unit test, part of plain
// `bun test`): the guest's console lines become device_del (repeated until DEVICE_DELETED, as
// QEMU 7.2 drops a request the slot is not ready for) and device_add over a fresh blockdev node.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootArgs, Hotplug, Qmp } from "./hotplug.ts";

interface Fake {
  path: string;
  commands: { execute: string; arguments?: Record<string, unknown> }[];
  server: Server;
}

let dir = "";
let fake: Fake | undefined;

/** A QMP server that ignores the first `ignoreDel` device_del of each id, then reports DEVICE_DELETED. */
function fakeQmp(ignoreDel: number): Promise<Fake> {
  dir = mkdtempSync(join(tmpdir(), "wd-qmp-"));
  const path = join(dir, "qmp.sock");
  const commands: Fake["commands"] = [];
  const dels = new Map<string, number>();
  const server = createServer((s: Socket) => {
    s.write(`${JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2 } }, capabilities: [] } })}\n`);
    let buf = "";
    s.on("data", (d) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const msg = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        commands.push(msg);
        if (msg.execute === "device_add" && msg.arguments.drive === "nvme0-blk0") {
          s.write(`${JSON.stringify({ error: { class: "GenericError", desc: "node still in use" } })}\n`);
          continue;
        }
        s.write(`${JSON.stringify({ return: {} })}\n`);
        if (msg.execute === "device_del") {
          const id = msg.arguments.id as string;
          const n = (dels.get(id) ?? 0) + 1;
          dels.set(id, n);
          if (n > ignoreDel) s.write(`${JSON.stringify({ event: "DEVICE_DELETED", data: { device: id, path: `/machine/peripheral/${id}` } })}\n`);
        }
      }
    });
  });
  return new Promise((resolve) => server.listen(path, () => resolve({ path, commands, server })));
}

afterEach(() => {
  fake?.server.close();
  fake = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("bootArgs: a plain device, and a block device on a -blockdev node named after it", () => {
  expect(bootArgs({ id: "edu0", props: { driver: "edu", bus: "rp-edu" } })).toEqual(["-device", "edu,id=edu0,bus=rp-edu"]);
  expect(bootArgs({ id: "nvme0", props: { driver: "nvme", bus: "rp-nvme", serial: "wd0001" }, file: "/x/n.img" })).toEqual([
    "-blockdev", "driver=raw,node-name=nvme0-blk0,file.driver=file,file.filename=/x/n.img",
    "-device", "nvme,id=nvme0,drive=nvme0-blk0,bus=rp-nvme,serial=wd0001",
  ]);
});

test("Qmp: negotiates, returns results, turns an error answer into a rejection", async () => {
  fake = await fakeQmp(0);
  const q = await Qmp.connect(fake.path, 5000);
  expect(fake.commands[0]!.execute).toBe("qmp_capabilities");
  expect(await q.execute("query-status")).toEqual({});
  await expect(q.execute("device_add", { driver: "nvme", drive: "nvme0-blk0" })).rejects.toThrow("QMP: node still in use");
  q.close();
});

test("Hotplug: del is repeated until DEVICE_DELETED, add plugs over a fresh node; lines that are not requests are ignored", async () => {
  fake = await fakeQmp(1);
  const logged: string[] = [];
  const h = new Hotplug(fake.path, [
    { id: "edu0", props: { driver: "edu", bus: "rp-edu" } },
    { id: "nvme0", props: { driver: "nvme", bus: "rp-nvme", serial: "wd0001" }, file: "/x/n.img" },
  ], (m) => logged.push(m), 50);
  h.onLine("(pass) something else");
  h.onLine("WDVM hotplug del nvme0");
  h.onLine("WDVM hotplug add nvme0");
  h.onLine("WDVM hotplug del edu0");
  h.onLine("WDVM hotplug add edu0");
  h.onLine("WDVM hotplug del nosuch");
  await h.close();
  const seen = fake.commands.map((c) => `${c.execute}${c.arguments ? ` ${JSON.stringify(c.arguments)}` : ""}`);
  expect(seen).toEqual([
    "qmp_capabilities",
    'device_del {"id":"nvme0"}',
    'device_del {"id":"nvme0"}', // the first was dropped: asked again
    'blockdev-del {"node-name":"nvme0-blk0"}',
    'blockdev-add {"driver":"raw","node-name":"nvme0-blk1","file":{"driver":"file","filename":"/x/n.img"}}',
    'device_add {"driver":"nvme","bus":"rp-nvme","serial":"wd0001","id":"nvme0","drive":"nvme0-blk1"}',
    'device_del {"id":"edu0"}',
    'device_del {"id":"edu0"}',
    'device_add {"driver":"edu","bus":"rp-edu","id":"edu0"}',
  ]);
  expect(h.removals.map((r) => [r.id, r.requests])).toEqual([["nvme0", 2], ["edu0", 2]]);
  expect(h.failures).toEqual(["del nosuch: no pluggable device nosuch"]);
  expect(logged.some((l) => l.includes("nosuch"))).toBe(true);
});
