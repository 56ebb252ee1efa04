import { type JobsOptions, Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { ConfigurationError, UnavailableError, ValidationError, WriteBehindError } from './errors.js';
import { type ShardKeys, shardKeys } from './keys.js';
import { dedupLogger } from './log-dedup.js';
import { type ShardBudget, shardBudget } from './memory-share.js';
import type { Logger, ResolvedOptions } from './options.js';
import { checkRankable } from './ranking/rankable.js';
import { encodeField } from './schema/codec.js';
import { type ResolvedEntity, resolveEntities } from './schema/resolve.js';
import { defineScripts } from './scripts.js';
import { type PrismaClientLike, PrismaStore } from './store/prisma-store.js';
import type { Store } from './store/store.js';

/** What the cache, its workers and the sweep share; built once per `createWriteBehind`. */
export interface Context {
  options: ResolvedOptions;
  redis: Redis | Cluster;
  /** True when the library opened `redis` itself and must close it. */
  ownsRedis: boolean;
  shards: ShardKeys[];
  /** The entities, resolved against the store's data model (the Prisma schema). */
  entities: Map<string, ResolvedEntity>;
  store: Store;
  logger: Logger;
  /** Each shard's part of the memory budget. */
  budget: ShardBudget;
  /** The flush queue of each shard, created on first use. */
  queue(shard: number): Queue;
  closeQueues(): Promise<void>;
}

/** Ends a connection: QUIT when connected (lets replies drain), a hard disconnect otherwise (QUIT would wait for ever). */
export async function closeConnection(redis: Redis | Cluster): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}

/** A copy of an error that is safe to log or to wrap as a cause: its name, message, code and stack only. */
export function redactError(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  // ioredis attaches the failed command to its errors, and `HELLO 3 AUTH user <password>` is a command:
  // keep only what says what went wrong.
  const copy = new Error(error.message);
  copy.name = error.name;
  if (error.stack) copy.stack = error.stack;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') Object.assign(copy, { code });
  return copy;
}

/** A connection for commands that may wait (BullMQ workers): same server, `maxRetriesPerRequest: null`. */
export function duplicateForWorker(redis: Redis | Cluster): Redis | Cluster {
  if (redis instanceof Cluster) {
    return redis.duplicate(undefined, {
      redisOptions: { ...redis.options.redisOptions, maxRetriesPerRequest: null },
    });
  }
  return redis.duplicate({ maxRetriesPerRequest: null });
}

/**
 * Resolves the entities (against the Prisma schema when there is one: a mismatch throws a
 * `ConfigurationError` here, before any connection is opened), then connects.
 */
export function createContext(options: ResolvedOptions): Context {
  const store =
    options.store ??
    new PrismaStore(options.prisma as PrismaClientLike, { tombstoneTable: options.tombstoneTable });
  const entities = resolveEntities(options.entities, store.dataModel, encodeField);
  const appendOnly = [...entities.values()].find((e) => e.append);
  if (appendOnly && !store.append) {
    throw new ConfigurationError(
      `entities.${appendOnly.name} is an append entity, but the store has no append(): use a Prisma Client, or add append to your store`,
    );
  }
  checkRankable(entities.values(), store);
  const rankedFields = [...entities.values()].reduce(
    (n, e) => n + e.fields.filter((f) => f.ranked).length,
    0,
  );
  const budget = shardBudget(options.memory, options.shards, rankedFields);
  const ownsRedis = typeof options.redis === 'string';
  const redis =
    typeof options.redis === 'string'
      ? new Redis(options.redis, { maxRetriesPerRequest: options.redisMaxRetriesPerRequest })
      : options.redis;
  // Without a listener ioredis prints every reconnect error itself; route them to the logger instead.
  if (ownsRedis)
    redis.on('error', (error: Error) =>
      dedupLogger(options.logger).warn({ err: redactError(error) }, 'Redis connection error'),
    );
  defineScripts(redis);
  const shards = Array.from({ length: options.shards }, (_, i) =>
    shardKeys(options.prefix, i, options.shards),
  );
  // Only what BullMQ reads from the job itself: every byte here is stored once per dirty key. Retention
  // (`removeOnComplete`, `removeOnFail`) is a Worker option, read when the job carries none.
  const jobOptions: JobsOptions = {
    attempts: options.flush.attempts,
    backoff: { type: 'exponential', delay: options.flush.backoffMs, jitter: 0.5 },
  };
  const queues = new Map<number, Queue>();
  return {
    options,
    redis,
    ownsRedis,
    shards,
    entities,
    store,
    logger: options.logger,
    budget,
    queue(shard) {
      let queue = queues.get(shard);
      if (!queue) {
        const keys = shards[shard] as ShardKeys;
        queue = new Queue(keys.queueName, {
          connection: redis,
          prefix: keys.tag,
          defaultJobOptions: jobOptions,
        });
        queue.on('error', (error) =>
          dedupLogger(options.logger).error({ err: redactError(error), shard }, 'flush queue error'),
        );
        queues.set(shard, queue);
      }
      return queue;
    },
    async closeQueues() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      queues.clear();
    },
  };
}

export function entityOf(context: Context, name: unknown): ResolvedEntity {
  const entity = typeof name === 'string' ? context.entities.get(name) : undefined;
  if (!entity) {
    throw new ValidationError(
      `unknown entity ${JSON.stringify(name)}; defined entities: ${[...context.entities.keys()].join(', ')}`,
      'UNKNOWN_ENTITY',
    );
  }
  return entity;
}

/** The primaries that hold the cache's data: every master of a Cluster, or the one server. */
export function mastersOf(redis: Redis | Cluster): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/** Runs a Redis call; a Redis failure surfaces as {@link UnavailableError}, the library's own errors pass through. */
export async function callRedis<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof WriteBehindError) throw error;
    throw new UnavailableError(`Redis command failed: ${(error as Error).message}`, {
      cause: redactError(error),
    });
  }
}
