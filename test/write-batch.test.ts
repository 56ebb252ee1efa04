// Concurrent writes travel to Redis together (lua/write.lua, write/write-batcher.ts): fewer script calls than writes,
// and still one answer per write, each applied atomically, a refused write changing nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { shardKeys, writeProtocol } from '@write-behind/core/internal';
import { createHarness, type Harness, REDIS_URL, videoRow } from '@write-behind/testkit';
import { Redis } from 'ioredis';

let h: Harness;
let redis: Redis;
/** Writes per call of the write script, as the connection sent them. */
const calls: number[] = [];
/** The write script's KEYS before the data keys: the shard's own keys and the writer's state. */
const FIXED_KEYS = writeProtocol.writeKeys(shardKeys('any', 0, 1), 'writer', []).length;

before(async () => {
  redis = new Redis(REDIS_URL);
  h = await createHarness({ redis, flush: { windowMs: 60_000 } });
  // The cache registered its scripts on this connection: count the write script's calls and their writes.
  const send = redis.wbWrite.bind(redis);
  redis.wbWrite = ((numKeys: number, ...rest: (string | number)[]) => {
    calls.push(numKeys - FIXED_KEYS); // the shard's keys and the writer state, then one key per write
    return send(numKeys, ...(rest as [string, ...(string | number)[]]));
  }) as typeof redis.wbWrite;
});
after(async () => {
  await h.close();
  redis.disconnect();
});

test('a hundred concurrent increments of one key take a handful of script calls and get 1..100', async () => {
  await h.cache.increment('video', 'batched', 'likes'); // warm: the rest take the short form
  calls.length = 0;
  const values = await Promise.all(
    Array.from({ length: 100 }, () => h.cache.increment('video', 'batched', 'likes')),
  );
  assert.deepEqual(
    [...values].sort((a, b) => a - b),
    Array.from({ length: 100 }, (_, i) => i + 2),
  );
  assert.equal(
    calls.reduce((n, c) => n + c, 0),
    100,
  );
  assert.ok(calls.length <= 20, `100 writes took ${calls.length} script calls: ${calls.join(',')}`);
  // One dirty period, one flush job, however many writes went together.
  assert.equal(await h.queue.getDelayedCount(), 1);
});

test('in one batch, each write gets its own answer and a refused write changes nothing', async () => {
  await h.db.pool.query(`INSERT INTO "Video" (id, likes, version) VALUES ('cold', 41, 3)`);
  await h.cache.set('settings', 'u1', { theme: 'dark', language: 'en', notifications: true });
  await h.cache.increment('video', 'max', 'likes', Number.MAX_SAFE_INTEGER);
  const before = await redis.hgetall(h.key('video', 'max'));
  calls.length = 0;

  // Forty writes waiting already make the batches large (see TurnBatcher's `spread`), so the writes under
  // test share script calls with each other and with these.
  const filler = Array.from({ length: 40 }, () => h.cache.increment('video', 'filler', 'likes'));
  const results = await Promise.allSettled([
    h.cache.increment('video', 'batched', 'likes', 5),
    h.cache.increment('video', 'cold', 'likes'), // loaded from PostgreSQL, then written
    h.cache.increment('video', 'max', 'likes'), // would overflow: refused
    h.cache.set('settings', 'nobody', { theme: 'light' }), // a partial set cannot create: refused
    h.cache.set('settings', 'u1', { language: 'fr' }),
    h.cache.delete('settings', 'u1'),
    h.cache.increment('video', 'batched', 'views', 2),
  ]);
  const [batched, cold, max, nobody, set, deleted, views] = results;
  assert.deepEqual(batched, { status: 'fulfilled', value: 106 });
  assert.deepEqual(cold, { status: 'fulfilled', value: 42 });
  assert.equal(max?.status === 'rejected' && (max.reason as { code?: string }).code, 'COUNTER_OVERFLOW');
  assert.equal(nobody?.status === 'rejected' && (nobody.reason as { code?: string }).code, 'NOT_FOUND');
  assert.deepEqual(set, {
    status: 'fulfilled',
    value: { theme: 'dark', language: 'fr', notifications: true },
  });
  assert.deepEqual(deleted, { status: 'fulfilled', value: true });
  assert.deepEqual(views, { status: 'fulfilled', value: 2 });
  await Promise.all(filler);
  assert.ok(Math.max(...calls) >= 7, `writes per call: ${calls.join(',')}`);

  assert.deepEqual(await redis.hgetall(h.key('video', 'max')), before);
  assert.equal(await redis.exists(h.key('settings', 'nobody')), 0);
  assert.equal(await h.cache.get('settings', 'u1'), null);
  assert.equal(await h.cache.get('video', 'cold').then((v) => v?.likes), 42);
});

test('everything a batch acknowledged reaches PostgreSQL', async () => {
  // The version of the key's last write, from the shard's clock: the one its flush stores.
  const version = Number(await redis.hget(h.key('video', 'batched'), '_v'));
  const worker = await h.startWorker();
  await h.cache.flush({ timeoutMs: 15_000 });
  assert.deepEqual(await videoRow(h.db, 'batched'), { likes: 106, views: 2, version });
  assert.equal((await videoRow(h.db, 'cold'))?.likes, 42);
  const { rows } = await h.db.pool.query(`SELECT count(*)::int AS n FROM user_settings WHERE user_id = 'u1'`);
  assert.equal(rows[0].n, 0);
  await worker.close();
});
