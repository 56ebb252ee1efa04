// Guarantees 1, 3, 4, 5, 8 and 10 on a real Redis Cluster (3 masters, 3 replicas): six shards whose queues,
// dirty indexes and keys are spread over every master, with the library's scripts, BullMQ's queues and the
// workers all going through one ioredis Cluster connection.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BacklogFullError } from '@write-behind/core';
import { shardOf } from '@write-behind/core/internal';
import {
  countVideoRowWrites,
  crashAfterCommit,
  createWorld,
  entities,
  mastersOfShards,
  mulberry32,
  type RedisCluster,
  spreadPrefix,
  startRedisCluster,
  type TestEntities,
  videoRow,
  type World,
  type WorldOptions,
} from '@write-behind/testkit';
import type { Cluster } from 'ioredis';

const SHARDS = 6;
let cluster: RedisCluster;
let redis: Cluster;
const worlds: World<TestEntities>[] = [];

before(async () => {
  cluster = await startRedisCluster();
  redis = cluster.connect();
});
after(async () => {
  await Promise.all(worlds.map((world) => world.close()));
  redis?.disconnect();
  await cluster?.stop();
});

/** A world on the cluster whose six shards are served by all three masters. */
async function clusterWorld(options: WorldOptions<TestEntities> = {}): Promise<World<TestEntities>> {
  const prefix = await spreadPrefix(cluster, redis, options.shards ?? SHARDS);
  const world = await createWorld(entities, { shards: SHARDS, ...options, redis, prefix });
  worlds.push(world);
  return world;
}

test('the shards of one cache are served by different masters', async () => {
  const world = await clusterWorld();
  const ports = await mastersOfShards(cluster, redis, world.prefix, SHARDS);
  assert.equal(new Set(ports).size, 3, `shard masters: ${ports.join(', ')}`);
  // The policy of every master, each checked.
  assert.deepEqual(await world.cache.checkRedis(), ['noeviction', 'noeviction', 'noeviction']);
});

describe('guarantees 1, 4 and 5: mixed writes over six shards', () => {
  test('6,000 operations on 300 keys, some cold, land in PostgreSQL exactly as a model says', async () => {
    const world = await clusterWorld({ flush: { windowMs: 200 } });
    const random = mulberry32(7);
    // Cold keys (guarantee 4): rows already in the database, their counters must continue.
    const videos = new Map<string, { likes: number; views: number } | null>();
    const settings = new Map<string, string | null>();
    for (let i = 0; i < 50; i++) {
      await world.db.pool.query('INSERT INTO "Video" (id, likes, views, version) VALUES ($1, $2, $3, 1)', [
        `v${i}`,
        49_000 + i,
        i,
      ]);
      videos.set(`v${i}`, { likes: 49_000 + i, views: i });
    }
    const ops = 6_000;
    const batch = 50;
    for (let done = 0; done < ops; done += batch) {
      // Distinct keys within one batch: the model applies them in any order.
      const ids = new Set<number>();
      while (ids.size < batch) ids.add(Math.floor(random() * 300));
      await Promise.all(
        [...ids].map(async (n) => {
          const roll = random();
          if (n < 200) {
            const id = `v${n}`;
            const current = videos.get(id) ?? { likes: 0, views: 0 };
            if (roll < 0.05) {
              await world.cache.delete('video', id);
              videos.set(id, null);
            } else {
              const field = roll < 0.6 ? 'likes' : 'views';
              const by = 1 + Math.floor(random() * 5);
              const value = await world.cache.increment('video', id, field, by);
              current[field] += by;
              assert.equal(value, current[field], `${id}.${field}`);
              videos.set(id, current);
            }
          } else {
            const id = `u${n}`;
            if (roll < 0.1) {
              await world.cache.delete('settings', id);
              settings.set(id, null);
            } else {
              const language = `l${Math.floor(random() * 1000)}`;
              await world.cache.set('settings', id, { language });
              settings.set(id, language);
            }
          }
        }),
      );
    }
    const stats = await world.cache.stats();
    assert.ok(stats.shards.filter((s) => s.dirtyKeys > 0).length === SHARDS, 'every shard has a backlog');

    await world.startWorker();
    await world.cache.flush({ timeoutMs: 30_000 });
    for (const [id, expected] of videos) {
      const row = await videoRow(world.db, id);
      if (expected === null) assert.equal(row, undefined, `${id} deleted`);
      else assert.deepEqual(row && { likes: row.likes, views: row.views }, expected, id);
    }
    const { rows } = await world.db.pool.query('SELECT user_id, language FROM user_settings');
    const stored = new Map(rows.map((r: { user_id: string; language: string }) => [r.user_id, r.language]));
    for (const [id, expected] of settings) assert.equal(stored.get(id), expected ?? undefined, id);
  });

  test('2,000 increments of one hot key per shard become one row write per window', async () => {
    const windowMs = 1000;
    const world = await clusterWorld({ flush: { windowMs } });
    const rowWrites = await countVideoRowWrites(world.db);
    // One hot key in each shard.
    const hot: string[] = [];
    for (let n = 0; hot.length < SHARDS; n++) {
      const id = `hot${n}`;
      if (shardOf('video', id, SHARDS) === hot.length) hot.push(id);
    }
    await world.startWorker();
    const started = Date.now();
    for (let round = 0; round < 20; round++)
      await Promise.all(
        hot.flatMap((id) => Array.from({ length: 100 }, () => world.cache.increment('video', id, 'likes'))),
      );
    const elapsed = Date.now() - started;
    await world.cache.drain({ timeoutMs: 15_000 });
    const windows = Math.ceil(elapsed / windowMs) + 1;
    for (const id of hot) {
      assert.equal((await videoRow(world.db, id))?.likes, 2_000, id);
      const writes = await rowWrites(id);
      assert.ok(writes >= 1 && writes <= windows, `${id}: ${writes} row writes, at most ${windows}`);
    }
  });
});

test('guarantee 3: a flush that committed but was not acknowledged applies nothing twice', async () => {
  const crash = crashAfterCommit('upsert');
  crash.remaining = 4;
  const world = await clusterWorld({
    flush: { windowMs: 50, backoffMs: 20, attempts: 5 },
    wrapStore: crash.wrapStore,
  });
  const ids = Array.from({ length: 60 }, (_, i) => `r${i}`);
  for (let round = 0; round < 5; round++)
    await Promise.all(ids.map((id) => world.cache.increment('video', id, 'likes', 3)));
  await world.startWorker();
  await world.cache.drain({ timeoutMs: 15_000 });
  assert.equal(crash.remaining, 0, 'the store failed after commits');
  for (const id of ids) assert.equal((await videoRow(world.db, id))?.likes, 15, id);
});

test('guarantee 8: dirty keys whose jobs were lost on every master are re-enqueued by the sweep', async () => {
  const world = await clusterWorld({ flush: { windowMs: 50 }, sweep: { intervalMs: 300, graceMs: 0 } });
  const ids = Array.from({ length: 30 }, (_, i) => `s${i}`);
  await Promise.all(ids.map((id) => world.cache.increment('video', id, 'views', 2)));
  let removed = 0;
  for (const queue of world.cache.queues) {
    for (const job of await queue.getJobs(['delayed', 'wait'])) {
      await job.remove();
      removed++;
    }
  }
  assert.equal(removed, ids.length, 'every flush job removed');
  assert.equal((await world.cache.stats()).dirtyKeys, ids.length);
  await world.startWorker();
  await world.cache.drain({ timeoutMs: 15_000 });
  for (const id of ids) assert.equal((await videoRow(world.db, id))?.views, 2, id);
  const reEnqueued = world.logs
    .filter((l) => l.msg.includes('sweep re-enqueued'))
    .reduce((n, l) => n + ((l.obj as { keys?: number }).keys ?? 0), 0);
  assert.equal(reEnqueued, ids.length);
});

test('guarantee 10: the backlog limit holds per shard, each on its own master', async () => {
  const limit = 3;
  const world = await clusterWorld({ backlog: { limit } });
  const byShard = new Map<number, string[]>();
  for (let n = 0; [...byShard.values()].filter((ids) => ids.length > limit).length < SHARDS; n++) {
    const id = `b${n}`;
    const shard = shardOf('video', id, SHARDS);
    const ids = byShard.get(shard) ?? [];
    if (ids.length <= limit) ids.push(id);
    byShard.set(shard, ids);
  }
  for (const ids of byShard.values()) {
    for (const id of ids.slice(0, limit)) await world.cache.increment('video', id, 'likes');
    await assert.rejects(world.cache.increment('video', ids[limit] as string, 'likes'), BacklogFullError);
    assert.equal(await world.cache.get('video', ids[limit] as string), null);
    // A key already dirty is still accepted.
    assert.equal(await world.cache.increment('video', ids[0] as string, 'likes'), 2);
  }
  assert.equal((await world.cache.stats()).dirtyKeys, limit * SHARDS);
});
