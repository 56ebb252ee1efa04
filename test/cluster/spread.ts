// What the cluster tests share: a key prefix whose shards land on every master, so that each test really
// spreads its queues and keys over several nodes rather than trusting the hash to do it.
import { shardKeys } from '@write-behind/core/internal';
import { type RedisCluster, testPrefix } from '@write-behind/testkit';
import type { Cluster } from 'ioredis';

/** The port of the master serving each shard of `prefix`, shard by shard. */
export async function mastersOfShards(
  cluster: RedisCluster,
  redis: Cluster,
  prefix: string,
  shards: number,
): Promise<number[]> {
  const masters = await cluster.masters();
  const ports: number[] = [];
  for (let shard = 0; shard < shards; shard++) {
    const slot = Number(await redis.cluster('KEYSLOT', shardKeys(prefix, shard, shards).tag));
    const master = masters.find((m) => m.slots.some(([first, last]) => slot >= first && slot <= last));
    if (!master) throw new Error(`no master serves slot ${slot}`);
    ports.push(master.port);
  }
  return ports;
}

/** A fresh prefix whose `shards` shards are served by every master of `cluster` between them. */
export async function spreadPrefix(cluster: RedisCluster, redis: Cluster, shards: number): Promise<string> {
  const masters = (await cluster.masters()).length;
  for (let attempt = 0; attempt < 200; attempt++) {
    const prefix = testPrefix();
    if (new Set(await mastersOfShards(cluster, redis, prefix, shards)).size === Math.min(masters, shards))
      return prefix;
  }
  throw new Error(`no prefix in 200 tries puts ${shards} shards on all ${masters} masters`);
}
