/**
 * Every Redis key, queue name and job id the library uses is built here, from pure functions.
 *
 * Layout for prefix `app`, shard 3, entity `video`, id `abc`:
 *   {app:3}:e:video:abc      hash: the key's state, its version (`_v`), last flushed version (`_fv`), tombstone (`_d`),
 *                            and the suffix of its flush job's id (`_j`, set when the key becomes dirty)
 *   {app:3}:dirty            sorted set: data keys waiting to be flushed, scored by when they became dirty
 *   {app:3}:failed           hash: data key -> id of its flush job that failed for good
 *   {app:3}:refused          hash: job id of an append entity's event the database refused -> that event
 *                            (JSON: entity, id, sequence, its Redis form, the database's reason, when), until an
 *                            operator's retry inserts it (flush/job.ts, REFUSED_EVENT_JOB)
 *   {app:3}:events           integer: events of append entities waiting in this shard's data keys (the
 *                            event backlog)
 *   {app:3}:clock            integer: the shard's version clock, above every version given in the shard and
 *                            never behind the server's time in microseconds (lua/write.lua)
 *   {app:3}:clean            sorted set: clean data keys by last use, kept only under a memory budget, which
 *                            evicts its oldest first (lua/includes/memory-budget.lua)
 *   {app:3}:memory           hash: the memory budget's figures (`avg` bytes per key, `evictions`)
 *   {app:3}:activity         hash: running totals of what every process did in the shard, for charts
 *                            (activity.ts: writes acknowledged, refused by code, rows written, ...)
 *   {app:3}:w:<writer>       hash: one writing connection's last batch number and its recent replies, so a
 *                            batch its client resends after a reconnect is answered, not applied twice
 *   {app:3}:rank:video:likes sorted set: the ranking of a ranked counter over this shard's keys, member the
 *                            canonical id, score the counter's value; the member '' (score -inf) marks it built
 *   {app:3}:rank:video:likes:floor  hash: a capped ranking's floor (`s`, `m`) and generation `g`
 *                            (lua/includes/ranking-cap.lua)
 *   {app:3}:flush-3:...      the shard's BullMQ queue (BullMQ prefix `{app:3}`, queue name `flush-3`; `flush`
 *                            when there is one shard)
 * The braces are a Redis Cluster hash tag: one shard's state, index and queue share a slot, so the Lua
 * scripts that touch them together stay atomic on a Cluster.
 */

export interface ShardKeys {
  shard: number;
  /** The hash tag, also the BullMQ prefix of this shard's queue. */
  tag: string;
  /** The shard's BullMQ queue name: unique per shard, so a dashboard listing every queue tells them apart. */
  queueName: string;
  dirty: string;
  failed: string;
  /** Events of append entities the database refused, waiting for an operator. */
  refused: string;
  /** How many events of append entities wait to be flushed in this shard. */
  pendingEvents: string;
  /** The shard's version clock. */
  clock: string;
  /** Clean keys by last use, under a memory budget. */
  clean: string;
  /** The memory budget's figures. */
  memory: string;
  /** Running totals of the shard's activity (see `activity.ts`). */
  activity: string;
  /** Length of the prefix every data key of the shard starts with (`{tag}:e:`): the scripts find ids after it. */
  dataKeyPrefixLength: number;
  /** Prefix of BullMQ's per-job hashes (`<prefix>:<queue>:<jobId>`). */
  jobPrefix: string;
}

/** The keys of shard `shard` of `shards`. */
export function shardKeys(prefix: string, shard: number, shards: number): ShardKeys {
  const tag = `{${prefix}:${shard}}`;
  const queueName = shards === 1 ? 'flush' : `flush-${shard}`;
  return {
    shard,
    tag,
    queueName,
    dirty: `${tag}:dirty`,
    failed: `${tag}:failed`,
    refused: `${tag}:refused`,
    pendingEvents: `${tag}:events`,
    clock: `${tag}:clock`,
    clean: `${tag}:clean`,
    memory: `${tag}:memory`,
    activity: `${tag}:activity`,
    dataKeyPrefixLength: tag.length + 3,
    jobPrefix: `${tag}:${queueName}:`,
  };
}

/** The state of one writer (a process's write batcher for one shard): see `lua/write.lua`. */
export function writerKey(shard: ShardKeys, writerId: string): string {
  return `${shard.tag}:w:${writerId}`;
}

/** The ranking of a ranked counter field over one shard's keys: see `ranking/ranking.ts`. */
export function rankingKey(shard: ShardKeys, entity: string, field: string): string {
  return `${shard.tag}:rank:${entity}:${field}`;
}

/** A capped ranking's floor and generation (a hash); the scripts name it from the ranking's key the same way. */
export function rankingFloorKey(shard: ShardKeys, entity: string, field: string): string {
  return `${rankingKey(shard, entity, field)}:floor`;
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
  const rest = key.slice(shard.dataKeyPrefixLength);
  const colon = rest.indexOf(':');
  return { entity: rest.slice(0, colon), id: rest.slice(colon + 1) };
}
