// A writer for the "newc" cpio format (the one the Linux kernel unpacks as an initramfs).
// Written here instead of shelling out to cpio(1) so that entries can be given any path inside the
// archive (the repo goes under /wd without a staging copy), symlinks are stored as they are, and
// several archives can simply be concatenated: the kernel unpacks them one after another, later
// entries replacing earlier ones.
//
// Layout of one entry: a 110-byte ASCII header ("070701" and 13 eight-digit hex fields), the name
// with its NUL, padding to a multiple of 4, the data, padding to a multiple of 4. The archive ends
// with an entry named "TRAILER!!!".
import type { FileSink } from "bun";

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

export type CpioEntry =
  | { kind: "file"; path: string; mode?: number; data: Uint8Array; mtime?: number }
  | { kind: "dir"; path: string; mode?: number }
  | { kind: "symlink"; path: string; target: string }
  | { kind: "chardev"; path: string; mode?: number; major: number; minor: number };

const encoder = new TextEncoder();

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`cpio: field out of range: ${n}`);
  return n.toString(16).padStart(8, "0");
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** Streams entries into a file. Parent directories are added on demand, each once. */
export class CpioWriter {
  private readonly sink: FileSink;
  private ino = 1;
  private written = 0;
  private readonly dirs = new Set<string>([""]);
  private closed = false;

  constructor(path: string) {
    this.sink = Bun.file(path).writer({ highWaterMark: 1 << 20 });
  }

  /** Bytes written so far. */
  get size(): number {
    return this.written;
  }

  add(entry: CpioEntry): void {
    if (this.closed) throw new Error("cpio: archive already finished");
    const path = normalize(entry.path);
    this.ensureParents(path);
    switch (entry.kind) {
      case "dir":
        if (this.dirs.has(path)) return;
        this.dirs.add(path);
        this.raw(path, S_IFDIR | (entry.mode ?? 0o755), 2, new Uint8Array(0), 0, 0, 0);
        return;
      case "file":
        this.raw(path, S_IFREG | (entry.mode ?? 0o644), 1, entry.data, entry.mtime ?? 0, 0, 0);
        return;
      case "symlink":
        this.raw(path, S_IFLNK | 0o777, 1, encoder.encode(entry.target), 0, 0, 0);
        return;
      case "chardev":
        this.raw(path, S_IFCHR | (entry.mode ?? 0o600), 1, new Uint8Array(0), 0, entry.major, entry.minor);
        return;
    }
  }

  /** Writes the trailer and closes the file. */
  async finish(): Promise<number> {
    this.raw("TRAILER!!!", 0, 1, new Uint8Array(0), 0, 0, 0, 0);
    this.closed = true;
    await this.sink.end();
    return this.written;
  }

  private ensureParents(path: string) {
    const parts = path.split("/");
    let cur = "";
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i];
      if (!this.dirs.has(cur)) {
        this.dirs.add(cur);
        this.raw(cur, S_IFDIR | 0o755, 2, new Uint8Array(0), 0, 0, 0);
      }
    }
  }

  private raw(name: string, mode: number, nlink: number, data: Uint8Array, mtime: number, rmaj: number, rmin: number, ino = this.ino++) {
    const nameBytes = encoder.encode(`${name}\0`);
    const header =
      "070701" +
      hex8(ino) +
      hex8(mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8(nlink) +
      hex8(Math.floor(mtime)) +
      hex8(data.length) +
      hex8(0) + // devmajor
      hex8(0) + // devminor
      hex8(rmaj) +
      hex8(rmin) +
      hex8(nameBytes.length) +
      hex8(0); // check (only used by the "070702" variant)
    const headLen = header.length + nameBytes.length;
    this.put(encoder.encode(header));
    this.put(nameBytes);
    this.put(new Uint8Array(pad4(headLen)));
    if (data.length > 0) {
      this.put(data);
      this.put(new Uint8Array(pad4(data.length)));
    }
  }

  private put(bytes: Uint8Array) {
    if (bytes.length === 0) return;
    this.sink.write(bytes);
    this.written += bytes.length;
  }
}

function normalize(path: string): string {
  const p = path.replace(/^\/+/, "").replace(/\/+$/, "");
  if (!p || p.split("/").some((s) => s === ".." || s === "." || s === "")) throw new Error(`cpio: bad path ${JSON.stringify(path)}`);
  return p;
}

/** Parses a newc archive back into (path, mode, size) triples: for tests and `--list`. */
export function listCpio(bytes: Uint8Array): { path: string; mode: number; size: number; data: Uint8Array }[] {
  const out: { path: string; mode: number; size: number; data: Uint8Array }[] = [];
  const dec = new TextDecoder();
  let off = 0;
  while (off + 110 <= bytes.length) {
    const magic = dec.decode(bytes.subarray(off, off + 6));
    if (magic !== "070701") {
      // Zero padding between concatenated archives is allowed.
      if (bytes[off] === 0) {
        off += 4;
        continue;
      }
      throw new Error(`cpio: bad magic at ${off}`);
    }
    const field = (i: number) => parseInt(dec.decode(bytes.subarray(off + 6 + i * 8, off + 14 + i * 8)), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const name = dec.decode(bytes.subarray(off + 110, off + 110 + nameSize - 1));
    off += 110 + nameSize;
    off += pad4(110 + nameSize);
    const data = bytes.subarray(off, off + size);
    off += size + pad4(size);
    if (name !== "TRAILER!!!") out.push({ path: name, mode, size, data });
  }
  return out;
}
