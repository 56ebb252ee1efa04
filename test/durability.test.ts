// Guarantee 18: a write at durability 'replicas' is acknowledged only once a replica holds it; when the
// replicas do not confirm it in time the caller gets NotReplicatedError, and the write stands (readable, and
// flushed to PostgreSQL). 'fsync' on a server without WAITAOF is refused before anything is written.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigurationError, NotReplicatedError } from '@write-behind/core';
import {
  createWorld,
  entities,
  type RedisReplication,
  startRedisReplication,
  videoRow,
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
