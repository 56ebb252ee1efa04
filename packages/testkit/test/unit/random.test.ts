// The seeded PRNG the benchmark's key choosers and the chaos clients draw from (no servers needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '../../src/random.ts';

test('mulberry32: the same seed gives the same sequence, another seed another', () => {
  const draw = (seed: number) => Array.from({ length: 100 }, mulberry32(seed));
  assert.deepEqual(draw(7), draw(7));
  assert.notDeepEqual(draw(7), draw(8));
  assert.ok(draw(7).every((x) => x >= 0 && x < 1));
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
