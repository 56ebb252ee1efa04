import type { Context } from './context.js';

/*
 * The backlog and memory figures of a cache, read from Redis: what `stats()`, health checks and metrics show.
 * Global (every process reads the same), so dashboards aggregate them with `max`, not `sum`.
 */

/** What a cache's backlog is: per shard, and in total. */
export interface BacklogFigures {
  dirtyKeys: number;
  /** Age of the oldest unflushed write in this shard, ms (0 when clean). */
  oldestDirtyAgeMs: number;
  /** Keys whose flush job failed for good and waits for an operator. */
  failedKeys: number;
  /** Events of append entities acknowledged and not yet inserted (what `backlog.eventLimit` bounds). */
  pendingEvents: number;
  /**
   * Events of append entities the database refused, each set aside as a failed job for an operator (the events
   * after it were inserted); a retry from Bull Board inserts it once the cause is fixed.
   */
  refusedEvents: number;
  /** The cache's keys in Redis (dirty and clean), counted under a memory budget; 0 without one. */
  keys: number;
  /** Their estimated bytes (keys times the sampled average size), under a budget with `maxBytes`; else 0. */
  bytes: number;
  /** Clean keys the memory budget evicted so far. */
  evictions: number;
}

/** One shard's figures; {@link Stats} holds their totals (the oldest age for `oldestDirtyAgeMs`). */
export interface ShardStats extends BacklogFigures {
  shard: number;
}

export interface Stats extends BacklogFigures {
  shards: ShardStats[];
}

/** A key's size until the write script has sampled some (lua/includes/memory-budget.lua, DEFAULT_KEY_BYTES). */
const DEFAULT_KEY_BYTES = 256;

/** Every shard's figures in one MULTI each, and their totals. */
export async function readStats(context: Context): Promise<Stats> {
  const { redis, shards, options } = context;
  const now = Date.now();
  const perShard = await Promise.all(
    shards.map(async (s): Promise<ShardStats> => {
      const [
        [, dirtyKeys],
        [, oldest],
        [, failedKeys],
        [, events],
        [, refusedEvents],
        [, clean],
        [, memory],
      ] = (await redis
        .multi()
        .zcard(s.dirty)
        .zrange(s.dirty, '0', '0', 'WITHSCORES')
        .hlen(s.failed)
        .get(s.pendingEvents)
        .hlen(s.refused)
        .zcard(s.clean)
        .hmget(s.memory, 'avg', 'evictions')
        .exec()) as [
        [unknown, number],
        [unknown, string[]],
        [unknown, number],
        [unknown, string | null],
        [unknown, number],
        [unknown, number],
        [unknown, (string | null)[]],
      ];
      const budgeted = options.memory.maxKeys > 0 || options.memory.maxBytes > 0;
      const keys = budgeted ? dirtyKeys + clean : 0;
      const oldestScore = oldest[1] === undefined ? now : Number(oldest[1]);
      return {
        shard: s.shard,
        dirtyKeys,
        oldestDirtyAgeMs: Math.max(0, now - oldestScore),
        failedKeys,
        pendingEvents: Number(events ?? 0),
        refusedEvents,
        keys,
        bytes: options.memory.maxBytes > 0 ? keys * Number(memory[0] ?? DEFAULT_KEY_BYTES) : 0,
        evictions: Number(memory[1] ?? 0),
      };
    }),
  );
  return {
    dirtyKeys: perShard.reduce((n, s) => n + s.dirtyKeys, 0),
    oldestDirtyAgeMs: Math.max(0, ...perShard.map((s) => s.oldestDirtyAgeMs)),
    failedKeys: perShard.reduce((n, s) => n + s.failedKeys, 0),
    pendingEvents: perShard.reduce((n, s) => n + s.pendingEvents, 0),
    refusedEvents: perShard.reduce((n, s) => n + s.refusedEvents, 0),
    keys: perShard.reduce((n, s) => n + s.keys, 0),
    bytes: perShard.reduce((n, s) => n + s.bytes, 0),
    evictions: perShard.reduce((n, s) => n + s.evictions, 0),
    shards: perShard,
  };
}
