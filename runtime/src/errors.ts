// WarpDriveError and its kinds. Every error names the thing involved (file, queue, buffer, register)
// and, where one is known, the likely fix: the message alone must be enough to act on, because a
// CLI or test prints `formatError(e)` (one line, no stack) rather than a raw trace.
import { errnoName, errnoText } from "./errno.ts";

export class WarpDriveError extends Error {
  /** Optional advice on how to fix the cause ("is every device of the group bound to vfio-pci?"). */
  readonly hint?: string;
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options?.hint;
  }
}

function sysMessage(call: string, object: string | undefined, errno: number | undefined, detail?: string) {
  const where = object === undefined || object === "" ? call : `${call} on ${object}`;
  const what = errno === undefined ? "" : errnoName(errno);
  const why = detail ?? (errno === undefined ? undefined : errnoText(errno));
  if (what === "") return `${where}: ${why ?? "failed"}`;
  return why === undefined ? `${where}: ${what}` : `${where}: ${what} (${why})`;
}

/**
 * A libc call failed. `call` is the function or ioctl name, `object` the file, fd or mapping it acted
 * on; the message reads `ioctl(VFIO_GET_API_VERSION) on /dev/vfio/vfio: ENOTTY (not a typewriter)`.
 */
export class SysError extends WarpDriveError {
  readonly call: string;
  readonly object: string | undefined;
  readonly errno: number;
  readonly errnoName: string;
  constructor(call: string, object: string | undefined, errno: number, hint?: string) {
    super(sysMessage(call, object, errno, hint), { hint });
    this.call = call;
    this.object = object;
    this.errno = errno;
    this.errnoName = errnoName(errno);
  }
}

/**
 * A VFIO step failed: `VFIO_GROUP_SET_CONTAINER on /dev/vfio/7: EBUSY (is every device of the group
 * bound to vfio-pci?)`. `errno` is absent when the kernel call succeeded but the answer is unusable
 * (group not viable, API version mismatch).
 */
export class VfioError extends WarpDriveError {
  readonly call: string;
  readonly object: string | undefined;
  readonly errno: number | undefined;
  constructor(call: string, object: string | undefined, errno: number | undefined, hint?: string, cause?: unknown) {
    super(sysMessage(call, object, errno, hint), { hint, cause });
    this.call = call;
    this.object = object;
    this.errno = errno;
  }
}

/**
 * A UACCE step failed: `UACCE_CMD_START_Q on /dev/wd_dummy-0: EINVAL (...)`, or no device/queue was
 * found (`errno` absent). Same shape as VfioError.
 */
export class UacceError extends WarpDriveError {
  readonly call: string;
  readonly object: string | undefined;
  readonly errno: number | undefined;
  constructor(call: string, object: string | undefined, errno: number | undefined, hint?: string, cause?: unknown) {
    super(sysMessage(call, object, errno, hint), { hint, cause });
    this.call = call;
    this.object = object;
    this.errno = errno;
  }
}

/** A DMA address was asked for memory the device may not reach, or a DMA mapping failed. */
export class DmaError extends WarpDriveError {
  /** The buffer involved (its name), when known. */
  readonly buffer?: string;
  /** The struct or register field that wanted the address, when known. */
  readonly field?: string;
  constructor(message: string, options?: { buffer?: string; field?: string; hint?: string; cause?: unknown }) {
    super(message, options);
    this.buffer = options?.buffer;
    this.field = options?.field;
  }
}

/** `send` found no free slot; `flush`/`recv` to make room, or use `trySend`. */
export class QueueFullError extends WarpDriveError {
  readonly queue: string;
  readonly depth: number;
  constructor(queue: string, depth: number) {
    super(`queue ${queue} is full (${depth} entries in flight)`, {
      hint: "flush() and recv() completions to make room, or use trySend()",
    });
    this.queue = queue;
    this.depth = depth;
  }
}

/** Waiting for a device (completion, register bit, interrupt) took longer than allowed. */
export class TimeoutError extends WarpDriveError {
  readonly what: string;
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number, hint?: string) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`, { hint });
    this.what = what;
    this.timeoutMs = timeoutMs;
  }
}

/** A queue, buffer, region or device was used after release()/free()/close(). */
export class UseAfterReleaseError extends WarpDriveError {
  readonly what: string;
  constructor(what: string, released = "released") {
    super(`${what} was used after it was ${released}`);
    this.what = what;
  }
}

/**
 * An awaitable request (submit) that can no longer complete: its queue was released, or its device
 * was reset or closed while it waited for room or was in flight. `reason` says which.
 */
export class QueueClosedError extends WarpDriveError {
  readonly queue: string;
  readonly reason: "released" | "reset" | "closed";
  constructor(queue: string, reason: "released" | "reset" | "closed", why: string) {
    super(`queue ${queue}: request not completed, the queue was ${why}`, {
      hint: reason === "released" ? undefined : "request the queue again (and resubmit) after the device is reset or reopened",
    });
    this.queue = queue;
    this.reason = reason;
  }
}

/** What told the runtime that a device is leaving: the kernel's request to release it (VFIO REQ,
 *  sent when the device is hot-unplugged or its driver unbound) or an error report (VFIO ERR: a PCIe
 *  error the kernel's AER handling saw). */
export type RemovalEvent = "removed" | "error";

/**
 * The device left while it was open (hot unplug, driver unbind) or reported an unrecoverable error.
 * Every request that was in flight fails with it (awaitable ones are rejected, a waiting recvSync
 * throws it, their tags are in `queue.abandoned`), and so does every later call on the device and
 * its queues. The device's mappings were replaced by harmless memory and its files closed, so the
 * kernel could finish the removal: close the Device, and open it again once the device is back.
 */
export class DeviceRemovedError extends WarpDriveError {
  readonly device: string;
  readonly event: RemovalEvent;
  constructor(device: string, event: RemovalEvent) {
    super(
      event === "removed"
        ? `${device} was removed (the kernel asked for it back): its requests cannot complete`
        : `${device} reported an unrecoverable error (the kernel's error interrupt): its requests cannot complete`,
      { hint: "close the device; open it again once it is back (after a hot-plug, or a reset by its driver)" },
    );
    this.device = device;
    this.event = event;
  }
}

/** submit() found the queue full and already `waiters` submissions waiting for room. */
export class BackpressureError extends WarpDriveError {
  readonly queue: string;
  readonly waiters: number;
  constructor(queue: string, depth: number, waiters: number) {
    super(`queue ${queue} is full (${depth} entries) and ${waiters} submissions already wait for room`, {
      hint: "await earlier submissions before adding more, or raise maxWaiters on the queue's async layer",
    });
    this.queue = queue;
    this.waiters = waiters;
  }
}

/** A register access outside its region, misaligned, or against the register's access rule. */
export class RegisterError extends WarpDriveError {
  readonly register: string;
  constructor(register: string, message: string, hint?: string) {
    super(`register ${register}: ${message}`, { hint });
    this.register = register;
  }
}

/** A DeviceSpec, option or argument that cannot work (unknown region name, size not a page multiple). */
export class ConfigError extends WarpDriveError {}

/** One line for humans: `VfioError: ... ; hint` without a stack. Non-WarpDrive errors keep their message. */
export function formatError(e: unknown): string {
  if (e instanceof WarpDriveError) return `${e.name}: ${e.message}`;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
