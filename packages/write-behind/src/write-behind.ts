import type { Queue } from 'bullmq';
import {
  type Context,
  callRedis,
  closeConnection,
  createContext,
  entityOf,
  mastersOf,
  redactError,
} from './context.js';
import {
  ClosedError,
  ConfigurationError,
  TimeoutError,
  UnavailableError,
  ValidationError,
} from './errors.js';
import { FlushWorker } from './flush/worker.js';
import { checkHealth, type Health, type HealthOptions } from './health.js';
import {
  type DurabilityLevel,
  type FlushWorkerOptions,
  resolveOptions,
  resolveWorkerOptions,
  type WriteBehindOptions,
} from './options.js';
import type { RankedEntry } from './ranking/merge.js';
import { Rankings, type RankPosition } from './ranking/ranking.js';
import { decodeRecord, describeValue, encodeValues } from './schema/codec.js';
import { encodeEvent } from './schema/event-codec.js';
import type {
  AppendEntityNames,
  AppendInput,
  CounterFields,
  EntityDefinitions,
  EntityInput,
  EntityValues,
  IdOf,
  RankedFields,
  StateEntityNames,
} from './schema/fields.js';
import { decodeId, encodeId } from './schema/id-codec.js';
import type { ResolvedEntity, ResolvedField } from './schema/resolve.js';
import { SchemaCheck } from './schema-check.js';
import { pairsToMap } from './scripts.js';
import { readStats, type Stats } from './stats.js';
import { pollUntil, SingleFlight } from './util.js';
import { isDurabilityLevel } from './write/durability.js';
import { decodeFillReply, fillCall } from './write/protocol.js';
import { type Address, MAX_STALE_LOADS, Writer } from './write/writer.js';

export interface WaitOptions {
  /** @defaultValue `waits.flushedTimeoutMs` (10 s) for `flushed`, `waits.drainTimeoutMs` (30 s) for `drain` and `flush` */
  timeoutMs?: number;
}

/** Options of one write (`set`, `increment`, `delete`). */
export interface WriteOptions {
  /**
   * When this write is acknowledged, overriding the cache's `durability` (see {@link DurabilityLevel}). A
   * write batch waits for its replicas when any write in it asks; only the writes that asked get a
   * {@link NotReplicatedError}. @defaultValue the cache's `durability`
   */
  durability?: DurabilityLevel;
}

export type { BacklogFigures, ShardStats, Stats } from './stats.js';

type Values<E extends EntityDefinitions, N extends keyof E> = EntityValues<E[N]>;

export type { RankedEntry } from './ranking/merge.js';

export type { RankPosition };

/**
 * The write-behind cache. Writes land in Redis and are acknowledged at once; flush workers persist them to
 * the database later, many writes to one key folded into one row write.
 *
 * @example
 * ```ts
 * const cache = createWriteBehind({
 *   redis: 'redis://127.0.0.1:6379',
 *   prisma,
 *   entities: {
 *     video: { model: 'Video', fields: { likes: counter(), views: counter() } },
 *     player: { model: 'Player', key: { id: 'int' }, fields: { score: counter(), name: string() } },
 *   },
 * });
 * await cache.ready; // optional: the entities matched the database
 * await cache.increment('video', 'v1', 'likes'); // 1, from Redis; PostgreSQL follows within flush.windowMs
 * await cache.set('player', 42, { name: 'Ada' });
 * ```
 */
export class WriteBehind<E extends EntityDefinitions = EntityDefinitions> {
  readonly #context: Context;
  readonly #writer: Writer;
  readonly #schema: SchemaCheck;
  readonly #rankings: Rankings;
  readonly #coldReads = new SingleFlight<string, Map<string, string> | undefined>();
  #closed = false;
  /**
   * Resolves once the entities have been checked against the live database (tables, columns and their
   * types, the key's unique constraint, the version column, the tombstone table), having passed the Prisma
   * schema already in the constructor; rejects with a {@link ConfigurationError} naming what differs, after
   * which every call is refused with it. While the database cannot be reached it stays pending and the check
   * is retried; writes are accepted meanwhile. It says nothing of Redis: see {@link WriteBehind.health}.
   */
  readonly ready: Promise<void>;

  /** Checks the options and the entities against the Prisma schema (throwing a `ConfigurationError`), then connects. */
  constructor(options: WriteBehindOptions<E>) {
    this.#context = createContext(resolveOptions(options));
    this.#writer = new Writer(this.#context);
    this.#schema = new SchemaCheck(this.#context);
    this.#rankings = new Rankings(this.#context);
    contexts.set(this as object, { context: this.#context, writer: this.#writer, schema: this.#schema });
    this.ready = this.#schema.verified;
    this.checkRedis().catch((error: unknown) =>
      this.#context.logger.warn({ err: redactError(error) }, 'could not read Redis maxmemory-policy'),
    );
  }

  /** The flush queues, one per shard: hand them to Bull Board (see `@write-behind/core/bull-board`). */
  get queues(): Queue[] {
    return this.#context.shards.map((s) => this.#context.queue(s.shard));
  }

  /**
   * Warns (through the logger) and returns the policies when Redis may evict keys: an evicted dirty key is
   * a lost write, so Redis must run with `maxmemory-policy noeviction`.
   */
  async checkRedis(): Promise<string[]> {
    const { redis } = this.#context;
    const nodes = mastersOf(redis);
    const policies = await Promise.all(
      nodes.map(async (node) => {
        const reply = (await node.config('GET', 'maxmemory-policy')) as string[];
        return reply[1] ?? 'unknown';
      }),
    );
    const bad = policies.filter((p) => p !== 'noeviction');
    if (bad.length > 0) {
      this.#context.logger.warn(
        { maxmemoryPolicy: bad },
        `Redis maxmemory-policy is ${bad.join(', ')}, not noeviction: Redis may evict dirty keys under memory pressure, ` +
          'and an evicted dirty key is a lost write. Run `CONFIG SET maxmemory-policy noeviction`.',
      );
    }
    return policies;
  }

  /** Reads a key: from Redis, or on a miss from the database (one load per key however many callers wait). */
  async get<N extends StateEntityNames<E>>(entity: N, id: IdOf<E[N]>): Promise<Values<E, N> | null> {
    const address = await this.#address(entity, id);
    const { redis, options } = this.#context;
    // Under a memory budget a read marks the key used, as a write does, so the keys read most stay.
    const flat = await callRedis(() =>
      options.memory.maxKeys > 0 || options.memory.maxBytes > 0
        ? redis.wbRead(address.key, address.shard.clean, Date.now())
        : redis.hgetall(address.key).then(objectToFlat),
    );
    let hash = pairsToMap(flat);
    // A key Redis lacks, or holds partly (made by adds alone), is read from the database too.
    if (hash.size === 0 || hash.has('_p')) {
      // Readers that found the key missing join the first one's load and fill: their replies arrive before
      // the fill's, on the same connection, so none of them starts a load of its own.
      const loaded = await this.#coldReads.run(address.key, () => this.#readCold(address, hash.size > 0));
      if (!loaded) return null;
      hash = loaded;
    }
    return hash.has('_d') ? null : (decodeRecord(address.entity, hash) as Values<E, N>);
  }

  /**
   * Writes some or all fields of a key and returns the whole record. Fields not named keep their value; when
   * the record does not exist they take their `default` (or `null` when nullable), and a field with neither
   * makes the write fail with {@link NotFoundError}. A value the column's type would refuse (out of range,
   * too long, not a member of the enum, an invalid date) is a {@link ValidationError}, and nothing is written.
   */
  async set<N extends StateEntityNames<E>>(
    entity: N,
    id: IdOf<E[N]>,
    values: EntityInput<E[N]>,
    options: WriteOptions = {},
  ): Promise<Values<E, N>> {
    const durability = this.#durability(options);
    const address = await this.#address(entity, id);
    const resolved = address.entity;
    const { pairs, named } = encodeValues(resolved, values, this.#context.options.limits.maxValueBytes);
    // A write of every field needs no read-back: the record is exactly what was written.
    const whole = named.size === resolved.fields.length;
    const reply = await this.#writer.write(address, { op: whole ? 'put' : 'set', pairs, named }, durability);
    return decodeRecord(resolved, pairsToMap(whole ? pairs : (reply.value as string[]))) as Values<E, N>;
  }

  /**
   * Adds `by` (default 1, may be negative) to a counter field and returns the new value. A result outside the
   * column's range (±2^31 for `Int`, ±(2^53-1) for `BigInt`) is refused with a `COUNTER_OVERFLOW`
   * {@link ValidationError}, and the counter keeps its value.
   */
  async increment<N extends StateEntityNames<E>>(
    entity: N,
    id: IdOf<E[N]>,
    field: CounterFields<E[N]>,
    by = 1,
    options: WriteOptions = {},
  ): Promise<number> {
    const durability = this.#durability(options);
    const address = await this.#address(entity, id);
    const resolved = this.#counter(address, field, by);
    const reply = await this.#writer.write(address, { op: 'incr', field: resolved, by }, durability);
    return Number(reply.value);
  }

  /**
   * Adds `by` (default 1, may be negative) to a counter field without answering its new value, so it never
   * waits on the database: acknowledged from Redis alone, for a key Redis holds or not, while the database is
   * up or down. Redis keeps what was added since the key's last flush, and the flush applies it as
   * `column = column + added` (inserting the row when there is none, its other columns at their defaults).
   * Prefer it to {@link WriteBehind.increment} when the caller does not need the total (views, telemetry):
   * `increment` on a key Redis lacks reads the stored value first.
   *
   * What is added since the last flush is refused with a `COUNTER_OVERFLOW` {@link ValidationError} when it
   * alone spans more than the column's whole range; a total the column cannot hold is found only by the
   * flush, which then fails for that key alone, naming it, for an operator (as does an add to a record that
   * has no row and whose other fields have no default).
   *
   * @example
   * ```ts
   * await cache.add('video', 'v1', 'views'); // no read, even for a video Redis evicted long ago
   * ```
   */
  async add<N extends StateEntityNames<E>>(
    entity: N,
    id: IdOf<E[N]>,
    field: CounterFields<E[N]>,
    by = 1,
    options: WriteOptions = {},
  ): Promise<void> {
    const durability = this.#durability(options);
    const address = await this.#address(entity, id);
    const resolved = this.#counter(address, field, by);
    if (!this.#context.store.add) {
      throw new ConfigurationError(
        'add() needs a store with add(): use a Prisma Client, or add it to your store',
      );
    }
    await this.#writer.write(address, { op: 'add', field: resolved, by }, durability);
  }

  /** Deletes a key. Returns false when there was nothing to delete. */
  async delete<N extends StateEntityNames<E>>(
    entity: N,
    id: IdOf<E[N]>,
    options: WriteOptions = {},
  ): Promise<boolean> {
    const durability = this.#durability(options);
    const reply = await this.#writer.write(await this.#address(entity, id), { op: 'del' }, durability);
    return reply.value === 1;
  }

  /**
   * The `n` keys (1 to 1000) with the highest values of a ranked counter (`counter({ ranked: true })`),
   * highest first, answered from Redis. Equal values share a rank and are listed by id, the larger first
   * (bytewise, the order Redis keeps). A ranking's first use builds it from the database (every row, in
   * pages) and from the keys dirty in Redis; later calls cost one Redis call per shard. Each shard is read at
   * its own instant: with several shards, an answer may mix writes made during the call.
   *
   * @example
   * ```ts
   * await cache.top('video', 'likes', 10); // [{ id: 'v7', value: 1042, rank: 1 }, ...]
   * ```
   */
  async top<N extends keyof E & string>(
    entity: N,
    field: RankedFields<E[N]>,
    n: number,
  ): Promise<RankedEntry<IdOf<E[N]>>[]> {
    const resolved = await this.#entity(entity);
    const entries = await this.#rankings.top(resolved, this.#rankings.field(resolved, field), n);
    return entries.map((e) => ({ id: decodeId(resolved, e.id) as IdOf<E[N]>, value: e.value, rank: e.rank }));
  }

  /**
   * The rank of a key in a ranked counter's ranking (1 for the highest value; equal values share a rank) and
   * its value, or `null` when the key has no record. Answered from Redis (see {@link WriteBehind.top}).
   */
  async rank<N extends keyof E & string>(
    entity: N,
    field: RankedFields<E[N]>,
    id: IdOf<E[N]>,
  ): Promise<RankPosition | null> {
    const address = await this.#address(entity, id);
    return this.#rankings.rank(address.entity, this.#rankings.field(address.entity, field), address.id);
  }

  /**
   * Appends an event to a key of an append entity (an entity declared with `append`): acknowledged once Redis
   * holds it, inserted later as a row of its own, never folded into another; never reads the database. Returns
   * the event's sequence number within its key, which is also its row's `append.sequence` column: numbers rise
   * by one in the order Redis acknowledged the events while Redis holds the key, and a key Redis does not hold
   * starts from its shard's clock (a number like 1796333631204733), above every number given before. The events a key gathers within the flush window travel in its one flush job,
   * inserted with one multi-row `INSERT ... ON CONFLICT DO NOTHING`, so a replayed flush inserts no row twice.
   * A field the column's type would refuse is a {@link ValidationError}; with too many events waiting in the
   * shard (`backlog.eventLimit`) a {@link BacklogFullError}; either way nothing is written.
   *
   * @example
   * ```ts
   * await cache.append('videoEvent', 'v1', { type: 'click', context: { x: 3 }, createdAt: new Date() }); // 1
   * ```
   */
  async append<N extends AppendEntityNames<E>>(
    entity: N,
    id: IdOf<E[N]>,
    event: AppendInput<E[N]>,
  ): Promise<number> {
    const address = await this.#address(entity, id, 'append');
    const encoded = encodeEvent(address.entity, event, this.#context.options.limits.maxValueBytes);
    const reply = await this.#writer.write(address, { op: 'append', event: encoded });
    return Number(reply.value);
  }

  /**
   * Resolves once the database holds the key's current version (everything acknowledged so far), for the
   * few flows that must read their own write from the database. Needs a running flush worker.
   */
  async flushed<N extends keyof E & string>(
    entity: N,
    id: IdOf<E[N]>,
    options: WaitOptions = {},
  ): Promise<void> {
    const { key, id: canonical } = await this.#address(entity, id, 'any');
    const { redis } = this.#context;
    const target = Number(await callRedis(() => redis.hget(key, '_v')));
    const timeoutMs = options.timeoutMs ?? this.#context.options.waits.flushedTimeoutMs;
    const done = await pollUntil(async () => {
      // The last version flushed; no hash once a flushed key has expired or a flushed delete is gone.
      const flushedVersion = await redis.hget(key, '_fv');
      return flushedVersion === null || Number(flushedVersion) >= target ? true : undefined;
    }, Date.now() + timeoutMs);
    if (!done)
      throw new TimeoutError(`${entity} ${JSON.stringify(canonical)} was not flushed within ${timeoutMs} ms`);
  }

  /** Resolves when no key is dirty: everything acknowledged is in the database. Needs running flush workers. */
  async drain(options: WaitOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.#context.options.waits.drainTimeoutMs;
    const done = await pollUntil(
      async () => ((await this.stats()).dirtyKeys === 0 ? true : undefined),
      Date.now() + timeoutMs,
    );
    if (!done) {
      const stats = await this.stats();
      throw new TimeoutError(
        `drain: ${stats.dirtyKeys} keys still dirty after ${timeoutMs} ms (${stats.failedKeys} with failed jobs waiting for an operator)`,
      );
    }
  }

  /**
   * Flushes everything now rather than at the end of each key's window (shutdown, tests): promotes the
   * delayed flush jobs, then waits like {@link WriteBehind.drain}. Needs running flush workers.
   */
  async flush(options: WaitOptions = {}): Promise<void> {
    await Promise.all(this.queues.map((queue) => queue.promoteJobs()));
    await this.drain(options);
  }

  /**
   * Whether Redis and the database answer now, each probed on its own within `timeoutMs` (Redis with `PING`,
   * the database with the live check of the entities that `ready` waits for), and what that check has
   * decided (`database.schema`). `ready` covers the database alone: use this for Redis. Errors are
   * messages with any credentials masked. Never throws for an outage: it reports it.
   *
   * @example
   * ```ts
   * const health = await cache.health();
   * // { ok: false, redis: { ok: false, error: 'no answer within 2000 ms' },
   * //   database: { ok: true, latencyMs: 4, schema: 'verified' } }
   * ```
   */
  async health(options: HealthOptions = {}): Promise<Health> {
    return checkHealth(this.#context, this.#schema, options);
  }

  /** Backlog figures for health checks and metrics (see `stats.ts`). */
  stats(): Promise<Stats> {
    return readStats(this.#context);
  }

  /**
   * Starts a flush worker in this process over all shards (or `options.shards`). Its `ready` rejects with the
   * cache's `ConfigurationError` when the database does not match the entities, and it then takes no job.
   */
  createWorker(options: FlushWorkerOptions = {}): FlushWorker {
    const { shards, flush } = this.#context.options;
    return new FlushWorker(
      this.#context,
      resolveWorkerOptions(options, { shards, concurrency: flush.concurrency }),
      this.#schema,
    );
  }

  /** Closes the queues and, when the library opened it, the Redis connection. Workers are closed separately. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#schema.stop();
    this.#writer.close();
    await this.#writer.settled();
    await this.#context.closeQueues();
    if (this.#context.ownsRedis) await closeConnection(this.#context.redis);
  }

  /**
   * Loads a key Redis lacks (or holds partly) and caches it; `undefined` when the record exists nowhere. A key
   * absent from both is not cached: ids that exist nowhere (typos, probes) must not fill Redis.
   */
  async #readCold(address: Address, held: boolean): Promise<Map<string, string> | undefined> {
    const { redis, options } = this.#context;
    const create = this.#writer.creationArgs(address.entity, new Set());
    for (let loads = 1; ; loads++) {
      const fill = await this.#writer.loadFill(address.entity, address.id);
      if (fill[0] === 'absent' && !held) return undefined;
      const { keys, args } = fillCall(
        address.shard,
        address.key,
        { ttlMs: options.cacheTtlMs, now: Date.now(), ...this.#writer.budget() },
        fill,
        create,
      );
      const result = decodeFillReply(
        await callRedis(() => redis.wbFill(keys.length, ...(keys as [string, ...string[]]), ...args)),
      );
      if (result.status === 'ok') return pairsToMap(result.hash);
      if (result.status === 'absent') return undefined;
      if (result.status === 'uncached') {
        return fill[0] === 'absent' ? undefined : pairsToMap(fill.slice(3));
      }
      if (loads >= MAX_STALE_LOADS) {
        throw new UnavailableError(
          `${address.entity.name} ${JSON.stringify(address.id)} was flushed again during each of ${loads} loads; try again`,
        );
      }
    }
  }

  /** The counter an increment or add names, checked with its amount. */
  #counter(address: Address, field: unknown, by: unknown): ResolvedField {
    const { entity } = address;
    const resolved = entity.fieldsByName.get(field as string);
    if (resolved?.kind !== 'counter') {
      throw new ValidationError(`${entity.name}.${String(field)} is not a counter field`);
    }
    if (typeof by !== 'number' || !Number.isSafeInteger(by)) {
      throw new ValidationError(
        `increment of ${entity.name}.${String(field)} must be a safe integer, got ${describeValue(by)}`,
      );
    }
    return resolved;
  }

  /** A write's durability level: its own, checked, or the cache's. */
  #durability(options: WriteOptions): DurabilityLevel {
    const { durability, replication } = this.#context.options;
    if (options === null || typeof options !== 'object') {
      throw new ValidationError(`write options must be an object, got ${describeValue(options)}`);
    }
    if (options.durability === undefined) return durability;
    if (!isDurabilityLevel(options.durability)) {
      throw new ValidationError(
        `durability must be 'memory', 'replicas' or 'fsync', got ${describeValue(options.durability)}`,
      );
    }
    if (options.durability === 'replicas' && replication.replicas === 0) {
      throw new ValidationError(
        "durability 'replicas' needs replication.replicas of 1 or more; this cache has 0 (which would confirm nothing)",
      );
    }
    return options.durability;
  }

  /** Checks the entity, and waits for the schema check's first answer (once, at start). */
  async #entity(entity: string): Promise<ResolvedEntity> {
    const resolved = this.#open(entity);
    await this.#matched();
    return resolved;
  }

  /**
   * Checks the entity and the id, and waits for the schema check's first answer (once, at start). `use`: which
   * entities the call serves, those whose state the cache holds or the append ones (or both).
   */
  async #address(entity: string, id: unknown, use: 'state' | 'append' | 'any' = 'state'): Promise<Address> {
    const resolved = this.#open(entity);
    if (use !== 'any' && (resolved.append !== undefined) !== (use === 'append')) {
      throw new ValidationError(
        resolved.append
          ? `${entity} is an append entity: its events are written with append(), never read, set or deleted through the cache`
          : `${entity} is not an append entity (declare it with \`append: { sequence }\`): write it with set() or increment()`,
      );
    }
    const canonical = encodeId(resolved, id, this.#context.options.limits.maxIdBytes);
    await this.#matched();
    return this.#writer.address(resolved, canonical);
  }

  /** The entity a call names, while the cache is open. */
  #open(entity: string): ResolvedEntity {
    if (this.#closed) throw new ClosedError('write-behind cache');
    return entityOf(this.#context, entity);
  }

  /** Waits for the schema check's first answer (once, at start); a mismatch refuses every call. */
  async #matched(): Promise<void> {
    if (this.#schema.pending) await this.#schema.firstAttempt;
    const mismatch = this.#schema.error;
    if (mismatch) throw mismatch;
  }
}

/** What the library's own tools (the operator's API, the Bull Board helper) reach inside a cache. */
export interface CacheInternals {
  context: Context;
  writer: Writer;
  schema: SchemaCheck;
}
const contexts = new WeakMap<object, CacheInternals>();

/** The internals of a cache this library made; for the library's own modules, never documented for users. */
export function internalsOf(cache: object): CacheInternals {
  const found = contexts.get(cache);
  if (!found) throw new TypeError('not a write-behind cache made by createWriteBehind');
  return found;
}

function objectToFlat(record: Record<string, string>): string[] {
  return Object.entries(record).flat();
}

/**
 * Creates a write-behind cache. Throws a {@link ConfigurationError} at once when an option is wrong or an
 * entity does not fit the Prisma schema; see {@link WriteBehindOptions} for every option and its default.
 */
export function createWriteBehind<const E extends EntityDefinitions>(
  options: WriteBehindOptions<E>,
): WriteBehind<E> {
  return new WriteBehind(options);
}
