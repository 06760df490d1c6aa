// Data patterns for the cross-checks: every block carries a readable header (magic, seed, LBA) and a
// pseudo-random body derived from both, so a block read from the wrong place, a stale block and a
// block of another run are all told apart, and the first difference is reported with its LBA.

export interface Region {
  lba: number;
  blocks: number;
}

/** Regions spread over the namespace: its start, odd sizes and offsets, the middle, its very end. */
export function regions(nsze: number): Region[] {
  const mid = Math.floor(nsze / 2) - 256;
  return [
    { lba: 0, blocks: 256 },
    { lba: 1000, blocks: 1 },
    { lba: 4097, blocks: 33 },
    { lba: mid, blocks: 512 },
    { lba: nsze - 1000, blocks: 7 },
    { lba: nsze - 256, blocks: 256 },
  ];
}

/** A region the rebinding test writes once and checks after every move. */
export function witness(nsze: number): Region {
  return { lba: Math.floor(nsze / 4) + 3, blocks: 24 };
}

const MAGIC = [0x57, 0x44, 0x50, 0x52]; // "WDPR"

/** `blocks` blocks of pattern `seed` starting at `lba`. */
export function pattern(lba: number, blocks: number, blockSize: number, seed: number): Uint8Array {
  const out = new Uint8Array(blocks * blockSize);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * blockSize;
    const at = lba + b;
    out.set(MAGIC, base);
    dv.setUint32(base + 4, seed >>> 0, true);
    dv.setUint32(base + 8, at >>> 0, true);
    dv.setUint32(base + 12, Math.floor(at / 2 ** 32), true);
    let s = (Math.imul(at ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(seed + 1, 0x85ebca6b)) >>> 0 || 0x1234567;
    for (let i = base + 16; i < base + blockSize; i += 4) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      dv.setUint32(i, s >>> 0, true);
    }
  }
  return out;
}

export interface Source {
  /** Which side and the command that put the bytes there / got them back. */
  side: string;
  command: string;
}

/**
 * Undefined when equal; otherwise where the first difference is (LBA, byte in the block, both
 * values), how many blocks differ, and the commands on each side.
 */
export function firstDifference(expected: Uint8Array, got: Uint8Array, lba: number, blockSize: number, wrote: Source, read: Source): string | undefined {
  if (expected.length !== got.length) {
    return `length ${got.length} != ${expected.length} bytes: wrote [${wrote.side}: ${wrote.command}] read [${read.side}: ${read.command}]`;
  }
  let first = -1;
  let bad = 0;
  for (let b = 0; b * blockSize < expected.length; b++) {
    const s = b * blockSize;
    let differs = false;
    for (let i = s; i < s + blockSize; i++) {
      if (expected[i] !== got[i]) {
        if (first < 0) first = i;
        differs = true;
        break;
      }
    }
    if (differs) bad++;
  }
  if (first < 0) return undefined;
  const hex = (v: number | undefined) => `0x${(v ?? 0).toString(16).padStart(2, "0")}`;
  const blk = Math.floor(first / blockSize);
  const header = Array.from(got.subarray(blk * blockSize, blk * blockSize + 16), (v) => v.toString(16).padStart(2, "0")).join("");
  return (
    `data differs at LBA ${lba + blk} byte ${first % blockSize}: expected ${hex(expected[first])}, read ${hex(got[first])} ` +
    `(${bad} of ${expected.length / blockSize} blocks differ; that block's header reads ${header}); ` +
    `wrote [${wrote.side}: ${wrote.command}] read [${read.side}: ${read.command}]`
  );
}
