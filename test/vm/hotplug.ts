// Hot-plug for the removal boot: a QMP client on the socket QEMU listens on (-qmp unix:...), and
// the actions the guest asks for on its console ("WDVM hotplug del nvme0" / "WDVM hotplug add
// nvme0"): device_del until QEMU reports DEVICE_DELETED, device_add with the same properties.
//
// QEMU 7.2 behaviour this allows for:
// - device_del on a root port only asks the guest to let the function go; the device is gone when
//   QEMU sends DEVICE_DELETED. A request that arrives while the slot is still settling from the
//   previous add can be dropped without an error answer, so device_del is repeated every REPEAT_MS
//   until the event comes (the run reports how many removals needed it).
// - the NVMe controller's drive is a -blockdev node, which outlives device_del; each add plugs the
//   controller over a fresh node on the same file (blockdev-add with a new node-name) after deleting
//   the previous one, so an add never depends on whether QEMU has released the old node yet (a
//   refused blockdev-del is counted and reported, not fatal).
import { connect, type Socket } from "node:net";

const REPEAT_MS = 3000;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** A QMP connection: commands one at a time, events kept for waitEvent. */
export class Qmp {
  #sock: Socket;
  #buf = "";
  #pending: Pending[] = [];
  #events: { event: string; data?: Record<string, unknown> }[] = [];
  #eventWaiters: (() => void)[] = [];
  #closed = false;

  private constructor(sock: Socket) {
    this.#sock = sock;
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => this.#data(d));
    sock.on("close", () => {
      this.#closed = true;
      for (const p of this.#pending.splice(0)) p.reject(new Error("QMP: QEMU closed the monitor"));
      for (const w of this.#eventWaiters.splice(0)) w();
    });
    sock.on("error", () => {});
  }

  /** Connects (QEMU creates the socket as it starts: retried until `timeoutMs`), negotiates. */
  static async connect(path: string, timeoutMs = 60_000): Promise<Qmp> {
    const t0 = performance.now();
    for (;;) {
      try {
        const sock = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once("connect", () => resolve(s));
          s.once("error", reject);
        });
        const q = new Qmp(sock);
        await q.#reply(); // the greeting
        await q.execute("qmp_capabilities");
        return q;
      } catch (e) {
        if (performance.now() - t0 > timeoutMs) throw new Error(`QMP: cannot connect to ${path}: ${(e as Error).message}`);
        await Bun.sleep(100);
      }
    }
  }

  #data(d: string): void {
    this.#buf += d;
    for (let i = this.#buf.indexOf("\n"); i >= 0; i = this.#buf.indexOf("\n")) {
      const line = this.#buf.slice(0, i).trim();
      this.#buf = this.#buf.slice(i + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as { event?: string; data?: Record<string, unknown>; return?: unknown; error?: { desc: string }; QMP?: unknown };
      if (msg.event !== undefined) {
        this.#events.push({ event: msg.event, data: msg.data });
        for (const w of this.#eventWaiters.splice(0)) w();
        continue;
      }
      const p = this.#pending.shift();
      if (p === undefined) continue;
      if (msg.error) p.reject(new Error(`QMP: ${msg.error.desc}`));
      else p.resolve(msg.return ?? msg.QMP);
    }
  }

  #reply(): Promise<unknown> {
    return new Promise((resolve, reject) => this.#pending.push({ resolve, reject }));
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error("QMP: the monitor is closed"));
    const r = this.#reply();
    this.#sock.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    return r;
  }

  /** Takes the first event named `name` matching `match` (arrived or arriving), or undefined after `timeoutMs`. */
  async takeEvent(name: string, match: (data: Record<string, unknown> | undefined) => boolean, timeoutMs: number): Promise<Record<string, unknown> | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const i = this.#events.findIndex((e) => e.event === name && match(e.data));
      if (i >= 0) return this.#events.splice(i, 1)[0]!.data ?? {};
      const left = deadline - performance.now();
      if (left <= 0 || this.#closed) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#eventWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.#closed = true;
    this.#sock.destroy();
  }
}

/** A device the guest may unplug and plug again. */
export interface Pluggable {
  /** QEMU device id ("nvme0"), what the guest names in its requests. */
  id: string;
  /** device_add arguments besides id and drive (driver, bus, serial...). */
  props: Record<string, unknown>;
  /** For a block device: the backing file; each add gets a fresh raw node over it. */
  file?: string;
}

/** The -blockdev / -device arguments that plug `d` at boot (node `<id>-blk0`). */
export function bootArgs(d: Pluggable): string[] {
  const props = Object.entries(d.props).map(([k, v]) => `${k}=${v}`);
  if (d.file === undefined) return ["-device", [d.props.driver, `id=${d.id}`, ...props.filter((p) => !p.startsWith("driver="))].join(",")];
  return [
    "-blockdev", `driver=raw,node-name=${d.id}-blk0,file.driver=file,file.filename=${d.file}`,
    "-device", [d.props.driver, `id=${d.id}`, `drive=${d.id}-blk0`, ...props.filter((p) => !p.startsWith("driver="))].join(","),
  ];
}

/** Carries out the guest's "WDVM hotplug del|add <id>" lines over QMP, one at a time, in order. */
export class Hotplug {
  readonly #devices: Map<string, Pluggable>;
  readonly #log: (m: string) => void;
  #qmp: Promise<Qmp> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #node = new Map<string, number>();
  /** Seconds from each device_del to DEVICE_DELETED, and how many device_del each took. */
  readonly removals: { id: string; seconds: number; requests: number }[] = [];
  /** blockdev-del of a previous node that QEMU refused (still claimed), by its answer. */
  readonly keptNodes: string[] = [];
  readonly failures: string[] = [];

  readonly #repeatMs: number;

  constructor(readonly socket: string, devices: Pluggable[], log: (m: string) => void, repeatMs = REPEAT_MS) {
    this.#devices = new Map(devices.map((d) => [d.id, d]));
    this.#log = log;
    this.#repeatMs = repeatMs;
  }

  /** The serial-line hook (VmOptions.onLine). */
  onLine = (line: string): void => {
    const m = line.match(/WDVM hotplug (del|add) (\S+)/);
    if (!m) return;
    const [, op, id] = m;
    this.#chain = this.#chain.then(() => this.#run(op as "del" | "add", id!)).catch((e) => {
      this.failures.push(`${op} ${id}: ${(e as Error).message}`);
      this.#log(`hotplug ${op} ${id} failed: ${(e as Error).message}`);
    });
  };

  #connection(): Promise<Qmp> {
    this.#qmp ??= Qmp.connect(this.socket);
    return this.#qmp;
  }

  async #run(op: "del" | "add", id: string): Promise<void> {
    const d = this.#devices.get(id);
    if (d === undefined) throw new Error(`no pluggable device ${id}`);
    const qmp = await this.#connection();
    if (op === "del") {
      const t0 = performance.now();
      let requests = 0;
      for (;;) {
        requests++;
        await qmp.execute("device_del", { id });
        const ev = await qmp.takeEvent("DEVICE_DELETED", (data) => data?.device === id, this.#repeatMs);
        if (ev !== undefined) break;
        if (performance.now() - t0 > 120_000) throw new Error("no DEVICE_DELETED within 120 s");
      }
      this.removals.push({ id, seconds: (performance.now() - t0) / 1000, requests });
      return;
    }
    const args: Record<string, unknown> = { ...d.props, id };
    if (d.file !== undefined) {
      const n = (this.#node.get(id) ?? 0) + 1;
      const old = `${id}-blk${n - 1}`;
      const node = `${id}-blk${n}`;
      await qmp.execute("blockdev-del", { "node-name": old }).catch((e: Error) => this.keptNodes.push(`${old}: ${e.message}`));
      await qmp.execute("blockdev-add", { driver: "raw", "node-name": node, file: { driver: "file", filename: d.file } });
      this.#node.set(id, n);
      args.drive = node;
    }
    await qmp.execute("device_add", args);
  }

  /** Waits for the actions asked so far, closes the monitor. */
  async close(): Promise<void> {
    await this.#chain;
    if (this.#qmp !== undefined) (await this.#qmp.catch(() => undefined))?.close();
  }
}
