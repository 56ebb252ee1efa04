// Unit tests for the key choosers: `npm run test:unit` (no servers needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniform, zipf, zipfCdf } from '../../lib/distributions.ts';

test('the same seed gives the same sequence', () => {
  const a = uniform(1000, 7);
  const b = uniform(1000, 7);
  const c = uniform(1000, 8);
  const seqA = Array.from({ length: 100 }, a);
  assert.deepEqual(seqA, Array.from({ length: 100 }, b));
  assert.notDeepEqual(seqA, Array.from({ length: 100 }, c));
  assert.ok(seqA.every((k) => Number.isInteger(k) && k >= 0 && k < 1000));
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
