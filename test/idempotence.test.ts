// Guarantee 3: a stale or retried flush never overwrites a newer value, and a flush that committed but was
// not acknowledged does not apply an increment twice.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHarness, eventually, forwardingStore, type Harness, videoRow } from '@write-behind/testkit';

let h: Harness;
let failAfterCommit = 0;
before(async () => {
  h = await createHarness({
    flush: { windowMs: 50, backoffMs: 20 },
    wrapStore: (inner) =>
      forwardingStore(inner, {
        async upsert(e, rows) {
          await inner.upsert(e, rows);
          // The commit happened; now "crash" before the acknowledgement reaches Redis.
          if (failAfterCommit > 0) {
            failAfterCommit--;
            throw new Error('simulated crash after commit');
          }
        },
      }),
  });
});
after(() => h.close());

test('an older version never overwrites a newer row, whatever the arrival order', async () => {
  await h.store.upsert(h.resolved.video, [{ id: 'v', version: 5, values: { likes: 50, views: 0 } }]);
  await h.store.upsert(h.resolved.video, [{ id: 'v', version: 3, values: { likes: 30, views: 0 } }]);
  assert.deepEqual(await videoRow(h.db, 'v'), { likes: 50, views: 0, version: 5 });
  // Replaying the same version is a no-op too.
  await h.store.upsert(h.resolved.video, [{ id: 'v', version: 5, values: { likes: 999, views: 0 } }]);
  assert.equal((await videoRow(h.db, 'v'))?.likes, 50);
  await h.store.upsert(h.resolved.video, [{ id: 'v', version: 6, values: { likes: 60, views: 1 } }]);
  assert.deepEqual(await videoRow(h.db, 'v'), { likes: 60, views: 1, version: 6 });
});

test('a flush that committed but was not acknowledged is retried without double-applying', async () => {
  await h.startWorker();
  for (let i = 0; i < 7; i++) await h.cache.increment('video', 'once', 'likes', 3);
  failAfterCommit = 2;
  await h.cache.flushed('video', 'once', { timeoutMs: 10_000 });
  assert.equal(failAfterCommit, 0, 'the flush failed twice after committing');
  assert.equal((await videoRow(h.db, 'once'))?.likes, 21);
  assert.equal((await h.cache.get('video', 'once'))?.likes, 21);
});

test('retrying an old job (as an operator would) writes the current state, never a stale snapshot', async () => {
  await h.cache.increment('video', 'retry', 'likes', 10);
  await h.cache.flushed('video', 'retry', { timeoutMs: 10_000 });
  await h.cache.increment('video', 'retry', 'likes', 5);
  await h.cache.flushed('video', 'retry', { timeoutMs: 10_000 });
  // Re-add a job with the first episode's id, as a retried completed job would run.
  const queue = h.queue;
  const job = await queue.add('flush', { entity: 'video', id: 'retry' }, { jobId: 'video.retry.v1-replay' });
  assert.ok(
    await eventually(async () => (await queue.getJobState(job.id as string)) === 'unknown'),
    'the replayed job ran',
  );
  assert.deepEqual(await videoRow(h.db, 'retry'), { likes: 15, views: 0, version: 2 });
});
