// errno numbers -> names and one-line meanings (Linux, x86-64/aarch64 generic numbering).
// Only the numbers a driver runtime meets; anything else prints as "errno N".

const TABLE: Record<number, [string, string]> = {
  1: ["EPERM", "operation not permitted"],
  2: ["ENOENT", "no such file or directory"],
  3: ["ESRCH", "no such process"],
  4: ["EINTR", "interrupted system call"],
  5: ["EIO", "input/output error"],
  6: ["ENXIO", "no such device or address"],
  7: ["E2BIG", "argument list too long"],
  9: ["EBADF", "bad file descriptor"],
  11: ["EAGAIN", "resource temporarily unavailable"],
  12: ["ENOMEM", "cannot allocate memory"],
  13: ["EACCES", "permission denied"],
  14: ["EFAULT", "bad address"],
  16: ["EBUSY", "device or resource busy"],
  17: ["EEXIST", "file exists"],
  19: ["ENODEV", "no such device"],
  20: ["ENOTDIR", "not a directory"],
  21: ["EISDIR", "is a directory"],
  22: ["EINVAL", "invalid argument"],
  23: ["ENFILE", "too many open files in system"],
  24: ["EMFILE", "too many open files"],
  25: ["ENOTTY", "inappropriate ioctl for device"],
  27: ["EFBIG", "file too large"],
  28: ["ENOSPC", "no space left on device"],
  30: ["EROFS", "read-only file system"],
  34: ["ERANGE", "result too large"],
  38: ["ENOSYS", "function not implemented"],
  61: ["ENODATA", "no data available"],
  62: ["ETIME", "timer expired"],
  75: ["EOVERFLOW", "value too large for defined data type"],
  95: ["EOPNOTSUPP", "operation not supported"],
  110: ["ETIMEDOUT", "connection timed out"],
};

export const Errno = {
  EPERM: 1, ENOENT: 2, EINTR: 4, EIO: 5, ENXIO: 6, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13,
  EFAULT: 14, EBUSY: 16, EEXIST: 17, ENODEV: 19, EINVAL: 22, EMFILE: 24, ENOTTY: 25, ENOSPC: 28,
  ENOSYS: 38, EOVERFLOW: 75, EOPNOTSUPP: 95,
} as const;

/** "EBUSY" for 16; "errno 999" for numbers not in the table. */
export function errnoName(errno: number): string {
  return TABLE[errno]?.[0] ?? `errno ${errno}`;
}

/** "device or resource busy" for 16; undefined when unknown. */
export function errnoText(errno: number): string | undefined {
  return TABLE[errno]?.[1];
}
