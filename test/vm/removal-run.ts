// The removal boot of `bun run test:vm`: the same guest, but edu and NVMe each behind a PCIe root
// port (so they can be unplugged) and a QMP monitor on a socket. The guest test
// (test/vm/removal/removal.guest.ts) asks for device_del / device_add on its console while I/O is in
// flight; hotplug.ts carries them out. Also an mdev instance removed while busy (the wd-dummy mdev
// module is in the image). Reported by name with its own pass/fail counts, added to the total.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { mdevModuleArchive } from "./mdev-module.ts";
import { bootArgs, Hotplug, type Pluggable } from "./hotplug.ts";
import { CACHE_ROOT, runVm, tail } from "./vm.ts";
import type { Log } from "./guest-image.ts";

export const REMOVAL_TESTS = ["./test/vm/removal/removal.guest.ts"];

/** edu and NVMe on root ports rp-edu / rp-nvme (q35's PCIe root complex), pluggable by id. */
function pluggables(nvmeImage: string): Pluggable[] {
  return [
    { id: "edu0", props: { driver: "edu", bus: "rp-edu" } },
    { id: "nvme0", props: { driver: "nvme", bus: "rp-nvme", serial: "wd0001" }, file: nvmeImage },
  ];
}

export async function runRemovalSuite(o: { log: Log; timeout: number; verbose: boolean; filter?: string }): Promise<{ passed: number; failed: number }> {
  const { log } = o;
  const socket = join(CACHE_ROOT, "runs", `qmp-${process.pid}.sock`);
  rmSync(socket, { force: true });
  let hotplug: Hotplug | undefined;
  const onLine = (line: string) => hotplug?.onLine(line);
  const r = await runVm({
    kind: "test",
    name: "removal",
    timeout: o.timeout,
    verbose: o.verbose,
    log,
    qmpSocket: socket,
    // WDVM_REMOVAL_CYCLES=n: fewer NVMe cycles while working on this (default 20)
    env: process.env.WDVM_REMOVAL_CYCLES ? { WD_REMOVAL_CYCLES: process.env.WDVM_REMOVAL_CYCLES } : {},
    onLine,
    devices: (nvmeImage) => {
      const devs = pluggables(nvmeImage);
      hotplug = new Hotplug(socket, devs, log);
      return [
        "-device", "pcie-root-port,id=rp-edu,chassis=1,slot=1",
        "-device", "pcie-root-port,id=rp-nvme,chassis=2,slot=2",
        ...devs.flatMap(bootArgs),
      ];
    },
    bunArgs: ["--timeout", "60000", ...REMOVAL_TESTS, ...(o.filter !== undefined ? ["-t", o.filter] : [])],
    extraArchives: async (image, l) => {
      try {
        return [await mdevModuleArchive({ cacheRoot: CACHE_ROOT, image, log: l })];
      } catch (e) {
        l(`note: no wd-dummy mdev module in the removal boot (${(e as Error).message.split("\n")[0]}); its mdev test skips`);
        return [];
      }
    },
  });
  await hotplug?.close();
  rmSync(socket, { force: true });
  const rep = r.report;
  let passed = 0;
  let failed = 0;
  if (rep.kind === "test") {
    passed = rep.passed;
    failed = rep.failed;
    for (const c of rep.cases.filter((c) => c.status === "fail")) log(`  failed (removal): ${c.name}`);
    if (!rep.ok && rep.failed === 0) failed += 1;
  } else if (rep.ok) passed = 1;
  else failed = 1;
  for (const f of hotplug?.failures ?? []) log(`  removal boot: hotplug ${f}`);
  const del = hotplug?.removals ?? [];
  if (del.length) {
    const s = del.map((d) => d.seconds).sort((a, b) => a - b);
    const repeated = del.filter((d) => d.requests > 1).length;
    log(`removal boot: ${del.length} device_del, to DEVICE_DELETED median ${s[s.length >> 1]!.toFixed(1)} s, max ${s[s.length - 1]!.toFixed(1)} s; ${repeated} needed device_del again; ${hotplug!.keptNodes.length} old blockdev node(s) QEMU would not delete yet`);
  }
  log(`removal boot (${REMOVAL_TESTS.join(" ")}): ${rep.ok ? "PASS" : "FAIL"}, ${passed} passed, ${failed} failed (${rep.reason}), QEMU ${r.timings.qemu.toFixed(1)} s`);
  if (!rep.ok) console.error(`\n--- removal guest log tail (${r.logPath}) ---\n${tail(r.serialLog, 60)}\n---`);
  return { passed, failed };
}
