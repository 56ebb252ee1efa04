// The chaos run's recovery figures (src/chaos/recovery-tracker.ts): kills overlapping the outage, keys
// that stalled a second time and kills whose keys never landed are kept out of the median and maximum.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type KillRecovery, summarize } from '../../src/chaos/recovery-tracker.ts';

const kill = (fields: Partial<KillRecovery>): KillRecovery => ({
  atMs: 0,
  kind: 'worker-sigkill',
  keys: 10,
  restalled: 0,
  landed: true,
  duringOutage: false,
  ...fields,
});

test('median and maximum over the landed kills clear of the outage', () => {
  const summary = summarize(
    [
      kill({ recoveryMs: 4000 }),
      kill({ recoveryMs: 6000, restalled: 3, restalledMs: 9000 }),
      kill({ recoveryMs: 2000 }),
      kill({ recoveryMs: 3000 }),
      kill({ recoveryMs: 25_000, duringOutage: true }),
      kill({ landed: false }),
    ],
    9,
  );
  assert.equal(summary.killsTotal, 9);
  assert.equal(summary.kills, 6);
  assert.equal(summary.medianMs, 3500);
  assert.equal(summary.maxMs, 6000);
  assert.equal(summary.outageKills, 1);
  assert.equal(summary.outageMaxMs, 25_000);
  assert.equal(summary.notLanded, 1);
  assert.equal(summary.restalledMaxMs, 9000);
});

test('no figures without a kill that held keys', () => {
  const summary = summarize([], 4);
  assert.equal(summary.medianMs, undefined);
  assert.equal(summary.maxMs, undefined);
  assert.equal(summary.kills, 0);
});
