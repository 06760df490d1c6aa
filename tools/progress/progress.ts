// @warpdrive/progress: what a long-running command of this repository (bench, bench:vm, test:vm
// building its guest image, fuzz) is doing and how far along it is.
//
// It is a package of its own, beside the others under tools/, because its users live in separate
// areas: bench/ is a workspace package, fuzz/ and test/vm belong to the root package. Each imports it
// by name; none reaches into another's folder. It is not part of the runtime: nothing a user's
// program runs needs it.
//
// On a terminal: one line at the bottom, redrawn in place (step, share done, elapsed time), with
// lasting lines printed above it. In a log (CI, a pipe, TERM=dumb): no redrawing; a step is printed
// when it starts, and while it runs at most one line per `heartbeatMs`, so a long step still shows
// it is alive without a line per sub-step.

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  /** Where the progress goes (default stderr: stdout stays for results). */
  stream?: ProgressStream;
  /** Redraw in place (default: the stream is a terminal, TERM is not "dumb" and CI is unset). */
  tty?: boolean;
  /** In a log: the least time between two lines of the same step (default 15 s). */
  heartbeatMs?: number;
  /** On a terminal: the least time between two redraws (default 100 ms). */
  redrawMs?: number;
  /** The clock, in milliseconds (tests pass their own). */
  now?: () => number;
  /**
   * While a step runs with no update (a guest booting), the elapsed time is redrawn every second on
   * a terminal and a heartbeat line printed in a log; 0 turns that off (tests).
   */
  tick?: boolean;
}

export interface Progress {
  /** The current step, and how much of it is done (`done` of `total`) when that is known. */
  update(step: string, done?: number, total?: number): void;
  /** What the step is busy with right now: shown on a terminal and in heartbeat lines only. */
  detail(text: string): void;
  /** A line that stays: results, warnings, failures. */
  log(line: string): void;
  /** Ends the progress line; prints `summary` as a last lasting line. */
  end(summary?: string): void;
}

/**
 * A `log(line)` function for code that reports through one (the VM harness, the image builders):
 * an indented line is a sub-step of the last plain line and only moves the progress line; a plain
 * line stays (with `prefix`), and is the step from then on.
 */
export function stepLog(p: Progress, prefix = ""): (line: string) => void {
  let heading = "";
  return (line) => {
    if (/^\s/.test(line)) {
      if (heading === "") p.update(line.trim());
      else p.detail(line.trim());
      return;
    }
    heading = line;
    p.log(`${prefix}${line}`);
    p.update(heading);
  };
}

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function share(done: number | undefined, total: number | undefined): string {
  if (done === undefined) return "";
  if (total === undefined || total <= 0) return ` ${done}`;
  const pct = Math.min(100, Math.max(0, Math.floor((done / total) * 100)));
  return ` ${pct}% (${done}/${total})`;
}

/** The terminal columns the line may use (no wrapping: a wrapped line cannot be redrawn in place). */
function width(stream: ProgressStream): number {
  const cols = (stream as { columns?: number }).columns;
  return typeof cols === "number" && cols > 20 ? cols - 1 : 119;
}

export function progress(label: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? (stream.isTTY === true && process.env.TERM !== "dumb" && !process.env.CI);
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const redrawMs = opts.redrawMs ?? 100;
  const now = opts.now ?? (() => performance.now());
  const t0 = now();
  let step = "";
  let busy = "";
  let done: number | undefined;
  let total: number | undefined;
  let shown = false; // a progress line is on screen (terminal)
  let lastDraw = -Infinity;
  let lastStep = "";
  let lastLine = -Infinity;
  let ended = false;
  let timer: ReturnType<typeof setInterval> | undefined;

  const text = () => `[${label}] ${step}${share(done, total)}${busy === "" ? "" : `: ${busy}`}  ${clock(now() - t0)}`;
  const clear = () => {
    if (shown) stream.write("\r\x1b[K");
    shown = false;
  };
  const draw = (force: boolean) => {
    const t = now();
    if (!force && t - lastDraw < redrawMs) return;
    lastDraw = t;
    stream.write(`\r\x1b[K${text().slice(0, width(stream))}`);
    shown = true;
  };

  const heartbeat = () => {
    if (ended || step === "") return;
    if (tty) draw(true);
    else if (now() - lastLine >= heartbeatMs) {
      lastLine = now();
      stream.write(`${text()}\n`);
    }
  };
  if (opts.tick !== false) {
    timer = setInterval(heartbeat, tty ? 1000 : Math.max(1000, heartbeatMs));
    // never what keeps the process alive
    (timer as { unref?: () => void }).unref?.();
  }

  return {
    update(next, d, n) {
      if (ended) return;
      const changed = next !== step;
      if (changed) busy = "";
      step = next;
      done = d;
      total = n;
      if (tty) {
        draw(changed);
        return;
      }
      const t = now();
      if (next !== lastStep || t - lastLine >= heartbeatMs) {
        lastStep = next;
        lastLine = t;
        stream.write(`${text()}\n`);
      }
    },
    detail(text) {
      if (ended) return;
      busy = text;
      if (tty) draw(false);
    },
    log(line) {
      if (tty) {
        clear();
        stream.write(`${line}\n`);
        if (step !== "" && !ended) draw(true);
        return;
      }
      stream.write(`${line}\n`);
      // a step named like this lasting line has just been said: not again
      lastStep = line.replace(/^\[[^\]]*\] /, "");
      lastLine = now();
    },
    end(summary) {
      if (ended) return;
      ended = true;
      if (timer !== undefined) clearInterval(timer);
      if (tty) clear();
      if (summary !== undefined) stream.write(`[${label}] ${summary} (${clock(now() - t0)})\n`);
    },
  };
}
