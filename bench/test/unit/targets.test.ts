// Unit tests for the target verdicts: `npm run test:unit` (no servers needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CaseResult } from '../../lib/context.ts';
import { evaluateTargets } from '../../lib/targets.ts';

const row = (id: string, fields: Partial<CaseResult> = {}): CaseResult => ({
  id,
  title: id,
  notes: [],
  metrics: {},
  ...fields,
});

test('ratios from the same run decide PASS and MISS; missing cases are n/a', () => {
  const targets = evaluateTargets(
    [
      row('A', { rate: 40_000, p99Ms: 5 }),
      row('B', { rate: 2_000 }),
      row('W1', { rate: 30_000, p99Ms: 1.5 }),
      row('W2', { rate: 10_000 }),
      row('F1', { rate: 6_000, metrics: { statementsPerKey: 0.01 } }),
      row('F1 ceiling', { rate: 10_000 }),
      row('M1', { metrics: { bytesPerKey: 1024 } }),
      row('L1', { metrics: { targetRate: 10_000, achievedRate: 9_000, lagP99Ms: 1500, drainMs: 900 } }),
    ],
    1000,
  );
  const verdict = (name: string) => targets.find((t) => t.target.startsWith(name))?.verdict;
  assert.equal(verdict('W1 ≥ 0.6'), 'PASS'); // 0.75
  assert.equal(verdict('W1 p99'), 'PASS');
  assert.equal(verdict('W2 ≥ 0.3'), 'MISS'); // 0.25
  assert.equal(verdict('W1 ≥ 10 × B'), 'PASS'); // 15
  assert.equal(verdict('W2 ≥ 10 × B'), 'MISS'); // 5
  assert.equal(verdict('W3 ≥ 10 × B'), 'n/a');
  assert.equal(verdict('F1 ≥ 0.7'), 'MISS'); // 0.6
  assert.equal(verdict('F1 ≤ 1 SQL'), 'PASS');
  assert.equal(verdict('C1'), 'n/a');
  assert.equal(verdict('M1 <'), 'MISS', 'exactly 1 KiB is not below 1 KiB');
  assert.equal(verdict('L1 holds'), 'MISS', '90 % of the rate asked is not the load L1 names');
  assert.equal(verdict('L1 ack→row'), 'PASS');
});
