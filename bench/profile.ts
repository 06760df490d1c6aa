// `bun bench/profile.ts <case> [requests]`: runs one generated-client loop of the queue benchmark on
// the native consumer under JSC's sampling profiler and prints where the time goes (top functions
// and bytecodes): how a figure that misses its goal is explained.
// Cases: queue.client.batch32, queue.client.batch1, queue.client.roundtrip.
import { profile } from "bun:jsc";
import { WdDummyDevice } from "@warpdrive/wd-dummy";
import { clientBatch1, clientBatch32, clientRoundTrip } from "./items/queue.ts";
import { nativeWdDummyBackend } from "./native/backend.ts";

const loops = { "queue.client.batch32": clientBatch32, "queue.client.batch1": clientBatch1, "queue.client.roundtrip": clientRoundTrip };
const which = process.argv[2] as keyof typeof loops;
const loop = loops[which];
if (loop === undefined) {
  console.error(`usage: bun bench/profile.ts <${Object.keys(loops).join("|")}> [requests]`);
  process.exit(2);
}
const n = Number(process.argv[3] ?? 2_000_000);
if (!Number.isInteger(n) || n < 1000) {
  console.error(`requests must be an integer >= 1000, got ${process.argv[3]}`);
  process.exit(2);
}

using dev = await WdDummyDevice.open({ backend: nativeWdDummyBackend() });
using src = dev.alloc(4096, "src");
using dst = dev.alloc(4096, "dst");
using q = dev.requestQueue("cmd");
const s = src.ref(0, 64);
const d = dst.ref(0, 64);
loop(q, s, d, Math.min(n, 200_000)); // warm up: the profile is of steady state
let ns = 0;
const r = await profile(() => {
  ns = loop(q, s, d, n);
}, 50);
console.log(`${which}: ${ns.toFixed(1)} ns per request over ${n} requests\n`);
const top = (text: string, lines: number) => text.trim().split("\n").slice(0, lines).join("\n");
console.log(top(r.functions, 25));
console.log();
console.log(top(r.bytecodes, 40));
