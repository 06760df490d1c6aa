// The one bun:ffi table for libc, and `Sys`: checked wrappers over it that capture errno right after
// each call and throw SysError naming the call and the object (file, fd, mapping) it acted on.
//
// `Sys` is also the seam for unit tests: vfio/ takes a Sys, so a fake can record ioctl argument bytes
// without /dev/vfio. Set WD_TRACE=1 to log every call (name, arguments, result, errno) to stderr.
import { dlopen, FFIType, read, type Pointer } from "bun:ffi";
import { SysError } from "../errors.ts";

// ---- raw table -------------------------------------------------------------------------------

function load(path: string) {
  return dlopen(path, {
  open: { args: ["ptr", "i32", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  // ioctl is variadic; (int, unsigned long, pointer) is how every VFIO request passes on x86-64 and
  // aarch64. An integer argument (CHECK_EXTENSION, SET_IOMMU) passes as the pointer's value.
  ioctl: { args: ["i32", "u64", "ptr"], returns: "i32" },
  mmap: { args: ["ptr", "u64", "i32", "i32", "i32", "i64"], returns: "ptr" },
  munmap: { args: ["ptr", "u64"], returns: "i32" },
  pread: { args: ["i32", "ptr", "u64", "i64"], returns: FFIType.i64_fast },
  pwrite: { args: ["i32", "ptr", "u64", "i64"], returns: FFIType.i64_fast },
  read: { args: ["i32", "ptr", "u64"], returns: FFIType.i64_fast },
  write: { args: ["i32", "ptr", "u64"], returns: FFIType.i64_fast },
  eventfd: { args: ["u32", "i32"], returns: "i32" },
  poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
  memfd_create: { args: ["ptr", "u32"], returns: "i32" },
  ftruncate: { args: ["i32", "i64"], returns: "i32" },
  mlock: { args: ["ptr", "u64"], returns: "i32" },
  mincore: { args: ["ptr", "u64", "ptr"], returns: "i32" },
  munlock: { args: ["ptr", "u64"], returns: "i32" },
  sysconf: { args: ["i32"], returns: FFIType.i64_fast },
  getpid: { args: [], returns: "i32" },
  // the sim model thread: its kernel id (CPU time in /proc/self/task/<tid>/stat), DMA copies
  gettid: { args: [], returns: "i32" },
  memmove: { args: ["ptr", "ptr", "u64"], returns: "void" },
  __errno_location: { args: [], returns: "ptr" },
  });
}

type Lib = ReturnType<typeof load>;
let lib: Lib | undefined;

function libcPath(): string {
  if (process.platform !== "linux") {
    throw new SysError("dlopen", "libc", 38, `warpdrive needs Linux (this is ${process.platform})`);
  }
  return "libc.so.6";
}

/** The raw libc symbols (no errno handling). Loaded on first use. */
export function libc(): Lib["symbols"] {
  lib ??= load(libcPath());
  return lib.symbols;
}

/** errno of this thread, as left by the last libc call. Read it before any other FFI call. */
export function errno(): number {
  return read.i32(libc().__errno_location() as Pointer, 0);
}

/** A NUL-terminated copy of `s` for `const char *` arguments; keep it referenced across the call. */
export function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, "utf8");
}

// ---- constants (Linux generic; x86-64 and aarch64 agree on these) ------------------------------

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CLOEXEC = 0o2000000;
export const O_NONBLOCK = 0o4000;
export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_FIXED = 0x10;
export const MAP_POPULATE = 0x8000;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const MFD_CLOEXEC = 1;
export const POLLIN = 0x001;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;
export const _SC_PAGESIZE = 30;

// ---- tracing ---------------------------------------------------------------------------------

let tracing = process.env.WD_TRACE === "1";

/** Turn WD_TRACE logging on or off at run time (tests). */
export function setTrace(on: boolean): void {
  tracing = on;
}

function fmtArg(a: unknown): string {
  // small numbers (fds, flags, sizes) in decimal; large ones (pointers, offsets, ioctl numbers) in hex
  if (typeof a === "number") return Number.isInteger(a) && a >= 0x100000 ? `0x${a.toString(16)}` : String(a);
  if (typeof a === "bigint") return `0x${a.toString(16)}n`;
  if (typeof a === "string") return a.startsWith("0x") ? a : JSON.stringify(a);
  if (a instanceof Uint8Array) return `<${a.byteLength} bytes>`;
  return String(a);
}

function trace(call: string, args: unknown[], ret: unknown, err: number): void {
  const tail = err ? ` errno=${err}` : "";
  process.stderr.write(`[wd] ${call}(${args.map(fmtArg).join(", ")}) = ${fmtArg(ret)}${tail}\n`);
}

// ---- the checked layer -----------------------------------------------------------------------

/** Argument of an ioctl: a struct's bytes (read and written by the kernel), an integer, or none. */
export type IoctlArg = Uint8Array | number | null;

/** One pollfd: which fd, what to wait for. */
export interface PollFd {
  fd: number;
  events: number;
}

/**
 * The system calls the runtime makes, each checked: a failure throws SysError(call, object, errno).
 * `object` names what the call acts on ("/dev/vfio/7", "eventfd 12", "dma buffer rx") for messages.
 */
export interface Sys {
  open(path: string, flags: number, mode?: number): number;
  close(fd: number, object?: string): void;
  /** Returns the ioctl's non-negative result; `name` ("VFIO_GROUP_SET_CONTAINER") names it in errors. */
  ioctl(fd: number, request: number, arg: IoctlArg, name: string, object?: string): number;
  mmap(length: number, prot: number, flags: number, fd: number, offset: number, object?: string): number;
  munmap(addr: number, length: number, object?: string): void;
  pread(fd: number, buf: Uint8Array, offset: number, object?: string): number;
  pwrite(fd: number, buf: Uint8Array, offset: number, object?: string): number;
  /** Returns bytes read, or -1 when the fd is non-blocking and nothing is there (EAGAIN). */
  read(fd: number, buf: Uint8Array, object?: string): number;
  write(fd: number, buf: Uint8Array, object?: string): number;
  eventfd(initval: number, flags: number): number;
  /** Returns the revents of each fd (0 for none); all 0 on timeout. Retries on EINTR. */
  poll(fds: PollFd[], timeoutMs: number): number[];
  memfdCreate(name: string, flags: number): number;
  ftruncate(fd: number, length: number, object?: string): void;
  /** Best effort: false when the memlock limit refuses (the memory stays usable, just not pinned). */
  mlock(addr: number, length: number): boolean;
  munlock(addr: number, length: number): void;
  /**
   * Replaces the pages at [addr, addr + length) with zeroed anonymous memory (mmap MAP_FIXED), so a
   * mapping whose device is gone reads zeros instead of raising SIGBUS. Optional: fakes may omit it.
   */
  remapAnonymous?(addr: number, length: number, object?: string): void;
  /**
   * mincore of the page at addr: whether it is mapped in right now (undefined when the call fails).
   * A page the kernel zapped out of a driver's mapping reads false. Optional: fakes may omit it.
   */
  pageResident?(addr: number): boolean | undefined;
  readonly pageSize: number;
}

function fail(call: string, object: string | undefined, e: number, hint?: string): never {
  throw new SysError(call, object, e, hint);
}

const fdName = (fd: number) => `fd ${fd}`;

/** The real Sys over libc. */
class LibcSys implements Sys {
  #pageSize = 0;

  get pageSize(): number {
    if (this.#pageSize === 0) {
      const n = Number(libc().sysconf(_SC_PAGESIZE));
      this.#pageSize = n > 0 ? n : 4096;
    }
    return this.#pageSize;
  }

  open(path: string, flags: number, mode = 0): number {
    const c = libc();
    const fd = c.open(cstr(path), flags | O_CLOEXEC, mode);
    const e = fd < 0 ? errno() : 0;
    if (tracing) trace("open", [path, flags, mode], fd, e);
    if (fd < 0) {
      const hint =
        e === 13 ? "permission denied: run as root or give this user access to the file"
        : e === 2 ? `${path} does not exist`
        : undefined;
      fail("open", path, e, hint);
    }
    return fd;
  }

  close(fd: number, object?: string): void {
    const r = libc().close(fd);
    const e = r < 0 ? errno() : 0;
    if (tracing) trace("close", [fd], r, e);
    if (r < 0) fail("close", object ?? fdName(fd), e);
  }

  ioctl(fd: number, request: number, arg: IoctlArg, name: string, object?: string): number {
    const r = libc().ioctl(fd, request, arg as Pointer | null);
    const e = r < 0 ? errno() : 0;
    if (tracing) trace(`ioctl[${name}]`, [fd, `0x${request.toString(16)}`, arg], r, e);
    if (r < 0) fail(name, object ?? fdName(fd), e);
    return r;
  }

  mmap(length: number, prot: number, flags: number, fd: number, offset: number, object?: string): number {
    const p = libc().mmap(null, length, prot, flags, fd, offset) as unknown;
    // MAP_FAILED ((void*)-1) comes back from bun:ffi as the BigInt 2^64-1, not a number.
    const bad = typeof p !== "number" || p === 0;
    const e = bad ? errno() : 0;
    if (tracing) trace("mmap", [length, prot, flags, fd, offset], p, e);
    if (bad) fail("mmap", object ?? fdName(fd), e || 12);
    return p as number;
  }

  munmap(addr: number, length: number, object?: string): void {
    const r = libc().munmap(addr as Pointer, length);
    const e = r < 0 ? errno() : 0;
    if (tracing) trace("munmap", [addr, length], r, e);
    if (r < 0) fail("munmap", object ?? `mapping 0x${addr.toString(16)}`, e);
  }

  pread(fd: number, buf: Uint8Array, offset: number, object?: string): number {
    const r = Number(libc().pread(fd, buf, buf.byteLength, offset));
    const e = r < 0 ? errno() : 0;
    if (tracing) trace("pread", [fd, buf, offset], r, e);
    if (r < 0) fail("pread", object ?? fdName(fd), e);
    return r;
  }

  pwrite(fd: number, buf: Uint8Array, offset: number, object?: string): number {
    const r = Number(libc().pwrite(fd, buf, buf.byteLength, offset));
    const e = r < 0 ? errno() : 0;
    if (tracing) trace("pwrite", [fd, buf, offset], r, e);
    if (r < 0) fail("pwrite", object ?? fdName(fd), e);
    return r;
  }

  read(fd: number, buf: Uint8Array, object?: string): number {
    const r = Number(libc().read(fd, buf, buf.byteLength));
    const e = r < 0 ? errno() : 0;
    if (tracing) trace("read", [fd, buf], r, e);
    if (r < 0) {
      if (e === 11) return -1;
      fail("read", object ?? fdName(fd), e);
    }
    return r;
  }

  write(fd: number, buf: Uint8Array, object?: string): number {
    const r = Number(libc().write(fd, buf, buf.byteLength));
    const e = r < 0 ? errno() : 0;
    if (tracing) trace("write", [fd, buf], r, e);
    if (r < 0) fail("write", object ?? fdName(fd), e);
    return r;
  }

  eventfd(initval: number, flags: number): number {
    const fd = libc().eventfd(initval, flags);
    const e = fd < 0 ? errno() : 0;
    if (tracing) trace("eventfd", [initval, flags], fd, e);
    if (fd < 0) fail("eventfd", undefined, e);
    return fd;
  }

  poll(fds: PollFd[], timeoutMs: number): number[] {
    // struct pollfd { int fd; short events; short revents; } = 8 bytes
    const buf = new Uint8Array(8 * fds.length);
    const dv = new DataView(buf.buffer);
    fds.forEach((f, i) => {
      dv.setInt32(8 * i, f.fd, true);
      dv.setInt16(8 * i + 4, f.events, true);
    });
    for (;;) {
      // Infinity, NaN or anything past int range means "wait forever" (-1), never a wrapped value
      const t = Number.isFinite(timeoutMs) && timeoutMs <= 0x7fffffff ? Math.max(-1, Math.trunc(timeoutMs)) : -1;
      const r = libc().poll(buf, fds.length, t);
      const e = r < 0 ? errno() : 0;
      if (tracing) trace("poll", [fds.map((f) => f.fd).join("+"), timeoutMs], r, e);
      if (r < 0 && e === 4) continue; // EINTR: a signal; wait again
      if (r < 0) fail("poll", fds.map((f) => fdName(f.fd)).join(", "), e);
      return fds.map((_, i) => dv.getUint16(8 * i + 6, true));
    }
  }

  memfdCreate(name: string, flags: number): number {
    const fd = libc().memfd_create(cstr(name), flags);
    const e = fd < 0 ? errno() : 0;
    if (tracing) trace("memfd_create", [name, flags], fd, e);
    if (fd < 0) fail("memfd_create", name, e);
    return fd;
  }

  ftruncate(fd: number, length: number, object?: string): void {
    const r = libc().ftruncate(fd, length);
    const e = r < 0 ? errno() : 0;
    if (tracing) trace("ftruncate", [fd, length], r, e);
    if (r < 0) fail("ftruncate", object ?? fdName(fd), e);
  }

  mlock(addr: number, length: number): boolean {
    const r = libc().mlock(addr as Pointer, length);
    const e = r < 0 ? errno() : 0;
    if (tracing) trace("mlock", [addr, length], r, e);
    return r === 0;
  }

  munlock(addr: number, length: number): void {
    const r = libc().munlock(addr as Pointer, length);
    const e = r < 0 ? errno() : 0;
    if (tracing) trace("munlock", [addr, length], r, e);
  }

  pageResident(addr: number): boolean | undefined {
    const vec = new Uint8Array(1);
    const r = libc().mincore(addr as Pointer, this.pageSize, vec);
    const e = r < 0 ? errno() : 0;
    if (tracing) trace("mincore", [addr], r, e);
    return r < 0 ? undefined : (vec[0] & 1) === 1;
  }

  remapAnonymous(addr: number, length: number, object?: string): void {
    const p = libc().mmap(addr as Pointer, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) as unknown;
    const bad = p !== addr;
    const e = bad ? errno() : 0;
    if (tracing) trace("mmap[fixed]", [addr, length], p, e);
    if (bad) fail("mmap(MAP_FIXED)", object ?? `mapping 0x${addr.toString(16)}`, e || 22);
  }
}

/** The process-wide real syscall layer. */
export const sys: Sys = new LibcSys();

/** The system page size (sysconf(_SC_PAGESIZE)). */
export function pageSize(): number {
  return sys.pageSize;
}
