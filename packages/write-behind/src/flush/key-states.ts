import type { Cluster, Redis } from 'ioredis';

/*
 * The one place a flush reads other keys' state in Redis: the parents of the rows it is about to write, and
 * the children of a row whose delete the database refused. Those keys may live in any shard, so in any hash
 * slot of a Cluster: no script of the batch's shard can read them atomically, and they are read with one
 * pipeline of HMGETs per shard (a shard's keys share a slot), the shards in parallel.
 */

/** What a flush needs of a key's state: the fields `_v`, `_fv` and `_d` of its hash (see `lua/write.lua`). */
export interface KeyState {
  /** Redis holds the key. */
  present: boolean;
  /** It holds writes the database lacks (`_v` above `_fv`). */
  dirty: boolean;
  /** Its record is deleted (`_d`): a delete not yet flushed when `dirty`, or a row the database does not have. */
  deleted: boolean;
  /** The database has acknowledged a flush of it (`_fv` above 0). */
  flushedBefore: boolean;
}

const ABSENT: KeyState = { present: false, dirty: false, deleted: false, flushedBefore: false };

/**
 * Keys grouped by shard, each once, as `readKeyStates` takes them; refs without a key (rows of tables the cache
 * does not write) are left out.
 */
export function keysByShard(refs: Iterable<{ key?: string; shard?: number }>): Map<number, string[]> {
  const byShard = new Map<number, string[]>();
  const seen = new Set<string>();
  for (const { key, shard } of refs) {
    if (key === undefined || shard === undefined || seen.has(key)) continue;
    seen.add(key);
    const keys = byShard.get(shard);
    if (keys) keys.push(key);
    else byShard.set(shard, [key]);
  }
  return byShard;
}

/** The state of each of `keysByShard`'s data keys (those Redis lacks are `present: false`). */
export async function readKeyStates(
  redis: Redis | Cluster,
  keysByShard: ReadonlyMap<number, readonly string[]>,
): Promise<Map<string, KeyState>> {
  const states = new Map<string, KeyState>();
  await Promise.all(
    [...keysByShard.values()].map(async (keys) => {
      if (keys.length === 0) return;
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.hmget(key, '_v', '_fv', '_d');
      const replies = (await pipeline.exec()) ?? [];
      keys.forEach((key, i) => {
        const [error, reply] = replies[i] ?? [new Error('no reply')];
        if (error) throw error;
        states.set(key, keyStateOf(reply as (string | null)[]));
      });
    }),
  );
  return states;
}

/** A key's state from `HMGET key _v _fv _d`. */
export function keyStateOf([version, flushed, deleted]: readonly (string | null | undefined)[]): KeyState {
  if (version === null || version === undefined) return ABSENT;
  return {
    present: true,
    // As lua/includes/is-dirty.lua: versions stay below 2^53, exact as numbers.
    dirty: Number(version) > Number(flushed ?? 0),
    deleted: deleted !== null && deleted !== undefined,
    flushedBefore: Number(flushed ?? 0) > 0,
  };
}
