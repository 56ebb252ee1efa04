// The dashboard on a real Redis Cluster (3 masters, 3 replicas): six shards whose queues live on every
// master, each with a flush job the database refused. Over HTTP, Bull Board lists every queue with its
// counts and answers its per-queue and per-job reads (each shard's keys share one hash tag, so nothing may
// cross slots), the dashboard's stats and /metrics show the failed keys, dirty keys and lag of every shard,
// and retrying the failed jobs through Bull Board's API writes the rows.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createWriteBehind, type FlushWorker, type Logger, type WriteBehind } from '@write-behind/core';
import { shardKeys, shardOf } from '@write-behind/core/internal';
import {
  createTestDatabase,
  entities,
  eventually,
  mastersOfShards,
  type RedisCluster,
  spreadPrefix,
  startRedisCluster,
  type TestDatabase,
  type TestEntities,
  videoRow,
} from '@write-behind/testkit';
import type { Cluster } from 'ioredis';
import request from 'supertest';
import { BOARD_PATH, createApp } from '../../apps/dashboard/src/app.ts';

const SHARDS = 6;
const silent: Logger = { info() {}, warn() {}, error() {} };
const credentials = { user: 'ops', password: 's3cret' };

let cluster: RedisCluster;
let redis: Cluster;
let db: TestDatabase;
let prefix: string;
let cache: WriteBehind<TestEntities>;
let worker: FlushWorker;
/** One video per shard, in shard order: the database refuses each until the constraint is dropped. */
const poisoned: string[] = [];

before(async () => {
  cluster = await startRedisCluster();
  redis = cluster.connect();
  db = await createTestDatabase();
  prefix = await spreadPrefix(cluster, redis, SHARDS);
  cache = createWriteBehind({
    redis,
    prisma: db.prisma,
    entities,
    prefix,
    shards: SHARDS,
    // One attempt: a refused job fails for good at once and waits for an operator.
    flush: { windowMs: 100, attempts: 1, backoffMs: 50 },
    logger: silent,
  });
  worker = cache.createWorker({ closeTimeoutMs: 2000 });
  await worker.ready;
  for (let n = 0; poisoned.length < SHARDS; n++) {
    const id = `poison-${n}`;
    if (shardOf('video', id, SHARDS) === poisoned.length) poisoned.push(id);
  }
});

after(async () => {
  await worker?.close();
  await cache?.close();
  redis?.disconnect();
  await cluster?.stop();
  await db?.drop();
});

const app = () => createApp({ cache, credentials, logger: silent, processMetrics: false });
const get = (path: string) => request(app()).get(path).auth(credentials.user, credentials.password);
const put = (path: string) => request(app()).put(path).auth(credentials.user, credentials.password);

interface BoardQueue {
  name: string;
  counts: Record<string, number>;
  jobs: { id: string; data: { entity: string; id: string } }[];
}

test('Bull Board, the stats and /metrics cover every shard on every master; failed jobs are retried', async () => {
  const queueNames = Array.from({ length: SHARDS }, (_, shard) => shardKeys(prefix, shard, SHARDS).queueName);
  assert.equal(new Set(await mastersOfShards(cluster, redis, prefix, SHARDS)).size, 3, 'shards on 3 masters');

  // Writes on every shard: plain ones that flush, and one refused video per shard.
  await db.pool.query(`ALTER TABLE "Video" ADD CONSTRAINT refuse_poison CHECK (id NOT LIKE 'poison-%')`);
  for (let i = 0; i < 30; i++) await cache.increment('video', `ok-${i}`, 'likes', i + 1);
  for (const id of poisoned) await cache.increment('video', id, 'likes', 3);
  assert.ok(
    await eventually(async () => (await cache.stats()).failedKeys === SHARDS, 15_000),
    `the refused jobs never failed: ${JSON.stringify(await cache.stats())}`,
  );
  assert.ok(await eventually(async () => (await videoRow(db, 'ok-29'))?.likes === 30));

  // Bull Board's queue list: every shard's queue with its counts, and the failed job of the one asked for.
  const listing = await get(
    `${BOARD_PATH}/api/queues?activeQueue=${queueNames[2]}&status=failed&page=1&jobsPerPage=10`,
  ).expect(200);
  const queues = listing.body.queues as BoardQueue[];
  assert.deepEqual(queues.map((q) => q.name).sort(), [...queueNames].sort());
  for (const queue of queues) {
    assert.equal(queue.counts.failed, 1, `${queue.name}: ${JSON.stringify(queue.counts)}`);
    for (const state of ['waiting', 'delayed', 'active', 'completed'])
      assert.equal(typeof queue.counts[state], 'number', `${queue.name} counts ${state}`);
  }
  const active = queues.find((q) => q.name === queueNames[2]) as BoardQueue;
  assert.deepEqual(
    active.jobs.map((job) => job.data.id),
    [poisoned[2]],
  );

  // The other reads the board's pages make, for every queue and every failed job.
  await get(`${BOARD_PATH}/`).expect(200);
  await get(`${BOARD_PATH}/api/redis/stats`).expect(200);
  const failedJobs: { queue: string; id: string }[] = [];
  for (const name of queueNames) {
    await get(`${BOARD_PATH}/api/queues/${name}/metrics`).expect(200);
    await get(`${BOARD_PATH}/api/queues/${name}/workers`).expect(200);
    const page = await get(
      `${BOARD_PATH}/api/queues?activeQueue=${name}&status=failed&page=1&jobsPerPage=10`,
    ).expect(200);
    const [job] = (page.body.queues as BoardQueue[]).find((q) => q.name === name)?.jobs ?? [];
    assert.ok(job, `${name} shows its failed job`);
    const detail = await get(`${BOARD_PATH}/api/queues/${name}/${encodeURIComponent(job.id)}`).expect(200);
    assert.equal(detail.body.job.data.id, job.data.id);
    failedJobs.push({ queue: name, id: job.id });
  }

  // The dashboard's own figures: six failed keys, still dirty, and a lag that is their age.
  await request(app()).get('/healthz').expect(200, { status: 'ok' });
  const stats = await get('/api/stats').expect(200);
  assert.equal(stats.body.failedKeys, SHARDS);
  assert.equal(stats.body.dirtyKeys, SHARDS);
  assert.ok(stats.body.lagMs > 0, `lag ${stats.body.lagMs}`);
  assert.equal(stats.body.queues.length, SHARDS);
  const metrics = (await get('/metrics').expect(200)).text;
  assert.match(metrics, new RegExp(`^write_behind_failed_keys ${SHARDS}$`, 'm'));
  assert.match(metrics, new RegExp(`^write_behind_dirty_keys ${SHARDS}$`, 'm'));
  const lag = Number(/^write_behind_lag_seconds (\S+)$/m.exec(metrics)?.[1]);
  assert.ok(lag > 0, `lag ${lag}`);
  for (let shard = 0; shard < SHARDS; shard++) {
    const keys = shardKeys(prefix, shard, SHARDS);
    const line = `write_behind_queue_jobs{queue="${keys.tag}:${keys.queueName}",state="failed"} 1`;
    assert.ok(metrics.split('\n').includes(line), `${line} in:\n${metrics}`);
  }

  // Fixed: one job retried alone, the others queue by queue ("retry all failed").
  await db.pool.query('ALTER TABLE "Video" DROP CONSTRAINT refuse_poison');
  const [first, ...rest] = failedJobs as [{ queue: string; id: string }, ...{ queue: string; id: string }[]];
  await put(`${BOARD_PATH}/api/queues/${first.queue}/${encodeURIComponent(first.id)}/retry`).expect(204);
  for (const { queue } of rest) await put(`${BOARD_PATH}/api/queues/${queue}/retry/failed`).expect(200);
  for (const id of poisoned) {
    assert.ok(await eventually(async () => (await videoRow(db, id))?.likes === 3), `${id} never written`);
  }
  assert.ok(
    await eventually(async () => {
      const text = (await get('/metrics').expect(200)).text;
      return /^write_behind_failed_keys 0$/m.test(text) && /^write_behind_dirty_keys 0$/m.test(text);
    }),
    'the failed and dirty keys never went back to 0',
  );
  const after = (await get(`${BOARD_PATH}/api/queues`).expect(200)).body.queues as BoardQueue[];
  for (const queue of after) assert.equal(queue.counts.failed, 0, queue.name);
});
