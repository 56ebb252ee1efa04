import type { Queue } from 'bullmq';
import type { TurnBatcher } from './batch.js';
import { type Context, checkId, closeConnection, createContext, entityOf, redactError } from './context.js';
import { createJobBatcher, type FlushJob } from './enqueue.js';
import {
  BacklogFullError,
  ClosedError,
  NotFoundError,
  TimeoutError,
  UnavailableError,
  ValidationError,
  WriteBehindError,
} from './errors.js';
import { FlushWorker, type FlushWorkerOptions } from './flush/worker.js';
import { dataKey, flushJobId, type ShardKeys, shardOf } from './keys.js';
import { BatchLoader } from './loader.js';
import { resolveOptions, type WriteBehindOptions } from './options.js';
import {
  type CounterFields,
  checkValue,
  decodeValue,
  describe,
  type EntityDefinitions,
  type EntityValues,
  encodeValue,
  type FieldSpec,
  MAX_COUNTER,
  type Scalar,
} from './schema.js';
import { pairsToMap, type WriteReply } from './scripts.js';
import type { StoreEntity } from './store/store.js';
import { getOrCreate, pollUntil, sleep } from './util.js';
import { createWriteBatcher, type WriteCall } from './write-batch.js';

/** A delete never creates a record. */
const NO_CREATE = ['0', '0'];
const NO_FIELDS = new Set<string>();

const Status = {
  Ok: 0,
  Cold: 1,
  BacklogFull: 2,
  Overflow: 3,
  NotFound: 4,
  /** From the short increment (`i`): the key is deleted, and the general form must create its record. */
  Deleted: 5,
  /** A batch sent again after a reconnect, applied once already, whose replies are no longer kept. */
  Unknown: 6,
} as const;

export interface WaitOptions {
  /** @defaultValue `10000` */
  timeoutMs?: number;
}

export interface ShardStats {
  shard: number;
  dirtyKeys: number;
  /** Age of the oldest unflushed write in this shard, ms (0 when clean). */
  oldestDirtyAgeMs: number;
  /** Keys whose flush job failed for good and waits for an operator. */
  failedKeys: number;
}

export interface Stats {
  dirtyKeys: number;
  oldestDirtyAgeMs: number;
  failedKeys: number;
  shards: ShardStats[];
}

type Values<E extends EntityDefinitions, N extends keyof E> = EntityValues<E[N]>;

/**
 * The write-behind cache. Writes land in Redis and are acknowledged at once; flush workers persist them to
 * the database later, many writes to one key folded into one row write.
 *
 * @example
 * ```ts
 * const cache = createWriteBehind({
 *   redis: 'redis://127.0.0.1:6379',
 *   store: prismaStore(prisma),
 *   entities: { video: { model: 'Video', fields: { likes: counter(), views: counter() } } },
 * });
 * await cache.increment('video', 'v1', 'likes'); // 1, from Redis; PostgreSQL follows within flush.windowMs
 * ```
 */
export class WriteBehind<E extends EntityDefinitions = EntityDefinitions> {
  readonly #context: Context;
  readonly #loader: BatchLoader;
  readonly #jobBatchers = new Map<number, TurnBatcher<FlushJob, void>>();
  readonly #writeBatchers = new Map<number, TurnBatcher<WriteCall, WriteReply>>();
  #closed = false;

  constructor(options: WriteBehindOptions<E>) {
    this.#context = createContext(resolveOptions(options));
    this.#loader = new BatchLoader(this.#context.options.store);
    this.checkRedis().catch((error: unknown) =>
      this.#context.logger.warn({ err: redactError(error) }, 'could not read Redis maxmemory-policy'),
    );
  }

  /** The flush queues, one per shard: hand them to Bull Board or read their counts. */
  get queues(): Queue[] {
    return this.#context.shards.map((s) => this.#context.queue(s.shard));
  }

  /**
   * Warns (through the logger) and returns the policies when Redis may evict keys: an evicted dirty key is
   * a lost write, so Redis must run with `maxmemory-policy noeviction`.
   */
  async checkRedis(): Promise<string[]> {
    const { redis } = this.#context;
    const nodes = 'nodes' in redis ? redis.nodes('master') : [redis];
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
  async get<N extends keyof E & string>(entity: N, id: string): Promise<Values<E, N> | null> {
    const { spec, key } = this.#address(entity, id);
    let hash = pairsToMap(await this.#redis(() => this.#context.redis.hgetall(key)).then(objectToFlat));
    if (hash.size === 0) {
      const loaded = await this.#loadCold(spec, id);
      // Absent keys are not cached: ids that exist nowhere (typos, probes) must not fill Redis.
      if (loaded[0] === 'absent') return null;
      hash = pairsToMap(
        await this.#redis(() => this.#context.redis.wbFill(key, this.#context.options.cacheTtlMs, ...loaded)),
      );
    }
    return hash.has('_d') ? null : (this.#decode(spec, hash) as Values<E, N>);
  }

  /**
   * Writes some or all fields of a key and returns the whole record. Fields not named keep their value; when
   * the record does not exist they take their `default` (or `null` when nullable), and a field with neither
   * makes the write fail with {@link NotFoundError}.
   */
  async set<N extends keyof E & string>(
    entity: N,
    id: string,
    values: Partial<Values<E, N>>,
  ): Promise<Values<E, N>> {
    const { spec, key, shard } = this.#address(entity, id);
    if (values === null || typeof values !== 'object' || Array.isArray(values)) {
      throw new ValidationError(`${entity} values must be an object of fields, got ${describe(values)}`);
    }
    const named = Object.keys(values);
    if (named.length === 0) throw new ValidationError(`${entity} set needs at least one field`);
    const fields = spec.definition.fields;
    const pairs: string[] = [];
    for (const field of named) {
      const fieldSpec = fields[field];
      if (!fieldSpec) {
        throw new ValidationError(
          `${entity} has no field ${JSON.stringify(field)}; fields: ${Object.keys(fields).join(', ')}`,
        );
      }
      pairs.push(
        field,
        encodeValue(
          fieldSpec,
          checkValue(entity, field, fieldSpec, (values as Record<string, unknown>)[field]),
        ),
      );
    }
    const size = pairs.reduce((n, s) => n + Buffer.byteLength(s, 'utf8'), 0);
    if (size > this.#context.options.limits.maxValueBytes) {
      throw new ValidationError(
        `${entity} write is ${size} bytes encoded; the limit is ${this.#context.options.limits.maxValueBytes} (limits.maxValueBytes)`,
      );
    }
    // A write of every field needs no read-back: the record is exactly what was written.
    const whole = named.length === Object.keys(fields).length;
    const reply = await this.#write(spec, id, key, shard, whole ? 'put' : 'set', new Set(named), [
      String(named.length),
      ...pairs,
    ]);
    return this.#decode(spec, pairsToMap(whole ? pairs : (reply[1] as string[]))) as Values<E, N>;
  }

  /** Adds `by` (default 1, may be negative) to a counter field and returns the new value. */
  async increment<N extends keyof E & string>(
    entity: N,
    id: string,
    field: CounterFields<E[N]>,
    by = 1,
  ): Promise<number> {
    const { spec, key, shard } = this.#address(entity, id);
    const fieldSpec = spec.definition.fields[field as string];
    if (fieldSpec?.kind !== 'counter') {
      throw new ValidationError(`${entity}.${String(field)} is not a counter field`);
    }
    if (typeof by !== 'number' || !Number.isSafeInteger(by)) {
      throw new ValidationError(
        `increment of ${entity}.${String(field)} must be a safe integer, got ${describe(by)}`,
      );
    }
    const reply = await this.#write(spec, id, key, shard, 'incr', NO_FIELDS, [
      field as string,
      String(by),
      String(MAX_COUNTER),
    ]);
    return Number(reply[1]);
  }

  /** Deletes a key. Returns false when there was nothing to delete. */
  async delete<N extends keyof E & string>(entity: N, id: string): Promise<boolean> {
    const { spec, key, shard } = this.#address(entity, id);
    const reply = await this.#write(spec, id, key, shard, 'del', null, []);
    return reply[1] === 1;
  }

  /**
   * Resolves once the database holds the key's current version (everything acknowledged so far), for the
   * few flows that must read their own write from the database. Needs a running flush worker.
   */
  async flushed<N extends keyof E & string>(entity: N, id: string, options: WaitOptions = {}): Promise<void> {
    const { key } = this.#address(entity, id);
    const { redis } = this.#context;
    const target = Number(await this.#redis(() => redis.hget(key, '_v')));
    const timeoutMs = options.timeoutMs ?? 10_000;
    const done = await pollUntil(async () => {
      // The last version flushed; no hash once a flushed key has expired or a flushed delete is gone.
      const flushedVersion = await redis.hget(key, '_fv');
      return flushedVersion === null || Number(flushedVersion) >= target ? true : undefined;
    }, Date.now() + timeoutMs);
    if (!done)
      throw new TimeoutError(`${entity} ${JSON.stringify(id)} was not flushed within ${timeoutMs} ms`);
  }

  /** Resolves when no key is dirty: everything acknowledged is in the database. Needs running flush workers. */
  async drain(options: WaitOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 30_000;
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

  /** Backlog figures for health checks and metrics. */
  async stats(): Promise<Stats> {
    const { redis, shards } = this.#context;
    const now = Date.now();
    const perShard = await Promise.all(
      shards.map(async (s): Promise<ShardStats> => {
        const [[, dirtyKeys], [, oldest], [, failedKeys]] = (await redis
          .multi()
          .zcard(s.dirty)
          .zrange(s.dirty, '0', '0', 'WITHSCORES')
          .hlen(s.failed)
          .exec()) as [[unknown, number], [unknown, string[]], [unknown, number]];
        const oldestScore = oldest[1] === undefined ? now : Number(oldest[1]);
        return { shard: s.shard, dirtyKeys, oldestDirtyAgeMs: Math.max(0, now - oldestScore), failedKeys };
      }),
    );
    return {
      dirtyKeys: perShard.reduce((n, s) => n + s.dirtyKeys, 0),
      oldestDirtyAgeMs: Math.max(0, ...perShard.map((s) => s.oldestDirtyAgeMs)),
      failedKeys: perShard.reduce((n, s) => n + s.failedKeys, 0),
      shards: perShard,
    };
  }

  /** Starts a flush worker in this process over all shards (or `options.shards`). */
  createWorker(options: FlushWorkerOptions = {}): FlushWorker {
    return new FlushWorker(this.#context, options);
  }

  /** Closes the queues and, when the library opened it, the Redis connection. Workers are closed separately. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#writeBatchers.values()].map((b) => b.settled()));
    await Promise.all([...this.#jobBatchers.values()].map((b) => b.settled()));
    await this.#context.closeQueues();
    if (this.#context.ownsRedis) await closeConnection(this.#context.redis);
  }

  #address(entity: string, id: string): { spec: StoreEntity; key: string; shard: ShardKeys } {
    if (this.#closed) throw new ClosedError('write-behind cache');
    const spec = entityOf(this.#context, entity);
    checkId(this.#context, entity, id);
    const shard = this.#context.shards[shardOf(entity, id, this.#context.options.shards)] as ShardKeys;
    return { spec, key: dataKey(shard, entity, id), shard };
  }

  /**
   * Runs the write script; on a cold key loads it and runs again with the loaded state; applies the backlog
   * policy; enqueues the flush job when the write made the key dirty.
   */
  async #write(
    spec: StoreEntity,
    id: string,
    key: string,
    shard: ShardKeys,
    op: 'set' | 'put' | 'incr' | 'del',
    named: Set<string> | null,
    opArgs: string[],
  ): Promise<WriteReply> {
    const { options } = this.#context;
    const writes = this.#writeBatcher(shard);
    let fill: string[] = ['', '0', '0'];
    const deadline = Date.now() + options.backlog.waitTimeoutMs;
    // An increment tries the short form first; a cold or deleted key takes the general one.
    let fast = op === 'incr';
    for (let backoff = 5; ; ) {
      const reply = await this.#redis(() =>
        writes.submit(
          fast
            ? { key, op: 'i', args: opArgs }
            : {
                key,
                op,
                args: [
                  ...fill,
                  // Built only here: an increment the short form serves never needs them.
                  ...(named ? this.#createArgs(spec, named) : NO_CREATE),
                  ...opArgs,
                ],
              },
        ),
      );
      switch (reply[0]) {
        case Status.Ok:
          if (reply[3] === 1) await this.#enqueue(spec.name, id, shard, reply[2] as number);
          return reply;
        case Status.Cold:
          fill = await this.#loadCold(spec, id);
          fast = false;
          continue;
        case Status.Deleted:
          fast = false;
          continue;
        case Status.Unknown:
          throw new UnavailableError(
            `the connection to Redis was lost while this write to ${spec.name} ${JSON.stringify(id)} was in flight; it may have been applied, and its reply is lost`,
          );
        case Status.BacklogFull:
          if (options.backlog.policy === 'wait' && Date.now() < deadline) {
            await sleep(Math.min(backoff, deadline - Date.now()));
            backoff = Math.min(backoff * 2, 100);
            continue;
          }
          throw new BacklogFullError(Number(reply[1]), options.backlog.limit);
        case Status.Overflow:
          throw new ValidationError(
            `${spec.name}.${opArgs[0]} would leave the range ±(2^53-1): it is ${reply[1]}, the increment is ${opArgs[1]}`,
            'COUNTER_OVERFLOW',
          );
        case Status.NotFound: {
          const missing = this.#requiredFields(spec).filter((f) => !named?.has(f));
          throw new NotFoundError(
            `${spec.name} ${JSON.stringify(id)} does not exist, and a write that creates it must name ${missing.join(', ')} (no default)`,
          );
        }
        default:
          throw new WriteBehindError(
            'UNAVAILABLE',
            `unexpected reply from the write script: ${JSON.stringify(reply)}`,
          );
      }
    }
  }

  /** Arguments for a write that may create the record: count of required fields it leaves out, then defaults. */
  #createArgs(spec: StoreEntity, named: Set<string>): string[] {
    let missing = 0;
    const pairs: string[] = [];
    for (const [field, fieldSpec] of Object.entries(spec.definition.fields) as [string, FieldSpec][]) {
      if (named.has(field) || fieldSpec.kind === 'counter') continue;
      if (fieldSpec.default !== undefined) pairs.push(field, encodeValue(fieldSpec, fieldSpec.default));
      else if (fieldSpec.nullable) pairs.push(field, encodeValue(fieldSpec, null));
      else missing++;
    }
    return [String(missing), String(pairs.length / 2), ...pairs];
  }

  #requiredFields(spec: StoreEntity): string[] {
    return Object.entries(spec.definition.fields as Record<string, FieldSpec>)
      .filter(([, f]) => f.kind !== 'counter' && f.default === undefined && !f.nullable)
      .map(([name]) => name);
  }

  /** Loads a key from the database as fill arguments: mode, version, pair count, pairs. */
  async #loadCold(spec: StoreEntity, id: string): Promise<string[]> {
    let loaded: Awaited<ReturnType<BatchLoader['load']>>;
    try {
      loaded = await this.#loader.load(spec, id);
    } catch (error) {
      throw new UnavailableError(`could not load ${spec.name} ${JSON.stringify(id)} from the database`, {
        cause: error,
      });
    }
    if (!loaded.values) return ['absent', String(loaded.version), '0'];
    const pairs: string[] = [];
    for (const [field, fieldSpec] of Object.entries(spec.definition.fields) as [string, FieldSpec][]) {
      const value = loaded.values[field];
      if (value !== undefined) pairs.push(field, encodeValue(fieldSpec, value as Scalar));
    }
    return ['row', String(loaded.version), String(pairs.length / 2), ...pairs];
  }

  /** The shard's write batcher: the writes of one event-loop turn go to Redis as one script call. */
  #writeBatcher(shard: ShardKeys): TurnBatcher<WriteCall, WriteReply> {
    const { redis, options } = this.#context;
    return getOrCreate(this.#writeBatchers, shard.shard, () =>
      createWriteBatcher(redis, shard, () => [
        Date.now(),
        options.backlog.limit,
        options.cacheTtlMs > 0 ? '1' : '0',
      ]),
    );
  }

  async #enqueue(entity: string, id: string, shard: ShardKeys, version: number): Promise<void> {
    const batcher = getOrCreate(this.#jobBatchers, shard.shard, () =>
      createJobBatcher(this.#context.queue(shard.shard)),
    );
    try {
      await batcher.submit({
        name: 'flush',
        data: { entity, id },
        opts: {
          jobId: flushJobId(entity, id, version),
          delay: this.#context.options.flush.windowMs,
        },
      });
    } catch (error) {
      // The write is already acknowledged by Redis and the key is dirty; the sweep enqueues it later.
      this.#context.logger.warn(
        { err: redactError(error), entity, id },
        'could not enqueue a flush job; the sweep will retry',
      );
    }
  }

  #decode(spec: StoreEntity, hash: Map<string, string>): Record<string, Scalar> {
    const out: Record<string, Scalar> = {};
    for (const [field, fieldSpec] of Object.entries(spec.definition.fields) as [string, FieldSpec][]) {
      out[field] = decodeValue(fieldSpec, hash.get(field));
    }
    return out;
  }

  /** Redis failures surface as {@link UnavailableError}; the library's own errors pass through. */
  async #redis<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof WriteBehindError) throw error;
      throw new UnavailableError(`Redis command failed: ${(error as Error).message}`, {
        cause: redactError(error),
      });
    }
  }
}

function objectToFlat(record: Record<string, string>): string[] {
  return Object.entries(record).flat();
}

/** Creates a write-behind cache. See {@link WriteBehindOptions} for every option and its default. */
export function createWriteBehind<E extends EntityDefinitions>(
  options: WriteBehindOptions<E>,
): WriteBehind<E> {
  return new WriteBehind(options);
}
