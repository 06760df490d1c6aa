// A fake UACCE kernel behind the Sys seam and a fake sysfs folder: /sys/class/uacce/<name>/ with the
// attributes the 6.1 core shows, and /dev/<name> queue files that behave like the core's: one queue
// per open (EBUSY when the device has none left, available_instances follows), MMIO at mmap offset 0
// and DUS at one page, MAP_SHARED, each once per open (EEXIST after that), START_Q once (EINVAL the
// second time) until PUT_Q, poll readable when the "driver" marked the queue updated. Regions are
// anonymous memory standing in for the driver's pages. Every call is recorded.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SysError } from "@warpdrive/runtime/errors";
import { MAP_SHARED, POLLIN, sys as real, type IoctlArg, type PollFd, type Sys } from "@warpdrive/runtime/sys/libc";
import { UACCE_CMD_PUT_Q, UACCE_CMD_QM_SET_QP_CTX, UACCE_CMD_QM_SET_QP_INFO, UACCE_CMD_START_Q } from "@warpdrive/runtime/sys/uacce-abi";

export interface FakeUacceDevice {
  name: string;
  api: string;
  flags?: number;
  instances?: number;
  algorithms?: string;
  mmioSize?: number;
  dusSize?: number;
  /** A QM parent (hisi_qm's ioctls): the queue-info answer; qp ids are handed out from 0 per open. */
  qm?: { sqeSize: number; sqDepth: number; cqDepth: number };
}

interface Queue {
  dev: string;
  started: boolean;
  mapped: Map<number, number>; // qfr type -> ptr
  updated: boolean;
  /** The parent driver went away: the core released the queue. */
  removed: boolean;
  /** The core zapped the process's mappings (the first step of removal). */
  zapped: boolean;
  /** QM parents: the queue's id and the qc_type the process set. */
  qpId: number;
  qcType: number | undefined;
}

export interface Call {
  call: string;
  fd?: number;
  request?: number;
  int?: number;
  text?: string;
}

export class FakeUacce implements Sys {
  readonly sysfs: string;
  readonly calls: Call[] = [];
  readonly queues = new Map<number, Queue>();
  readonly maps = new Map<number, number>();
  readonly devices = new Map<string, Required<Omit<FakeUacceDevice, "qm">> & Pick<FakeUacceDevice, "qm">>();
  /** errno for the next START_Q (then cleared). */
  failStart: number | undefined;
  #next = 500;

  constructor(devices: FakeUacceDevice[]) {
    this.sysfs = mkdtempSync(join(tmpdir(), "wd-fake-uacce-"));
    for (const d of devices) {
      const full = { flags: 0, instances: 2, algorithms: "memcpy", mmioSize: 4096, dusSize: 64 * 4096, ...d };
      this.devices.set(d.name, full);
      const dir = join(this.sysfs, "class/uacce", d.name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "api"), `${full.api}\n`);
      writeFileSync(join(dir, "flags"), `${full.flags}\n`);
      writeFileSync(join(dir, "algorithms"), `${full.algorithms}\n`);
      writeFileSync(join(dir, "region_mmio_size"), `${full.mmioSize}\n`);
      writeFileSync(join(dir, "region_dus_size"), `${full.dusSize}\n`);
      this.#writeAvailable(d.name);
    }
  }

  dispose(): void {
    rmSync(this.sysfs, { recursive: true, force: true });
  }

  #open(dev: string): number {
    return [...this.queues.values()].filter((q) => q.dev === dev).length;
  }

  #writeAvailable(dev: string): void {
    const d = this.devices.get(dev)!;
    if (!existsSync(join(this.sysfs, "class/uacce", dev))) return; // removed
    writeFileSync(join(this.sysfs, "class/uacce", dev, "available_instances"), `${d.instances - this.#open(dev)}\n`);
  }

  #err(call: string, object: string | undefined, errno: number): never {
    throw new SysError(call, object, errno);
  }

  /** The parent driver is removed with queues open: the core releases them, sysfs loses the device. */
  remove(dev: string): void {
    this.zap(dev);
    for (const q of this.queues.values()) if (q.dev === dev) q.removed = true;
    rmSync(join(this.sysfs, "class/uacce", dev), { recursive: true, force: true });
  }

  /** The first step of removal alone: the mappings lose their pages, the queue is still valid. */
  zap(dev: string): void {
    for (const q of this.queues.values()) if (q.dev === dev) q.zapped = true;
  }

  /** mincore as the kernel answers it: MMIO is a PFN mapping (never "resident"), DUS pages were inserted at mmap. */
  pageResident(addr: number): boolean | undefined {
    this.calls.push({ call: "mincore", int: addr });
    for (const q of this.queues.values()) {
      if (q.mapped.get(1) === addr) return !q.zapped;
      if (q.mapped.get(0) === addr) return false;
    }
    return undefined;
  }

  /** What the driver does after a batch: the queue's poll becomes readable. */
  complete(fd: number): void {
    this.queues.get(fd)!.updated = true;
  }

  /** Process address of a mapped region of the queue on fd (0 = MMIO, 1 = DUS). */
  mapping(fd: number, type: number): number | undefined {
    return this.queues.get(fd)?.mapped.get(type);
  }

  get pageSize(): number {
    return 4096;
  }

  open(path: string, flags: number, mode?: number): number {
    this.calls.push({ call: "open", text: path, int: flags });
    const name = path.replace(/^\/dev\//, "");
    const d = this.devices.get(name);
    if (d === undefined) return real.open(path, flags, mode);
    if (this.#open(name) >= d.instances) this.#err("open", path, 16);
    const fd = this.#next++;
    const ids = new Set([...this.queues.values()].filter((q) => q.dev === name).map((q) => q.qpId));
    let qpId = 0;
    while (ids.has(qpId)) qpId++;
    this.queues.set(fd, { dev: name, started: false, mapped: new Map(), updated: false, removed: false, zapped: false, qpId, qcType: undefined });
    this.#writeAvailable(name);
    return fd;
  }

  close(fd: number, object?: string): void {
    this.calls.push({ call: "close", fd });
    const q = this.queues.get(fd);
    if (q === undefined) return real.close(fd, object);
    this.queues.delete(fd);
    this.#writeAvailable(q.dev);
  }

  ioctl(fd: number, request: number, arg: IoctlArg, name: string, object?: string): number {
    this.calls.push({ call: `ioctl:${name}`, fd, request });
    const q = this.queues.get(fd);
    if (q === undefined) this.#err(name, object, 9);
    if (q.removed) this.#err(name, object, 6);
    if (request === UACCE_CMD_START_Q) {
      if (q.started) this.#err(name, object, 22);
      if (this.failStart !== undefined) {
        const e = this.failStart;
        this.failStart = undefined;
        this.#err(name, object, e);
      }
      q.started = true;
      return 0;
    }
    if (request === UACCE_CMD_PUT_Q) {
      q.started = false;
      return 0;
    }
    const qm = this.devices.get(q.dev)!.qm;
    if (qm !== undefined && request === UACCE_CMD_QM_SET_QP_CTX && arg instanceof Uint8Array && arg.length === 4) {
      const v = new DataView(arg.buffer, arg.byteOffset, 4);
      q.qcType = v.getUint16(2, true);
      v.setUint16(0, q.qpId, true);
      return 0;
    }
    if (qm !== undefined && request === UACCE_CMD_QM_SET_QP_INFO && arg instanceof Uint8Array && arg.length === 16) {
      const v = new DataView(arg.buffer, arg.byteOffset, 16);
      v.setUint32(0, qm.sqeSize, true);
      v.setUint16(4, qm.sqDepth, true);
      v.setUint16(6, qm.cqDepth, true);
      return 0;
    }
    this.#err(name, object, 22);
  }

  mmap(length: number, prot: number, flags: number, fd: number, offset: number, object?: string): number {
    this.calls.push({ call: "mmap", fd, int: offset });
    const q = this.queues.get(fd);
    if (q === undefined) return real.mmap(length, prot, flags, fd, offset, object);
    const d = this.devices.get(q.dev)!;
    const type = offset / 4096;
    if (!(type === 0 || type === 1)) this.#err("mmap", object, 22);
    if (q.mapped.has(type)) this.#err("mmap", object, 17);
    if ((flags & MAP_SHARED) === 0) this.#err("mmap", object, 22);
    if (length !== (type === 0 ? d.mmioSize : d.dusSize)) this.#err("mmap", object, 22);
    const p = real.mmap(length, prot, 0x22, -1, 0, object);
    q.mapped.set(type, p);
    this.maps.set(p, length);
    return p;
  }

  remapAnonymous(addr: number, length: number, object?: string): void {
    this.calls.push({ call: "remapAnonymous", int: addr });
    real.remapAnonymous!(addr, length, object);
  }

  munmap(addr: number, length: number, object?: string): void {
    this.calls.push({ call: "munmap", int: addr });
    this.maps.delete(addr);
    real.munmap(addr, length, object);
  }

  poll(fds: PollFd[], timeoutMs: number): number[] {
    this.calls.push({ call: "poll", fd: fds[0]?.fd, int: timeoutMs });
    return fds.map((f) => {
      const q = this.queues.get(f.fd);
      if (q === undefined || q.removed || !q.updated || !(f.events & POLLIN)) return 0;
      q.updated = false;
      return POLLIN;
    });
  }

  pread(fd: number, buf: Uint8Array, offset: number, object?: string): number {
    return real.pread(fd, buf, offset, object);
  }
  pwrite(fd: number, buf: Uint8Array, offset: number, object?: string): number {
    return real.pwrite(fd, buf, offset, object);
  }
  read(fd: number, buf: Uint8Array, object?: string): number {
    return real.read(fd, buf, object);
  }
  write(fd: number, buf: Uint8Array, object?: string): number {
    return real.write(fd, buf, object);
  }
  eventfd(initval: number, flags: number): number {
    return real.eventfd(initval, flags);
  }
  memfdCreate(name: string, flags: number): number {
    return real.memfdCreate(name, flags);
  }
  ftruncate(fd: number, length: number, object?: string): void {
    real.ftruncate(fd, length, object);
  }
  mlock(addr: number, length: number): boolean {
    return real.mlock(addr, length);
  }
  munlock(addr: number, length: number): void {
    real.munlock(addr, length);
  }
}
