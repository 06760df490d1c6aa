// The progress line of the long-running commands: redrawn in place on a terminal; in a log, a line
// per step and a heartbeat at most, never a line per update.
import { expect, test } from "bun:test";
import { progress, stepLog } from "@warpdrive/progress";

function fakeStream() {
  const writes: string[] = [];
  return { writes, stream: { write: (t: string) => writes.push(t), isTTY: false } };
}

test("terminal: the step is redrawn in place with its share and the elapsed time; lasting lines go above it", () => {
  let t = 0;
  const { writes, stream } = fakeStream();
  const p = progress("bench", { stream, tty: true, now: () => t, redrawMs: 100, tick: false });
  p.update("queue", 0, 4);
  expect(writes).toEqual(["\r\x1b[K[bench] queue 0% (0/4)  0:00"]);
  t = 50;
  p.update("queue", 1, 4); // within the redraw interval, same step: not drawn
  expect(writes.length).toBe(1);
  t = 61_000;
  p.update("queue", 2, 4);
  expect(writes.at(-1)).toBe("\r\x1b[K[bench] queue 50% (2/4)  1:01");
  p.log("queue: 4 figures");
  // cleared, the lasting line, then the progress line again
  expect(writes.slice(-3)).toEqual(["\r\x1b[K", "queue: 4 figures\n", "\r\x1b[K[bench] queue 50% (2/4)  1:01"]);
  p.update("codec", 3, 4); // a new step is drawn at once
  expect(writes.at(-1)).toBe("\r\x1b[K[bench] codec 75% (3/4)  1:01");
  p.end("6 items");
  expect(writes.slice(-2)).toEqual(["\r\x1b[K", "[bench] 6 items (1:01)\n"]);
  p.update("late", 1, 1); // nothing after the end
  expect(writes.at(-1)).toBe("[bench] 6 items (1:01)\n");
});

test("log: one line per step, then at most one per heartbeat; no escape codes", () => {
  let t = 0;
  const { writes, stream } = fakeStream();
  const p = progress("vm", { stream, tty: false, now: () => t, heartbeatMs: 15_000, tick: false });
  p.update("building guest image: apt-get download a");
  for (let i = 0; i < 50; i++) {
    t += 100;
    p.update("building guest image: apt-get download a", i, 50);
  }
  expect(writes).toEqual(["[vm] building guest image: apt-get download a  0:00\n"]);
  t = 16_000;
  p.update("building guest image: apt-get download a", 49, 50);
  expect(writes.at(-1)).toBe("[vm] building guest image: apt-get download a 98% (49/50)  0:16\n");
  p.update("booting");
  p.log("guest run: PASS");
  p.end();
  expect(writes.slice(-2)).toEqual(["[vm] booting  0:16\n", "guest run: PASS\n"]);
  expect(writes.join("").includes("\x1b")).toBe(false);
});

test("by default a stream that is not a terminal gets the log form", () => {
  const { writes, stream } = fakeStream();
  const p = progress("fuzz", { stream, tick: false });
  p.update("validator", 1, 30);
  p.end("done");
  expect(writes.every((w) => !w.includes("\r"))).toBe(true);
  expect(writes[0]).toStartWith("[fuzz] validator 3% (1/30)");
});

test("stepLog: indented lines are sub-steps of the last plain line; plain lines stay", () => {
  const { writes, stream } = fakeStream();
  const log = stepLog(progress("vm", { stream, tty: false, now: () => 0, tick: false }));
  log("building guest image x");
  log("  apt-get download a");
  log("  apt-get download b");
  log("guest run: PASS");
  // in a log the sub-steps wait for the heartbeat: one line per lasting line, nothing else
  expect(writes).toEqual(["building guest image x\n", "guest run: PASS\n"]);
  // on a terminal they are the progress line's detail
  const term = fakeStream();
  const tlog = stepLog(progress("vm", { stream: term.stream, tty: true, now: () => 0, tick: false, redrawMs: 0 }));
  tlog("building guest image x");
  tlog("  apt-get download a");
  expect(term.writes.at(-1)).toBe("\r\x1b[K[vm] building guest image x: apt-get download a  0:00");
});

test("a step with no updates still shows it is alive (the ticking heartbeat)", async () => {
  const { writes, stream } = fakeStream();
  const p = progress("vm", { stream, tty: true });
  p.update("booting the guest");
  const before = writes.length;
  // bounded wait for the one-second redraw; not a timing assertion
  for (let i = 0; i < 50 && writes.length === before; i++) await Bun.sleep(100);
  p.end();
  expect(writes.length).toBeGreaterThan(before);
  expect(writes[before]).toStartWith("\r\x1b[K[vm] booting the guest");
});
