/**
 * Every Redis key, queue name and job id the library uses is built here, from pure functions.
 *
 * Layout for prefix `app`, shard 3, entity `video`, id `abc`:
 *   {app:3}:e:video:abc      hash: the key's state, its version (`_v`), last flushed version (`_fv`), tombstone (`_d`),
 *                            and the suffix of its flush job's id (`_j`, set when the key becomes dirty)
 *   {app:3}:dirty            sorted set: data keys waiting to be flushed, scored by when they became dirty
 *   {app:3}:failed           hash: data key -> id of its flush job that failed for good
 *   {app:3}:w:<writer>       hash: one writing connection's last batch number and its recent replies, so a
 *                            batch its client resends after a reconnect is answered, not applied twice
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
}

export function shardKeys(prefix: string, shard: number): ShardKeys {
  const tag = `{${prefix}:${shard}}`;
  return {
    shard,
    tag,
    dirty: `${tag}:dirty`,
    failed: `${tag}:failed`,
    jobPrefix: `${tag}:${QUEUE_NAME}:`,
  };
}

/** The state of one writer (a process's write batcher for one shard): see `lua/write.lua`. */
export function writerKey(shard: ShardKeys, writerId: string): string {
  return `${shard.tag}:w:${writerId}`;
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

/**
 * A flush job's id: `entity.id.v<suffix>`, where the suffix is the version that made the key dirty (or, for a
 * job the sweep added, `<version>.s<time>`). Unique per dirty period, because BullMQ ignores an add whose id
 * exists and keeps failed jobs under their id. `%` and `:` in the id are percent-encoded (BullMQ refuses
 * `:`), which keeps it injective and readable in Bull Board; `lua/sweep-2.lua` builds the same id.
 */
export function flushJobId(entity: string, id: string, suffix: number | string): string {
  return `${entity}.${escapeJobIdPart(id)}.v${suffix}`;
}

function escapeJobIdPart(id: string): string {
  return id.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'));
}
