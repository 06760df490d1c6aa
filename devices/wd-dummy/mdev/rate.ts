// Requests/s of wd-dummy over VFIO-MDEV, for the doorbell choice in wd_dummy_mdev.c. In the test:vm
// guest (root, module loaded):
//   bun devices/wd-dummy/mdev/rate.ts [uuid]
// For each worker setting (module parameters under /sys/module/wd_dummy_mdev/parameters) and each
// doorbell path it runs 4 KiB copies at depth 1 and in batches of 32 and prints requests/s:
//   mmap     the client's own doorbell: a store into the mmapped page (the worker finds it by polling)
//   trapped  the same, plus a pwrite(2) of the head to offset 0x08 of region 0: a trapped write that
//            wakes the worker at once (choice (b), a system call per doorbell)
import { readFileSync, writeFileSync } from "node:fs";
import { DescStatus, WdDummyDevice } from "@warpdrive/wd-dummy-generated";
import { sys } from "@warpdrive/runtime/sys/libc";

const PARAMS = "/sys/module/wd_dummy_mdev/parameters";
const uuid = process.argv[2] ?? process.env.WD_DEVICE_WD_DUMMY;
const settings: Record<string, Record<string, number>> = {
  "default (spin 50 us, naps 50 us for 20 ms, then 1 ms)": { spin_us: 50, nap_us: 50, naps_ms: 20, idle_us: 1000 },
  "always polling (spin 1 s)": { spin_us: 1_000_000, nap_us: 50, naps_ms: 20, idle_us: 1000 },
  "no spin, 1 ms naps only": { spin_us: 0, nap_us: 1000, naps_ms: 0, idle_us: 1000 },
};
const saved = Object.fromEntries(Object.keys(settings[Object.keys(settings)[0]]).map((k) => [k, readFileSync(`${PARAMS}/${k}`, "utf8").trim()]));

using dev = await WdDummyDevice.open({ backend: "vfio", address: uuid });
const q = dev.requestQueue("cmd");
const src = dev.alloc(32 * 4096, "src");
const dst = dev.alloc(32 * 4096, "dst");
const fd = (dev.device.backend as unknown as { fd: number }).fd;
const word = new Uint8Array(4);

function rate(n: number, batch: number, trapped: boolean): number {
  const t0 = performance.now();
  for (let done = 0; done < n; done += batch) {
    for (let i = 0; i < batch; i++) q.send({ src: src.ref(i * 4096, 4096), dst: dst.ref(i * 4096, 4096), size: 4096 });
    q.flush();
    if (trapped) {
      new DataView(word.buffer).setUint32(0, dev.queue.head.read(), true);
      sys.pwrite(fd, word, 0x08, "doorbell");
    }
    for (let i = 0; i < batch; i++) if (q.recvSync(5000).status !== DescStatus.DONE) throw new Error("copy failed");
  }
  return n / ((performance.now() - t0) / 1000);
}

try {
  for (const [name, s] of Object.entries(settings)) {
    for (const [k, v] of Object.entries(s)) writeFileSync(`${PARAMS}/${k}`, String(v));
    for (const trapped of [false, true]) {
      rate(64, 32, trapped);
      const qd1 = rate(400, 1, trapped);
      const b32 = rate(3200, 32, trapped);
      console.log(`${name.padEnd(56)} ${trapped ? "trapped" : "mmap   "}  depth 1: ${qd1.toFixed(0).padStart(6)} req/s   batches of 32: ${b32.toFixed(0).padStart(6)} req/s`);
    }
  }
} finally {
  for (const [k, v] of Object.entries(saved)) writeFileSync(`${PARAMS}/${k}`, v);
}
