// Run by bench/items/syscalls.ts as `bun bench/syscall-child.ts <requests>`: counts the system calls
// every thread of this process makes — except the native consumer thread, which stands for the
// device — while the generated client sends and receives <requests> copies (ring kept full, doorbell
// per 32). Then the reference: one write() of 64 bytes to /dev/null per request.
//
// Method, with no tracer attached: one perf counter per thread on the kernel tracepoint
// raw_syscalls:sys_enter (perf_event_open, counting only, no samples), enabled just before the
// window and disabled just after it, from one native call each. Inherited counters also count
// threads started inside the window. Needs the tracepoint id from tracefs and permission to count
// it (root or CAP_PERFMON, or kernel.perf_event_paranoid <= 1 for one's own threads).
// The instrument's own cost: the main thread's ioctl that disables its counter is counted once;
// an empty window shows it, and that one call is subtracted.
// Prints one JSON line on stdout. With BUN_JSC_logGC=1 the parent counts garbage collections in the
// window from JSC's log between the WDMARK lines this writes to stderr.
import { existsSync, openSync, readdirSync, readFileSync, writeSync, closeSync } from "node:fs";
import { WdDummyDevice } from "@warpdrive/wd-dummy";
import { clientBatch32 } from "./items/queue.ts";
import { nativeWdDummyBackend, type NativeWdDummy } from "./native/backend.ts";
import { requireConsumerLib } from "./native/lib.ts";

const n = Number(process.argv[2] ?? 200_000);
const say = (o: object) => console.log(JSON.stringify(o));

const idFile = ["/sys/kernel/tracing/events/raw_syscalls/sys_enter/id", "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id"].find((f) => existsSync(f));
if (idFile === undefined) {
  say({ skipped: "tracefs is not mounted (no raw_syscalls/sys_enter/id): mount -t tracefs nodev /sys/kernel/tracing" });
  process.exit(0);
}
const tracepoint = Number(readFileSync(idFile, "utf8").trim());
const lib = requireConsumerLib();

using dev = await WdDummyDevice.open({ backend: nativeWdDummyBackend() });
const consumerTid = (dev.device.backend as NativeWdDummy).consumerTid;
using src = dev.alloc(4096, "src");
using dst = dev.alloc(4096, "dst");
const s = src.ref(0, 64);
const d = dst.ref(0, 64);
{
  // warm up: JIT tiers, first-touch page faults
  using q = dev.requestQueue("cmd");
  clientBatch32(q, s, d, Math.max(32_000, Math.round(n / 4)));
  clientBatch32(q, s, d, Math.max(32_000, Math.round(n / 4)));
}

const comm = (tid: string) => {
  try {
    return readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
};
const tids = readdirSync("/proc/self/task").filter((t) => Number(t) !== consumerTid);
const main = String(process.pid);
const fds = tids.map((t) => lib.wdc_syscall_counter(Number(t), tracepoint));
const failed = fds.findIndex((fd) => fd < 0);
if (failed >= 0) {
  say({ skipped: `perf_event_open on raw_syscalls:sys_enter failed for thread ${tids[failed]}: errno ${-fds[failed]} (needs root, CAP_PERFMON or kernel.perf_event_paranoid <= 1)` });
  process.exit(0);
}
// the main thread's counter goes on last and off first, so the other ioctls are not counted on it
const order = tids.map((t, i) => ({ t, fd: fds[i] })).sort((a, b) => (a.t === main ? 1 : 0) - (b.t === main ? 1 : 0));
const onFds = new Int32Array(order.map((x) => x.fd));
const offFds = new Int32Array([...order].reverse().map((x) => x.fd));

function window(fn: () => void): number[] {
  const before = order.map((x) => lib.wdc_counter_read(x.fd));
  if (lib.wdc_counters_enable(onFds, onFds.length, 1) !== 0) throw new Error("enabling the counters failed");
  fn();
  lib.wdc_counters_enable(offFds, offFds.length, 0);
  return order.map((x, i) => lib.wdc_counter_read(x.fd) - before[i]);
}

const empty = window(() => {});
writeSync(2, "WDMARK begin\n");
const ours = window(() => {
  using q = dev.requestQueue("cmd");
  clientBatch32(q, s, d, n);
});
writeSync(2, "WDMARK end\n");
const fd = openSync("/dev/null", "w");
const buf = new Uint8Array(64);
const ref = window(() => {
  for (let i = 0; i < n; i++) writeSync(fd, buf);
});
closeSync(fd);

const later = readdirSync("/proc/self/task").filter((t) => !tids.includes(t) && Number(t) !== consumerTid);
say({
  requests: n,
  tracepoint,
  consumerTid,
  threads: order.map((x, i) => ({ tid: Number(x.t), comm: comm(x.t), main: x.t === main, empty: empty[i], ours: ours[i], ref: ref[i] })),
  threadsStartedLater: later.map((t) => ({ tid: Number(t), comm: comm(t) })),
});
