// The control block shared by the client side (SimDevice) and the model's host thread (host.ts):
// one SharedArrayBuffer of Int32 words, read and written with Atomics only. It carries commands
// (run/stop/reset), the host's state, the poll epoch the client waits on before unmapping memory,
// and the eventfd of every enabled interrupt vector. Nothing here is on the client's hot path: the
// client talks to the model only through the device's register memory, as it would to hardware.

/** Word indices. */
export const CMD = 0; // written by the client: Cmd
export const STATE = 1; // written by both (CAS): State
export const EPOCH = 2; // the host adds 1 entering and 1 leaving poll(): odd = inside poll
export const RESET_DONE = 3; // the host adds 1 after each completed reset
export const WAKE = 4; // the host sleeps on this word; the client adds 1 and notifies to wake it
export const DMA_SEQ = 5; // seqlock of the DMA table: odd while the client edits it
export const DMA_COUNT = 6; // entries in use in the DMA table
export const HOST_TID = 7; // the model thread's kernel thread id (diagnostics: /proc/self/task/<tid>)
export const IRQ_BASE = 8; // IRQ_BASE + i: eventfd of vector i, -1 when not enabled
export const MAX_IRQS = 64;
// IRQ_PENDING + i: 1 while a signal of vector i sits unread in its eventfd. The host writes the
// eventfd only on 0 -> 1; the client clears it before each read/poll of the eventfd. So a device
// completing work while the client polls memory (never reading the eventfd) costs no system call
// per interrupt, and no wake-up is lost: a signal skipped because the flag was 1 is still unread.
export const IRQ_PENDING = IRQ_BASE + MAX_IRQS;
// Clients waiting in Atomics.wait on EPOCH (dmaUnmap): the host notifies only when this is non-zero,
// so the poll loop does not pay a notify (a futex-table lookup) per round. A waiter adds 1 before it
// loads EPOCH and the host loads this after its EPOCH update (both seq-cst), so either the host sees
// the waiter or the waiter sees the new epoch: no wake-up is lost.
export const EPOCH_WAITERS = IRQ_PENDING + MAX_IRQS;
export const CONTROL_WORDS = EPOCH_WAITERS + 1;

export const Cmd = { RUN: 0, STOP: 1, RESET: 2 } as const;
export const State = { STARTING: 0, RUNNING: 1, STOPPED: 2, FAULTED: 3, CANCELLED: 4 } as const;

/** DMA table: Float64 triples (iova, size, ptr); doubles hold every address below 2^53 exactly. */
export const DMA_ENTRY = 3;
export const DMA_MAX_ENTRIES = 4096;

export function newControl(): { control: Int32Array; dma: Float64Array } {
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  for (let i = 0; i < MAX_IRQS; i++) control[IRQ_BASE + i] = -1;
  const dma = new Float64Array(new SharedArrayBuffer(DMA_MAX_ENTRIES * DMA_ENTRY * 8));
  return { control, dma };
}

/** Write journal of one region (see model.ts): Int32 words; HEAD counts client writes, TAIL the
 *  writes the model has drained; entry i at J_ENTRIES + (i % JOURNAL_SIZE) * 4 = offset, width, lo, hi. */
export const J_HEAD = 0;
export const J_TAIL = 1;
/** Clients waiting in Atomics.wait on J_TAIL: the model notifies after a drain only when non-zero
 *  (same protocol as EPOCH_WAITERS). */
export const J_WAITERS = 2;
export const J_ENTRIES = 4;
export const JOURNAL_SIZE = 256;

export function newJournal(): Int32Array {
  return new Int32Array(new SharedArrayBuffer((J_ENTRIES + JOURNAL_SIZE * 4) * 4));
}

/** What the client posts to the host to start one device instance. */
export interface StartMessage {
  type: "start";
  address: string;
  modelUrl: string;
  spec: import("../backend.ts").DeviceSpec;
  regions: { name: string; index: number; size: number; kind: "mmio" | "ram"; ptr: number; fd: number }[];
  control: Int32Array;
  dma: Float64Array;
  /** Write journals of the regions the model journals, by region name. */
  journals: Record<string, Int32Array>;
  /** Portal mailboxes (sim/portal-mailbox.ts) of the regions portal queues name, by region name. */
  portals: Record<string, Int32Array>;
}

/** What the host posts back. */
export type HostMessage =
  | { type: "loaded"; journal: string[] }
  | { type: "load-error"; message: string }
  | { type: "started"; address: string }
  | { type: "fault"; address: string; message: string }
  | { type: "stopped"; address: string };

/**
 * Capability-located regions on the sim (a description's `capability:` regions): each gets a BAR of
 * its own (the lowest index 0..5 no fixed region uses), a page long at least, the whole BAR; the
 * configuration space (region 7) lists them as vendor-specific capabilities. The notify capability's
 * notify_off_multiplier is this, and a model gives queue n notify offset n (QEMU does the same).
 */
export const SIM_NOTIFY_MULTIPLIER = 4;
export const SIM_CONFIG_REGION = { name: "pci_config", index: 7, size: 256, kind: "ram" } as const;
