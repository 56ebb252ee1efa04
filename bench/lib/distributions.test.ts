// Unit tests for the key choosers: `node --import tsx --test bench/lib/*.test.ts` (no servers needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32, uniform, zipf, zipfCdf } from './distributions.ts';

test('the same seed gives the same sequence', () => {
  const a = uniform(1000, 7);
  const b = uniform(1000, 7);
  const c = uniform(1000, 8);
  const seqA = Array.from({ length: 100 }, a);
  assert.deepEqual(seqA, Array.from({ length: 100 }, b));
  assert.notDeepEqual(seqA, Array.from({ length: 100 }, c));
  assert.ok(seqA.every((k) => Number.isInteger(k) && k >= 0 && k < 1000));
});

test('mulberry32 is uniform enough: 10 buckets within 5 % of expected', () => {
  const random = mulberry32(3);
  const buckets = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const index = Math.floor(random() * 10);
    buckets[index] = (buckets[index] ?? 0) + 1;
  }
  for (const n of buckets) assert.ok(Math.abs(n - 10_000) < 500, `bucket holds ${n}`);
});

test('zipf: rank k is drawn in proportion to 1/(k+1)^s', () => {
  const keys = 100;
  const s = 1.1;
  const cdf = zipfCdf(keys, s);
  assert.equal(cdf[keys - 1], 1);
  const draw = zipf(keys, s, 5);
  const counts = new Array<number>(keys).fill(0);
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    const k = draw();
    counts[k] = (counts[k] ?? 0) + 1;
  }
  const p0 = cdf[0] as number;
  assert.ok(Math.abs((counts[0] as number) / n - p0) < 0.01, `rank 0: ${(counts[0] as number) / n} vs ${p0}`);
  // Rank 0 is drawn about 2^1.1 ≈ 2.14 times as often as rank 1.
  const ratio = (counts[0] as number) / (counts[1] as number);
  assert.ok(Math.abs(ratio - 2 ** s) < 0.15, `rank 0 / rank 1 = ${ratio}`);
  assert.ok((counts[keys - 1] as number) > 0, 'the rarest key is still drawn');
});
