// Guarantee 14 on Redis Cluster: a worker closes, and so does the cache, with every node of the cluster down.
// BullMQ's own graceful close waits for its blocking connection's `end` event, which an ioredis Cluster left
// without nodes never emits (the same state a failover can leave one connection in): it used to wait for ever.
import { test } from 'node:test';
import { createWorld, entities, startRedisCluster, withTimeout } from '@write-behind/testkit';

test('a worker and its cache close with every node of the cluster down', async () => {
  const cluster = await startRedisCluster({ replicasPerMaster: 0 });
  const redis = cluster.connect();
  redis.on('error', () => {});
  try {
    const world = await createWorld(entities, { shards: 3, redis, flush: { windowMs: 50 } });
    try {
      const worker = await world.startWorker({ closeTimeoutMs: 500 });
      await world.cache.increment('video', 'a', 'likes');
      await world.cache.flushed('video', 'a');
      for (const node of cluster.nodes) await cluster.kill(node.port);
      // Until the connections have noticed: their node pool empties, and reconnecting begins.
      await withTimeout(
        new Promise<void>((resolve) => {
          const check = () => (redis.status === 'ready' ? setTimeout(check, 20) : resolve());
          check();
        }),
        10_000,
        'the cache connection noticing the cluster is down',
      );
      await withTimeout(worker.close(), 10_000, 'close() of a worker with the cluster down');
      await withTimeout(world.cache.close(), 10_000, 'close() of the cache with the cluster down');
    } finally {
      await world.close();
    }
  } finally {
    redis.disconnect();
    await cluster.stop();
  }
});
