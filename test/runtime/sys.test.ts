// The libc layer: errno lands in typed errors naming the call and the object, WD_TRACE logs calls,
// eventfds signal and wait, and nothing leaks fds.
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { ConfigError, formatError, SysError, VfioError, WarpDriveError } from "@warpdrive/runtime/errors";
import { Errno, errnoName, errnoText } from "@warpdrive/runtime/errno";
import { EventFd } from "@warpdrive/runtime/sys/eventfd";
import { MAP_PRIVATE, MFD_CLOEXEC, O_RDONLY, PROT_READ, PROT_WRITE, pageSize, sys } from "@warpdrive/runtime/sys/libc";

const fdCount = () => readdirSync("/proc/self/fd").length;

function caught(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

test("errno names and texts", () => {
  expect(errnoName(16)).toBe("EBUSY");
  expect(errnoName(Errno.ENOTTY)).toBe("ENOTTY");
  expect(errnoName(4242)).toBe("errno 4242");
  expect(errnoText(2)).toBe("no such file or directory");
});

test("close of a bad fd is a SysError naming close, the fd and EBADF", () => {
  const e = caught(() => sys.close(987654));
  expect(e).toBeInstanceOf(SysError);
  expect(e).toBeInstanceOf(WarpDriveError);
  const s = e as SysError;
  expect(s.call).toBe("close");
  expect(s.errno).toBe(Errno.EBADF);
  expect(s.errnoName).toBe("EBADF");
  expect(s.message).toBe("close on fd 987654: EBADF (bad file descriptor)");
  expect(formatError(s)).toBe("SysError: close on fd 987654: EBADF (bad file descriptor)");
});

test("open of a missing file names the path", () => {
  const e = caught(() => sys.open("/nonexistent/warpdrive/x", O_RDONLY)) as SysError;
  expect(e).toBeInstanceOf(SysError);
  expect(e.errnoName).toBe("ENOENT");
  expect(e.message).toContain("open on /nonexistent/warpdrive/x: ENOENT");
});

test("ioctl on a bad fd carries the ioctl's name", () => {
  const e = caught(() => sys.ioctl(987654, 0x3b64, null, "VFIO_GET_API_VERSION", "/dev/vfio/vfio")) as SysError;
  expect(e.call).toBe("VFIO_GET_API_VERSION");
  expect(e.message).toStartWith("VFIO_GET_API_VERSION on /dev/vfio/vfio: EBADF");
});

test("ioctl with a wrong request on a real fd gives ENOTTY", () => {
  const fd = sys.open("/dev/null", O_RDONLY);
  try {
    const e = caught(() => sys.ioctl(fd, 0x3b64, null, "VFIO_GET_API_VERSION", "/dev/null")) as SysError;
    expect(e.errnoName).toBe("ENOTTY");
  } finally {
    sys.close(fd);
  }
});

test("mmap failure (MAP_FAILED comes back as a BigInt) is a SysError, not a bogus pointer", () => {
  // a file mapping of fd -1 without MAP_ANONYMOUS: EBADF
  const e = caught(() => sys.mmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, -1, 0, "test mapping")) as SysError;
  expect(e).toBeInstanceOf(SysError);
  expect(e.call).toBe("mmap");
  expect(e.errnoName).toBe("EBADF");
  expect(e.message).toContain("test mapping");
});

test("pread/pwrite round trip through a memfd", () => {
  const fd = sys.memfdCreate("wd-sys-test", MFD_CLOEXEC);
  try {
    sys.ftruncate(fd, 4096);
    expect(sys.pwrite(fd, new Uint8Array([1, 2, 3, 4]), 100)).toBe(4);
    const b = new Uint8Array(4);
    expect(sys.pread(fd, b, 100)).toBe(4);
    expect([...b]).toEqual([1, 2, 3, 4]);
    // reading past the end returns 0, not an error
    expect(sys.pread(fd, b, 8192)).toBe(0);
  } finally {
    sys.close(fd);
  }
});

test("page size is a power of two", () => {
  const p = pageSize();
  expect(p).toBeGreaterThanOrEqual(4096);
  expect(p & (p - 1)).toBe(0);
});

test("eventfd: take is non-blocking, signal accumulates, wait consumes", () => {
  const ev = new EventFd("test irq");
  try {
    expect(ev.take()).toBe(0);
    expect(ev.wait(0)).toBe(false);
    ev.signal(2);
    ev.signal(3);
    expect(ev.take()).toBe(5);
    expect(ev.take()).toBe(0);
    ev.signal();
    expect(ev.wait(-1)).toBe(true); // already pending: returns without sleeping
    ev.signal();
    expect(ev.wait(Number.POSITIVE_INFINITY)).toBe(true);
    expect(ev.take()).toBe(0);
  } finally {
    ev.close();
  }
  ev.close(); // idempotent
  expect(() => ev.take()).toThrow("test irq was used after it was closed");
});

test("poll reports readiness per fd", () => {
  const a = new EventFd("a");
  const b = new EventFd("b");
  try {
    b.signal();
    const rev = sys.poll([{ fd: a.fd, events: 1 }, { fd: b.fd, events: 1 }], 0);
    expect(rev[0]).toBe(0);
    expect(rev[1]! & 1).toBe(1);
  } finally {
    a.close();
    b.close();
  }
});

test("no fd leaks over many eventfd and memfd cycles", () => {
  const before = fdCount();
  for (let i = 0; i < 300; i++) {
    const ev = new EventFd();
    ev.signal();
    ev.take();
    ev.close();
    const m = sys.memfdCreate("leak", MFD_CLOEXEC);
    sys.close(m);
  }
  expect(fdCount()).toBe(before);
});

test("mlock is best effort and returns a boolean", () => {
  const len = pageSize();
  const p = sys.mmap(len, PROT_READ | PROT_WRITE, 0x22, -1, 0);
  try {
    expect(typeof sys.mlock(p, len)).toBe("boolean");
    sys.munlock(p, len);
  } finally {
    sys.munmap(p, len);
  }
});

test("WD_TRACE=1 logs each call with its result and errno", async () => {
  const code = `import { sys } from ${JSON.stringify(new URL("../../runtime/src/sys/libc.ts", import.meta.url).pathname)};
    try { sys.close(987654); } catch {}
    sys.close(sys.open("/dev/null", 0));`;
  const p = Bun.spawn([process.execPath, "-e", code], { env: { ...process.env, WD_TRACE: "1" }, stderr: "pipe", stdout: "pipe" });
  const err = await new Response(p.stderr).text();
  expect(await p.exited).toBe(0);
  expect(err).toContain("[wd] close(987654) = -1 errno=9");
  expect(err).toMatch(/\[wd\] open\("\/dev\/null", 0, 0\) = \d+/);
});

test("error kinds format as one line with the hint", () => {
  const v = new VfioError("VFIO_GROUP_SET_CONTAINER", "/dev/vfio/7", 16, "is every device of the group bound to vfio-pci?");
  expect(formatError(v)).toBe(
    "VfioError: VFIO_GROUP_SET_CONTAINER on /dev/vfio/7: EBUSY (is every device of the group bound to vfio-pci?)",
  );
  expect(v.hint).toBe("is every device of the group bound to vfio-pci?");
  const nv = new VfioError("VFIO_GROUP_GET_STATUS", "/dev/vfio/7", undefined, "IOMMU group 7 is not viable");
  expect(nv.message).toBe("VFIO_GROUP_GET_STATUS on /dev/vfio/7: IOMMU group 7 is not viable");
  expect(new ConfigError("x").name).toBe("ConfigError");
  expect(formatError(new Error("plain"))).toBe("Error: plain");
});

test("wait(Infinity) sleeps until another thread signals (never a wrapped timeout)", async () => {
  const ev = new EventFd("cross-thread");
  const libcPath = new URL("../../runtime/src/sys/libc.ts", import.meta.url).pathname;
  const worker = new Worker(
    URL.createObjectURL(
      new Blob(
        [
          `import { sys } from ${JSON.stringify(libcPath)};
           self.onmessage = (e) => {
             postMessage("started");
             const until = Date.now() + 30; while (Date.now() < until) {}
             const one = new Uint8Array(8); one[0] = 1; sys.write(e.data, one);
           };`,
        ],
        { type: "application/typescript" },
      ),
    ),
  );
  try {
    const started = new Promise((r) => (worker.onmessage = r));
    worker.postMessage(ev.fd);
    await started;
    expect(ev.wait(Number.POSITIVE_INFINITY)).toBe(true);
  } finally {
    worker.terminate();
    ev.close();
  }
});
