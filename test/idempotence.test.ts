// Guarantee 3: a stale or retried flush never overwrites a newer value, and a flush that committed but was
// not acknowledged does not apply an increment twice.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { bullWorkersOf } from '@write-behind/core/internal';
import { crashAfterCommit, createHarness, type Harness, videoRow, withTimeout } from '@write-behind/testkit';

let h: Harness;
const crash = crashAfterCommit('upsert');
before(async () => {
  h = await createHarness({ flush: { windowMs: 50, backoffMs: 20 }, wrapStore: crash.wrapStore });
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
  const worker = await h.startWorker();
  try {
    for (let i = 0; i < 7; i++) await h.cache.increment('video', 'once', 'likes', 3);
    crash.remaining = 2;
    await h.cache.flushed('video', 'once', { timeoutMs: 10_000 });
    assert.equal(crash.remaining, 0, 'the flush failed twice after committing');
    assert.equal((await videoRow(h.db, 'once'))?.likes, 21);
    assert.equal((await h.cache.get('video', 'once'))?.likes, 21);
  } finally {
    await worker.close();
  }
});

test('retrying an old job (as an operator would) writes the current state, never a stale snapshot', async () => {
  // Two flushed episodes; the first one's job id is the one an operator would retry.
  const worker = await h.startWorker();
  await h.cache.increment('video', 'retry', 'likes', 10);
  const firstJobId = await h.jobIdOf('video', 'retry');
  assert.ok(firstJobId, 'the first episode has a flush job');
  await h.cache.flushed('video', 'retry', { timeoutMs: 10_000 });
  await h.cache.increment('video', 'retry', 'likes', 5);
  await h.cache.flushed('video', 'retry', { timeoutMs: 10_000 });
  await worker.close();
  const flushed = await videoRow(h.db, 'retry');
  assert.equal(flushed?.likes, 15);

  // A third write that only the retried job can flush: no worker runs, and the write's own job is removed.
  await h.cache.increment('video', 'retry', 'likes', 7);
  const ownJobId = await h.jobIdOf('video', 'retry');
  assert.ok(ownJobId && ownJobId !== firstJobId, 'the third write has a job of its own');
  assert.equal(await h.queue.remove(ownJobId), 1, "the third write's own job is removed");
  assert.deepEqual(await videoRow(h.db, 'retry'), flushed, 'the row lacks the third write before the retry');

  // Re-add the first episode's job, as a retried completed job would run, and see what it did.
  const retrying = await h.startWorker({ sweep: false });
  const [bullWorker] = bullWorkersOf(retrying);
  assert.ok(bullWorker, 'the worker serves the shard');
  const outcome = new Promise<unknown>((resolve, reject) => {
    bullWorker.on('completed', (job, result) => {
      if (job.id === firstJobId) resolve(result);
    });
    bullWorker.on('failed', (job, error) => {
      if (job?.id === firstJobId) reject(error);
    });
  });
  await h.queue.add('flush', { entity: 'video', id: 'retry' }, { jobId: firstJobId });
  assert.equal(
    await withTimeout(outcome, 15_000, 'the retried job'),
    'flushed',
    'the retried job wrote the key',
  );
  const row = await videoRow(h.db, 'retry');
  assert.equal(
    row?.likes,
    22,
    'the row holds the current state, with the write made after the first episode',
  );
  assert.ok(row && flushed && row.version > flushed.version, 'at the current, newer version');
  assert.equal((await h.cache.get('video', 'retry'))?.likes, 22);
  await h.cache.flushed('video', 'retry', { timeoutMs: 10_000 });
});
