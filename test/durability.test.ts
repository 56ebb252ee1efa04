// Guarantee 18: a write at durability 'replicas' is acknowledged only once a replica holds it; when the
// replicas do not confirm it in time the caller gets NotReplicatedError, and the write stands (readable, and
// flushed to PostgreSQL). 'fsync' on a server without WAITAOF is refused before anything is written. And what
// 'memory' gives up: after a partition between primary and replica, a failover loses what it acknowledged.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigurationError, NotReplicatedError } from '@write-behind/core';
import {
  createWorld,
  entities,
  type PgProxy,
  type RedisReplication,
  startPgProxy,
  startRedisReplication,
  type TestEntities,
  videoRow,
  type World,
} from '@write-behind/testkit';
import { Redis } from 'ioredis';

let servers: RedisReplication;
let replica: Redis;
before(async () => {
  servers = await startRedisReplication();
  replica = new Redis({ port: servers.replica.port, host: '127.0.0.1', retryStrategy: () => null });
  replica.on('error', () => {});
});
after(async () => {
  replica?.disconnect();
  await servers?.stop();
});

test("'replicas': the replica holds every acknowledged write", async () => {
  const world = await createWorld(entities, { redis: servers.url, durability: 'replicas' });
  try {
    const writes = Array.from({ length: 50 }, (_, i) =>
      world.cache.increment('video', `v${i % 5}`, 'likes', 1),
    );
    await Promise.all(writes);
    // Read straight away: nothing waits for replication here but the library's own WAIT.
    const held = await Promise.all(
      Array.from({ length: 5 }, (_, i) => replica.hget(world.dataKey('video', `v${i}`), 'likes')),
    );
    assert.deepEqual(held, ['10', '10', '10', '10', '10']);
    assert.equal(await world.cache.delete('video', 'v0'), true);
    assert.equal(await replica.hget(world.dataKey('video', 'v0'), '_d'), '1');
  } finally {
    await world.close();
  }
});

test("'fsync' on Redis before 7.2 is a ConfigurationError naming the version, and writes nothing", async () => {
  const version = /redis_version:(\S+)/.exec(await replica.info('server'))?.[1] ?? '';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major > 7 || (major === 7 && minor >= 2)) return; // this server has WAITAOF: nothing to refuse
  const world = await createWorld(entities, { redis: servers.url, durability: 'memory' });
  try {
    await assert.rejects(
      world.cache.increment('video', 'f', 'likes', 1, { durability: 'fsync' }),
      (error: unknown) =>
        error instanceof ConfigurationError &&
        error.message.includes(`Redis ${version}`) &&
        error.message.includes('WAITAOF'),
    );
    assert.equal(await world.cache.get('video', 'f'), null);
    // The cache's own level still works.
    assert.equal(await world.cache.increment('video', 'f', 'likes'), 1);
  } finally {
    await world.close();
  }
});

test("a partition, then a failover: 'memory' loses what it acknowledged since, 'replicas' acknowledged none of it", async (t) => {
  // The replica follows the primary through a proxy, so the link between them can be frozen (a partition)
  // while clients still reach the primary: exactly the writes acknowledged during it are on the primary only.
  let link: PgProxy | undefined;
  let pair: RedisReplication | undefined;
  let promoted: Redis | undefined;
  let world: World<TestEntities> | undefined;
  try {
    pair = await startRedisReplication([], {
      via: async (port) => {
        link = await startPgProxy({ host: '127.0.0.1', port });
        return link;
      },
    });
    promoted = new Redis({ port: pair.replica.port, host: '127.0.0.1', retryStrategy: () => null });
    promoted.on('error', () => {});
    world = await createWorld(entities, {
      redis: pair.url,
      replication: { replicas: 1, timeoutMs: 200 },
    });
    const held = await world.cache.increment('video', 'p', 'likes', 10, { durability: 'replicas' });
    assert.equal(held, 10, 'confirmed by the replica before the partition');

    assert.ok(link, 'the replica follows through the proxy');
    link.freeze();
    const MEMORY_WRITES = 5;
    for (let i = 0; i < MEMORY_WRITES; i++) await world.cache.increment('video', 'p', 'likes', 1);
    await assert.rejects(
      world.cache.increment('video', 'p', 'likes', 100, { durability: 'replicas' }),
      NotReplicatedError,
      "'replicas' is not acknowledged while no replica can confirm it",
    );

    // The primary dies; its replica is made the primary, as Sentinel or a Cluster would.
    await pair.primary.kill();
    await promoted.replicaof('NO', 'ONE');
    const survived = Number(await promoted.hget(world.dataKey('video', 'p'), 'likes'));
    const lost = 10 + MEMORY_WRITES - survived;
    t.diagnostic(
      `acknowledged at 'memory' during the partition: ${MEMORY_WRITES}, lost in the failover: ${lost}; at 'replicas': 0 acknowledged, 0 lost`,
    );
    assert.equal(survived, 10, "the replica holds what 'replicas' confirmed, nothing written since");
    assert.equal(lost, MEMORY_WRITES, "every 'memory' write acknowledged during the partition is lost");
  } finally {
    promoted?.disconnect();
    await world?.close();
    await link?.close();
    await pair?.stop();
  }
});

// Last: it kills the replica.
test('without a replica: NotReplicatedError after the timeout, only for the writes that asked, and the write stands', async () => {
  await servers.replica.kill();
  const world = await createWorld(entities, {
    redis: servers.url,
    replication: { replicas: 1, timeoutMs: 200 },
  });
  try {
    // One batch: a write that asks for 'replicas' and two that do not.
    const [asked, plain, set] = await Promise.allSettled([
      world.cache.increment('video', 'r', 'likes', 3, { durability: 'replicas' }),
      world.cache.increment('video', 'm', 'likes', 2),
      world.cache.set('video', 's', { likes: 7, views: 1 }, { durability: 'memory' }),
    ]);
    assert.equal(plain.status, 'fulfilled');
    assert.equal(set.status, 'fulfilled');
    assert.equal(asked.status, 'rejected');
    const error = asked.reason as NotReplicatedError;
    assert.ok(error instanceof NotReplicatedError, String(error));
    assert.equal(error.code, 'NOT_REPLICATED');
    assert.equal(error.confirmed, 0);
    assert.equal(error.required, 1);
    assert.match(error.message, /applied in Redis and will be flushed/);
    assert.match(error.message, /0 of 1 replicas/);

    // Applied in Redis, and flushed like any other write.
    assert.equal((await world.cache.get('video', 'r'))?.likes, 3);
    await world.startWorker();
    await world.cache.flush();
    assert.equal((await videoRow(world.db, 'r'))?.likes, 3);
    assert.equal((await videoRow(world.db, 'm'))?.likes, 2);
  } finally {
    await world.close();
  }
});
