// Unit tests for the latency histogram: `npm run test:unit` (no servers needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '@write-behind/testkit';
import { bucketOf, bucketRange, createHistogram, merge, percentile, record } from '../../lib/histogram.ts';

/** Nearest-rank percentile over sorted values: the definition the histogram approximates. */
function exactPercentile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;
}

test('buckets are contiguous and each value falls inside its own bucket', () => {
  let previousHigh = -1;
  for (let index = 0; index < 2000; index++) {
    const [low, high] = bucketRange(index);
    assert.equal(low, previousHigh + 1, `bucket ${index} starts where ${index - 1} ended`);
    assert.equal(bucketOf(low), index);
    assert.equal(bucketOf(high), index);
    previousHigh = high;
  }
  for (const v of [0, 1, 127, 128, 255, 256, 1e6, 2 ** 40 - 1, 2 ** 40, 123_456_789_012]) {
    const [low, high] = bucketRange(bucketOf(v));
    assert.ok(low <= v && v <= high, `${v} in [${low}, ${high}]`);
    assert.ok(high - low <= Math.max(0, v / 64), `bucket of ${v} is at most 1/64 wide`);
  }
});

test('small values are exact', () => {
  const h = createHistogram();
  for (let v = 1; v <= 100; v++) record(h, v);
  assert.equal(percentile(h, 0.5), 50);
  assert.equal(percentile(h, 0.99), 99);
  assert.equal(percentile(h, 1), 100);
  assert.equal(percentile(h, 0), 1);
});

test('percentiles of a long-tailed sample are within 1 % of the exact ones', () => {
  const random = mulberry32(42);
  const h = createHistogram();
  const values: number[] = [];
  for (let i = 0; i < 100_000; i++) {
    // Log-normal-ish latencies in nanoseconds: 100 µs typical, tail to tens of ms.
    const v = Math.round(100_000 * Math.exp(1.2 * Math.sqrt(-2 * Math.log(random() || 1e-12)) * 0.7));
    values.push(v);
    record(h, v);
  }
  values.sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.99, 0.999, 1]) {
    const exact = exactPercentile(values, q);
    const approx = percentile(h, q);
    assert.ok(Math.abs(approx - exact) / exact < 0.01, `p${q * 100}: ${approx} vs exact ${exact}`);
  }
  assert.equal(h.total, 100_000);
  assert.equal(h.max, values.at(-1));
});

test('merge adds counts; an empty histogram has no percentiles', () => {
  const a = createHistogram();
  const b = createHistogram();
  assert.ok(Number.isNaN(percentile(a, 0.5)));
  for (let v = 1; v <= 50; v++) record(a, v);
  for (let v = 51; v <= 100; v++) record(b, v);
  merge(a, b);
  assert.equal(a.total, 100);
  assert.equal(percentile(a, 0.5), 50);
  assert.equal(a.max, 100);
  assert.throws(() => percentile(a, 2), RangeError);
});
