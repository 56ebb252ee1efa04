// Guarantee 23: under a memory budget the cache's keys in Redis stay within it: clean keys are evicted, least
// recently used (read or written) first, never a dirty one; with only dirty keys left, a write that needs a new
// key gets BacklogFullError ('memory') and changes nothing. An evicted key reads back from the database.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { BacklogFullError } from '@write-behind/core';
import { createHarness, type Harness, scanKeys, videoRow } from '@write-behind/testkit';

const harnesses: Harness[] = [];
after(() => Promise.all(harnesses.map((h) => h.close())));

async function harness(memory: { maxKeys?: number; maxBytes?: number }): Promise<Harness> {
  const h = await createHarness({ memory, flush: { windowMs: 50 } });
  harnesses.push(h);
  return h;
}

/** The data keys Redis holds under the harness's prefix. */
function dataKeys(h: Harness): Promise<string[]> {
  return scanKeys(h.redis, h.key('*', '*'));
}

test('distinct keys beyond the budget: Redis keeps at most maxKeys, and every write lands', async () => {
  const h = await harness({ maxKeys: 50 });
  const worker = await h.startWorker();
  const views = new Map<string, number>();
  const themes = new Map<string, string>();
  let refused = 0;
  // Writes outrunning the flush find the budget full of dirty keys: the refusal is the budget's.
  const refusal = (error: unknown) => {
    assert.ok(error instanceof BacklogFullError && error.backlog === 'memory', String(error));
    refused++;
  };
  for (let round = 0; round < 20; round++) {
    await Promise.all(
      Array.from({ length: 10 }, async (_, k) => {
        const id = `${round * 10 + k}`;
        // A key made by adds alone leaves Redis once flushed; a whole record stays, clean, until evicted.
        await h.cache.add('video', `v${id}`, 'views', k + 1).then(() => views.set(`v${id}`, k + 1), refusal);
        await h.cache
          .set('settings', `u${id}`, { theme: `t${id}`, language: 'en', notifications: false })
          .then(() => themes.set(`u${id}`, `t${id}`), refusal);
      }),
    );
    const stats = await h.cache.stats();
    assert.ok(stats.keys <= 50, `round ${round}: ${stats.keys} keys counted`);
    assert.ok((await dataKeys(h)).length <= 50, `round ${round}: Redis holds at most 50 data keys`);
    // Flushed each round: the 20 keys a round makes always find clean keys to evict.
    await h.cache.flush({ timeoutMs: 30_000 });
  }
  const stats = await h.cache.stats();
  assert.equal(refused, 0, 'with the flush keeping up, no write was refused');
  assert.ok(stats.evictions >= themes.size - 50, `evictions: ${stats.evictions} for ${themes.size} records`);
  for (const [id, value] of views) assert.equal((await videoRow(h.db, id))?.views, value, id);
  for (const [id, theme] of themes) {
    const { rows } = await h.db.pool.query('SELECT theme FROM user_settings WHERE user_id = $1', [id]);
    assert.equal(rows[0]?.theme, theme, id);
  }
  // An evicted key reads back from the database, and a write to it continues from there.
  assert.equal((await h.cache.get('settings', 'u0'))?.theme, 't0');
  assert.deepEqual(await h.cache.get('video', 'v0'), { likes: 0, views: 1 });
  assert.equal(await h.cache.increment('video', 'v0', 'views', 2), 3);
  await worker.close();
});

test('dirty keys are never evicted: a full budget of them refuses new keys, changing nothing', async () => {
  const h = await harness({ maxKeys: 10 });
  for (let i = 0; i < 10; i++) await h.cache.add('video', `d${i}`, 'likes', i + 1);
  await assert.rejects(h.cache.add('video', 'one-more', 'likes'), (error: unknown) => {
    assert.ok(error instanceof BacklogFullError);
    assert.equal(error.backlog, 'memory');
    assert.match(error.message, /memory\.maxKeys/);
    return true;
  });
  await assert.rejects(h.cache.set('settings', 'u', { theme: 't', language: 'l', notifications: true }));
  assert.equal(await h.redis.exists(h.key('video', 'one-more')), 0);
  assert.equal((await dataKeys(h)).length, 10);
  // Writes to keys already held need no room.
  await h.cache.add('video', 'd0', 'likes', 100);

  const worker = await h.startWorker();
  await h.cache.flush();
  await h.cache.add('video', 'one-more', 'likes');
  await h.cache.flush();
  assert.equal((await videoRow(h.db, 'd0'))?.likes, 101);
  assert.equal((await videoRow(h.db, 'one-more'))?.likes, 1);
  for (let i = 1; i < 10; i++) assert.equal((await videoRow(h.db, `d${i}`))?.likes, i + 1);
  await worker.close();
});

test('the least recently used clean key goes first: a read keeps a key', async () => {
  const h = await harness({ maxKeys: 5 });
  const worker = await h.startWorker();
  for (let i = 0; i < 5; i++) {
    await h.cache.set('settings', `u${i}`, { theme: `t${i}`, language: 'en', notifications: false });
    // One at a time, so their flushes (which make them clean) come in this order.
    await h.cache.flushed('settings', `u${i}`);
  }
  assert.equal((await h.cache.get('settings', 'u0'))?.theme, 't0', 'u0 is read: now the most recent');
  await h.cache.set('settings', 'new', { theme: 'n', language: 'en', notifications: true });
  const held = new Set(await dataKeys(h));
  assert.ok(held.has(h.key('settings', 'u0')), 'the key just read stays');
  assert.ok(!held.has(h.key('settings', 'u1')), 'the least recently used goes');
  assert.equal((await h.cache.stats()).evictions, 1);
  // Gone from Redis, not from the database.
  assert.equal((await h.cache.get('settings', 'u1'))?.theme, 't1');
  await worker.close();
});

test('a byte budget bounds the keys by their sampled size', async () => {
  const h = await harness({ maxBytes: 64 * 1024 });
  const worker = await h.startWorker();
  let refused = 0;
  for (let round = 0; round < 40; round++) {
    const writes = Array.from({ length: 50 }, (_, k) =>
      h.cache
        .set('settings', `b${round}-${k}`, { theme: 'x'.repeat(200), language: 'en', notifications: true })
        .catch((error: unknown) => {
          assert.ok(error instanceof BacklogFullError && error.backlog === 'memory', String(error));
          refused++;
        }),
    );
    await Promise.all(writes);
    if (round % 4 === 3) await h.cache.flush({ timeoutMs: 30_000 });
  }
  await h.cache.flush({ timeoutMs: 30_000 });
  const stats = await h.cache.stats();
  const held = await dataKeys(h);
  const measured = (await Promise.all(held.map((k) => h.redis.memory('USAGE', k)))).reduce<number>(
    (sum, n) => sum + Number(n ?? 0),
    0,
  );
  console.log(
    `byte budget 64 KiB: ${held.length} keys, ${measured} bytes of hashes measured, ${stats.bytes} estimated, ${stats.evictions} evictions, ${refused} refused`,
  );
  assert.ok(stats.evictions > 0);
  assert.ok(stats.bytes <= 64 * 1024, `estimated ${stats.bytes}`);
  assert.ok(measured <= 64 * 1024, `the hashes themselves take ${measured} bytes`);
  await worker.close();
});
