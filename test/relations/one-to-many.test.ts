// Guarantee 24: a child row never reaches PostgreSQL before the parent row it needs when the cache writes
// that parent too: a video and its comments (the demo schema's `Comment.videoId` → `Video.id`, ON DELETE
// RESTRICT), created, updated and deleted in one window, over four shards, land with 0 failed jobs and no
// foreign key error logged. A comment whose video is in neither the cache nor the database is a refused row
// whose reason names the video.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, type RelationTestEntities, videoRow, type World } from '@write-behind/testkit';
import {
  assertNoOrderingCost,
  COMMENT_SHARDS,
  comment,
  createVideoCommentWorld,
  failedJobs,
  retryFailed,
  soleFailure,
  splitWorld,
  VIDEO_SHARDS,
} from './split-world.ts';

let w: World<RelationTestEntities>;

before(async () => {
  // Four shards: a video and its comments fall in different shards, so in different batches, in any order.
  w = await createVideoCommentWorld({ flush: { windowMs: 200 } });
  await w.startWorker();
});
after(() => w.close());

async function counts(id: string) {
  const row = await videoRow(w.db, id);
  return row && { likes: row.likes, views: row.views };
}

async function commentRows(videoId: string) {
  const { rows } = await w.db.pool.query<{ id: string; author: string; body: string }>(
    'SELECT id, author, body FROM comment WHERE video_id = $1 ORDER BY id',
    [videoId],
  );
  return rows;
}

test('comments whose new video is pending in another shard wait for it: exact rows, nothing failed', async () => {
  // Comments in shards 2 and 3, their videos in shards 0 and 1, and a worker for each pair: while only the
  // comments' worker runs, every comment is flushed before its video, whatever the timing.
  const { world: own, videos, comments } = await splitWorld('new', 10, 3);
  try {
    // The comments first, then their videos (whole sets: no read of the database).
    for (const [v, ids] of comments)
      for (const [n, c] of ids.entries()) await own.cache.set('comment', c, comment(v, n));
    for (const [i, v] of videos.entries()) await own.cache.set('video', v, { likes: i + 1, views: 0 });
    const commentWorker = await own.startWorker({ shards: COMMENT_SHARDS });
    await Promise.all(own.cache.queues.map((queue) => queue.promoteJobs()));
    assert.ok(
      await eventually(() => commentWorker.counters.rowsDeferred >= videos.length * 3),
      'the comments waited for their videos',
    );
    assert.equal(commentWorker.counters.rowsWritten, 0, 'no comment was written before its video');
    await own.startWorker({ shards: VIDEO_SHARDS });
    await own.cache.flush();

    for (const [i, v] of videos.entries()) {
      assert.equal((await videoRow(own.db, v))?.likes, i + 1);
      const { rows } = await own.db.pool.query(
        'SELECT id, author FROM comment WHERE video_id = $1 ORDER BY id',
        [v],
      );
      assert.deepEqual(
        rows,
        (comments.get(v) ?? []).map((id, n) => ({ id, author: `author${n}` })),
      );
    }
    await assertNoOrderingCost(own, commentWorker);
  } finally {
    await own.close();
  }
});

test('a video and its comments written together, then updated: one flush window, rows exact', async () => {
  await Promise.all(
    Array.from({ length: 30 }, async (_, v) => {
      await w.cache.set('video', `pair${v}`, { likes: v, views: 0 });
      await Promise.all([0, 1].map((n) => w.cache.set('comment', `p${v}-${n}`, comment(`pair${v}`, n))));
    }),
  );
  await w.cache.flush();
  await Promise.all(
    Array.from({ length: 30 }, (_, v) =>
      w.cache
        .set('comment', `p${v}-1`, { body: `edited ${v}` })
        .then(() => w.cache.increment('video', `pair${v}`, 'views')),
    ),
  );
  await w.cache.flush();
  for (let v = 0; v < 30; v++) {
    assert.deepEqual(await counts(`pair${v}`), { likes: v, views: 1 });
    assert.deepEqual(await commentRows(`pair${v}`), [
      { id: `p${v}-0`, author: 'author0', body: `comment 0 on pair${v}` },
      { id: `p${v}-1`, author: 'author1', body: `edited ${v}` },
    ]);
  }
  await assertNoOrderingCost(w);
});

test('a video deleted and made again, with a new comment in the same window: the comment waits for it', async () => {
  await w.cache.increment('video', 'again', 'likes', 5);
  await w.cache.flush();
  await w.cache.delete('video', 'again');
  await w.cache.flush();
  // Made again from its tombstone: its state says flushed before (the tombstone's version), so the comment
  // is tried, refused on the foreign key, and then waits for the video's pending flush.
  await w.cache.set('comment', 'again-c', comment('again', 0));
  await new Promise((resolve) => setTimeout(resolve, 120));
  await w.cache.increment('video', 'again', 'likes', 2);
  await w.cache.flush();
  assert.equal((await videoRow(w.db, 'again'))?.likes, 2);
  assert.equal((await commentRows('again')).length, 1);
  await assertNoOrderingCost(w);
});

test('a comment on a video made by add alone (Redis never read it) waits for its first flush', async () => {
  await w.cache.set('comment', 'viewed-c', comment('viewed', 0));
  await new Promise((resolve) => setTimeout(resolve, 120));
  await w.cache.add('video', 'viewed', 'views', 3);
  await w.cache.flush();
  assert.deepEqual(await counts('viewed'), { likes: 0, views: 3 });
  assert.equal((await commentRows('viewed')).length, 1);
  assert.deepEqual(await failedJobs(w), []);
});

test('a comment on a hot video (written all the time, flushed before) does not wait for it to be clean', async () => {
  await w.cache.increment('video', 'hot', 'likes');
  await w.cache.flush();
  let stop = false;
  const writer = (async () => {
    while (!stop) await w.cache.increment('video', 'hot', 'likes');
  })();
  try {
    await w.cache.set('comment', 'hot-c', comment('hot', 0));
    assert.ok(
      await eventually(async () => (await commentRows('hot')).length === 1, 5000),
      'the comment landed while its video stayed dirty',
    );
  } finally {
    stop = true;
    await writer;
  }
  await w.cache.flush();
});

test('a comment whose video is in neither the cache nor the database fails, naming the video', async () => {
  await w.cache.set('comment', 'orphan', comment('ghost', 0));
  assert.equal(
    await soleFailure(w),
    'the database refused comment "orphan": insert or update on table "comment" violates foreign key constraint "comment_video_id_fkey"; ' +
      'its parent video "ghost" (comment.video: column video_id) is neither in the database nor pending in the cache (23503)',
  );
  assert.deepEqual(await commentRows('ghost'), []);
  // The fix: the comment goes; a retry of its job flushes the delete.
  await w.cache.delete('comment', 'orphan');
  await retryFailed(w);
  await w.cache.flush();
  assert.deepEqual(await failedJobs(w), []);
});

test('a video deleted while a comment still points at it (no delete of it pending) fails, naming the comment', async () => {
  await w.cache.increment('video', 'kept', 'likes');
  await w.cache.set('comment', 'kept-c', comment('kept', 0));
  await w.cache.flush();
  await w.cache.delete('video', 'kept');
  assert.equal(
    await soleFailure(w),
    'the database refused video "kept": update or delete on table "Video" violates foreign key constraint "comment_video_id_fkey" on table "comment"; ' +
      'rows still point at it with no delete pending in the cache: comment "kept-c" (through Comment.video) (delete or move them first) (23503)',
  );
  assert.equal((await videoRow(w.db, 'kept'))?.likes, 1);
  // The fix: delete the comment, then retry the video's delete.
  await w.cache.delete('comment', 'kept-c');
  await w.cache.flushed('comment', 'kept-c');
  await retryFailed(w);
  await w.cache.flush();
  assert.equal(await videoRow(w.db, 'kept'), undefined);
});
