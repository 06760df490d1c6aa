// Latency histograms shared with bench/c/consumer.c: 1024 buckets, exact below 16 ns, then 16
// linear sub-buckets per power of two (about 6% wide), so 10^6 samples cost 4 KiB and no sorting.
export const BUCKETS = 1024;

/** Bucket of a duration in ns (same formula as bucket() in consumer.c). */
export function bucketOf(ns: number): number {
  const v = ns < 0 ? 0 : ns >= 0xffffffff ? 0xffffffff : Math.floor(ns);
  if (v < 16) return v;
  const e = 31 - Math.clz32(v);
  const b = (e - 3) * 16 + ((v >>> (e - 4)) & 15);
  return b < BUCKETS - 1 ? b : BUCKETS - 1;
}

/** [low, high) in ns of bucket b. */
export function bucketRange(b: number): [number, number] {
  if (b < 16) return [b, b + 1];
  const e = (b >> 4) + 3;
  const width = 2 ** (e - 4);
  const low = 2 ** e + (b & 15) * width;
  return [low, low + width];
}

export interface LatencySummary {
  count: number;
  /** Upper bounds of the buckets holding each percentile, ns. */
  p50: number;
  p99: number;
  p9999: number;
  max: number;
  /** Non-empty buckets: [low ns, high ns, count]. */
  histogram: [number, number, number][];
}

export function summarize(hist: Uint32Array): LatencySummary {
  let count = 0;
  for (const c of hist) count += c;
  const at = (q: number): number => {
    const rank = Math.ceil(q * count);
    let seen = 0;
    for (let b = 0; b < hist.length; b++) {
      seen += hist[b];
      if (seen >= rank && hist[b] > 0) return bucketRange(b)[1];
    }
    return 0;
  };
  const histogram: [number, number, number][] = [];
  let max = 0;
  for (let b = 0; b < hist.length; b++) {
    if (hist[b] === 0) continue;
    const [lo, hi] = bucketRange(b);
    histogram.push([lo, hi, hist[b]]);
    max = hi;
  }
  return { count, p50: at(0.5), p99: at(0.99), p9999: at(0.9999), max, histogram };
}
