// Key prefixes whose shards land on every master of a Redis Cluster, for the cluster tests (test/cluster/) and
// the benchmark's scale-out case: each then really spreads its queues and keys over several nodes, rather than
// trusting the hash to do it.
import { shardKeys } from '@write-behind/core/internal';
import type { Cluster } from 'ioredis';
import { testPrefix } from './env.ts';
import type { ClusterMaster, RedisCluster } from './redis-cluster.ts';

/** How many prefixes {@link spreadPrefix} tries before it gives up. */
const SPREAD_ATTEMPTS = 500;

/** The port of the master serving each shard of `prefix`, shard by shard. */
export async function mastersOfShards(
  cluster: RedisCluster,
  redis: Cluster,
  prefix: string,
  shards: number,
): Promise<number[]> {
  return mastersOf(await cluster.masters(), redis, prefix, shards);
}

export interface SpreadOptions {
  /**
   * The prefix to try at each attempt (0, 1, 2...).
   * @defaultValue a fresh {@link testPrefix} each time
   */
  name?: (attempt: number) => string;
}

/**
 * A prefix whose `shards` shards the masters of `cluster` share evenly: each master serves ⌊shards/masters⌋ or
 * ⌈shards/masters⌉ of them (so every master serves one when there are at least as many shards as masters).
 *
 * @example
 * ```ts
 * const prefix = await spreadPrefix(cluster, redis, 6); // two shards on each of three masters
 * ```
 */
export async function spreadPrefix(
  cluster: RedisCluster,
  redis: Cluster,
  shards: number,
  options: SpreadOptions = {},
): Promise<string> {
  const name = options.name ?? (() => testPrefix());
  const masters = await cluster.masters();
  const fewest = Math.floor(shards / masters.length);
  const most = Math.ceil(shards / masters.length);
  for (let attempt = 0; attempt < SPREAD_ATTEMPTS; attempt++) {
    const prefix = name(attempt);
    const perMaster = new Map<number, number>(masters.map((master) => [master.port, 0]));
    for (const port of await mastersOf(masters, redis, prefix, shards))
      perMaster.set(port, (perMaster.get(port) ?? 0) + 1);
    if ([...perMaster.values()].every((n) => n >= fewest && n <= most)) return prefix;
  }
  throw new Error(
    `no prefix in ${SPREAD_ATTEMPTS} tries spreads ${shards} shards evenly over ${masters.length} masters`,
  );
}

async function mastersOf(
  masters: ClusterMaster[],
  redis: Cluster,
  prefix: string,
  shards: number,
): Promise<number[]> {
  const ports: number[] = [];
  for (let shard = 0; shard < shards; shard++) {
    const slot = Number(await redis.cluster('KEYSLOT', shardKeys(prefix, shard, shards).tag));
    const master = masters.find((m) => m.slots.some(([first, last]) => slot >= first && slot <= last));
    if (!master) throw new Error(`no master serves slot ${slot}`);
    ports.push(master.port);
  }
  return ports;
}
