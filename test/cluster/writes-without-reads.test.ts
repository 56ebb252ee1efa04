// Guarantees 21, 22 and 23 on a real Redis Cluster (3 masters, 3 replicas): adds, whole sets and appends to
// keys Redis never held need no read on six shards spread over every master, their rows land exactly, and a
// memory budget holds on each shard, its rankings kept to their highest entries.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BacklogFullError } from '@write-behind/core';
import { rankingKey, shardKeys } from '@write-behind/core/internal';
import {
  createWorld,
  eventEntities,
  expectedTop,
  forwardingStore,
  type RedisCluster,
  rankedEntities,
  spreadPrefix,
  startRedisCluster,
  videoRow,
  type World,
} from '@write-behind/testkit';
import type { Cluster } from 'ioredis';

const SHARDS = 6;
const MAX_KEYS = 120;
let cluster: RedisCluster;
let redis: Cluster;
let world: World<typeof eventEntities>;
let loads = 0;

before(async () => {
  cluster = await startRedisCluster();
  redis = cluster.connect();
  const prefix = await spreadPrefix(cluster, redis, SHARDS);
  world = await createWorld(eventEntities, {
    shards: SHARDS,
    redis,
    prefix,
    flush: { windowMs: 50 },
    memory: { maxKeys: MAX_KEYS },
    wrapStore: (base) =>
      forwardingStore(base, {
        load(entity, ids) {
          loads += ids.length;
          return base.load(entity, ids);
        },
      }),
  });
});
after(async () => {
  await world?.close();
  redis?.disconnect();
  await cluster?.stop();
});

test('adds, whole sets and appends on six shards: no read, exact rows, the budget kept', async () => {
  await world.db.pool.query(
    `INSERT INTO "Video" (id, likes, views) SELECT 'v' || g, 1000, 0 FROM generate_series(0, 49) g`,
  );
  const worker = await world.startWorker();
  const views = new Map<string, number>();
  const themes = new Map<string, string>();
  const events = new Map<string, number[]>();
  for (let round = 0; round < 15; round++) {
    await Promise.all(
      Array.from({ length: 12 }, async (_, k) => {
        const n = round * 12 + k;
        const video = `v${n % 80}`;
        await world.cache.add('video', video, 'likes', k + 1);
        views.set(video, (views.get(video) ?? (n % 80 < 50 ? 1000 : 0)) + k + 1);
        await world.cache.set('settings', `u${n}`, { theme: `t${n}`, language: 'en', notifications: true });
        themes.set(`u${n}`, `t${n}`);
        const stream = `s${k}`;
        const seq = await world.cache.append('videoEvent', stream, {
          type: `r${round}`,
          context: { n },
          createdAt: new Date(1_700_000_000_000 + n),
        });
        events.set(stream, [...(events.get(stream) ?? []), seq]);
      }),
    ).catch((error: unknown) => {
      assert.fail(`${error instanceof BacklogFullError ? 'refused by the budget' : 'failed'}: ${error}`);
    });
    await world.cache.flush({ timeoutMs: 30_000 });
    assert.ok((await world.cache.stats()).keys <= MAX_KEYS, `round ${round}: within the budget`);
  }
  assert.equal(loads, 0, 'not one key was read from the database');
  for (const [id, likes] of views) assert.equal((await videoRow(world.db, id))?.likes, likes, id);
  for (const [id, theme] of themes) {
    const { rows } = await world.db.pool.query('SELECT theme FROM user_settings WHERE user_id = $1', [id]);
    assert.equal(rows[0]?.theme, theme, id);
  }
  for (const [stream, numbers] of events) {
    const { rows } = await world.db.pool.query<{ seq: string }>(
      'SELECT seq::text FROM video_event WHERE video_id = $1 ORDER BY seq',
      [stream],
    );
    assert.deepEqual(
      rows.map((r) => Number(r.seq)),
      numbers,
      `${stream}: every event once, in the order acknowledged`,
    );
  }
  const stats = await world.cache.stats();
  assert.ok(stats.evictions > 0, `evictions ${stats.evictions}`);
  assert.equal(stats.shards.filter((s) => s.keys > 0).length, SHARDS, 'every shard holds keys');
  await worker.close();
});

test('a capped ranking on six shards: each keeps its highest entries, top and rank stay exact', async () => {
  const cap = 3;
  const ranked = await createWorld(rankedEntities, {
    shards: SHARDS,
    redis,
    prefix: await spreadPrefix(cluster, redis, SHARDS),
    flush: { windowMs: 50 },
    memory: { maxKeys: 10_000, rankingEntries: cap },
  });
  try {
    const values = new Map<string, number>();
    for (let i = 0; i < 60; i++) values.set(`r${i}`, 10 * (i + 1));
    await ranked.db.pool.query(
      `INSERT INTO "Video" (id, views) SELECT unnest($1::text[]), unnest($2::bigint[])`,
      [[...values.keys()], [...values.values()]],
    );
    const expected = () => expectedTop(values, cap);
    assert.deepEqual(await ranked.cache.top('video', 'views', cap), expected(), 'built');
    // Cold adds, no read: a stored key and a new one jump to the top once their flush commits.
    await ranked.cache.add('video', 'r0', 'views', 5000);
    await ranked.cache.add('video', 'fresh', 'views', 4000);
    values.set('r0', 5010).set('fresh', 4000);
    const worker = await ranked.startWorker();
    await ranked.cache.flush({ timeoutMs: 30_000 });
    assert.deepEqual(await ranked.cache.top('video', 'views', cap), expected(), 'after the flush');
    assert.deepEqual(await ranked.cache.rank('video', 'views', 'fresh'), { rank: 2, value: 4000 });
    for (let s = 0; s < SHARDS; s++) {
      const key = rankingKey(shardKeys(ranked.prefix, s, SHARDS), 'video', 'views');
      const kept = await redis.zcount(key, '(-inf', '+inf');
      assert.ok(kept <= cap, `shard ${s} keeps ${kept} entries`);
    }
    await worker.close();
  } finally {
    await ranked.close();
  }
});
