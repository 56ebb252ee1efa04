// Guarantee 10: past the backlog limit, writes to clean keys fail with a typed error and change nothing;
// with the `wait` policy they wait for room up to a timeout.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { BacklogFullError } from '@write-behind/core';
import { createHarness, type Harness } from '@write-behind/testkit';

const harnesses: Harness[] = [];
after(() => Promise.all(harnesses.map((h) => h.close())));

test('reject policy: the write past the limit fails and changes nothing', async () => {
  const h = await createHarness({ backlog: { limit: 5 } });
  harnesses.push(h);
  for (let i = 0; i < 5; i++) await h.cache.increment('video', `k${i}`, 'likes');
  await assert.rejects(h.cache.increment('video', 'k5', 'likes'), (err: unknown) => {
    assert.ok(err instanceof BacklogFullError);
    assert.equal(err.code, 'BACKLOG_FULL');
    assert.equal(err.limit, 5);
    assert.match(err.message, /backlog\.limit/);
    return true;
  });
  await assert.rejects(h.cache.set('settings', 'u', { language: 'en' }), BacklogFullError);
  assert.equal(await h.cache.get('video', 'k5'), null);
  assert.equal((await h.cache.stats()).dirtyKeys, 5);
  assert.equal((await h.queue.getJobCounts()).delayed, 5);
  // A key already dirty costs no memory: its writes are still accepted.
  assert.equal(await h.cache.increment('video', 'k0', 'likes'), 2);

  // Once the workers drain the backlog, writes are accepted again.
  const worker = await h.startWorker();
  await h.cache.drain();
  assert.equal(await h.cache.increment('video', 'k5', 'likes'), 1);

  // A key that is in Redis but clean makes the backlog grow too: refused the same way, unchanged.
  await worker.close();
  for (let i = 6; i < 10; i++) await h.cache.increment('video', `k${i}`, 'likes');
  await assert.rejects(h.cache.increment('video', 'k0', 'likes'), BacklogFullError);
  assert.deepEqual(await h.cache.get('video', 'k0'), { likes: 2, views: 0 });
  assert.equal((await h.cache.stats()).dirtyKeys, 5);
});

test('wait policy: a write times out with the same error', async () => {
  const h = await createHarness({ backlog: { limit: 2, policy: 'wait', waitTimeoutMs: 300 } });
  harnesses.push(h);
  await h.cache.increment('video', 'a', 'likes');
  await h.cache.increment('video', 'b', 'likes');
  const started = Date.now();
  await assert.rejects(h.cache.increment('video', 'c', 'likes'), BacklogFullError);
  assert.ok(Date.now() - started >= 250, 'it waited before giving up');
});

test('wait policy: a write waits for room, and lands once a worker flushed some', async () => {
  // A wait far longer than a worker's start and first flush, so the outcome does not hang on the machine's speed.
  const h = await createHarness({ backlog: { limit: 2, policy: 'wait', waitTimeoutMs: 60_000 } });
  harnesses.push(h);
  await h.cache.increment('video', 'a', 'likes');
  await h.cache.increment('video', 'b', 'likes');
  const waiting = h.cache.increment('video', 'c', 'likes');
  await h.startWorker();
  assert.equal(await waiting, 1);
});
