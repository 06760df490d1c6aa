// Child of sigbus-guard.test.ts: maps a memfd, shrinks the file under the mapping (the next touch is
// SIGBUS, as after a driver's zap), then reads it with or without a guard and prints what happened.
// A crash here is the expected result without a guard; it would be the test runner's own without
// this process.
import { toArrayBuffer, type Pointer } from "bun:ffi";
import { MAP_SHARED, PROT_READ, PROT_WRITE, sys } from "@warpdrive/runtime/sys/libc";
import { guardMapping } from "@warpdrive/runtime/uacce/sigbus-guard";

const mode = process.argv[2];
const size = 2 * sys.pageSize;
const fd = sys.memfdCreate("wd-sigbus-guard", 0);
sys.ftruncate(fd, size);
const ptr = sys.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, "memfd");
const bytes = new Uint8Array(toArrayBuffer(ptr as Pointer, 0, size));
bytes.fill(7);
const guard = mode === "guarded" ? guardMapping(ptr, size) : undefined;
if (mode === "guarded" && guard === undefined) throw new Error("no guard (native helper unavailable)");
sys.ftruncate(fd, 0); // the pages are gone: a touch is SIGBUS
console.log(`before hit=${guard?.hit ?? "none"}`);
const v = bytes[sys.pageSize + 5];
console.log(`read ${v} hit=${guard?.hit ?? "none"}`);
bytes[3] = 9; // a store into the replacement memory works too
console.log(`wrote ${bytes[3]} other=${bytes[4]}`);
guard?.remove();
console.log(`removed hit=${guard?.hit ?? "none"}`);
