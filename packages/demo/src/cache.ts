import { createWriteBehind, DEFAULT_OPTIONS, type Logger, type WriteBehind } from '@write-behind/core';
import { createPrismaClient } from '@write-behind/db';
import { type Config, integer, oneOf, optional, text, url } from './config.ts';
import { type DemoEntities, demoEntities } from './entities.ts';
import { LogLimiter } from './log-limiter.ts';
import { clusterNodes, connectRedis } from './redis.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The variables every app reads to build the cache. The api, the worker and the dashboard must run with the
 * same values of `WB_PREFIX` and `WB_SHARDS`, or they look at different queues.
 */
export const cacheConfigSpec = {
  REDIS_URL: url({
    protocols: ['redis:', 'rediss:'],
    default: 'redis://127.0.0.1:6379',
    description: 'Redis holding the cache and the flush queues (`rediss://` for TLS, credentials in the URL)',
  }),
  REDIS_CLUSTER_NODES: optional(
    clusterNodes({
      description:
        'a Redis Cluster instead of REDIS_URL: comma-separated `host:port` seeds, optionally after `redis://` or `rediss://` (TLS) and `user:password@`',
    }),
  ),
  DATABASE_URL: url({
    protocols: ['postgres:', 'postgresql:'],
    default: 'postgresql://postgres@127.0.0.1:5432/postgres',
    description: 'PostgreSQL that flushed state is written to',
  }),
  WB_PREFIX: text({
    pattern: /^[A-Za-z0-9_.-]{1,64}$/,
    expected: '1 to 64 letters, digits, `_`, `.` or `-`',
    default: DEFAULT_OPTIONS.prefix,
    description: 'namespace of every Redis key and queue; apps sharing one Redis need different prefixes',
  }),
  WB_SHARDS: integer({
    min: 1,
    max: 1024,
    default: DEFAULT_OPTIONS.shards,
    description: 'flush queues (one per shard); the same in every process of a deployment',
  }),
  FLUSH_WINDOW_MS: integer({
    default: DEFAULT_OPTIONS.flush.windowMs,
    description: 'how long a key stays dirty before it is flushed; writes inside it become one row write',
  }),
  FLUSH_ATTEMPTS: integer({
    min: 1,
    max: 1000,
    default: DEFAULT_OPTIONS.flush.attempts,
    description: 'attempts per flush job before it is kept as failed for an operator',
  }),
  FLUSH_BACKOFF_MS: integer({
    default: DEFAULT_OPTIONS.flush.backoffMs,
    description: 'first retry delay of a failed flush, doubled on each further retry',
  }),
  BACKLOG_LIMIT: integer({
    default: DEFAULT_OPTIONS.backlog.limit,
    description: 'most dirty keys before writes to clean keys get 503 (0: no limit)',
  }),
  CACHE_MAX_BYTES: integer({
    default: 64 * 1024 * 1024,
    description:
      "memory budget of the cache's own keys in Redis, bytes (estimated): past it, clean keys are evicted, least recently used first (0: no budget)",
  }),
  CACHE_MAX_KEYS: integer({
    default: 0,
    description: 'most keys the cache keeps in Redis, dirty and clean (0: no limit)',
  }),
  CACHE_RANKING_ENTRIES: integer({
    default: DEFAULT_OPTIONS.memory.rankingEntries,
    description:
      'under a memory budget, the entries each ranking (top videos) keeps, counted in the budget (0: every video, outside the budget)',
  }),
  LOG_LEVEL: oneOf(LOG_LEVELS, { default: 'info', description: 'pino log level' }),
};

export type CacheConfig = Config<typeof cacheConfigSpec>;
export type DemoCache = WriteBehind<DemoEntities>;

export interface DemoCacheHandle {
  cache: DemoCache;
  /** Closes the cache (queues, Redis) and the database pool. */
  close(): Promise<void>;
}

/**
 * The cache as every demo app builds it: Prisma over `DATABASE_URL`, Redis at `REDIS_URL`, or the Redis
 * Cluster of `REDIS_CLUSTER_NODES` when that is set.
 */
export function createDemoCache(config: CacheConfig, logger: Logger): DemoCacheHandle {
  const prisma = createPrismaClient(config.DATABASE_URL);
  // A Cluster that cannot connect retries several times a second, each time with an error: a line a window.
  const connectionErrors = new LogLimiter(logger);
  const connection = connectRedis(config, {
    maxRetriesPerRequest: DEFAULT_OPTIONS.redisMaxRetriesPerRequest,
    // ioredis attaches the failed command, and `AUTH` carries the password: the apps' logger (createLogger)
    // reduces the error to what went wrong.
    onError: (error) =>
      connectionErrors.warn('REDIS_CLUSTER_CONNECTION', { err: error }, 'Redis Cluster connection error'),
  });
  const cache = createWriteBehind({
    redis: connection.redis,
    prisma,
    entities: demoEntities,
    prefix: config.WB_PREFIX,
    shards: config.WB_SHARDS,
    flush: {
      windowMs: config.FLUSH_WINDOW_MS,
      attempts: config.FLUSH_ATTEMPTS,
      backoffMs: config.FLUSH_BACKOFF_MS,
    },
    backlog: { limit: config.BACKLOG_LIMIT },
    memory: {
      maxBytes: config.CACHE_MAX_BYTES,
      maxKeys: config.CACHE_MAX_KEYS,
      rankingEntries: config.CACHE_RANKING_ENTRIES,
    },
    logger,
  });
  return {
    cache,
    async close() {
      await cache.close();
      // The library closes a connection it opened from a URL, never a Cluster handed to it.
      await connection.close();
      connectionErrors.flush();
      connectionErrors.close();
      await prisma.$disconnect();
    },
  };
}

/**
 * The library's logger interface over a pino logger (or anything with the same methods). pino's methods
 * need their `this`, hence the arrow functions.
 */
export function libraryLogger(logger: Logger): Logger {
  return {
    info: (obj, msg) => logger.info(obj, msg),
    warn: (obj, msg) => logger.warn(obj, msg),
    error: (obj, msg) => logger.error(obj, msg),
  };
}
