// Guarantee 19: a shard's BullMQ worker that stops taking jobs while its process lives (BullMQ's fetch loop
// parked after a Redis failover, as seen on Redis Cluster) is replaced after `stuckAfterMs`, and the keys it
// left reach PostgreSQL; an operator's pause of the queue is not taken for one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bullWorkersOf } from '@write-behind/core/internal';
import { createHarness, eventually, type Harness } from '@write-behind/testkit';

const STUCK_AFTER_MS = 1000;

describe('a shard worker that stops taking jobs', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({ flush: { windowMs: 50 } });
  });
  after(() => h.close());

  test('is replaced, and what it left is flushed', async () => {
    const worker = await h.startWorker({ stuckAfterMs: STUCK_AFTER_MS });
    const [parked] = bullWorkersOf(worker);
    assert.ok(parked);
    // Its fetch loop ends while the process and its connections live on, as a parked one would.
    await parked.pause(true);
    for (let i = 0; i < 20; i++) await h.cache.increment('video', `v${i}`, 'likes', i + 1);
    assert.ok(
      await eventually(async () => (await h.cache.stats()).dirtyKeys === 0, 15_000, 50),
      'every key flushed by the replacement',
    );
    const { rows } = await h.db.pool.query('SELECT sum(likes)::int AS total FROM "Video"');
    assert.equal(rows[0].total, (20 * 21) / 2);
    assert.notEqual(bullWorkersOf(worker)[0], parked, 'the worker was replaced');
    assert.ok(
      h.logs.some((l) => l.level === 'warn' && /took no job while jobs waited/.test(l.msg)),
      'the replacement is logged',
    );
  });

  test('a queue an operator paused is left alone', async () => {
    const worker = await h.startWorker({ stuckAfterMs: STUCK_AFTER_MS });
    const before = bullWorkersOf(worker)[0];
    await h.queue.pause();
    await h.cache.increment('video', 'held', 'likes', 1);
    // Three periods: the check runs every fifth of one, so a wrong decision would have been taken.
    const deadline = Date.now() + 3 * STUCK_AFTER_MS;
    await eventually(() => Date.now() > deadline, 5_000, 100);
    assert.equal(bullWorkersOf(worker)[0], before, 'not replaced');
    assert.equal((await h.cache.stats()).dirtyKeys, 1, 'and nothing flushed while paused');
    await h.queue.resume();
    await h.cache.flushed('video', 'held');
  });
});
