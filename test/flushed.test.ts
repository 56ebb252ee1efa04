// `flushed()`: read-your-write from the database, with a timeout; and the start-up warning about eviction.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TimeoutError } from '@write-behind/core';
import { createHarness, type Harness, REDIS_URL, videoRow } from '@write-behind/testkit';
import { Redis } from 'ioredis';

let h: Harness;
before(async () => {
  h = await createHarness({ flush: { windowMs: 200 } });
});
after(() => h.close());

test('flushed() times out while no worker runs, and resolves once PostgreSQL holds the version', async () => {
  await h.cache.increment('video', 'f', 'likes', 3);
  // The version the write got from the shard's clock: the one flushed() waits for PostgreSQL to hold.
  const version = Number(await h.redis.hget(h.key('video', 'f'), '_v'));
  await assert.rejects(h.cache.flushed('video', 'f', { timeoutMs: 300 }), TimeoutError);
  assert.equal(await videoRow(h.db, 'f'), undefined);
  await h.startWorker();
  await h.cache.flushed('video', 'f', { timeoutMs: 10_000 });
  assert.deepEqual(await videoRow(h.db, 'f'), { likes: 3, views: 0, version });
  // A clean key is flushed already.
  await h.cache.flushed('video', 'f', { timeoutMs: 1 });
});

test('flush() writes dirty keys now instead of at the end of their window', async () => {
  const slow = await createHarness({ flush: { windowMs: 60_000 } });
  try {
    await slow.startWorker();
    await slow.cache.increment('video', 'now', 'views', 9);
    await slow.cache.flush({ timeoutMs: 10_000 });
    assert.equal((await videoRow(slow.db, 'now'))?.views, 9);
  } finally {
    await slow.close();
  }
});

test('warns loudly when Redis may evict keys', async () => {
  const redis = new Redis(REDIS_URL);
  const [, original = 'noeviction'] = (await redis.config('GET', 'maxmemory-policy')) as string[];
  try {
    await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const policies = await h.cache.checkRedis();
    assert.deepEqual(policies, ['allkeys-lru']);
    const warning = h.logs.find((l) => l.level === 'warn' && /maxmemory-policy is allkeys-lru/.test(l.msg));
    assert.ok(warning, 'a warning names the policy');
    assert.match(warning.msg, /lost write/);
  } finally {
    await redis.config('SET', 'maxmemory-policy', original);
    redis.disconnect();
  }
  const quiet = h.logs.length;
  assert.deepEqual(await h.cache.checkRedis(), ['noeviction']);
  assert.equal(h.logs.length, quiet);
});
