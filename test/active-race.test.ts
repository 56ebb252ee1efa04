// Guarantee 2: a write that lands while its key's flush is in flight is flushed afterwards.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHarness, type GatedStore, gatedStore, type Harness, videoRow } from '@write-behind/testkit';

let h: Harness;
let store: GatedStore;
before(async () => {
  h = await createHarness({ flush: { windowMs: 50 }, wrapStore: (s) => (store = gatedStore(s)) });
});
after(() => h.close());

/** The version Redis gave the key's last write (versions come from the shard's clock: compare, never count). */
async function versionInRedis(id: string): Promise<number> {
  return Number(await h.redis.hget(h.key('video', id), '_v'));
}

test('a write racing an in-flight flush of the same key is flushed after it', async () => {
  await h.cache.increment('video', 'race', 'likes', 5);
  const flushing = await versionInRedis('race');
  store.hold();
  await h.startWorker();
  await store.held(); // the flush of likes=5 is now between its snapshot and its commit
  const queue = h.queue;
  // The flush job is active (a sweep run may be active beside it).
  const active = await queue.getActive();
  assert.deepEqual(
    active.filter((j) => j.name === 'flush').map((j) => j.data.id),
    ['race'],
  );

  assert.equal(await h.cache.increment('video', 'race', 'likes', 2), 7);
  assert.equal(await h.cache.increment('video', 'race', 'views', 1), 1);
  const racing = await versionInRedis('race');
  assert.ok(racing > flushing, `the racing writes' version ${racing} follows ${flushing}`);
  store.release();

  await h.cache.flushed('video', 'race', { timeoutMs: 10_000 });
  // The row holds the racing writes, at their version: not the held flush's older one.
  assert.deepEqual(await videoRow(h.db, 'race'), { likes: 7, views: 1, version: racing });
  assert.ok(store.upserts >= 2, 'the racing write needed a second flush');
  await h.cache.drain({ timeoutMs: 5000 });
});

test('writes at every point of a flush cycle, including right after the commit, all land', async () => {
  await h.cache.increment('video', 'race2', 'likes');
  // Hold the flush, write while it is held, release, and write again while the worker acknowledges and
  // completes: each write either finds the key dirty (the running job is delayed again) or makes it
  // dirty anew (a new job, created by BullMQ when the running one completes, thanks to keepLastIfActive).
  // Each round holds before a write, so a flush is sure to come after the gate closes: closing it after the
  // last write instead races a flush that commits in between, and then nothing is ever held.
  for (let round = 0; round < 5; round++) {
    store.hold();
    await h.cache.increment('video', 'race2', 'likes');
    await store.held();
    await h.cache.increment('video', 'race2', 'likes');
    store.release();
    for (let i = 0; i < 9; i++) await h.cache.increment('video', 'race2', 'likes');
  }
  await h.cache.flushed('video', 'race2', { timeoutMs: 10_000 });
  assert.equal((await videoRow(h.db, 'race2'))?.likes, 56);
});
