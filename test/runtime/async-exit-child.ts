// Child of async-queue.test.ts: awaits requests on an async queue that sleeps on its interrupt
// (the hzip sim raises one per completion), then leaves the device and its queues open. The
// process must exit by itself: the watcher thread is referenced only while a line is armed.
import { HzipPool } from "@warpdrive/hzip";

const z = await HzipPool.open({ backend: "sim", pairs: 2, buffers: 4 });
const text = new TextEncoder().encode("exit when done ".repeat(20_000));
for (let i = 0; i < 3; i++) await Promise.all([z.compress(text, "gzip", { level: 9 }), z.compress(text)]);
console.log(`done, wakeups ${(await import("@warpdrive/runtime/async/irq-watch")).irqWatcher.wakeups}`);
