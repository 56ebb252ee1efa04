// What `ready` covers and what `health()` reports: `ready` is the entities against the Prisma schema and the live
// database, and says nothing of Redis; `health()` probes Redis and the database each on its own, with the state
// of the cache's schema check, and never shows a credential. Redis and PostgreSQL are reached through TCP
// proxies the test cuts; a cache also starts against a Redis port nobody listens on.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createWriteBehind, type Health, type Logger, type WriteBehind } from '@write-behind/core';
import { createPrismaClient } from '@write-behind/db';
import {
  assertNoSecret,
  cleanupRedis,
  createTestDatabase,
  DATABASE_URL,
  entities,
  eventually,
  freePort,
  type PgProxy,
  REDIS_URL,
  schemaUrl,
  startProxyTo,
  type TestDatabase,
  type TestEntities,
  testPrefix,
  withTimeout,
} from '@write-behind/testkit';

const silent: Logger = { info() {}, warn() {}, error() {} };
const PROBE_MS = 500;

let db: TestDatabase;
let pgProxy: PgProxy;
let redisProxy: PgProxy;
const prefix = testPrefix();
const opened: { cache: WriteBehind<TestEntities>; disconnect: () => Promise<void> }[] = [];

before(async () => {
  db = await createTestDatabase();
  pgProxy = await startProxyTo(DATABASE_URL);
  redisProxy = await startProxyTo(REDIS_URL);
});

after(async () => {
  for (const { cache, disconnect } of opened) {
    await cache.close();
    await disconnect();
  }
  await pgProxy.close();
  await redisProxy.close();
  await cleanupRedis(prefix);
  await db.drop();
});

/** A cache whose Redis and database connections go through the proxies (or to `redis`, when given). */
function openCache(
  options: { redis?: string; databaseUrl?: string; logger?: Logger } = {},
): WriteBehind<TestEntities> {
  const prisma = createPrismaClient(options.databaseUrl ?? schemaUrl(db.schema, pgProxy.url(DATABASE_URL)), {
    max: 2,
  });
  const cache = createWriteBehind({
    redis: options.redis ?? redisProxy.url(REDIS_URL),
    prisma,
    prefix,
    entities,
    logger: options.logger ?? silent,
  });
  opened.push({ cache, disconnect: () => prisma.$disconnect() });
  return cache;
}

/** `health()` with a short probe deadline, checked to be a plain JSON-able object. */
async function health(cache: WriteBehind<TestEntities>): Promise<Health> {
  const answer = await cache.health({ timeoutMs: PROBE_MS });
  assert.deepEqual(JSON.parse(JSON.stringify(answer)), answer);
  return answer;
}

describe('health() of a running cache', () => {
  let cache: WriteBehind<TestEntities>;
  before(async () => {
    cache = openCache();
    await cache.ready;
  });

  test('reports both servers up, with their latency, and the schema verified', async () => {
    const answer = await health(cache);
    assert.equal(answer.ok, true);
    assert.equal(answer.redis.ok, true);
    assert.equal(typeof answer.redis.latencyMs, 'number');
    assert.equal(answer.redis.error, undefined);
    assert.equal(answer.database.ok, true);
    assert.equal(answer.database.schema, 'verified');
    assert.equal(typeof answer.database.latencyMs, 'number');
  });

  test('Redis down: redis not ok, within the deadline, the database still fine; back once Redis is', async () => {
    redisProxy.cut();
    try {
      const started = Date.now();
      const answer = await health(cache);
      assert.ok(Date.now() - started < PROBE_MS + 1000, 'the probe has a deadline');
      assert.equal(answer.ok, false);
      assert.equal(answer.redis.ok, false);
      assert.equal(typeof answer.redis.error, 'string');
      assert.equal(answer.redis.latencyMs, undefined);
      assert.deepEqual(
        { ok: answer.database.ok, schema: answer.database.schema },
        { ok: true, schema: 'verified' },
      );
    } finally {
      redisProxy.restore();
    }
    assert.ok(await eventually(async () => (await health(cache)).redis.ok), 'redis ok again');
  });

  test('the database down: database not ok, the schema still verified, Redis fine; back once it is', async () => {
    pgProxy.cut();
    try {
      const answer = await health(cache);
      assert.equal(answer.ok, false);
      assert.equal(answer.database.ok, false);
      assert.equal(answer.database.schema, 'verified', 'what the cache decided stands');
      assert.equal(typeof answer.database.error, 'string');
      assert.equal(answer.redis.ok, true);
    } finally {
      pgProxy.restore();
    }
    assert.ok(await eventually(async () => (await health(cache)).database.ok), 'database ok again');
  });
});

test('a cache started while the database is down: ready waits, health says unverified, then both settle', async () => {
  pgProxy.cut();
  let cache: WriteBehind<TestEntities>;
  let readyAt = 0;
  try {
    cache = openCache();
    void cache.ready.then(() => {
      readyAt = Date.now();
    });
    const answer = await health(cache);
    assert.equal(answer.database.ok, false);
    assert.equal(answer.database.schema, 'unverified');
    assert.equal(answer.redis.ok, true);
    assert.equal(readyAt, 0, 'ready waits for the database');
  } finally {
    pgProxy.restore();
  }
  // The schema check retries after 1 s, 2 s, 4 s...; a health probe that finds the database starts it at once.
  assert.ok(await eventually(async () => (await health(cache)).database.ok), 'database ok again');
  await withTimeout(cache.ready, 5_000, 'ready after the database came back');
  assert.equal((await health(cache)).database.schema, 'verified');
});

test('ready resolves while Redis is unreachable (it covers the database alone); health() reports Redis', async () => {
  const port = await freePort();
  const cache = openCache({ redis: `redis://default:s3cret-redis@127.0.0.1:${port}` });
  await withTimeout(cache.ready, 10_000, 'ready with Redis unreachable');
  const answer = await health(cache);
  assert.equal(answer.ok, false);
  assert.equal(answer.redis.ok, false);
  assert.equal(answer.database.ok, true);
  assert.equal(answer.database.schema, 'verified');
  assertNoSecret(JSON.stringify(answer), 'health()', ['s3cret-redis']);
});

test('a database that does not match: ready rejects, health() says mismatch and what differs', async () => {
  const other = await createTestDatabase();
  try {
    await other.pool.query('ALTER TABLE "Video" DROP COLUMN views');
    const cache = openCache({ databaseUrl: other.url });
    await assert.rejects(cache.ready, /views/);
    const answer = await health(cache);
    assert.equal(answer.ok, false);
    assert.equal(answer.database.ok, false);
    assert.equal(answer.database.schema, 'mismatch');
    assert.match(answer.database.error ?? '', /has no column "views"/);
    assert.equal(answer.redis.ok, true);
  } finally {
    const last = opened.pop();
    await last?.cache.close();
    await last?.disconnect();
    await other.drop();
  }
});

test('no credential in any error health() reports', async () => {
  const port = await freePort();
  const databaseUrl = `postgresql://postgres:pg-s3cret@127.0.0.1:${port}/postgres`;
  const cache = openCache({ redis: `redis://someone:redis-s3cret@127.0.0.1:${port}`, databaseUrl });
  const answer = await health(cache);
  assert.equal(answer.redis.ok, false);
  assert.equal(answer.database.ok, false);
  assertNoSecret(JSON.stringify(answer), 'health()', ['pg-s3cret', 'redis-s3cret']);
});
