// Guarantee 4: a key missing from Redis is loaded from the database, once, before it is changed or read.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHarness, forwardingStore, type Harness, REDIS_URL, videoRow } from '@write-behind/testkit';
import { Redis } from 'ioredis';

let h: Harness;
let loads = 0;
let loadedIds = 0;
before(async () => {
  h = await createHarness({
    flush: { windowMs: 50 },
    wrapStore: (inner) =>
      forwardingStore(inner, {
        load(e, ids) {
          loads++;
          loadedIds += ids.length;
          return inner.load(e, ids);
        },
      }),
  });
  await h.startWorker();
});
after(() => h.close());

test('incrementing a cold key continues from the database value: 49,000 + 1 = 49,001', async () => {
  await h.db.pool.query(`INSERT INTO "Video" (id, likes, views, version) VALUES ('cold', 49000, 7, 4)`);
  assert.equal(await h.cache.increment('video', 'cold', 'likes'), 49_001);
  // Versions come from the shard's clock: above the loaded row's, and the one the flush stores.
  const version = Number(await h.redis.hget(h.key('video', 'cold'), '_v'));
  assert.ok(version > 4, `version ${version} follows the stored 4`);
  await h.cache.flushed('video', 'cold');
  assert.deepEqual(await videoRow(h.db, 'cold'), { likes: 49_001, views: 7, version });
});

test('concurrent reads of a cold key share one database load, and return the row', async () => {
  await h.db.pool.query(`INSERT INTO "Video" (id, likes, views, version) VALUES ('shared', 12, 3, 1)`);
  const before = loads;
  const results = await Promise.all(Array.from({ length: 50 }, () => h.cache.get('video', 'shared')));
  assert.equal(loads - before, 1);
  for (const r of results) assert.deepEqual(r, { likes: 12, views: 3 });
});

test('cold keys asked for together are loaded in one query', async () => {
  await h.db.pool.query(
    `INSERT INTO "Video" (id, likes) SELECT 'batch' || g, g FROM generate_series(1, 100) g`,
  );
  const [beforeLoads, beforeIds] = [loads, loadedIds];
  const values = await Promise.all(
    Array.from({ length: 100 }, (_, i) => h.cache.increment('video', `batch${i + 1}`, 'likes')),
  );
  assert.deepEqual(
    values,
    Array.from({ length: 100 }, (_, i) => i + 2),
  );
  assert.equal(loadedIds - beforeIds, 100);
  assert.ok(loads - beforeLoads <= 2, `expected one or two load queries, saw ${loads - beforeLoads}`);
});

test('a read of a key that exists nowhere returns null and caches nothing', async () => {
  assert.equal(await h.cache.get('video', 'nowhere'), null);
  assert.equal(await h.cache.get('settings', 'nobody'), null);
  const redis = new Redis(REDIS_URL);
  // A pattern: the data key of any entity whose id starts with `no`.
  assert.deepEqual(await redis.keys(h.key('*', 'no*')), []);
  redis.disconnect();
});

test('a read never returns state older than an acknowledged write', async () => {
  await h.db.pool.query(`INSERT INTO "Video" (id, likes, version) VALUES ('fresh', 100, 1)`);
  const [written, read] = await Promise.all([
    h.cache.increment('video', 'fresh', 'likes', 5),
    h.cache.get('video', 'fresh'),
  ]);
  assert.equal(written, 105);
  assert.ok(read?.likes === 100 || read?.likes === 105);
  assert.equal((await h.cache.get('video', 'fresh'))?.likes, 105);
});
