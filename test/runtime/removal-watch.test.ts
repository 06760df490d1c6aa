// RemovalWatch (runtime/src/removal.ts) with a scripted removal signal: how often the hot path
// reads the signal, the event-loop timer, and that the device is told exactly once.
import { expect, test } from "bun:test";
import type { RemovalSignal } from "@warpdrive/runtime/backend";
import type { RemovalEvent } from "@warpdrive/runtime/errors";
import { EVERY, RemovalWatch } from "@warpdrive/runtime/removal";

class Scripted implements RemovalSignal {
  polls = 0;
  answer: RemovalEvent | undefined;
  readonly fds = [42];
  poll(): RemovalEvent | undefined {
    this.polls++;
    return this.answer;
  }
}

test("tick reads the signal only every EVERY-th call", () => {
  const s = new Scripted();
  const w = new RemovalWatch(s, () => {});
  try {
    for (let i = 0; i < EVERY - 1; i++) w.tick();
    expect(s.polls).toBe(0);
    w.tick(); // the first look is never held back by the time gate
    expect(s.polls).toBe(1);
  } finally {
    w.stop();
  }
});

test("look reads at once; a fired signal is reported once, then nothing is read any more", () => {
  const s = new Scripted();
  const fired: RemovalEvent[] = [];
  const w = new RemovalWatch(s, (e) => fired.push(e));
  w.look();
  expect([s.polls, fired.length]).toEqual([1, 0]);
  expect(w.fds).toEqual([42]);
  s.answer = "error";
  w.look();
  expect(fired).toEqual(["error"]);
  w.look();
  for (let i = 0; i < 4 * EVERY; i++) w.tick();
  expect(s.polls).toBe(2);
  expect(fired).toEqual(["error"]);
  expect(w.fds).toEqual([]); // a waiter has nothing more to poll
});

test("the timer finds a removal while nothing else runs, and stop() ends the looks", async () => {
  const s = new Scripted();
  let fired: RemovalEvent | undefined;
  const w = new RemovalWatch(s, (e) => (fired = e));
  s.answer = "removed";
  while (fired === undefined) await Bun.sleep(5);
  expect(fired).toBe("removed");
  const n = s.polls;
  const quiet = new Scripted();
  const w2 = new RemovalWatch(quiet, () => {});
  w2.stop();
  await Bun.sleep(100); // several timer periods: a stopped watch reads nothing
  expect(quiet.polls).toBe(0);
  expect(s.polls).toBe(n);
  w.stop();
});
