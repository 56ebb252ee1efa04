// A master SIGKILLed under load on a real Redis Cluster: writes go on against the other masters, those to the
// failed master's shards wait while the library sends their batches again until its replica takes over, and
// fail with a typed error only if that takes longer than `writes.resolveTimeoutMs`; afterwards every
// acknowledged increment is in PostgreSQL, and no write refused with `UnavailableError` (which says "not
// applied") was applied: each key holds at most what was acknowledged plus what may have been applied
// (`IndeterminateError`, `NotReplicatedError`). With `durability: 'memory'` (the default)
// replication is asynchronous, so the last writes a master acknowledged before it died may be missing from
// its replica: the test reports how many. With `durability: 'replicas'` every acknowledged write must be there.
// On loopback a replica trails its master by well under a millisecond, so the load alone cannot tell
// 'replicas' from 'memory': the last test cuts a master off from its replicas and fails it over then.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_OPTIONS, type DurabilityLevel } from '@write-behind/core';
import { defineScripts, shardKeys } from '@write-behind/core/internal';
import {
  createWorld,
  entities,
  eventually,
  type RedisCluster,
  spreadPrefix,
  startIncrementLoad,
  startPgProxy,
  startRedisCluster,
  type TestEntities,
  testPrefix,
  type World,
  withNode,
  withTimeout,
  writeAcrossPartition,
} from '@write-behind/testkit';
import { type Cluster, Redis } from 'ioredis';

const SHARDS = 6;
const KEYS = 600;
const WRITERS = 16;

let cluster: RedisCluster;
let redis: Cluster;
before(async () => {
  // Two replicas per master: after a failover the promoted replica still has one (the other follows it), so
  // `durability: 'replicas'` can be confirmed again; with one, every durable write to it would wait out
  // `replication.timeoutMs` and be refused with NotReplicatedError until an operator adds a replica.
  cluster = await startRedisCluster({ replicasPerMaster: 2 });
  // As the library opens a connection from a URL: few retries, so a write to a dead master fails fast.
  // showFriendlyErrorStack: a command's error carries the stack of the call that made it. A CI run on
  // 2026-12-04 failed the 'memory' case once, right after the kill, on an unhandled "Connection is closed."
  // whose stack ended in ioredis; 55 runs since have not repeated it, and this names the caller if one does.
  redis = cluster.connect({
    showFriendlyErrorStack: true,
    redisOptions: {
      maxRetriesPerRequest: DEFAULT_OPTIONS.redisMaxRetriesPerRequest,
      showFriendlyErrorStack: true,
    },
  });
  redis.on('error', () => {});
  defineScripts(redis);
});
after(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

interface Outcome {
  acknowledged: number;
  /** Writes refused with UnavailableError or BacklogFullError: certainly not applied. */
  refused: number;
  /** Writes that failed with IndeterminateError: they may have been applied. */
  indeterminate: number;
  /** Writes applied but whose replicas did not confirm them (NotReplicatedError): they may be lost. */
  unconfirmed: number;
  /** Acknowledged increments missing from PostgreSQL after the drain. */
  lost: number;
  /** Keys whose row holds more than was written in all (acknowledged, refused, unconfirmed): never allowed. */
  overcounted: string[];
  /** Keys whose row holds more than may have been applied: a write refused as "not applied" was applied. */
  appliedThoughRefused: string[];
  acknowledgedAfterFailover: number;
  failoverMs: number;
  drainMs: number;
  /** Shard workers the flush worker found stuck and replaced. */
  replaced: number;
  /** Flush jobs whose enqueue failed, added again by the writer. */
  enqueueRetried: number;
  /** Dirty keys with no job that the sweep enqueued. */
  swept: number;
}

/**
 * Writes increments from {@link WRITERS} loops for the whole run, SIGKILLs the master `victim` picks after a
 * second, keeps writing until a replica took over and the cluster is healthy again and a second more, then
 * drains and compares every key with what was acknowledged (at least) and what may have been applied (at
 * most: acknowledged, indeterminate and unconfirmed writes; a refused one was not applied).
 */
async function failoverUnderLoad(
  world: World<TestEntities>,
  victim: (masters: Awaited<ReturnType<RedisCluster['masters']>>) => number,
): Promise<Outcome> {
  await world.startWorker();
  const load = startIncrementLoad(world.cache, { writers: WRITERS, keys: KEYS });
  try {
    await sleep(1000);
    const killed = victim(await cluster.masters());
    const killedAt = Date.now();
    await cluster.kill(killed);
    // Failure detection takes a node timeout, during which the cluster still lists the dead master.
    const deadline = killedAt + 30_000;
    while ((await cluster.masters()).some((master) => master.port === killed)) {
      if (Date.now() > deadline) throw new Error(`no replica took over from ${killed} within 30 s`);
      await sleep(100);
    }
    await cluster.waitHealthy(deadline - Date.now());
    const failoverMs = Date.now() - killedAt;
    const acksBefore = load.acknowledged;
    await sleep(1000);
    const acknowledgedAfterFailover = load.acknowledged - acksBefore;
    await load.stop(
      20_000,
      async () =>
        `${JSON.stringify(connectionState(redis))}; stats ${JSON.stringify(await within(2000, () => world.cache.stats()))}`,
    );
    assert.deepEqual(load.unexpected, [], 'every write that failed did with a typed error');

    const drainStarted = Date.now();
    await world.cache.flush({ timeoutMs: 30_000 }).catch(async (error) => {
      throw new Error(
        `${(error as Error).message}; still dirty: ${JSON.stringify(await dirtyKeys(world, killed))}`,
      );
    });
    const drainMs = Date.now() - drainStarted;
    return {
      acknowledged: load.acknowledged,
      refused: load.refused,
      indeterminate: load.indeterminate,
      unconfirmed: load.unconfirmed,
      ...(await load.check(world.db)),
      acknowledgedAfterFailover,
      failoverMs,
      drainMs,
      replaced: world.logs.filter((l) => /took no job while jobs waited/.test(l.msg)).length,
      enqueueRetried: count(world, /flush jobs whose enqueue had failed are enqueued/, 'added'),
      swept: count(world, /sweep re-enqueued dirty keys/, 'keys'),
    };
  } finally {
    await load.stop(20_000).catch(() => {});
  }
}

type Queued = { length: number } | undefined;
/** Where commands wait in an ioredis Cluster: its own offline queue, and each node's command and offline queues. */
function connectionState(cluster: Cluster): object {
  const internal = cluster as unknown as { offlineQueue?: Queued };
  return {
    status: cluster.status,
    offlineQueue: internal.offlineQueue?.length,
    nodes: cluster.nodes().map((node) => {
      const n = node as unknown as { commandQueue?: Queued; offlineQueue?: Queued };
      return {
        port: node.options.port,
        status: node.status,
        commandQueue: n.commandQueue?.length,
        offlineQueue: n.offlineQueue?.length,
      };
    }),
  };
}

/** The sum of a numeric field over the log lines matching `msg`. */
function count(world: World<TestEntities>, msg: RegExp, field: string): number {
  return world.logs
    .filter((l) => msg.test(l.msg))
    .reduce((sum, l) => sum + Number((l.obj as Record<string, unknown>)[field] ?? 0), 0);
}

/** `call`'s result, or why there is none: a diagnostic must report, never hang on a stuck connection. */
const within = <T>(ms: number, call: () => Promise<T>): Promise<T | string> =>
  withTimeout(call(), ms, 'the call').catch((error: Error) => `failed: ${error.message}`);

/**
 * What a drain that timed out left behind, and where: whether anything answers on the killed master's port;
 * per shard, the dirty count through the cache's connection and on each live master directly, and the first
 * dirty keys with their flush job's state; the cache's stats.
 */
async function dirtyKeys(world: World<TestEntities>, killed: number): Promise<object[]> {
  const found: object[] = [];
  // Another process may have started a server on the dead master's port, which clients still knew.
  const reused = new Redis({ host: '127.0.0.1', port: killed, lazyConnect: true, retryStrategy: () => null });
  reused.on('error', () => {});
  found.push({ killed, answersOnItsPort: await within(2000, () => reused.info('server')) });
  reused.disconnect();
  const masters = await cluster.masters();
  for (let shard = 0; shard < SHARDS; shard++) {
    const keys = shardKeys(world.prefix, shard, SHARDS);
    const byNode: Record<number, unknown> = {};
    for (const master of masters) {
      const node = new Redis({
        host: '127.0.0.1',
        port: master.port,
        lazyConnect: true,
        retryStrategy: () => null,
      });
      node.on('error', () => {});
      byNode[master.port] = await within(2000, () => node.zcard(keys.dirty));
      node.disconnect();
    }
    found.push({ shard, zcard: await within(2000, () => redis.zcard(keys.dirty)), byNode });
    const dirty = await within(2000, () => redis.zrange(keys.dirty, '0', '20'));
    for (const key of Array.isArray(dirty) ? dirty : []) {
      const jobId = await within(2000, () => redis.wbJobId(key, keys.dataKeyPrefixLength));
      const queue = world.cache.queues[shard];
      const state =
        typeof jobId === 'string' && queue ? await within(2000, () => queue.getJobState(jobId)) : 'no job id';
      found.push({ key, jobId, state });
    }
  }
  found.push({ stats: await within(2000, () => world.cache.stats()) });
  return found;
}

async function clusterWorld(durability: DurabilityLevel): Promise<World<TestEntities>> {
  const prefix = await spreadPrefix(cluster, redis, SHARDS);
  return await createWorld(entities, {
    shards: SHARDS,
    flush: { windowMs: 200, backoffMs: 100, attempts: 20 },
    // A flush job whose enqueue failed as its master died is added again by the writer once the new master
    // answers; one the old master took but did not pass to its replica is lost with it, and a later write to
    // the key finds it dirty already and enqueues nothing: only the sweep finds such a key. At its default
    // (every 30 s, for keys dirty 10 s past their window) the drain would wait for it for up to 40 s.
    sweep: { intervalMs: 1000, graceMs: 1000 },
    durability,
    redis,
    prefix,
  });
}

// The drain allows for one stuck shard worker's replacement (`stuckAfterMs`). The writers, the drain and the
// close each have a deadline of their own, so a hang fails with what was pending rather than a bare timeout.
const FAILOVER = { timeout: 120_000 };

/** Closes the world, or says that its close did not finish (a hang must fail the test, not time it out). */
async function closeWithin(world: World<TestEntities>): Promise<void> {
  await withTimeout(world.close(), 30_000, 'world.close()').catch((error: Error) => {
    throw new Error(`${error.message}; ${JSON.stringify(connectionState(redis))}`);
  });
}

const report = (outcome: Outcome) =>
  `acknowledged ${outcome.acknowledged} (${outcome.acknowledgedAfterFailover} in the second after the failover), ` +
  `refused ${outcome.refused} (applied although refused: ${outcome.appliedThoughRefused.length} keys), ` +
  `indeterminate ${outcome.indeterminate}, not confirmed by a replica ${outcome.unconfirmed}, acknowledged but lost ${outcome.lost}, ` +
  `failover ${outcome.failoverMs} ms, drain ${outcome.drainMs} ms, stuck shard workers replaced ${outcome.replaced}, ` +
  `flush jobs enqueued again by the writer ${outcome.enqueueRetried}, by the sweep ${outcome.swept}`;

/**
 * What either durability must show: writes resume on the new master, none was applied twice, and none that was
 * refused with UnavailableError (or BacklogFullError) was applied.
 */
function assertRecovered(outcome: Outcome): void {
  assert.ok(outcome.acknowledgedAfterFailover > 0, 'writes are acknowledged again once a replica took over');
  assert.deepEqual(outcome.overcounted, [], 'no increment applied twice');
  assert.deepEqual(outcome.appliedThoughRefused, [], 'no increment refused as "not applied" was applied');
}

test(
  "durability 'memory': a failover refuses writes with typed errors only and reports what it lost",
  FAILOVER,
  async (t) => {
    const world = await clusterWorld('memory');
    try {
      const outcome = await failoverUnderLoad(world, (masters) => (masters[0] as { port: number }).port);
      t.diagnostic(report(outcome));
      assert.equal(outcome.unconfirmed, 0, "no write at durability 'memory' waits for a replica");
      assertRecovered(outcome);
    } finally {
      await closeWithin(world);
    }
  },
);

test("durability 'replicas': nothing acknowledged is lost in a failover", FAILOVER, async (t) => {
  const world = await clusterWorld('replicas');
  try {
    // A master that still has two replicas (the 'memory' case's failover left one with a single replica).
    const outcome = await failoverUnderLoad(world, (masters) => {
      const master = masters.find((m) => m.replicas.length >= 2);
      assert.ok(master, `a master with two replicas: ${JSON.stringify(masters)}`);
      return master.port;
    });
    t.diagnostic(report(outcome));
    assert.equal(outcome.lost, 0, 'every acknowledged increment reached PostgreSQL');
    assertRecovered(outcome);
  } finally {
    await closeWithin(world);
  }
});

// Last: it reroutes a master's replication through a proxy, and kills that master.
test(
  "a partition between a master and its replicas, then a failover: no 'replicas' write acknowledged is lost",
  FAILOVER,
  async (t) => {
    const masters = await cluster.masters();
    const target = [...masters].sort((a, b) => b.replicas.length - a.replicas.length)[0];
    assert.ok(target && target.replicas.length > 0, `a master with a replica: ${JSON.stringify(masters)}`);
    // One shard, on that master.
    let prefix = '';
    let slot = -1;
    for (let attempt = 0; attempt < 500 && slot < 0; attempt++) {
      const candidate = testPrefix();
      const candidateSlot = Number(await redis.cluster('KEYSLOT', shardKeys(candidate, 0, 1).tag));
      if (target.slots.some(([first, last]) => candidateSlot >= first && candidateSlot <= last)) {
        prefix = candidate;
        slot = candidateSlot;
      }
    }
    assert.ok(slot >= 0, `a prefix whose shard is served by ${target.port}`);

    // The master announces a proxy's port instead of its own, so its replicas follow it through the proxy, which
    // can then freeze their links alone: clients still write to the master, and no replica hears of it.
    const link = await startPgProxy({ host: '127.0.0.1', port: target.port });
    let world: World<TestEntities> | undefined;
    try {
      await withNode(target.port, (r) => r.config('SET', 'cluster-announce-port', String(link.port)));
      const following = async () => {
        const infos = await Promise.all(
          target.replicas.map((port) => withNode(port, (r) => r.info('replication')).catch(() => '')),
        );
        return infos.every(
          (info) => info.includes(`master_port:${link.port}`) && info.includes('master_link_status:up'),
        );
      };
      assert.ok(
        await eventually(following, 30_000, 100),
        'the replicas follow their master through the proxy',
      );

      world = await createWorld(entities, {
        shards: 1,
        prefix,
        redis,
        replication: { replicas: 1, timeoutMs: 300 },
      });
      const partition = await writeAcrossPartition(world, link);

      await cluster.kill(target.port);
      const gone = new Set([target.port, link.port]);
      let promoted = 0;
      assert.ok(
        await eventually(
          async () => {
            promoted = (await cluster.masterOf(slot).catch(() => ({ port: target.port }))).port;
            return !gone.has(promoted);
          },
          30_000,
          100,
        ),
        `no replica took over from ${target.port} within 30 s`,
      );
      await partition.assertKeptOn(promoted, t);
    } finally {
      if (world) await closeWithin(world);
      await link.close();
    }
  },
);
