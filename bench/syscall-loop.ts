// Run under strace by items/syscalls.ts: a steady send/recv loop on wd-dummy (sim), bracketed by
// two getppid() calls so the tracer can count exactly the system calls the client thread made
// inside the loop. Then the reference: the same number of requests, each one write() to
// /dev/null, as a kernel-driver interface would cost at least.
import { dlopen, FFIType } from "bun:ffi";
import { closeSync, openSync, writeSync } from "node:fs";
import { WdDummyDevice } from "@warpdrive/wd-dummy";

const libc = dlopen("libc.so.6", { getppid: { args: [], returns: FFIType.i32 } });
const mark = () => libc.symbols.getppid();
const n = Number(process.argv[2] ?? 100_000);

using dev = await WdDummyDevice.open({ backend: "sim" });
using q = dev.requestQueue("cmd");
using src = dev.alloc(4096, "src");
using dst = dev.alloc(4096, "dst");
const s = src.ref(0, 64);
const d = dst.ref(0, 64);
const loop = (count: number) => {
  let done = 0;
  let sent = 0;
  while (done < count) {
    while (sent < count && q.inFlight < 32) q.send({ src: s, dst: d, size: 64, cookie: sent++ });
    q.flush();
    for (let c = q.recv(); c !== null; c = q.recv()) done++;
  }
};
loop(n / 10); // warm up: JIT, first-touch page faults, the model leaving its idle sleep

mark();
loop(n);
mark();

const fd = openSync("/dev/null", "w");
const buf = new Uint8Array(64);
mark();
for (let i = 0; i < n; i++) writeSync(fd, buf);
mark();
closeSync(fd);
