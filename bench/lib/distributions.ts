/*
 * Key choosers for the load generators. Pure and seeded, so every case of one run (and every run) draws the
 * same sequence of keys: A, B, C and W1 hit exactly the same keys in the same order.
 */
import { mulberry32 } from '@write-behind/testkit';

/** Uniform key indexes in [0, keys). */
export function uniform(keys: number, seed = 1): () => number {
  const random = mulberry32(seed);
  return () => Math.floor(random() * keys);
}

/**
 * Zipf-distributed key indexes in [0, keys): index k (0-based) is drawn with probability proportional to
 * 1 / (k + 1)^s. Inverse-CDF over a precomputed table, binary search per draw.
 */
export function zipf(keys: number, s: number, seed = 1): () => number {
  const cdf = zipfCdf(keys, s);
  const random = mulberry32(seed);
  return () => {
    const u = random();
    let low = 0;
    let high = keys - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((cdf[middle] as number) < u) low = middle + 1;
      else high = middle;
    }
    return low;
  };
}

/** Cumulative probabilities of a Zipf distribution over `keys` ranks; the last entry is exactly 1. */
export function zipfCdf(keys: number, s: number): Float64Array {
  const cdf = new Float64Array(keys);
  let total = 0;
  for (let k = 0; k < keys; k++) {
    total += 1 / (k + 1) ** s;
    cdf[k] = total;
  }
  for (let k = 0; k < keys; k++) cdf[k] = (cdf[k] as number) / total;
  cdf[keys - 1] = 1;
  return cdf;
}
