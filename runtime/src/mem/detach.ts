// Detaching an ArrayBuffer over memory we are about to munmap: `transfer(0)` detaches the buffer and
// every view on it, so a stale view reads as empty instead of touching unmapped (or reused) pages.
// (Typed here because the repo's TS lib is ES2023, which predates ArrayBuffer.prototype.transfer.)
export function detach(ab: ArrayBuffer): void {
  (ab as ArrayBuffer & { transfer(n: number): ArrayBuffer }).transfer(0);
}
