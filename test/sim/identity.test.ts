// Sim device identity: every open sim device in the process has its own address, in the main
// thread and in Workers (each Worker has its own copy of the runtime's module state), and an
// explicit address names one device at a time.
import { expect, test } from "bun:test";
import { ConfigError, Device } from "@warpdrive/runtime";
import { ringSpec } from "./models/specs.ts";
import { readdirSync, readlinkSync } from "node:fs";
import { ourMapLines } from "../helpers/proc.ts";

/** memfd register files of sim devices (a Worker's own event loop has eventfds that close
 *  whenever its thread is torn down, so those are not counted). */
const memfds = () =>
  readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).includes("memfd:wd ");
    } catch {
      return false;
    }
  }).length;

const workerUrl = new URL("./models/open-in-worker.ts", import.meta.url).href;

function next(w: Worker): Promise<string> {
  return new Promise((resolve, reject) => {
    w.onmessage = (e) => resolve(e.data as string);
    w.onerror = (e) => reject(new Error(e.message));
  });
}

test("devices in one thread: distinct addresses; an explicit address in use is refused", async () => {
  const a = await Device.open(ringSpec(), { backend: "sim" });
  const n = Number(a.address.slice(a.address.lastIndexOf("/") + 1));
  const taken = `sim:ring-test/${n + 1}`; // the number the counter would hand out next
  const b = await Device.open(ringSpec(), { backend: "sim", address: taken });
  try {
    await expect(Device.open(ringSpec(), { backend: "sim", address: taken })).rejects.toThrow(ConfigError);
    await expect(Device.open(ringSpec(), { backend: "sim", address: taken })).rejects.toThrow(`sim device ${taken} is already open in this thread`);
    const c = await Device.open(ringSpec(), { backend: "sim" });
    expect(new Set([a.address, b.address, c.address]).size).toBe(3); // the counter skipped `taken`
    c.close();
  } finally {
    a.close();
    b.close();
  }
  const again = await Device.open(ringSpec(), { backend: "sim", address: taken }); // free once closed
  again.close();
});

test("devices opened in different Workers have distinct addresses; closing before terminate leaves nothing", async () => {
  const fds = memfds();
  const main = await Device.open(ringSpec(), { backend: "sim" });
  const workers = [new Worker(workerUrl), new Worker(workerUrl)];
  try {
    const addresses = await Promise.all(workers.map(next));
    expect(addresses[0]).toMatch(/^sim:wd-dummy\/\d+\.\d+$/);
    expect(new Set([...addresses, main.address]).size).toBe(3);
    for (const w of workers) {
      const closed = next(w);
      w.postMessage("close");
      expect(await closed).toBe("closed");
    }
  } finally {
    // wait until each Worker is gone: its event loop's own descriptors close with it, and later
    // test files in this process count descriptors
    await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
      w.addEventListener("close", () => resolve());
      w.terminate();
    })));
    main.close();
  }
  expect(ourMapLines()).toEqual([]);
  expect(memfds()).toBe(fds);
});
