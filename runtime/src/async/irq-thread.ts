// The interrupt watcher's thread: blocks in poll() on the eventfds the main thread armed (plus a
// control eventfd that wakes it when the armed set changes) and posts the number of each fd that
// became readable. It never reads an interrupt eventfd: the main thread does that (IrqLine.take),
// so the counter, and the sim's pending flag, have one reader. A fired fd is disarmed here before
// the message goes out; the main thread re-arms it when it goes back to sleep.
//
// Shared words (Int32Array over a SharedArrayBuffer): [0] the control eventfd, [1..] armed slots,
// each 0 (free) or fd + 1.
import { libc, POLLIN, POLLNVAL } from "../sys/libc.ts";

declare const self: Worker;

self.onmessage = (ev: MessageEvent<{ words: SharedArrayBuffer }>) => {
  const words = new Int32Array(ev.data.words);
  const ctl = Atomics.load(words, 0);
  const slots = words.length - 1;
  const buf = new Uint8Array(8 * (slots + 1));
  const dv = new DataView(buf.buffer);
  const at = new Int32Array(slots + 1); // pollfd index -> slot
  const counter = new Uint8Array(8);
  self.postMessage({ started: true });
  for (;;) {
    let n = 0;
    dv.setInt32(0, ctl, true);
    dv.setInt16(4, POLLIN, true);
    dv.setInt16(6, 0, true);
    n = 1;
    for (let s = 1; s <= slots; s++) {
      const v = Atomics.load(words, s);
      if (v === 0) continue;
      dv.setInt32(8 * n, v - 1, true);
      dv.setInt16(8 * n + 4, POLLIN, true);
      dv.setInt16(8 * n + 6, 0, true);
      at[n] = s;
      n++;
    }
    const r = libc().poll(buf, n, -1);
    if (r <= 0) continue; // EINTR
    if (dv.getUint16(6, true) !== 0) libc().read(ctl, counter, 8); // drain: the armed set changed
    for (let i = 1; i < n; i++) {
      const rev = dv.getUint16(8 * i + 6, true);
      if (rev === 0) continue;
      const s = at[i]!;
      const v = dv.getInt32(8 * i, true) + 1;
      // Disarm before telling: the main thread re-arms only after it has read the counter.
      if (Atomics.compareExchange(words, s, v, 0) !== v) continue; // disarmed meanwhile
      if ((rev & POLLNVAL) !== 0) continue; // closed under us: nobody listens any more
      self.postMessage(v - 1);
    }
  }
};
