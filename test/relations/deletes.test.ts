// Guarantee 24, deletes: a parent's delete never fails for children whose deletes are pending in the cache
// (the demo schema's `Comment` → `Video`, ON DELETE RESTRICT): in one batch the children's deletes go first,
// and a parent delete flushed before them waits for them, spending no attempt.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FlushWorker } from '@write-behind/core';
import { eventually, type RelationTestEntities, videoRow, type World } from '@write-behind/testkit';
import {
  assertNoOrderingCost,
  COMMENT_SHARDS,
  comment,
  createVideoCommentWorld,
  heldLookups,
  VIDEO_SHARDS,
  withSeededSplitWorld,
} from './split-world.ts';

let w: World<RelationTestEntities>;
let worker: FlushWorker;
before(async () => {
  // A window long enough that writes made 250 ms apart fall due in that order, a batch apart.
  w = await createVideoCommentWorld({ flush: { windowMs: 500 } });
  worker = await w.startWorker();
});
after(() => w.close());

async function commentCount(videoId: string, world: World<RelationTestEntities> = w): Promise<number> {
  const { rows } = await world.db.pool.query('SELECT count(*)::int AS n FROM comment WHERE video_id = $1', [
    videoId,
  ]);
  return rows[0].n;
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

test("a video's delete flushed before its comments' deletes waits for them: no attempt spent, rows gone", async () => {
  // Videos in shards 0 and 1, their comments in shards 2 and 3, and a worker for each pair: while only the
  // videos' worker runs, every video delete is flushed before its comments' deletes, whatever the timing.
  await withSeededSplitWorld({ label: 'ordered', videos: 5, commentsEach: 3 }, async (split) => {
    const { world: own, videos, comments } = split;
    for (const v of videos) await own.cache.delete('video', v);
    for (const ids of comments.values()) for (const c of ids) await own.cache.delete('comment', c);
    const videoWorker = await own.startWorker({ shards: VIDEO_SHARDS });
    await Promise.all(own.cache.queues.map((queue) => queue.promoteJobs()));
    assert.ok(
      await eventually(() => videoWorker.counters.rowsDeferred >= videos.length),
      'every video delete waited for its comments',
    );
    await own.startWorker({ shards: COMMENT_SHARDS });
    await own.cache.flush();

    for (const v of videos) {
      assert.equal(await videoRow(own.db, v), undefined);
      assert.equal(await commentCount(v, own), 0);
    }
    await assertNoOrderingCost(own, videoWorker);
  });
});

test("a comment's delete that lands while its video's refused delete looks at it: the video's delete lands, no attempt spent", async () => {
  // The rows pointing at the video are looked up in PostgreSQL, then their states read in Redis: the lookup is
  // held in between until the comment's delete (another shard, another worker) has landed and been
  // acknowledged, so Redis no longer shows it pending. The video's delete must then be tried again, not refused.
  const lookups = heldLookups();
  const race = { label: 'race', videos: 1, commentsEach: 1, wrapStore: lookups.wrap };
  await withSeededSplitWorld(race, async ({ world: own, videos, comments }) => {
    const [video] = videos as [string];
    const [commentId] = comments.get(video) as [string];
    let commentLanded = false;
    lookups.holdNext(async () => {
      await own.startWorker({ shards: COMMENT_SHARDS });
      commentLanded = await eventually(
        async () =>
          (await commentCount(video, own)) === 0 &&
          (await own.cache.stats()).shards.every(
            (s) => !COMMENT_SHARDS.includes(s.shard) || s.dirtyKeys === 0,
          ),
      );
    });
    await own.cache.delete('video', video);
    await own.cache.delete('comment', commentId);
    const videoWorker = await own.startWorker({ shards: VIDEO_SHARDS });
    await own.cache.flush();

    assert.ok(commentLanded, "the comment's delete landed while the lookup was held");
    assert.equal(await videoRow(own.db, video), undefined);
    await assertNoOrderingCost(own, videoWorker);
  });
});

test('a video written again while its refused delete looks at its comment: the new video lands, no attempt spent', async () => {
  // The video's delete is refused (its comment is still there, no delete of it pending); while the rows
  // pointing at it are looked up, the app writes the video again. Its delete must wait (its next flush writes
  // the new video), not spend an attempt: with the last attempt, that would leave the key for an operator.
  const lookups = heldLookups();
  const again = { label: 'again', videos: 1, commentsEach: 1, wrapStore: lookups.wrap };
  await withSeededSplitWorld(again, async ({ world: own, videos }) => {
    const [video] = videos as [string];
    lookups.holdNext(async () => {
      await own.cache.set('video', video, { likes: 2, views: 5 });
    });
    await own.cache.delete('video', video);
    const worker = await own.startWorker();
    await own.cache.flush();

    assert.ok(lookups.held(), 'the refused delete looked up the rows pointing at the video');
    const row = await videoRow(own.db, video);
    assert.deepEqual(row && { likes: row.likes, views: row.views }, { likes: 2, views: 5 });
    await assertNoOrderingCost(own, worker);
  });
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
  await assertNoOrderingCost(w, worker, rejectedBefore);
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
  await assertNoOrderingCost(w);
});
