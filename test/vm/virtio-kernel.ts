// The kernel's side of the virtio-blk cross-check (test/peers/virtio-blk-peers.test.ts) and of the
// virtio-blk figures of bench:vm: loading the kernel's virtio_pci and virtio_blk (listed by the
// peers archive), moving the PCI function to virtio-pci and finding virtio_blk's disk.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { GUEST_VIRTIO_MODULE_LIST } from "./guest-tools.ts";
import { driverOf, run, unbind } from "./kernel-path.ts";

function waitFor<T>(what: string, limitMs: number, done: () => T | undefined | false): T {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = done();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`gave up after ${limitMs} ms waiting for ${what}`);
    Bun.sleepSync(20);
  }
}

export function loadVirtioModules(): void {
  for (const m of readFileSync(GUEST_VIRTIO_MODULE_LIST, "utf8").split("\n").filter(Boolean)) {
    const name = m.split("/").pop()!.replace(/\.ko$/, "").replace(/-/g, "_");
    if (existsSync(`/sys/module/${name}`)) continue;
    const r = run(["insmod", m]);
    if (r.code !== 0) throw new Error(`${r.command} exited ${r.code}: ${r.stderr.trim()}`);
  }
}

/** Moves the function to virtio-pci and waits for virtio_blk's disk; returns its name ("vda"). */
export function bindVirtioKernel(bdf: string): string {
  loadVirtioModules();
  if (driverOf(bdf) !== "virtio-pci") {
    unbind(bdf);
    writeFileSync(`/sys/bus/pci/devices/${bdf}/driver_override`, "\n"); // empty: match by id table again
    writeFileSync("/sys/bus/pci/drivers_probe", bdf);
    waitFor(`${bdf} to bind to virtio-pci`, 15_000, () => driverOf(bdf) === "virtio-pci");
  }
  const disk = waitFor(`${bdf}'s virtio_blk disk in sysfs`, 15_000, () => {
    const vdev = readdirSync(`/sys/bus/pci/devices/${bdf}`).find((n) => /^virtio\d+$/.test(n));
    if (vdev === undefined || !existsSync(`/sys/bus/pci/devices/${bdf}/${vdev}/block`)) return undefined;
    return readdirSync(`/sys/bus/pci/devices/${bdf}/${vdev}/block`).find((n) => /^vd[a-z]+$/.test(n));
  });
  waitFor(`/dev/${disk}`, 15_000, () => existsSync(`/dev/${disk}`));
  return disk;
}
