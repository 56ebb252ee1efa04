import { dataKey, defineScripts, shardKeys } from '@write-behind/core/internal';
import type { Redis } from 'ioredis';

/** Bytes per dirty key, by structure: whose memory M1 is. */
export interface MemoryBreakdown {
  /** The library's: the key's state hash, its entry in the shard's dirty index. */
  dataHash: number;
  dirtyEntry: number;
  /** BullMQ's: the job hash, its entry in the delayed (or wait) set. */
  jobHash: number;
  queueEntry: number;
}

async function usage(redis: Redis, key: string): Promise<number> {
  // SAMPLES 0 reads every element: exact, and affordable once per run.
  return Number(await redis.memory('USAGE', key, 'SAMPLES', 0)) || 0;
}

async function mean(values: Promise<number>[]): Promise<number> {
  const all = await Promise.all(values);
  return all.reduce((a, b) => a + b, 0) / Math.max(1, all.length);
}

/**
 * `MEMORY USAGE` of each structure a dirty video key holds, averaged over `ids` (shard 0). The sorted sets are
 * measured whole and divided by their size. What `used_memory` shows beyond the sum is Redis's keyspace
 * overhead per top-level key.
 */
export async function memoryBreakdown(redis: Redis, prefix: string, ids: string[]): Promise<MemoryBreakdown> {
  const shard = shardKeys(prefix, 0, 1);
  defineScripts(redis);
  const jobIds = await Promise.all(
    ids.map((id) => redis.wbJobId(dataKey(shard, 'video', id), shard.dataKeyPrefixLength)),
  );
  const jobKeys = jobIds.flatMap((jobId) => (jobId ? [`${shard.jobPrefix}${jobId}`] : []));
  const perEntry = async (key: string, size: Promise<number>) =>
    (await usage(redis, key)) / Math.max(1, await size);
  const delayed = `${shard.jobPrefix}delayed`;
  const wait = `${shard.jobPrefix}wait`;
  const queueKey = (await redis.zcard(delayed)) > 0 ? delayed : wait;
  return {
    dataHash: await mean(ids.map((id) => usage(redis, dataKey(shard, 'video', id)))),
    dirtyEntry: await perEntry(shard.dirty, redis.zcard(shard.dirty)),
    jobHash: await mean(jobKeys.map((key) => usage(redis, key))),
    queueEntry: await perEntry(queueKey, queueKey === delayed ? redis.zcard(delayed) : redis.llen(wait)),
  };
}

export function describeBreakdown(b: MemoryBreakdown, formatBytes: (n: number) => string): string {
  const ours = b.dataHash + b.dirtyEntry;
  const bullmq = b.jobHash + b.queueEntry;
  return (
    `MEMORY USAGE per key: the library's ${formatBytes(ours)} (state hash ${formatBytes(b.dataHash)}, dirty index ${formatBytes(b.dirtyEntry)}), ` +
    `BullMQ's ${formatBytes(bullmq)} (job hash ${formatBytes(b.jobHash)}, queue entry ${formatBytes(b.queueEntry)}); the rest is Redis's keyspace overhead`
  );
}
