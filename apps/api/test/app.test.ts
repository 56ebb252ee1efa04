// The api in-process (supertest), for the answers an end-to-end run cannot easily provoke: a full backlog,
// an unreachable Redis, an unexpected error. The happy paths run against real processes in
// test/apps-e2e.test.ts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createWriteBehind, type Logger } from '@write-behind/core';
import { type DemoCache, type DemoEntities, demoEntities } from '@write-behind/demo';
import { createTestCache, type TestCache } from '@write-behind/testkit';
import { Redis } from 'ioredis';
import request from 'supertest';
import { type ApiCache, createApp } from '../src/app.ts';

const silent: Logger = { info() {}, warn() {}, error() {} };

let world: TestCache<DemoEntities>;
let cache: DemoCache;

before(async () => {
  // No worker runs, so every written key stays dirty: a backlog of one fills at the first write.
  world = await createTestCache({ entities: demoEntities, backlog: { limit: 1 }, logger: silent });
  cache = world.cache;
});

after(() => world.close());

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
    await request(app)
      .get('/videos/top?by=likes&n=3')
      .expect(200, {
        by: 'likes',
        top: [
          { id: 'v1', likes: 11, rank: 1 },
          { id: 'v2', likes: 6, rank: 2 },
          { id: 'stored', likes: 6, rank: 2 },
        ],
      });
    await request(app)
      .get('/videos/top?by=views')
      .expect(200, {
        by: 'views',
        top: [
          { id: 'stored', views: 2, rank: 1 },
          { id: 'v2', views: 0, rank: 2 },
          { id: 'v1', views: 0, rank: 2 },
        ],
      });
    await request(app)
      .get('/videos/stored/rank?by=likes')
      .expect(200, { id: 'stored', by: 'likes', rank: 2, likes: 6 });
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
