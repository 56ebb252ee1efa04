import type { KeepJobs } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { checkKeys, type KeyShapeOf, withDefaults } from './check-keys.js';
import { ConfigurationError } from './errors.js';
import type { CheckedEntities, EntityDefinitions } from './schema/fields.js';
import type { PrismaClientLike } from './store/prisma-store.js';
import type { Store } from './store/store.js';
import { DEFAULT_TOMBSTONE_TABLE } from './store/verify.js';

/** Where log lines go. `console` fits, and so does a pino logger. */
export interface Logger {
  /** Detail for debugging (a refused row's stack); optional. */
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface FlushOptions {
  /**
   * How long a key stays dirty before its flush job runs. Every write to the key inside the window is
   * folded into one database write. @defaultValue `1000`
   */
  windowMs?: number;
  /** Most rows in one SQL statement. @defaultValue `500` */
  batchSize?: number;
  /**
   * Most events of append entities one flush batch takes from Redis, shared by its keys (one key alone takes
   * all of them). It bounds how long the snapshot script holds Redis and how much one batch holds in memory.
   * A key with more events waiting than its share is flushed again at once, without waiting for another
   * window, so a hot key or a backlog catches up in bounded steps. `maxBatchBytes` bounds the memory; this
   * bounds the count of small events (measured: from 20,000 to 100,000 cut the worker's CPU per event by
   * about a tenth, each key of a backlog taking its events in fewer flushes). @defaultValue `100000`
   */
  maxEventsPerBatch?: number;
  /**
   * Most bytes of events (in their Redis form) one flush batch takes from Redis, shared by its append keys;
   * each key takes at least one event. With `maxEventsPerBatch` it bounds what a worker holds per batch and
   * re-sends when a statement fails, however large the events waiting behind a key. @defaultValue `16777216` (16 MiB)
   */
  maxBatchBytes?: number;
  /**
   * How long the worker waits for more jobs before it writes a batch that is not full. Small: jobs arrive
   * from BullMQ one by one, so a few milliseconds gather them into one statement. @defaultValue `5`
   */
  batchLingerMs?: number;
  /** Jobs one worker process runs at once; also bounds a batch in practice. @defaultValue `500` */
  concurrency?: number;
  /** Attempts per flush job before it is kept in the failed set for an operator. @defaultValue `8` */
  attempts?: number;
  /** First retry delay; each further retry doubles it (with jitter). @defaultValue `1000` */
  backoffMs?: number;
  /**
   * While the database is unreachable, workers pause the whole queue instead of spending attempts; the pause
   * starts here and doubles up to {@link FlushOptions.maxOutageBackoffMs}. @defaultValue `500`
   */
  outageBackoffMs?: number;
  /** Longest pause between probes of an unreachable database. @defaultValue `30000` */
  maxOutageBackoffMs?: number;
  /** Failed jobs kept for operators (BullMQ `removeOnFail`). @defaultValue `{ count: 10000 }` */
  keepFailed?: KeepJobs;
}

export interface BacklogOptions {
  /**
   * Most dirty keys (per shard) before writes to clean keys are rejected. Writes to keys that are already
   * dirty cost no memory and are always accepted. `0` disables the limit. @defaultValue `1_000_000`
   */
  limit?: number;
  /**
   * Most events of append entities (per shard) waiting in Redis to be inserted. Past it, `append` is refused
   * with {@link BacklogFullError} (or waits, with `policy: 'wait'`): each waiting event holds memory, unlike a
   * write to a dirty key. `0` disables the limit. @defaultValue `1_000_000`
   */
  eventLimit?: number;
  /** `'reject'` throws {@link BacklogFullError} at once; `'wait'` waits up to `waitTimeoutMs` for room. @defaultValue `'reject'` */
  policy?: 'reject' | 'wait';
  /** With `policy: 'wait'`, how long a write may wait for room. @defaultValue `5000` */
  waitTimeoutMs?: number;
}

export interface SweepOptions {
  /** How often a worker looks for dirty keys that lost their flush job (a crash between write and enqueue). @defaultValue `30000` */
  intervalMs?: number;
  /** A dirty key counts as orphaned only when it has been dirty this long past its window. @defaultValue `10000` */
  graceMs?: number;
  /** Deletion markers (tombstones) older than this are removed from the database. @defaultValue `86_400_000` (1 day) */
  tombstoneRetentionMs?: number;
}

export interface LimitsOptions {
  /** Longest id (its canonical text, see the README), in UTF-8 bytes. @defaultValue `512` */
  maxIdBytes?: number;
  /** Largest encoded record write, in bytes. @defaultValue `65536` */
  maxValueBytes?: number;
  /** Most cold keys loaded from the database by one query. @defaultValue `1000` */
  maxLoadBatch?: number;
}

/**
 * When a write is acknowledged (see "Durability levels" in docs/RELIABILITY.md):
 * - `'memory'`: once the primary applied it. A failover may lose the last writes the replicas had not copied.
 * - `'replicas'`: once `replication.replicas` replicas hold it too (`WAIT`), so a failover to one of them keeps it.
 * - `'fsync'`: once the primary and `replication.replicas` replicas wrote it to their append-only file and
 *   fsynced it (`WAITAOF`, Redis 7.2 or later, `appendonly yes`): it survives a power loss of those machines.
 */
export type DurabilityLevel = 'memory' | 'replicas' | 'fsync';

export interface ReplicationOptions {
  /**
   * Replicas that must confirm a write at durability `'replicas'` or `'fsync'`. `0` only makes sense with
   * `'fsync'` (the primary's own AOF). @defaultValue `1`
   */
  replicas?: number;
  /**
   * How long a write batch waits for its replicas before the writes that asked are refused with
   * {@link NotReplicatedError} (they stay applied). While a batch waits, the commands behind it on the same
   * connection wait too. @defaultValue `1000`
   */
  timeoutMs?: number;
}

/**
 * A budget for the cache's own data in Redis (its keys, not BullMQ's jobs), for key spaces too large to keep:
 * past it, clean keys are evicted, least recently used (read or written) first, a few per write that needs
 * room. A dirty key is never evicted: with only dirty keys left, writes that need a new key get
 * {@link BacklogFullError} (`backlog: 'memory'`). Works with `maxmemory-policy noeviction` (which BullMQ
 * needs) and on Redis Cluster; each shard keeps its share (the limits divided by `shards`). An evicted key is
 * loaded again by the next read or by a write that needs its value; `add`, a whole `set` and `append` need
 * none. Without a budget (both 0) nothing is tracked and nothing evicted.
 */
export interface MemoryOptions {
  /** Most keys (dirty and clean) the cache keeps in Redis. `0`: no limit. @defaultValue `0` */
  maxKeys?: number;
  /**
   * Most bytes the cache's keys take in Redis, estimated from a sample of keys (`MEMORY USAGE`, plus their
   * index entries) as the shard's key count times their average size, and its rankings (`rankingEntries`
   * each, reserved at 160 bytes an entry). `0`: no limit. @defaultValue `0`
   */
  maxBytes?: number;
  /**
   * Under a budget, the most entries each shard's ranking of a ranked counter keeps: its highest records.
   * `top(n)` takes `n` up to it; `rank` answers for a record among them (and `null` below them). `0`: every
   * record is ranked, outside the budget (an entry per record ever written). @defaultValue `10000`
   */
  rankingEntries?: number;
}

/**
 * What a write does when Redis may have applied it but its reply was lost (the connection closed after the
 * batch went out, a Redis Cluster failover). Each batch carries its writer's id and number, and the write
 * script answers a batch it applied already with the replies it kept instead of applying it again, so the
 * library sends the same batch again until a reply comes.
 */
export interface WritesOptions {
  /**
   * How long to keep sending a batch whose outcome is unknown, from its first failure. Resends back off from
   * 50 ms to 1 s. A reply in time answers the writes as usual (each applied once); past it the writes fail
   * with `IndeterminateError` ("may have been applied"). A write Redis certainly did not run (never sent, or
   * refused before running) fails at once with `UnavailableError`, whatever this is. Cover your Redis's
   * failover: about `cluster-node-timeout` plus a second or two on a Cluster, the sentinels'
   * `down-after-milliseconds` plus the election with Sentinel. `0`: no resend, an unknown outcome is an
   * `IndeterminateError` at once. @defaultValue `5000`
   */
  resolveTimeoutMs?: number;
}

export interface WaitOptionsDefaults {
  /** How long `flushed()` waits unless told otherwise. @defaultValue `10000` */
  flushedTimeoutMs?: number;
  /** How long `drain()` and `flush()` wait unless told otherwise. @defaultValue `30000` */
  drainTimeoutMs?: number;
}

export interface WriteBehindOptions<E extends EntityDefinitions = EntityDefinitions> {
  /**
   * Redis: a URL (`redis://`, `rediss://` with TLS, credentials in the URL), an ioredis `Redis`, or an ioredis
   * `Cluster`. Passed instances are not closed by `close()`. Redis must run with `maxmemory-policy noeviction`.
   */
  redis: string | Redis | Cluster;
  /**
   * A Prisma Client (Prisma 7, with `@prisma/adapter-pg`): flushed state goes to its database, and the
   * entities are checked against its schema. Give this or `store`.
   */
  prisma?: PrismaClientLike;
  /** Where flushed state goes and cold keys come from, when it is not a Prisma Client (see `Store`). */
  store?: Store;
  /**
   * The entities, by logical name (see `EntityDefinition`). A key an entity definition does not know is
   * a compile error and, at run time, a `ConfigurationError`.
   */
  entities: CheckedEntities<E>;
  /**
   * Namespace for every Redis key and queue. Two apps with different prefixes never see each other's data.
   * @defaultValue `'wb'`
   */
  prefix?: string;
  /**
   * Number of shards. Each shard has its own queue and dirty index in one Redis Cluster hash slot; more shards
   * spread a Cluster's load. Every process of one deployment must use the same number. @defaultValue `1`
   */
  shards?: number;
  /**
   * How long a clean key (flushed, or loaded by a read) stays in Redis after its last write, in ms. A key that
   * expired is loaded from the database again on its next use, so this bounds Redis memory for large key
   * spaces (presence, telemetry). A dirty key never expires. `0` keeps keys for ever. @defaultValue `0`
   */
  cacheTtlMs?: number;
  /**
   * The table that remembers deletes: the `WriteBehindTombstone` model's table (see the README for the model
   * and its SQL). @defaultValue `'write_behind_tombstone'`
   */
  tombstoneTable?: string;
  /**
   * For a connection the library opens from a URL: how many times a command is retried across reconnects
   * before it fails (ioredis `maxRetriesPerRequest`). Small, so a write fails fast while Redis is down.
   * @defaultValue `2`
   */
  redisMaxRetriesPerRequest?: number;
  /**
   * When a write is acknowledged: applied by the primary (`'memory'`), also held by replicas (`'replicas'`),
   * or also fsynced to the append-only files (`'fsync'`). One call can ask for another level
   * (`cache.set(entity, id, values, { durability: 'replicas' })`). See {@link DurabilityLevel}.
   * @defaultValue `'memory'`
   */
  durability?: DurabilityLevel;
  /** How many replicas confirm a write at `'replicas'` or `'fsync'`, and how long to wait for them. */
  replication?: ReplicationOptions;
  /** What a write whose reply was lost does: see {@link WritesOptions}. */
  writes?: WritesOptions;
  flush?: FlushOptions;
  backlog?: BacklogOptions;
  sweep?: SweepOptions;
  limits?: LimitsOptions;
  waits?: WaitOptionsDefaults;
  memory?: MemoryOptions;
  /** @defaultValue a logger that writes warnings and errors to the console */
  logger?: Logger;
}

export type ResolvedOptions<E extends EntityDefinitions = EntityDefinitions> = Required<
  Pick<
    WriteBehindOptions<E>,
    | 'redis'
    | 'entities'
    | 'prefix'
    | 'shards'
    | 'cacheTtlMs'
    | 'tombstoneTable'
    | 'redisMaxRetriesPerRequest'
    | 'durability'
    | 'logger'
  >
> & {
  replication: Required<ReplicationOptions>;
  writes: Required<WritesOptions>;
  prisma?: PrismaClientLike;
  store?: Store;
  flush: Required<FlushOptions>;
  backlog: Required<BacklogOptions>;
  sweep: Required<SweepOptions>;
  limits: Required<LimitsOptions>;
  waits: Required<WaitOptionsDefaults>;
  memory: Required<MemoryOptions>;
};

export interface FlushWorkerOptions {
  /** Which shards this worker serves. @defaultValue all */
  shards?: number[];
  /** Jobs run at once per shard. @defaultValue `flush.concurrency` */
  concurrency?: number;
  /**
   * How long a running job's lock lives without renewal (BullMQ `lockDuration`). The worker renews the locks
   * of its running jobs every quarter of this, so the lock lapses only when the worker is dead, or its event
   * loop was blocked (or Redis out of its reach) for more than about half of it. A lapsed lock lets BullMQ's
   * stalled-job check take the job back, and another worker runs it.
   *
   * The trade-off: a killed worker's jobs run again within `lockDurationMs + stalledIntervalMs` of the kill
   * (7 s with the defaults, inside `flush.windowMs` + 10 s; see "Recovery after a worker crash" in
   * docs/RELIABILITY.md), while a live worker whose event loop stops for more than about half of it (2.5 s by
   * default) may lose a job it still runs: the job then runs twice, which the version guard makes harmless, and
   * counts as a stall. A slow statement or an unreachable database does not need a longer lock (renewals go on
   * while a flush waits); raise it where event-loop pauses of seconds are normal. Each renewal is one script
   * call for all of a shard's long-running jobs, three Redis commands per job.
   * @defaultValue `5000`
   */
  lockDurationMs?: number;
  /**
   * How often BullMQ's stalled-job check runs. The check is shared by the workers of a queue (at most one pass
   * per interval, whoever runs it) and takes a job back on the first pass that finds its lock lapsed after an
   * earlier pass saw it running: up to one interval past the lock's expiry. A pass is one script call, seven
   * Redis commands with it (more for each job it takes back): at idle, about 3 commands per second per shard
   * more than with BullMQ's 30 s (4.4 against 1.6 measured, everything included); each further worker of the
   * queue adds two commands per interval (its attempt finds the pass done). Under load the difference is lost
   * in the noise. Keep it below `lockDurationMs`: above, detection takes up to twice this instead.
   * @defaultValue `2000`
   */
  stalledIntervalMs?: number;
  /**
   * How many times a job may stall (its worker died) before BullMQ fails it. A key whose job failed this way is
   * not the operator's to fix: the sweep enqueues it again under a fresh job id, so such a key (its job held by
   * a worker killed more than this many times) waits up to `sweep.intervalMs` longer. @defaultValue `1`
   */
  maxStalledCount?: number;
  /**
   * How long `close()` waits for jobs in flight before abandoning them to stalled-job recovery; `close()`
   * returns within about twice this even while Redis or the database does not answer. @defaultValue `10000`
   */
  closeTimeoutMs?: number;
  /** Whether this worker registers the periodic sweep and tombstone purge. @defaultValue `true` */
  sweep?: boolean;
  /**
   * A shard whose BullMQ worker has started no job for this long while its queue holds jobs that are due (none
   * of its own running, no outage pause) gets a new BullMQ worker, and the stuck one is closed. BullMQ's fetch
   * loop can stay parked after a Redis failover (seen on Redis Cluster: a shard's jobs waiting on the new
   * master for minutes while the worker was up); this bounds that to about this long plus a fifth of it.
   * `0` turns it off. @defaultValue `15000`
   */
  stuckAfterMs?: number;
}

export type ResolvedWorkerOptions = Required<FlushWorkerOptions>;

const consoleLogger: Logger = {
  info: () => {},
  warn: (obj, msg) => console.warn(`[write-behind] ${msg ?? ''}`, obj),
  error: (obj, msg) => console.error(`[write-behind] ${msg ?? ''}`, obj),
};

/** `value`, frozen all the way down. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Every default in one place, frozen (a caller cannot change them for everyone); the TSDoc above repeats them. */
export const DEFAULT_OPTIONS = deepFreeze({
  prefix: 'wb',
  shards: 1,
  cacheTtlMs: 0,
  tombstoneTable: DEFAULT_TOMBSTONE_TABLE,
  redisMaxRetriesPerRequest: 2,
  durability: 'memory',
  replication: { replicas: 1, timeoutMs: 1000 },
  writes: { resolveTimeoutMs: 5000 },
  flush: {
    windowMs: 1000,
    batchSize: 500,
    maxEventsPerBatch: 100_000,
    maxBatchBytes: 16 * 1024 * 1024,
    batchLingerMs: 5,
    concurrency: 500,
    attempts: 8,
    backoffMs: 1000,
    outageBackoffMs: 500,
    maxOutageBackoffMs: 30_000,
    keepFailed: { count: 10_000 },
  },
  backlog: { limit: 1_000_000, eventLimit: 1_000_000, policy: 'reject', waitTimeoutMs: 5000 },
  sweep: { intervalMs: 30_000, graceMs: 10_000, tombstoneRetentionMs: 86_400_000 },
  limits: { maxIdBytes: 512, maxValueBytes: 65_536, maxLoadBatch: 1000 },
  waits: { flushedTimeoutMs: 10_000, drainTimeoutMs: 30_000 },
  memory: { maxKeys: 0, maxBytes: 0, rankingEntries: 10_000 },
} as const satisfies Omit<ResolvedOptions, 'redis' | 'entities' | 'logger'>);

/** The worker's defaults (`shards` and `concurrency` default to the cache's: see {@link resolveWorkerOptions}). */
export const DEFAULT_WORKER_OPTIONS = deepFreeze({
  lockDurationMs: 5000,
  stalledIntervalMs: 2000,
  maxStalledCount: 1,
  closeTimeoutMs: 10_000,
  sweep: true,
  stuckAfterMs: 15_000,
} as const satisfies Omit<ResolvedWorkerOptions, 'shards' | 'concurrency'>);

/**
 * The name of every option, level by level: a name not listed is refused with the closest listed one
 * (`flush.windowMS`: did you mean `windowMs`?). `satisfies` keeps each level in step with its interface.
 * Entity definitions are checked where they are resolved (`schema/resolve.ts`).
 */
export const OPTION_KEYS = {
  redis: true,
  prisma: true,
  store: true,
  entities: true,
  prefix: true,
  shards: true,
  cacheTtlMs: true,
  tombstoneTable: true,
  redisMaxRetriesPerRequest: true,
  durability: true,
  replication: { replicas: true, timeoutMs: true } satisfies KeyShapeOf<ReplicationOptions>,
  writes: { resolveTimeoutMs: true } satisfies KeyShapeOf<WritesOptions>,
  flush: {
    windowMs: true,
    batchSize: true,
    maxEventsPerBatch: true,
    maxBatchBytes: true,
    batchLingerMs: true,
    concurrency: true,
    attempts: true,
    backoffMs: true,
    outageBackoffMs: true,
    maxOutageBackoffMs: true,
    // BullMQ's `KeepJobs`.
    keepFailed: { age: true, count: true, limit: true },
  } satisfies KeyShapeOf<FlushOptions>,
  backlog: {
    limit: true,
    eventLimit: true,
    policy: true,
    waitTimeoutMs: true,
  } satisfies KeyShapeOf<BacklogOptions>,
  sweep: { intervalMs: true, graceMs: true, tombstoneRetentionMs: true } satisfies KeyShapeOf<SweepOptions>,
  limits: { maxIdBytes: true, maxValueBytes: true, maxLoadBatch: true } satisfies KeyShapeOf<LimitsOptions>,
  waits: { flushedTimeoutMs: true, drainTimeoutMs: true } satisfies KeyShapeOf<WaitOptionsDefaults>,
  memory: { maxKeys: true, maxBytes: true, rankingEntries: true } satisfies KeyShapeOf<MemoryOptions>,
  logger: true,
} as const satisfies KeyShapeOf<WriteBehindOptions>;

/** The name of every worker option (see {@link OPTION_KEYS}). */
export const WORKER_OPTION_KEYS = {
  shards: true,
  concurrency: true,
  lockDurationMs: true,
  stalledIntervalMs: true,
  maxStalledCount: true,
  closeTimeoutMs: true,
  sweep: true,
  stuckAfterMs: true,
} as const satisfies KeyShapeOf<FlushWorkerOptions>;

const PREFIX = /^[A-Za-z0-9_.-]{1,64}$/;

/** Refuses an option that is not an integer from `min` (1 unless given) to `max`, naming it and its value. */
function integerOption(path: string, value: unknown, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigurationError(
      `${path} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
}

/**
 * Merges the defaults under `options` and rejects bad values with a message naming the option. An unknown
 * option name is refused with the closest known one; an option given as `undefined` takes its default.
 */
export function resolveOptions<E extends EntityDefinitions>(
  options: WriteBehindOptions<E>,
): ResolvedOptions<E> {
  if (!options || typeof options !== 'object') throw new ConfigurationError('options must be an object');
  checkKeys(options, OPTION_KEYS, '');
  if (!options.redis)
    throw new ConfigurationError('`redis` is required: a URL, an ioredis Redis or an ioredis Cluster');
  if (!options.store && !options.prisma)
    throw new ConfigurationError('`prisma` (a Prisma Client) or `store` is required');
  if (options.store && options.prisma) throw new ConfigurationError('give `prisma` or `store`, not both');
  const resolved: ResolvedOptions<E> = {
    redis: options.redis,
    entities: options.entities,
    prefix: options.prefix ?? DEFAULT_OPTIONS.prefix,
    shards: options.shards ?? DEFAULT_OPTIONS.shards,
    cacheTtlMs: options.cacheTtlMs ?? DEFAULT_OPTIONS.cacheTtlMs,
    tombstoneTable: options.tombstoneTable ?? DEFAULT_OPTIONS.tombstoneTable,
    redisMaxRetriesPerRequest: options.redisMaxRetriesPerRequest ?? DEFAULT_OPTIONS.redisMaxRetriesPerRequest,
    durability: options.durability ?? DEFAULT_OPTIONS.durability,
    replication: withDefaults<Required<ReplicationOptions>>(DEFAULT_OPTIONS.replication, options.replication),
    writes: withDefaults<Required<WritesOptions>>(DEFAULT_OPTIONS.writes, options.writes),
    logger: options.logger ?? consoleLogger,
    flush: withDefaults<Required<FlushOptions>>(DEFAULT_OPTIONS.flush, options.flush),
    backlog: withDefaults<Required<BacklogOptions>>(DEFAULT_OPTIONS.backlog, options.backlog),
    sweep: withDefaults<Required<SweepOptions>>(DEFAULT_OPTIONS.sweep, options.sweep),
    limits: withDefaults<Required<LimitsOptions>>(DEFAULT_OPTIONS.limits, options.limits),
    waits: withDefaults<Required<WaitOptionsDefaults>>(DEFAULT_OPTIONS.waits, options.waits),
    memory: withDefaults<Required<MemoryOptions>>(DEFAULT_OPTIONS.memory, options.memory),
  };
  if (options.prisma) resolved.prisma = options.prisma;
  if (options.store) resolved.store = options.store;
  if (!PREFIX.test(resolved.prefix)) {
    throw new ConfigurationError(
      `prefix must match ${PREFIX} (no braces or colons), got ${JSON.stringify(resolved.prefix)}`,
    );
  }
  if (typeof resolved.tombstoneTable !== 'string' || resolved.tombstoneTable.length === 0) {
    throw new ConfigurationError(
      `tombstoneTable must name a table, got ${JSON.stringify(resolved.tombstoneTable)}`,
    );
  }
  integerOption('shards', resolved.shards, { max: 1024 });
  integerOption('cacheTtlMs', resolved.cacheTtlMs, { min: 0 });
  integerOption('redisMaxRetriesPerRequest', resolved.redisMaxRetriesPerRequest, { min: 0, max: 1000 });
  if (!['memory', 'replicas', 'fsync'].includes(resolved.durability)) {
    throw new ConfigurationError(
      `durability must be 'memory', 'replicas' or 'fsync', got ${JSON.stringify(resolved.durability)}`,
    );
  }
  integerOption('replication.replicas', resolved.replication.replicas, { min: 0, max: 1000 });
  // WAIT and WAITAOF take 0 as "wait for ever".
  integerOption('replication.timeoutMs', resolved.replication.timeoutMs, { max: 3_600_000 });
  if (resolved.durability === 'replicas' && resolved.replication.replicas === 0) {
    throw new ConfigurationError(
      "durability 'replicas' needs replication.replicas of 1 or more, got 0 (which would confirm nothing)",
    );
  }
  integerOption('writes.resolveTimeoutMs', resolved.writes.resolveTimeoutMs, { min: 0, max: 600_000 });
  const { flush, backlog, sweep, limits, waits } = resolved;
  integerOption('flush.windowMs', flush.windowMs, { min: 0 });
  integerOption('flush.batchSize', flush.batchSize, { max: 10_000 });
  integerOption('flush.maxEventsPerBatch', flush.maxEventsPerBatch, { max: 1_000_000 });
  integerOption('flush.maxBatchBytes', flush.maxBatchBytes, { max: 1024 * 1024 * 1024 });
  integerOption('flush.batchLingerMs', flush.batchLingerMs, { min: 0, max: 10_000 });
  integerOption('flush.concurrency', flush.concurrency, { max: 10_000 });
  integerOption('flush.attempts', flush.attempts, { max: 1000 });
  integerOption('flush.backoffMs', flush.backoffMs, { min: 0 });
  integerOption('flush.outageBackoffMs', flush.outageBackoffMs);
  integerOption('flush.maxOutageBackoffMs', flush.maxOutageBackoffMs);
  integerOption('backlog.limit', backlog.limit, { min: 0 });
  integerOption('backlog.eventLimit', backlog.eventLimit, { min: 0 });
  if (backlog.policy !== 'reject' && backlog.policy !== 'wait') {
    throw new ConfigurationError(
      `backlog.policy must be 'reject' or 'wait', got ${JSON.stringify(backlog.policy)}`,
    );
  }
  integerOption('backlog.waitTimeoutMs', backlog.waitTimeoutMs, { min: 0 });
  integerOption('sweep.intervalMs', sweep.intervalMs);
  integerOption('sweep.graceMs', sweep.graceMs, { min: 0 });
  integerOption('sweep.tombstoneRetentionMs', sweep.tombstoneRetentionMs);
  integerOption('limits.maxIdBytes', limits.maxIdBytes, { max: 65_536 });
  integerOption('limits.maxValueBytes', limits.maxValueBytes, { max: 64 * 1024 * 1024 });
  integerOption('limits.maxLoadBatch', limits.maxLoadBatch, { max: 100_000 });
  integerOption('waits.flushedTimeoutMs', waits.flushedTimeoutMs, { min: 0 });
  integerOption('waits.drainTimeoutMs', waits.drainTimeoutMs, { min: 0 });
  integerOption('memory.maxKeys', resolved.memory.maxKeys, { min: 0 });
  integerOption('memory.maxBytes', resolved.memory.maxBytes, { min: 0 });
  integerOption('memory.rankingEntries', resolved.memory.rankingEntries, { min: 0 });
  return resolved;
}

/** The worker's options over its defaults, checked like the cache's; `shards` and `concurrency` default to the cache's. */
export function resolveWorkerOptions(
  options: FlushWorkerOptions,
  cache: { shards: number; concurrency: number },
): ResolvedWorkerOptions {
  if (!options || typeof options !== 'object')
    throw new ConfigurationError('worker options must be an object');
  checkKeys(options, WORKER_OPTION_KEYS, 'createWorker() / runFlushWorker()');
  const resolved: ResolvedWorkerOptions = {
    ...DEFAULT_WORKER_OPTIONS,
    shards: Array.from({ length: cache.shards }, (_, i) => i),
    concurrency: cache.concurrency,
    ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as FlushWorkerOptions),
  };
  if (!Array.isArray(resolved.shards) || resolved.shards.length === 0) {
    throw new ConfigurationError(
      `worker shards must list at least one shard, got ${JSON.stringify(resolved.shards)}`,
    );
  }
  for (const shard of resolved.shards) {
    integerOption('worker shards[]', shard, { min: 0, max: cache.shards - 1 });
  }
  integerOption('worker concurrency', resolved.concurrency, { max: 10_000 });
  integerOption('worker lockDurationMs', resolved.lockDurationMs, { min: 100 });
  integerOption('worker stalledIntervalMs', resolved.stalledIntervalMs, { min: 100 });
  integerOption('worker maxStalledCount', resolved.maxStalledCount, { min: 0, max: 1000 });
  integerOption('worker closeTimeoutMs', resolved.closeTimeoutMs, { min: 0 });
  integerOption('worker stuckAfterMs', resolved.stuckAfterMs, { min: 0 });
  if (typeof resolved.sweep !== 'boolean') {
    throw new ConfigurationError(`worker sweep must be true or false, got ${JSON.stringify(resolved.sweep)}`);
  }
  return resolved;
}
