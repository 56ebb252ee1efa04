/*
 * A log-linear latency histogram, the HdrHistogram idea in a few lines. Values below 128 get a bucket each
 * (exact); above, every power of two is cut into 64 equal sub-buckets, so a reported percentile is within
 * 1/128 (0.8 %) of a value that was recorded, whatever its magnitude, in constant memory and O(1) per
 * record. Pure: no I/O, no clock. Values are non-negative integers (the benchmark records nanoseconds).
 */

const HALF = 64;
const EXACT = 2 * HALF;
/** Enough buckets for any value below 2^62. */
const BUCKETS = 62 * HALF + EXACT;

export interface Histogram {
  counts: Float64Array;
  total: number;
  min: number;
  max: number;
  sum: number;
}

export function createHistogram(): Histogram {
  return { counts: new Float64Array(BUCKETS), total: 0, min: Number.POSITIVE_INFINITY, max: 0, sum: 0 };
}

/** The bucket of a value: the value itself below 128, else exponent and sub-bucket. */
export function bucketOf(value: number): number {
  const v = Math.max(0, Math.floor(value));
  if (v < EXACT) return v;
  let exponent = Math.floor(Math.log2(v)) - Math.log2(HALF);
  // Math.log2 may round up just below a power of two; pull the exponent back so the sub-bucket fits.
  while (exponent > 0 && Math.floor(v / 2 ** exponent) < HALF) exponent--;
  while (Math.floor(v / 2 ** exponent) >= EXACT) exponent++;
  return exponent * HALF + Math.floor(v / 2 ** exponent);
}

/** The lowest and highest value a bucket holds. */
export function bucketRange(index: number): [low: number, high: number] {
  if (index < EXACT) return [index, index];
  const exponent = Math.floor(index / HALF) - 1;
  const sub = index - exponent * HALF;
  return [sub * 2 ** exponent, (sub + 1) * 2 ** exponent - 1];
}

export function record(histogram: Histogram, value: number): void {
  const index = Math.min(bucketOf(value), BUCKETS - 1);
  histogram.counts[index] = (histogram.counts[index] ?? 0) + 1;
  histogram.total++;
  histogram.sum += value;
  if (value < histogram.min) histogram.min = value;
  if (value > histogram.max) histogram.max = value;
}

/** Adds `from` into `into`. */
export function merge(into: Histogram, from: Histogram): void {
  for (let i = 0; i < BUCKETS; i++) into.counts[i] = (into.counts[i] ?? 0) + (from.counts[i] ?? 0);
  into.total += from.total;
  into.sum += from.sum;
  into.min = Math.min(into.min, from.min);
  into.max = Math.max(into.max, from.max);
}

/**
 * The nearest-rank percentile (`q` from 0 to 1): the smallest recorded value that at least q·total values
 * do not exceed, reported as the middle of its bucket (clamped to the recorded min and max). NaN when empty.
 */
export function percentile(histogram: Histogram, q: number): number {
  if (histogram.total === 0) return Number.NaN;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`percentile q must be within 0..1, got ${q}`);
  const rank = Math.max(1, Math.ceil(q * histogram.total));
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += histogram.counts[i] ?? 0;
    if (seen >= rank) {
      const [low, high] = bucketRange(i);
      return Math.min(histogram.max, Math.max(histogram.min, (low + high) / 2));
    }
  }
  return histogram.max;
}

export function mean(histogram: Histogram): number {
  return histogram.total === 0 ? Number.NaN : histogram.sum / histogram.total;
}
