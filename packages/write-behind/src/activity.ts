import type { Cluster, Redis } from 'ioredis';
import type { Context } from './context.js';
import type { ShardKeys } from './keys.js';
import { sleep } from './util.js';

/*
 * Activity counters: running totals per shard of what the cache did (writes acknowledged, writes refused by
 * code, rows written, rows the database refused), kept in Redis so that a dashboard sees every process's
 * work, as it sees the backlog. Charts read them twice and divide by the time between: rates per second.
 *
 * Counting costs the write and flush paths nothing per call: each process adds in memory and sends what it
 * counted once a second per shard, in one command (`lua/activity-add-1.lua`), and nothing while idle. Counts not
 * yet sent when a process dies are lost: they feed charts, not accounts.
 *
 * The hash is `{prefix:shard}:activity` (in the shard's hash slot, beside its dirty index): fields
 * `acknowledged`, `refused:<code>` (a `WriteBehindError` code: `BACKLOG_FULL`, `COUNTER_OVERFLOW`, …),
 * `rowsWritten` (rows upserted, added to, deleted, and append keys whose events went in), `rowsRefused` (rows
 * and events the database refused: failed flush attempts), `eventsInserted`, `outages`.
 */

/** The counters' field names. A refusal counts under `refused:<code>`. */
export const ACTIVITY_FIELDS = {
  acknowledged: 'acknowledged',
  rowsWritten: 'rowsWritten',
  rowsRefused: 'rowsRefused',
  eventsInserted: 'eventsInserted',
  outages: 'outages',
} as const;
export type ActivityField = (typeof ACTIVITY_FIELDS)[keyof typeof ACTIVITY_FIELDS];
const REFUSED_PREFIX = 'refused:';

/** A shard's running totals since its counters began (they survive restarts: they live in Redis). */
export interface ShardActivity {
  shard: number;
  /** Writes acknowledged to their callers. */
  acknowledged: number;
  /** Writes refused, by error code. */
  refused: Record<string, number>;
  rowsWritten: number;
  rowsRefused: number;
  eventsInserted: number;
  outages: number;
}

/** A shard's totals from its hash (HGETALL). Pure. */
export function parseActivity(shard: number, hash: Readonly<Record<string, string>>): ShardActivity {
  const out: ShardActivity = {
    shard,
    acknowledged: 0,
    refused: {},
    rowsWritten: 0,
    rowsRefused: 0,
    eventsInserted: 0,
    outages: 0,
  };
  for (const [field, text] of Object.entries(hash)) {
    const value = Number(text);
    if (!Number.isFinite(value)) continue;
    if (field.startsWith(REFUSED_PREFIX)) out.refused[field.slice(REFUSED_PREFIX.length)] = value;
    else if (Object.values(ACTIVITY_FIELDS).includes(field as ActivityField))
      out[field as ActivityField] = value;
  }
  return out;
}

/** How often counts go to Redis. */
const SEND_INTERVAL_MS = 1000;
/** How long `stop` waits for the last send: a cache closing while Redis is down must not wait for it. */
const STOP_WAIT_MS = 1000;

/**
 * One process's counts, sent to Redis once a second per shard that counted something. Shared by a cache's
 * writer and its flush workers (see {@link activityOf}).
 */
export class ActivityCounters {
  readonly #redis: Redis | Cluster;
  readonly #shards: readonly ShardKeys[];
  readonly #pending = new Map<number, Map<string, number>>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #sending: Promise<void> = Promise.resolve();

  constructor(redis: Redis | Cluster, shards: readonly ShardKeys[]) {
    this.#redis = redis;
    this.#shards = shards;
  }

  /** Counts `amount` more of `field` in `shard`. */
  add(shard: number, field: ActivityField, amount = 1): void {
    this.#add(shard, field, amount);
  }

  /** Counts a refused write, by its error's code. */
  refused(shard: number, code: string): void {
    this.#add(shard, `${REFUSED_PREFIX}${code}`, 1);
  }

  #add(shard: number, field: string, amount: number): void {
    if (amount === 0) return;
    let counts = this.#pending.get(shard);
    if (!counts) {
      counts = new Map();
      this.#pending.set(shard, counts);
    }
    counts.set(field, (counts.get(field) ?? 0) + amount);
    if (!this.#timer && !this.#stopped) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, SEND_INTERVAL_MS);
      this.#timer.unref();
    }
  }

  /**
   * Sends what was counted. A send that fails (Redis unreachable) keeps its counts for the next one; it never
   * throws.
   */
  flush(): Promise<void> {
    this.#sending = this.#sending.then(() => this.#send());
    return this.#sending;
  }

  async #send(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending];
    this.#pending.clear();
    await Promise.all(
      batch.map(async ([shard, counts]) => {
        const keys = this.#shards[shard];
        if (!keys) return;
        try {
          await this.#redis.wbActivityAdd(keys.activity, ...[...counts].flat());
        } catch {
          // Charts, not accounts: keep the counts for the next send, unless this process is stopping.
          if (!this.#stopped) for (const [field, n] of counts) this.#add(shard, field, n);
        }
      }),
    );
  }

  /**
   * Sends what is left (waiting at most STOP_WAIT_MS: counts that cannot go out are dropped) and stops the
   * timer; counts made later wait for an explicit {@link flush}.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await Promise.race([this.flush(), sleep(STOP_WAIT_MS)]);
  }
}

const counters = new WeakMap<Context, ActivityCounters>();

/** The activity counters of a cache's context: one per cache, shared by its writer and its flush workers. */
export function activityOf(context: Context): ActivityCounters {
  let found = counters.get(context);
  if (!found) {
    found = new ActivityCounters(context.redis, context.shards);
    counters.set(context, found);
  }
  return found;
}

/** Every shard's totals, read from Redis (one HGETALL per shard). */
export async function readActivity(context: Context): Promise<ShardActivity[]> {
  return Promise.all(
    context.shards.map(async (shard) =>
      parseActivity(shard.shard, await context.redis.hgetall(shard.activity)),
    ),
  );
}
