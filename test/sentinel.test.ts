// Guarantee 18 through Redis Sentinel: the primary SIGKILLed under load. Writes are refused with typed errors
// only until the sentinels promote a replica and the client follows; afterwards every key in PostgreSQL holds
// at least what was acknowledged and at most what was written. With 'replicas' nothing acknowledged is lost;
// with 'memory' the test reports what was (replication is asynchronous). On loopback a replica trails its
// primary by well under a millisecond, so the load alone cannot tell 'replicas' from 'memory': the last test
// holds both replicas back (a partition between them and the primary) and fails the primary over then.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_OPTIONS, type DurabilityLevel } from '@write-behind/core';
import {
  createWorld,
  entities,
  eventually,
  type PgProxy,
  type RedisSentinel,
  startIncrementLoad,
  startPgProxy,
  startRedisSentinel,
  type TestEntities,
  type World,
  withTimeout,
  writeAcrossPartition,
} from '@write-behind/testkit';

const KEYS = 300;
const WRITERS = 16;

let sentinel: RedisSentinel;
before(async () => {
  sentinel = await startRedisSentinel({ replicas: 2 });
});
after(async () => {
  await sentinel?.stop();
});

interface Outcome {
  acknowledged: number;
  refused: number;
  unconfirmed: number;
  lost: number;
  overcounted: string[];
  failoverMs: number;
  drainMs: number;
}

async function failoverUnderLoad(durability: DurabilityLevel): Promise<Outcome> {
  // As the library opens a connection from a URL: few retries, so a write to a dead primary fails fast.
  const redis = sentinel.connect({ maxRetriesPerRequest: DEFAULT_OPTIONS.redisMaxRetriesPerRequest });
  redis.on('error', () => {});
  const world = await createWorld(entities, {
    redis,
    durability,
    flush: { windowMs: 200, backoffMs: 100, attempts: 20 },
    // A job the dying primary took but did not pass on is found only by the sweep.
    sweep: { intervalMs: 1000, graceMs: 1000 },
  });
  await world.startWorker();
  const load = startIncrementLoad(world.cache, { writers: WRITERS, keys: KEYS });
  try {
    await sleep(1000);
    const killed = await sentinel.primaryPort();
    const killedAt = Date.now();
    await sentinel.nodes.find((node) => node.port === killed)?.kill();
    await sentinel.waitFailover(killed);
    const failoverMs = Date.now() - killedAt;
    const acksAtFailover = load.acknowledged;
    assert.ok(
      await eventually(() => load.acknowledged > acksAtFailover + 100, 30_000, 50),
      'writes are acknowledged again on the promoted replica',
    );
    await load.stop(20_000);
    assert.deepEqual(load.unexpected, [], 'every refused write failed with a typed error');

    const drainStarted = Date.now();
    await world.cache.flush({ timeoutMs: 30_000 });
    const drainMs = Date.now() - drainStarted;
    return {
      acknowledged: load.acknowledged,
      refused: load.refused,
      unconfirmed: load.unconfirmed,
      ...(await load.check(world.db)),
      failoverMs,
      drainMs,
    };
  } finally {
    await load.stop(20_000).catch(() => {});
    await withTimeout(world.close(), 30_000, 'world.close()');
    redis.disconnect();
  }
}

const report = (o: Outcome) =>
  `acknowledged ${o.acknowledged}, refused ${o.refused}, not confirmed by a replica ${o.unconfirmed}, ` +
  `acknowledged but lost ${o.lost}, failover ${o.failoverMs} ms, drain ${o.drainMs} ms`;

// 'replicas' first: it needs the promoted replica to have a replica of its own (the other one follows it).
for (const { durability, title, holds } of [
  {
    durability: 'replicas',
    title: "durability 'replicas': nothing acknowledged is lost when Sentinel fails the primary over",
    holds: (o: Outcome) => assert.equal(o.lost, 0, 'every acknowledged increment reached PostgreSQL'),
  },
  {
    durability: 'memory',
    title:
      "durability 'memory': a Sentinel failover refuses writes with typed errors only and reports what it lost",
    holds: (o: Outcome) =>
      assert.equal(o.unconfirmed, 0, "no write at durability 'memory' waits for a replica"),
  },
] as const) {
  test(title, { timeout: 120_000 }, async (t) => {
    const outcome = await failoverUnderLoad(durability);
    t.diagnostic(report(outcome));
    holds(outcome);
    assert.deepEqual(outcome.overcounted, [], 'no increment applied twice');
  });
}

test("a partition between the primary and both replicas, then a failover: no 'replicas' write acknowledged is lost", {
  timeout: 120_000,
}, async (t) => {
  // A setup of its own: the sentinels and replicas reach the primary through a proxy that can freeze the
  // replication links alone, so clients still write to the primary while neither replica hears of it.
  let link: PgProxy | undefined;
  let held: RedisSentinel | undefined;
  let world: World<TestEntities> | undefined;
  let redis: ReturnType<RedisSentinel['connect']> | undefined;
  try {
    held = await startRedisSentinel({
      replicas: 2,
      via: async (port) => {
        link = await startPgProxy({ host: '127.0.0.1', port });
        return link;
      },
    });
    assert.ok(link, 'the replicas follow through the proxy');
    redis = held.connect({ maxRetriesPerRequest: DEFAULT_OPTIONS.redisMaxRetriesPerRequest });
    redis.on('error', () => {});
    world = await createWorld(entities, { redis, replication: { replicas: 1, timeoutMs: 300 } });
    const partition = await writeAcrossPartition(world, link);

    const primary = held.nodes[0];
    assert.ok(primary, 'the first primary');
    const proxied = await held.primaryPort();
    assert.equal(proxied, link.port, 'the sentinels name the proxy as the primary');
    await primary.kill();
    await partition.assertKeptOn(await held.waitFailover(proxied), t);
  } finally {
    await withTimeout(world?.close() ?? Promise.resolve(), 30_000, 'world.close()').catch(() => {});
    redis?.disconnect();
    await link?.close();
    await held?.stop();
  }
});
