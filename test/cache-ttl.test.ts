// Guarantee 4 (expired keys), cacheTtlMs: clean keys expire from Redis and come back from the database; dirty keys never expire.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHarness, eventually, type Harness, REDIS_URL, videoRow } from '@write-behind/testkit';
import { Redis } from 'ioredis';

let h: Harness;
let redis: Redis;
before(async () => {
  h = await createHarness({ cacheTtlMs: 300, flush: { windowMs: 50 } });
  redis = new Redis(REDIS_URL);
});
after(async () => {
  redis.disconnect();
  await h.close();
});

test('a flushed key expires, then reloads from the database with its value and version', async () => {
  const key = h.key('video', 'ttl');
  await h.cache.increment('video', 'ttl', 'likes', 41);
  assert.equal(await redis.pttl(key), -1, 'a dirty key has no expiry');
  await h.startWorker();
  await h.cache.flushed('video', 'ttl');
  assert.ok((await redis.pttl(key)) > 0, 'a clean key has one');
  assert.ok(await eventually(async () => (await redis.exists(key)) === 0, 5000), 'it expired');
  assert.equal(await h.cache.increment('video', 'ttl', 'likes'), 42);
  assert.equal(await redis.pttl(key), -1);
  await h.cache.flushed('video', 'ttl');
  assert.deepEqual(await videoRow(h.db, 'ttl'), { likes: 42, views: 0, version: 2 });
});

test('a key filled by a read expires too', async () => {
  await h.db.pool.query(`INSERT INTO "Video" (id, likes, version) VALUES ('read', 5, 1)`);
  assert.equal((await h.cache.get('video', 'read'))?.likes, 5);
  assert.ok((await redis.pttl(h.key('video', 'read'))) > 0);
  // An increment of that warm, clean key takes the fast path; it too makes the key dirty and permanent.
  assert.equal(await h.cache.increment('video', 'read', 'likes'), 6);
  assert.equal(await redis.pttl(h.key('video', 'read')), -1);
});
