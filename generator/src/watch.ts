// `wd generate --watch`: generate once, then again whenever a description or a file beside it
// changes (its hand-written behaviour and model live in <dir>/<device>/). The folders holding the
// descriptions are watched, not the files: editors save by writing a new file and renaming it over
// the old one, which a watch on the old file would miss. On a terminal each run replaces the last
// one's output (diagnostics stay in place, as `tsc --watch` shows them); in a log each run is a
// block that starts with what changed.
import { watch, type FSWatcher } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

export interface WatchIo {
  out(line: string): void;
  err(line: string): void;
}

export interface WatchOptions {
  files: string[];
  /** Where packages are written: changes there are the watcher's own and never trigger a run. */
  out: string;
  /** One generation; its output goes to the given io; returns the exit status it would have. */
  generate(io: WatchIo): Promise<number>;
  io: WatchIo;
  /** Clear the screen before each run (default: when stdout is a terminal). */
  clear?: boolean;
  /** Quiet time after the last change before generating (editors write in several steps). */
  settleMs?: number;
}

/** Runs until the process is stopped (SIGINT); never resolves. */
export async function watchDescriptions(opts: WatchOptions): Promise<number> {
  const { io } = opts;
  const clear = opts.clear ?? process.stdout.isTTY === true;
  const settleMs = opts.settleMs ?? 100;
  const out = resolve(opts.out);
  const dirs = [...new Set(opts.files.map((f) => resolve(dirname(f))))].sort();

  let running = false;
  let again: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;

  const runOnce = async (why: string[]): Promise<void> => {
    running = true;
    if (clear) io.out("\x1b[2J\x1b[H");
    const when = new Date().toISOString().slice(11, 19);
    io.out(why.length === 0 ? `[${when}] wd generate --watch: first run` : `[${when}] changed: ${why.join(", ")}: generating again`);
    let code: number;
    try {
      code = await opts.generate(io);
    } catch (e) {
      io.err(`wd: internal error: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
      code = 70;
    }
    io.out(`[${new Date().toISOString().slice(11, 19)}] ${code === 0 ? "done" : "failed (see above)"}; watching ${dirs.map((d) => relative(process.cwd(), d) || ".").join(", ")} for changes (Ctrl-C stops)`);
    running = false;
    if (again.length > 0) schedule([]);
  };

  const schedule = (changed: string[]): void => {
    for (const c of changed) if (!again.includes(c)) again.push(c);
    if (running) return; // picked up when the current run ends
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      const why = again.sort();
      again = [];
      void runOnce(why);
    }, settleMs);
  };

  // Watch first, then run: the first run's "watching ... for changes" line must mean that a change
  // made after it is seen (an edit made while the watchers were still being set up was lost).
  const watchers: FSWatcher[] = [];
  for (const dir of dirs) {
    watchers.push(
      watch(dir, { recursive: true }, (_event, name) => {
        if (name === null) return;
        const path = join(dir, name.toString());
        if (path === out || path.startsWith(out + sep)) return;
        // Editor leftovers (swap files, backups) are not sources.
        if (/(^|[/\\])(\.[^/\\]*\.swp|[^/\\]*~|\.#[^/\\]*)$/.test(path)) return;
        schedule([relative(process.cwd(), path) || path]);
      }),
    );
  }
  await runOnce([]);
  return new Promise<number>(() => {
    // Held open by the watchers until the process is stopped.
  });
}
