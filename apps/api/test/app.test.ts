// The api in-process (supertest), for the answers an end-to-end run cannot easily provoke: a full backlog,
// an unreachable Redis, an unexpected error; and comments, whose rows a flush worker in this process writes
// after their videos' (the schema's foreign key). The other happy paths run against real processes in
// test/apps-e2e.test.ts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createWriteBehind, type Logger } from '@write-behind/core';
import { Operator } from '@write-behind/core/operator';
import { type DemoCache, type DemoEntities, demoEntities } from '@write-behind/demo';
import { createTestCache, eventually, type TestCache, videoRow } from '@write-behind/testkit';
import { Redis } from 'ioredis';
import request from 'supertest';
import { type ApiCache, createApp } from '../src/app.ts';

const silent: Logger = { info() {}, warn() {}, error() {} };

let world: TestCache<DemoEntities>;
let cache: DemoCache;
/** The comments' tests: four shards, so a comment and its video mostly fall in different flush batches. */
let commented: TestCache<DemoEntities>;

before(async () => {
  // No worker runs, so every written key stays dirty: a backlog of one fills at the first write.
  world = await createTestCache({ entities: demoEntities, backlog: { limit: 1 }, logger: silent });
  cache = world.cache;
  commented = await createTestCache({
    entities: demoEntities,
    shards: 4,
    // A window long enough for a comment's flush, run at once, to find its video's still to come.
    flush: { windowMs: 1000, attempts: 3, backoffMs: 50 },
    logger: silent,
  });
});

after(async () => {
  await world.close();
  await commented.close();
});

test('a full backlog answers 503 with Retry-After, and writes to dirty keys still pass', async () => {
  const app = createApp({ cache, retryAfterSeconds: 2, logger: silent });
  await request(app).post('/videos/b1/likes').expect(200, { id: 'b1', likes: 1 });
  const refused = await request(app).post('/videos/b2/likes').expect(503);
  assert.equal(refused.headers['retry-after'], '2');
  assert.equal(refused.body.error.code, 'BACKLOG_FULL');
  // b1 is already dirty: more writes to it cost no memory and are accepted.
  await request(app).post('/videos/b1/likes').send({ by: 2 }).expect(200, { id: 'b1', likes: 3 });
});

test('an unreachable Redis answers 503 UNAVAILABLE, and /healthz says so', async () => {
  // Nothing listens on port 1. The connection is ours to close: a cache closes only connections it opened.
  const redis = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  const dead = createWriteBehind({
    redis,
    prisma: world.db.prisma,
    entities: demoEntities,
    prefix: world.prefix,
    logger: silent,
  });
  try {
    const app = createApp({ cache: dead, logger: silent, healthTimeoutMs: 300 });
    const write = await request(app).post('/videos/x/likes').expect(503);
    assert.equal(write.body.error.code, 'UNAVAILABLE');
    // Only the status: why is for the log (anyone may call /healthz).
    await request(app).get('/healthz').expect(503, { status: 'unavailable' });
  } finally {
    await dead.close();
    redis.disconnect();
  }
  await request(createApp({ cache, logger: silent }))
    .get('/healthz')
    .expect(200, { status: 'ok' });
});

test('an unexpected error is a 500 that reveals nothing, and is logged', async () => {
  const logged: unknown[] = [];
  const broken = {
    get: async () => {
      throw new Error('secret connection string in here');
    },
  } as unknown as ApiCache;
  const app = createApp({ cache: broken, logger: { ...silent, error: (obj) => logged.push(obj) } });
  const response = await request(app).get('/videos/v1').expect(500);
  assert.deepEqual(response.body, { error: { code: 'INTERNAL', message: 'internal error' } });
  assert.equal(logged.length, 1);
});

test('unknown routes and non-object bodies answer with the error shape', async () => {
  const app = createApp({ cache, logger: silent });
  const missing = await request(app).get('/nope').expect(404);
  assert.equal(missing.body.error.code, 'NOT_FOUND');
  const noBody = await request(app).put('/users/u1/settings').expect(400);
  assert.equal(noBody.body.error.code, 'VALIDATION');
  const scalar = await request(app).patch('/users/u1/settings').type('json').send('"dark"').expect(400);
  assert.equal(scalar.body.error.code, 'INVALID_JSON');
});

test('GET /videos/top and /videos/:id/rank: the leaderboard from Redis, with 400 and 404 answers', async () => {
  const board = await createTestCache({ entities: demoEntities, logger: silent });
  try {
    await board.db.pool.query(`INSERT INTO "Video" (id, likes, views) VALUES ('stored', 6, 2)`);
    const app = createApp({ cache: board.cache, logger: silent });
    await request(app).post('/videos/v1/likes').send({ by: 11 }).expect(200);
    await request(app).post('/videos/v2/likes').send({ by: 6 }).expect(200);
    /** A `/videos/top` answer: `by`, then its entries in order, given as their ids, values of `by` and ranks. */
    const leaderboard = (by: string, ids: string[], values: number[], ranks: number[]) => ({
      by,
      top: ids.map((id, i) => ({ id, [by]: values[i], rank: ranks[i] })),
    });
    const answers: [string, object][] = [
      ['/videos/top?by=likes&n=3', leaderboard('likes', ['v1', 'v2', 'stored'], [11, 6, 6], [1, 2, 2])],
      ['/videos/top?by=views', leaderboard('views', ['stored', 'v2', 'v1'], [2, 0, 0], [1, 2, 2])],
      ['/videos/stored/rank?by=likes', { id: 'stored', by: 'likes', rank: 2, likes: 6 }],
    ];
    for (const [path, body] of answers) await request(app).get(path).expect(200, body);
    const cases: [string, number, string][] = [
      ['/videos/nobody/rank?by=likes', 404, 'NOT_FOUND'],
      ['/videos/top', 400, 'VALIDATION'],
      ['/videos/top?by=title', 400, 'VALIDATION'],
      ['/videos/top?by=likes&n=0', 400, 'VALIDATION'],
      ['/videos/top?by=likes&n=1001', 400, 'VALIDATION'],
      ['/videos/top?by=likes&n=ten', 400, 'VALIDATION'],
      ['/videos/top?by=likes&n=1&n=2', 400, 'VALIDATION'],
      ['/videos/v1/rank?by[]=likes', 400, 'VALIDATION'],
    ];
    for (const [path, status, code] of cases) {
      const response = await request(app).get(path);
      assert.equal(response.status, status, path);
      assert.equal(response.body.error.code, code, path);
    }
  } finally {
    await board.close();
  }
});

interface CommentRow {
  id: string;
  video_id: string;
  author: string;
  body: string;
  created_at: Date;
}

/** New videos the comments' test likes and comments on. */
const VIDEOS = 12;

async function commentRows(): Promise<CommentRow[]> {
  const { rows } = await commented.db.pool.query<CommentRow>(
    // The column is a timestamp without a zone holding UTC (Prisma's DateTime): read as such.
    "SELECT id, video_id, author, body, created_at AT TIME ZONE 'UTC' AS created_at FROM comment",
  );
  return rows;
}

test('POST /videos/:id/comments: bad bodies are a 400, an unknown video a 404, and nothing is written', async () => {
  await commented.db.pool.query(`INSERT INTO "Video" (id, likes, views) VALUES ('stored', 1, 0)`);
  const app = createApp({ cache: commented.cache, logger: silent });
  const refused: [unknown, string][] = [
    [{}, 'missing: author, body'],
    [{ author: 'ada' }, 'missing: body'],
    [{ author: '', body: 'hi' }, 'author must be text that is not blank, got ""'],
    [{ author: 'ada', body: ' \n ' }, 'body must be text that is not blank'],
    [{ author: 7, body: 'hi' }, 'author must be text that is not blank, got 7'],
    [{ author: 'ada', body: null }, 'body must be text that is not blank, got null'],
    [{ author: 'ada', body: ['hi'] }, 'body must be text that is not blank'],
    [{ author: 'ada', body: 'hi', videoId: 'other' }, 'unknown field "videoId"; allowed: author, body'],
    [{ author: 'ada', body: 'hi', id: 'mine', createdAt: '2020-01-01' }, 'unknown fields "id", "createdAt"'],
    // Past the columns' VarChar(64) and VarChar(2000), and what PostgreSQL's text refuses: the library's checks.
    [{ author: 'a'.repeat(65), body: 'hi' }, 'comment.author is 65 characters long; the limit is 64'],
    [{ author: 'ada', body: 'b'.repeat(2001) }, 'comment.body is 2001 characters long; the limit is 2000'],
    [{ author: 'ada', body: 'nul \u0000 inside' }, 'comment.body contains a NUL character'],
    [{ author: 'ada', body: 'lone \ud800 surrogate' }, 'comment.body'],
  ];
  for (const [body, message] of refused) {
    const answer = await request(app)
      .post('/videos/stored/comments')
      .send(body as object)
      .expect(400);
    assert.equal(answer.body.error.code, 'VALIDATION', JSON.stringify(body));
    assert.ok(
      answer.body.error.message.includes(message),
      `${JSON.stringify(body)}: ${answer.body.error.message}`,
    );
  }
  const noBody = await request(app).post('/videos/stored/comments').expect(400);
  assert.equal(noBody.body.error.code, 'VALIDATION');
  await request(app).post('/videos/stored/comments').type('json').send('"hi"').expect(400);
  const unknown = await request(app)
    .post('/videos/nobody/comments')
    .send({ author: 'ada', body: 'hi' })
    .expect(404);
  assert.deepEqual(unknown.body, { error: { code: 'NOT_FOUND', message: 'video "nobody" does not exist' } });

  assert.equal((await commented.cache.stats()).dirtyKeys, 0);
  await commented.cache.flush();
  assert.deepEqual(await commentRows(), []);
});

test('POST /videos/:id/comments: a 202, then the row, also for a video first written in the same window', async (t) => {
  const app = createApp({ cache: commented.cache, logger: silent });
  const worker = commented.cache.createWorker({ sweep: false });
  await worker.ready;
  try {
    const before = new Date();
    const posted: { videoId: string; commentId: string; author: string; body: string }[] = [];
    const comment = async (videoId: string, author: string, body: string) => {
      const answer = await request(app)
        .post(`/videos/${videoId}/comments`)
        .send({ author, body })
        .expect(202);
      const { id, commentId } = answer.body as { id: unknown; commentId: unknown };
      assert.deepEqual(Object.keys(answer.body), ['id', 'commentId']);
      assert.equal(id, videoId);
      assert.match(
        String(commentId),
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      posted.push({ videoId, commentId: commentId as string, author, body });
    };
    // A video only PostgreSQL holds (the test above stored it).
    await comment('stored', 'ada', 'read from the table first');
    // New videos, each liked (its first write: Redis alone holds it) and commented on within one window, all at
    // once: over four shards a comment's batch may run before its video's row is committed, and must wait for
    // it rather than be refused (rowsRejected counts every refusal, even one a retry would fix).
    await Promise.all(
      Array.from({ length: VIDEOS }, async (_, v) => {
        await request(app)
          .post(`/videos/fresh${v}/likes`)
          .expect(200, { id: `fresh${v}`, likes: 1 });
        await Promise.all([
          comment(`fresh${v}`, 'grace', `first on fresh${v}`),
          comment(`fresh${v}`, 'linus', `second on fresh${v}`),
        ]);
      }),
    );
    await commented.cache.drain({ timeoutMs: 20_000 });
    const after = new Date();

    const rows = await commentRows();
    const byId = (a: { commentId: string }, b: { commentId: string }) => (a.commentId < b.commentId ? -1 : 1);
    assert.deepEqual(
      rows.map((r) => ({ videoId: r.video_id, commentId: r.id, author: r.author, body: r.body })).sort(byId),
      posted.sort(byId),
    );
    for (const row of rows) {
      assert.ok(
        row.created_at >= before && row.created_at <= after,
        `${row.id}: created at ${row.created_at}`,
      );
    }
    const { rows: videos } = await commented.db.pool.query(
      'SELECT id, likes::int FROM "Video" WHERE id LIKE \'fresh%\' ORDER BY id COLLATE "C"',
    );
    assert.deepEqual(
      videos,
      Array.from({ length: VIDEOS }, (_, v) => ({ id: `fresh${v}`, likes: 1 })).sort((a, b) =>
        a.id < b.id ? -1 : 1,
      ),
    );
    assert.equal(worker.counters.rowsRejected, 0);
    t.diagnostic(`rows that waited for their video: ${worker.counters.rowsDeferred}`);
    const failed = (await Promise.all(commented.cache.queues.map((q) => q.getFailed()))).flat();
    assert.deepEqual(
      failed.map((job) => job.failedReason),
      [],
    );
  } finally {
    await worker.close();
  }
});

test("POST /videos/:id/comments: a comment flushed before its new video's first flush waits for it, refused never", async () => {
  const app = createApp({ cache: commented.cache, logger: silent });
  const worker = commented.cache.createWorker({ sweep: false });
  await worker.ready;
  try {
    const deferred = worker.counters.rowsDeferred;
    await request(app).post('/videos/early/likes').expect(200, { id: 'early', likes: 1 });
    const answer = await request(app)
      .post('/videos/early/comments')
      .send({ author: 'ada', body: 'before the video' })
      .expect(202);
    const { commentId } = answer.body as { commentId: string };
    // The comment's job runs now, the video's at the end of its window: the comment finds its video in Redis,
    // never flushed, and waits (no statement, no attempt spent).
    assert.equal((await new Operator(commented.cache).flushNow('comment', commentId)).outcome, 'promoted');
    assert.ok(
      await eventually(() => worker.counters.rowsDeferred > deferred, 900),
      'the comment waited for its video',
    );
    assert.equal(await videoRow(commented.db, 'early'), undefined);
    assert.deepEqual(
      (await commentRows()).filter((r) => r.video_id === 'early'),
      [],
    );

    await commented.cache.drain({ timeoutMs: 20_000 });
    assert.equal((await videoRow(commented.db, 'early'))?.likes, 1);
    assert.deepEqual(
      (await commentRows()).filter((r) => r.video_id === 'early').map((r) => [r.id, r.author, r.body]),
      [[commentId, 'ada', 'before the video']],
    );
    assert.equal(worker.counters.rowsRejected, 0);
  } finally {
    await worker.close();
  }
});
