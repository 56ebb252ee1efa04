// createBullBoardRouter against real Redis, mounted as the TSDoc shows it: in a plain express app, behind the
// app's own auth middleware. Every shard's queue is listed apart, completed jobs cannot be retried, and
// `readOnly` refuses actions in the API, not only in the UI.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createTestCache,
  entities,
  eventually,
  REDIS_URL,
  type TestCache,
  type TestEntities,
} from '@write-behind/testkit';
import { type Job, Queue, Worker } from 'bullmq';
import express from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  type BullBoardOptions,
  type BullBoardSource,
  createBullBoardRouter,
  resolveBullBoardOptions,
} from '../src/bull-board.ts';
import { ConfigurationError, type Logger, type WriteBehind } from '../src/index.ts';
import { shardKeys } from '../src/keys.ts';

const BASE = '/admin/queues';
const TOKEN = 'let-me-in';
const silent: Logger = { info() {}, warn() {}, error() {} };

/** The user's own app: an auth middleware of its own in front of the board, as in the TSDoc example. */
function userApp(cache: BullBoardSource, options: Partial<BullBoardOptions> = {}): express.Express {
  const app = express();
  const requireAuth: express.RequestHandler = (req, res, next) =>
    req.headers.authorization === `Bearer ${TOKEN}` ? next() : res.status(401).end();
  app.use(BASE, requireAuth, createBullBoardRouter(cache, { basePath: BASE, ...options }));
  return app;
}

const authed = (test: request.Test) => test.set('Authorization', `Bearer ${TOKEN}`);

describe('Bull Board over a cache with two shards', () => {
  let world: TestCache<TestEntities>;
  let prefix: string;
  let cache: WriteBehind<TestEntities>;
  let connection: Redis;
  let worker: Worker;
  let completed: Job;
  let failed: Job;
  let failedRuns = 0;
  /** The second shard's queue as the board names it. */
  const secondName = () => (cache.queues[1] as Queue).name;

  before(async () => {
    // Nothing here writes records (the router only reads the queues), but the cache needs a database.
    world = await createTestCache({ entities, shards: 2, logger: silent });
    ({ cache, prefix } = world);
    // Jobs that complete or fail and are kept, on the second shard: the flush worker removes its own
    // completed jobs, so a stand-in worker runs them.
    const queue = cache.queues[1] as Queue;
    connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    worker = new Worker(
      queue.name,
      async (job) => {
        if (job.name !== 'fails') return 'done';
        failedRuns++;
        throw new Error('refused by the stand-in');
      },
      { connection, prefix: queue.opts.prefix },
    );
    completed = await queue.add('completes', {}, { jobId: 'completed-job', removeOnComplete: false });
    failed = await queue.add('fails', {}, { jobId: 'failed-job', attempts: 1, removeOnFail: false });
    assert.ok(await eventually(async () => (await completed.getState()) === 'completed'));
    assert.ok(await eventually(async () => (await failed.getState()) === 'failed'));
  });
  after(async () => {
    await worker.close();
    connection.disconnect();
    await world.close();
  });

  test('the user’s middleware guards the board', async () => {
    await request(userApp(cache)).get(`${BASE}/api/queues`).expect(401);
    await request(userApp(cache)).get(`${BASE}/`).expect(401);
    await authed(request(userApp(cache)).get(`${BASE}/`))
      .expect(200)
      .expect('content-type', /html/);
  });

  test('both shards’ queues are listed apart, each under its own name', async () => {
    const { body } = await authed(request(userApp(cache)).get(`${BASE}/api/queues`)).expect(200);
    const queues = body.queues as { name: string; description: string; counts: Record<string, number> }[];
    assert.deepEqual(queues.map((q) => q.name).sort(), ['flush-0', 'flush-1']);
    const second = queues.find((q) => q.name === secondName());
    assert.ok(
      second?.description?.includes(shardKeys(prefix, 1, 2).tag),
      `the description names the shard: ${second?.description}`,
    );
    assert.equal(second?.counts.completed, 1);
    assert.equal(second?.counts.failed, 1);
  });

  test('two queues of one name still show as two', async () => {
    const same = [0, 1].map((n) => new Queue('same', { connection, prefix: shardKeys(prefix, n, 2).tag }));
    try {
      const app = express().use(BASE, createBullBoardRouter({ queues: same }, { basePath: BASE }));
      const { body } = await request(app).get(`${BASE}/api/queues`).expect(200);
      assert.deepEqual(body.queues.map((q: { name: string }) => q.name).sort(), ['q0-same', 'q1-same']);
    } finally {
      await Promise.all(same.map((queue) => queue.close()));
    }
  });

  test('a completed job cannot be retried, one by one or all at once; a failed one can', async () => {
    const one = await authed(
      request(userApp(cache)).put(`${BASE}/api/queues/${secondName()}/completed-job/retry`),
    ).expect(405);
    assert.equal(one.body.error.code, 'COMPLETED_RETRY_REFUSED');
    const all = await authed(
      request(userApp(cache)).put(`${BASE}/api/queues/${secondName()}/retry/completed`),
    ).expect(405);
    assert.equal(all.body.error.code, 'COMPLETED_RETRY_REFUSED');
    assert.equal(await completed.getState(), 'completed');

    // Anything else reaches Bull Board: an unknown job is its 404, a failed job is retried.
    await authed(request(userApp(cache)).put(`${BASE}/api/queues/${secondName()}/no-such-job/retry`)).expect(
      404,
    );
    await authed(request(userApp(cache)).put(`${BASE}/api/queues/${secondName()}/failed-job/retry`)).expect(
      204,
    );
    // It ran once more (and the stand-in failed it again).
    assert.ok(await eventually(async () => failedRuns === 2 && (await failed.getState()) === 'failed'));
  });

  test('readOnly refuses every action in the API, not only in the UI', async () => {
    const app = userApp(cache, { readOnly: true });
    const { body } = await authed(request(app).get(`${BASE}/api/queues`)).expect(200);
    assert.ok(body.queues.every((q: { readOnlyMode: boolean }) => q.readOnlyMode));
    await authed(request(app).put(`${BASE}/api/queues/${secondName()}/failed-job/retry`)).expect(405);
    await authed(request(app).put(`${BASE}/api/queues/${secondName()}/retry/failed`)).expect(405);
    await authed(request(app).put(`${BASE}/api/queues/${secondName()}/pause`)).expect(405);
    assert.equal(await failed.getState(), 'failed');
  });
});

test('a bad basePath is refused, quoting it', () => {
  for (const basePath of ['admin/queues', '/admin/queues/', '']) {
    assert.throws(
      () => resolveBullBoardOptions({ basePath }),
      (error: unknown) =>
        error instanceof ConfigurationError &&
        error.message.includes('basePath') &&
        error.message.includes(JSON.stringify(basePath)),
    );
  }
  assert.deepEqual(resolveBullBoardOptions({ basePath: '/q', readOnly: undefined }), {
    basePath: '/q',
    readOnly: false,
    title: 'write-behind flush queues',
  });
});
