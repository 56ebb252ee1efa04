import { type JobsOptions, Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { ValidationError } from './errors.js';
import { QUEUE_NAME, type ShardKeys, shardKeys } from './keys.js';
import type { Logger, ResolvedOptions } from './options.js';
import type { EntityDefinition, EntityDefinitions } from './schema.js';
import { defineScripts } from './scripts.js';
import type { StoreEntity } from './store/store.js';

/** Data the cache, its workers and the sweep share; built once per `createWriteBehind`. */
export interface Context {
  options: ResolvedOptions;
  redis: Redis | Cluster;
  /** True when the library opened `redis` itself and must close it. */
  ownsRedis: boolean;
  shards: ShardKeys[];
  entities: Map<string, StoreEntity>;
  logger: Logger;
  /** The flush queue of each shard, created on first use. */
  queue(shard: number): Queue;
  jobOptions: JobsOptions;
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

export function createContext(options: ResolvedOptions): Context {
  const ownsRedis = typeof options.redis === 'string';
  const redis =
    typeof options.redis === 'string' ? new Redis(options.redis, { maxRetriesPerRequest: 2 }) : options.redis;
  // Without a listener ioredis prints every reconnect error itself; route them to the logger instead.
  if (ownsRedis)
    redis.on('error', (error: Error) =>
      options.logger.warn({ err: redactError(error) }, 'Redis connection error'),
    );
  defineScripts(redis);
  const shards = Array.from({ length: options.shards }, (_, i) => shardKeys(options.prefix, i));
  const entities = new Map<string, StoreEntity>(
    Object.entries(options.entities as EntityDefinitions).map(
      ([name, definition]: [string, EntityDefinition]) => [name, { name, definition }],
    ),
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
    logger: options.logger,
    jobOptions,
    queue(shard) {
      let queue = queues.get(shard);
      if (!queue) {
        const keys = shards[shard] as ShardKeys;
        queue = new Queue(QUEUE_NAME, { connection: redis, prefix: keys.tag, defaultJobOptions: jobOptions });
        queue.on('error', (error) =>
          options.logger.error({ err: redactError(error), shard }, 'flush queue error'),
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

export function entityOf(context: Context, name: unknown): StoreEntity {
  const entity = typeof name === 'string' ? context.entities.get(name) : undefined;
  if (!entity) {
    throw new ValidationError(
      `unknown entity ${JSON.stringify(name)}; defined entities: ${[...context.entities.keys()].join(', ')}`,
      'UNKNOWN_ENTITY',
    );
  }
  return entity;
}

/** Rejects ids that are not strings, are empty, too long, or not valid Unicode. */
export function checkId(context: Context, entity: string, id: unknown): string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new ValidationError(
      `${entity} id must be a non-empty string, got ${typeof id === 'string' ? 'an empty string' : typeof id}`,
    );
  }
  const bytes = Buffer.byteLength(id, 'utf8');
  if (bytes > context.options.limits.maxIdBytes) {
    throw new ValidationError(
      `${entity} id is ${bytes} bytes long; the limit is ${context.options.limits.maxIdBytes} (limits.maxIdBytes)`,
    );
  }
  if (!id.isWellFormed())
    throw new ValidationError(`${entity} id contains a lone surrogate (not valid Unicode)`);
  // PostgreSQL text cannot hold U+0000, so such an id could never be loaded or flushed.
  if (id.includes('\u0000')) throw new ValidationError(`${entity} id contains a NUL character (U+0000)`);
  return id;
}
