// Model host threads, pooled per model module. Starting a Worker and importing a model costs
// ~5 ms; opening and closing a sim device thousands of times (tests, short-lived tools) would spend
// most of its time there. A closed device's host goes back to the pool (it is idle in its event
// loop, using no CPU) and the next open of the same model reuses it. Hosts are unref'ed except
// while an open waits for them: they never keep a finished program alive.
import { ConfigError } from "../errors.ts";
import type { HostMessage } from "./control.ts";

const HOST_URL = new URL("./host.ts", import.meta.url).href;
/** Idle hosts kept per model module; WD_SIM_POOL=0 terminates a model's thread on every close. */
const KEEP_IDLE = Number(process.env.WD_SIM_POOL ?? 4);

export interface Host {
  readonly worker: Worker;
  readonly modelUrl: string;
  /** Regions the model wants journaled (DeviceModel.journal). */
  journal: string[];
  /** Set by the current owner to receive the host's messages. */
  listener: ((m: HostMessage) => void) | undefined;
}

const idle = new Map<string, Host[]>();

/** A host with `modelUrl` loaded: a pooled one, or a new Worker (waits for it to import the model). */
export async function acquireHost(modelUrl: string): Promise<Host> {
  const pooled = idle.get(modelUrl)?.pop();
  if (pooled) return pooled;
  const worker = new Worker(HOST_URL); // ref'ed until loaded: an awaited open keeps the process alive
  const host: Host = { worker, modelUrl, journal: [], listener: undefined };
  await new Promise<void>((resolve, reject) => {
    worker.onerror = (e) => reject(new ConfigError(`sim model host for ${modelUrl} failed to start: ${e.message}`));
    worker.onmessage = (e: MessageEvent) => {
      const m = e.data as HostMessage;
      if (m.type === "loaded") {
        host.journal = m.journal;
        resolve();
      }
      else if (m.type === "load-error") reject(new ConfigError(`sim model ${modelUrl} could not be loaded: ${m.message}`));
    };
    worker.postMessage({ type: "load", modelUrl });
  }).catch((e) => {
    worker.terminate();
    throw e;
  });
  worker.unref();
  worker.onmessage = (e: MessageEvent) => host.listener?.(e.data as HostMessage);
  worker.onerror = (e) => {
    process.stderr.write(`sim model host for ${modelUrl}: ${e.message}\n`);
  };
  return host;
}

/** Back to the pool (the host has stopped its instance), or terminated when the pool is full. */
export function releaseHost(host: Host): void {
  host.listener = undefined;
  const list = idle.get(host.modelUrl) ?? [];
  if (list.length >= KEEP_IDLE) {
    host.worker.terminate();
    return;
  }
  list.push(host);
  idle.set(host.modelUrl, list);
}

/** A host whose instance would not stop (a model stuck in poll): never reused. */
export function discardHost(host: Host): void {
  host.listener = undefined;
  host.worker.terminate();
}

/** Terminates every idle host (tests that count threads; process shutdown needs nothing). */
export function drainHostPool(): void {
  for (const list of idle.values()) for (const h of list) h.worker.terminate();
  idle.clear();
}
