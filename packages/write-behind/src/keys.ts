/**
 * Every Redis key, queue name and job id the library uses is built here, from pure functions.
 *
 * Layout for prefix `app`, shard 3, entity `video`, id `abc`:
 *   {app:3}:e:video:abc      hash: the key's state, its version (`_v`), last flushed version (`_fv`), tombstone (`_d`)
 *   {app:3}:dirty            sorted set: data keys waiting to be flushed, scored by when they became dirty
 *   {app:3}:failed           hash: data key -> id of its flush job that failed for good
 *   {app:3}:flush:...        the shard's BullMQ queue (BullMQ prefix `{app:3}`, queue name `flush`)
 * The braces are a Redis Cluster hash tag: one shard's state, index and queue share a slot, so the Lua
 * scripts that touch them together stay atomic on a Cluster.
 */

export const QUEUE_NAME = 'flush';

export interface ShardKeys {
  shard: number;
  /** The hash tag, also the BullMQ prefix of this shard's queue. */
  tag: string;
  dirty: string;
  failed: string;
  /** Prefix of BullMQ's per-job hashes (`<prefix>:<queue>:<jobId>`). */
  jobPrefix: string;
  /** Prefix of BullMQ's deduplication keys (`<prefix>:<queue>:de:<dedupId>`). */
  dedupPrefix: string;
}

export function shardKeys(prefix: string, shard: number): ShardKeys {
  const tag = `{${prefix}:${shard}}`;
  return {
    shard,
    tag,
    dirty: `${tag}:dirty`,
    failed: `${tag}:failed`,
    jobPrefix: `${tag}:${QUEUE_NAME}:`,
    dedupPrefix: `${tag}:${QUEUE_NAME}:de:`,
  };
}

/** 32-bit FNV-1a over UTF-16 code units: stable across processes and versions, which is all sharding needs. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function shardOf(entity: string, id: string, shards: number): number {
  return shards === 1 ? 0 : fnv1a(`${entity}:${id}`) % shards;
}

/**
 * The data key. The entity name cannot contain `:` (validated), so `entity:id` splits back unambiguously
 * whatever the id holds: an id can never reach another entity's or another prefix's key.
 */
export function dataKey(shard: ShardKeys, entity: string, id: string): string {
  return `${shard.tag}:e:${entity}:${id}`;
}

/** Inverse of {@link dataKey}. */
export function parseDataKey(shard: ShardKeys, key: string): { entity: string; id: string } {
  const rest = key.slice(shard.tag.length + 3);
  const colon = rest.indexOf(':');
  return { entity: rest.slice(0, colon), id: rest.slice(colon + 1) };
}

/** The BullMQ deduplication id of a key: one live flush job per key. */
export function dedupId(entity: string, id: string): string {
  return `${entity}:${id}`;
}

/**
 * A flush job's id: readable in Bull Board, free of `:` (BullMQ refuses it), and unique per dirty period,
 * because BullMQ ignores an add whose id already exists and keeps failed jobs under their id.
 */
export function flushJobId(entity: string, id: string, version: number): string {
  return `${entity}.${encodeURIComponent(id)}.v${version}`;
}
