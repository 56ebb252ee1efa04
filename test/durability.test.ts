// Guarantee 18: a write at durability 'replicas' is acknowledged only once a replica holds it; when the
// replicas do not confirm it in time the caller gets NotReplicatedError, and the write stands (readable, and
// flushed to PostgreSQL). 'fsync' on a server without WAITAOF, or without an AOF, is refused before anything is
// written. And what 'memory' gives up: after a partition between primary and replica, a failover loses what it
// acknowledged. Replication on loopback is fast enough that a replica holds a write before a client could look,
// WAIT or not: so the replica's link goes through a proxy that holds it back or cuts it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigurationError, NotReplicatedError } from '@write-behind/core';
import {
  createWorld,
  entities,
  eventually,
  type PgProxy,
  type ProxiedReplication,
  type RedisReplication,
  startProxiedReplication,
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

/**
 * Runs `write` while the replica's link is held back (nothing lost, nothing delivered) and shows that it is not
 * acknowledged before the replica holds it: until the write settles (without a wait it would, at once) or the
 * primary holds its connection in `WAIT`, the link stays held, and a write that settles meanwhile was
 * acknowledged without the replica. Then the link is released; resolves to what the write resolved to.
 */
async function acknowledgedOnlyOnceReplicated<T>(
  link: PgProxy,
  primary: Redis,
  write: () => Promise<T>,
  heldBack: () => Promise<boolean>,
): Promise<T> {
  link.hold();
  let settled = false;
  let acknowledgedWhileHeld = false;
  const pending = write().finally(() => {
    settled = true;
  });
  pending.then(
    () => {
      acknowledgedWhileHeld = link.isHeld;
    },
    () => {},
  );
  try {
    assert.ok(
      await eventually(async () => settled || (await waitingInWait(primary)), 30_000),
      'the write neither settled nor waited for a replica within 30 s',
    );
    assert.ok(await heldBack(), 'the replica lacks the write while its link is held');
    assert.equal(
      acknowledgedWhileHeld,
      false,
      "a 'replicas' write was acknowledged while no replica held it",
    );
  } finally {
    link.release();
  }
  return await pending;
}

/** Whether a client of `primary` is blocked in `WAIT` (CLIENT LIST: last command `wait`, flag `b`). */
async function waitingInWait(primary: Redis): Promise<boolean> {
  const clients = (await primary.client('LIST')) as string;
  return clients
    .split('\n')
    .some((line) => /(?:^| )cmd=wait(?: |$)/.test(line) && /(?:^| )flags=\S*b/.test(line));
}

test("'replicas': a write is acknowledged only once the replica holds it", async () => {
  // The replica follows the primary through a proxy that can hold the link: without the library's WAIT, a
  // write would be acknowledged while the replica lacks it (asynchronous replication alone is fast enough on
  // loopback to hide that, so the link is held until the write is seen waiting).
  let proxied: ProxiedReplication | undefined;
  let world: World<TestEntities> | undefined;
  const nodes: Redis[] = [];
  const connect = (port: number) => {
    const node = new Redis({ port, host: '127.0.0.1', retryStrategy: () => null });
    node.on('error', () => {});
    nodes.push(node);
    return node;
  };
  try {
    proxied = await startProxiedReplication();
    const { servers: pair, link } = proxied;
    const primary = connect(pair.primary.port);
    const behind = connect(pair.replica.port);
    // A timeout far beyond the test's: a write may only be acknowledged by the replica's confirmation.
    world = await createWorld(entities, {
      redis: pair.url,
      durability: 'replicas',
      replication: { replicas: 1, timeoutMs: 60_000 },
    });
    const w = world;
    const ids = Array.from({ length: 5 }, (_, i) => `v${i}`);
    const keys = ids.map((id) => w.dataKey('video', id));
    await acknowledgedOnlyOnceReplicated(
      link,
      primary,
      () =>
        Promise.all(
          Array.from({ length: 50 }, (_, i) => w.cache.increment('video', `v${i % 5}`, 'likes', 1)),
        ),
      async () => (await Promise.all(keys.map((key) => behind.exists(key)))).every((found) => found === 0),
    );
    // Read straight away: the acknowledgement came after the replica's confirmation.
    assert.deepEqual(await Promise.all(keys.map((key) => behind.hget(key, 'likes'))), [
      '10',
      '10',
      '10',
      '10',
      '10',
    ]);

    // A delete too: the tombstone is on the replica once the delete is acknowledged.
    const doomed = w.dataKey('video', 'v0');
    const deleted = await acknowledgedOnlyOnceReplicated(
      link,
      primary,
      () => w.cache.delete('video', 'v0'),
      async () => (await behind.hget(doomed, '_d')) === null,
    );
    assert.equal(deleted, true);
    assert.equal(await behind.hget(doomed, '_d'), '1');
  } finally {
    proxied?.link.release();
    for (const node of nodes) node.disconnect();
    await world?.close();
    await proxied?.stop();
  }
});

test("'fsync' where Redis cannot give it is a ConfigurationError saying why, and writes nothing", async (t) => {
  // Before 7.2 there is no WAITAOF; from 7.2 on, this server (appendonly no) has no AOF to fsync. Either way
  // the first write asking for 'fsync' is refused. This machine has 7.0, so only the first case runs here.
  const version = /redis_version:(\S+)/.exec(await replica.info('server'))?.[1] ?? '';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const hasWaitAof = major > 7 || (major === 7 && minor >= 2);
  t.diagnostic(
    `Redis ${version}: ${hasWaitAof ? 'refused for appendonly no' : 'refused for the missing WAITAOF'}`,
  );
  const world = await createWorld(entities, { redis: servers.url, durability: 'memory' });
  try {
    await assert.rejects(
      world.cache.increment('video', 'f', 'likes', 1, { durability: 'fsync' }),
      (error: unknown) =>
        error instanceof ConfigurationError &&
        (hasWaitAof
          ? error.message.includes('appendonly no')
          : error.message.includes(`Redis ${version}`) && error.message.includes('WAITAOF')),
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
  let proxied: ProxiedReplication | undefined;
  let promoted: Redis | undefined;
  let world: World<TestEntities> | undefined;
  try {
    proxied = await startProxiedReplication();
    const { servers: pair, link } = proxied;
    promoted = new Redis({ port: pair.replica.port, host: '127.0.0.1', retryStrategy: () => null });
    promoted.on('error', () => {});
    world = await createWorld(entities, {
      redis: pair.url,
      replication: { replicas: 1, timeoutMs: 200 },
    });
    const held = await world.cache.increment('video', 'p', 'likes', 10, { durability: 'replicas' });
    assert.equal(held, 10, 'confirmed by the replica before the partition');

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
    await proxied?.stop();
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
