// The overview's chart data from samples, without a server: levels as read, counters as rates per second,
// per shard and in all, refusals per code, and `since` for the page's later polls.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Sample, ShardSample } from '../../src/series.ts';
import { seriesOf } from '../../src/series.ts';

function shard(
  over: Partial<ShardSample> & { acknowledged?: number; refused?: Record<string, number> },
): ShardSample {
  const { acknowledged = 0, refused = {}, ...rest } = over;
  return {
    lagMs: 0,
    dirtyKeys: 0,
    failedKeys: 0,
    keys: 0,
    bytes: 0,
    activity: {
      shard: 0,
      acknowledged,
      refused,
      rowsWritten: 0,
      rowsRefused: 0,
      eventsInserted: 0,
      outages: 0,
    },
    ...rest,
  };
}

const samples: Sample[] = [
  {
    at: 1000,
    shards: [shard({ lagMs: 500, dirtyKeys: 2, acknowledged: 10 }), shard({ lagMs: 100, dirtyKeys: 1 })],
  },
  {
    at: 3000,
    shards: [
      shard({ lagMs: 1500, dirtyKeys: 4, acknowledged: 30, refused: { BACKLOG_FULL: 4 } }),
      shard({ lagMs: 2500, dirtyKeys: 0, acknowledged: 6 }),
    ],
  },
  // A counter that went back (its hash was deleted): no rate, rather than a negative one.
  { at: 4000, shards: [shard({ acknowledged: 1 }), shard({ acknowledged: 7 })] },
];

test('levels per shard and in all (lag: the oldest; keys: the sum), rates per second from the sample before', () => {
  const payload = seriesOf(samples, { intervalMs: 2000, windowMs: 3_600_000 });
  assert.deepEqual(payload.at, [1000, 3000, 4000]);
  assert.equal(payload.shards, 2);
  assert.deepEqual(payload.series.lagSeconds, { all: [0.5, 2.5, 0], '0': [0.5, 1.5, 0], '1': [0.1, 2.5, 0] });
  assert.deepEqual(payload.series.dirtyKeys.all, [3, 4, 0]);
  assert.deepEqual(payload.series.acknowledgedPerSecond, {
    all: [null, 13, null],
    '0': [null, 10, null],
    '1': [null, 3, 1],
  });
  assert.deepEqual(payload.series.refusedPerSecond, { BACKLOG_FULL: [null, 2, null] });
});

test('since: only later samples, their rates from the sample before', () => {
  const payload = seriesOf(samples, { since: 1000, intervalMs: 2000, windowMs: 3_600_000 });
  assert.deepEqual(payload.at, [3000, 4000]);
  assert.deepEqual(payload.series.acknowledgedPerSecond.all, [13, null]);
  assert.deepEqual(seriesOf(samples, { since: 4000, intervalMs: 1, windowMs: 1 }).at, []);
});

test('one shard: the `all` series only', () => {
  const payload = seriesOf([{ at: 1, shards: [shard({ dirtyKeys: 1 })] }], { intervalMs: 1, windowMs: 1 });
  assert.deepEqual(Object.keys(payload.series.dirtyKeys), ['all']);
});
