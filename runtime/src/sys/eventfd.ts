// eventfd: the kernel's interrupt -> user space signal (VFIO_DEVICE_SET_IRQS triggers it), and what
// the sim backend's device models signal. Non-blocking, so take() never sleeps; wait() sleeps in poll.
import { UseAfterReleaseError } from "../errors.ts";
import { EFD_CLOEXEC, EFD_NONBLOCK, POLLIN, sys as realSys, type Sys } from "./libc.ts";

export class EventFd {
  readonly name: string;
  #fd: number;
  readonly #sys: Sys;
  readonly #buf = new Uint8Array(8);
  readonly #dv = new DataView(this.#buf.buffer);

  constructor(name = "eventfd", sys: Sys = realSys) {
    this.#sys = sys;
    this.#fd = sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    this.name = name;
  }

  get fd(): number {
    if (this.#fd < 0) throw new UseAfterReleaseError(this.name, "closed");
    return this.#fd;
  }

  /** Add n to the counter (what the kernel or a device model does when it raises the interrupt). */
  signal(n = 1): void {
    this.#dv.setBigUint64(0, BigInt(n), true);
    this.#sys.write(this.fd, this.#buf, this.name);
  }

  /** Read and reset the counter without blocking: how many signals arrived since the last take, 0 if none. */
  take(): number {
    const r = this.#sys.read(this.fd, this.#buf, this.name);
    if (r !== 8) return 0;
    return Number(this.#dv.getBigUint64(0, true));
  }

  /** Sleep until signalled or timeoutMs passes (-1: forever); consumes the count. True if it fired. */
  wait(timeoutMs: number): boolean {
    if (this.take() > 0) return true;
    const [rev] = this.#sys.poll([{ fd: this.fd, events: POLLIN }], timeoutMs);
    if (!rev) return false;
    return this.take() > 0;
  }

  /** Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    this.#sys.close(fd, this.name);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
