// Guarantee 20, deletes: a parent's delete never fails for children whose deletes are pending in the cache
// (the demo schema's `Comment` → `Video`, ON DELETE RESTRICT): in one batch the children's deletes go first,
// and a parent delete flushed before them waits for them, spending no attempt.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FlushWorker } from '@write-behind/core';
import {
  createWorld,
  type RelationTestEntities,
  relationEntities,
  videoRow,
  type World,
} from '@write-behind/testkit';

let w: World<RelationTestEntities>;
let worker: FlushWorker;
before(async () => {
  // A window long enough that writes made 250 ms apart fall due in that order, a batch apart.
  w = await createWorld(relationEntities, {
    shards: 4,
    flush: { windowMs: 500, attempts: 3, backoffMs: 50 },
  });
  worker = await w.startWorker();
});
after(() => w.close());

const comment = (videoId: string, n: number) => ({
  videoId,
  author: `author${n}`,
  body: `comment ${n}`,
  createdAt: new Date('2026-12-15T10:00:00.000Z'),
});

async function commentCount(videoId: string): Promise<number> {
  const { rows } = await w.db.pool.query('SELECT count(*)::int AS n FROM comment WHERE video_id = $1', [
    videoId,
  ]);
  return rows[0].n;
}

async function failedJobs(): Promise<string[]> {
  return (await Promise.all(w.cache.queues.map((q) => q.getFailed()))).flat().map((j) => j.failedReason);
}

/** Warnings and errors that mention a foreign key violation (`23503`). */
function foreignKeyLogs() {
  return w.logs.filter((l) => l.level !== 'info' && JSON.stringify(l.obj).includes('23503'));
}

async function videosWithComments(label: string, videos: number, comments: number): Promise<void> {
  for (let v = 0; v < videos; v++) {
    await w.cache.set('video', `${label}${v}`, { likes: v, views: 0 });
    for (let n = 0; n < comments; n++)
      await w.cache.set('comment', `${label}${v}-${n}`, comment(`${label}${v}`, n));
  }
  await w.cache.flush();
  assert.equal(await commentCount(`${label}0`), comments);
}

test("videos deleted a batch before their comments' deletes wait for them: no attempt spent, rows gone", async () => {
  await videosWithComments('first', 10, 3);
  const deferredBefore = worker.counters.rowsDeferred;
  const rejectedBefore = worker.counters.rowsRejected;
  for (let v = 0; v < 10; v++) await w.cache.delete('video', `first${v}`);
  await new Promise((resolve) => setTimeout(resolve, 250));
  for (let v = 0; v < 10; v++) for (let n = 0; n < 3; n++) await w.cache.delete('comment', `first${v}-${n}`);
  // drain, not flush: flush would promote every job at once, and the deletes would meet in one batch.
  await w.cache.drain();
  for (let v = 0; v < 10; v++) {
    assert.equal(await videoRow(w.db, `first${v}`), undefined);
    assert.equal(await commentCount(`first${v}`), 0);
  }
  assert.ok(worker.counters.rowsDeferred > deferredBefore, 'the video deletes waited for their comments');
  assert.equal(worker.counters.rowsRejected, rejectedBefore, 'no row was refused');
  assert.deepEqual(await failedJobs(), []);
  assert.deepEqual(foreignKeyLogs(), []);
});

test('videos and their comments deleted together, the videos first: rows gone, nothing failed', async () => {
  await videosWithComments('together', 20, 2);
  const rejectedBefore = worker.counters.rowsRejected;
  await Promise.all(
    Array.from({ length: 20 }, async (_, v) => {
      await w.cache.delete('video', `together${v}`);
      await Promise.all([0, 1].map((n) => w.cache.delete('comment', `together${v}-${n}`)));
    }),
  );
  await w.cache.flush();
  for (let v = 0; v < 20; v++) {
    assert.equal(await videoRow(w.db, `together${v}`), undefined);
    assert.equal(await commentCount(`together${v}`), 0);
  }
  assert.equal(worker.counters.rowsRejected, rejectedBefore, 'no row was refused');
  assert.deepEqual(await failedJobs(), []);
  assert.deepEqual(foreignKeyLogs(), []);
});

test('a video deleted and made again while its old comments are deleted: the new comments land, exact', async () => {
  await videosWithComments('reborn', 1, 2);
  await w.cache.delete('comment', 'reborn0-0');
  await w.cache.delete('comment', 'reborn0-1');
  await w.cache.delete('video', 'reborn0');
  await w.cache.set('video', 'reborn0', { likes: 7, views: 1 });
  await w.cache.set('comment', 'reborn0-new', comment('reborn0', 9));
  await w.cache.flush();
  assert.deepEqual((await w.db.pool.query('SELECT id FROM comment WHERE video_id = $1', ['reborn0'])).rows, [
    { id: 'reborn0-new' },
  ]);
  assert.equal((await videoRow(w.db, 'reborn0'))?.likes, 7);
  assert.deepEqual(await failedJobs(), []);
  assert.deepEqual(foreignKeyLogs(), []);
});
