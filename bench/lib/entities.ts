import { createWriteBehind, type FlushOptions, type Logger, type WriteBehind } from '@write-behind/core';
import { createPrismaClient, type PrismaClient } from '@write-behind/db';
import {
  deleteKeys,
  entities,
  startWorkerProcess,
  stderrLogger,
  type TestDatabase,
  type TestEntities,
  type WorkerProcess,
  type WorkerProcessConfig,
} from '@write-behind/testkit';
import type { BenchContext } from './context.ts';

export type BenchEntities = TestEntities;

/**
 * The write cases keep every key dirty (no worker runs), so the default backlog limit (1,000,000 dirty keys
 * per shard) would refuse W2's last writes; the benchmark raises it.
 */
export const BENCH_BACKLOG_LIMIT = 50_000_000;

/** Warnings and errors go to stderr, prefixed, so they stand out from the progress lines. */
export const benchLogger: Logger = stderrLogger('write-behind', '  ');

export interface BenchCacheOptions {
  redisUrl: string;
  prisma: PrismaClient;
  prefix: string;
  flush?: FlushOptions;
}

/** A Prisma Client on the bench schema (adapter-pg), as the apps build one. */
export function benchPrisma(db: TestDatabase, max = 10): PrismaClient {
  return createPrismaClient(db.url, { max });
}

/** The cache every case uses: one shard, the demo entities, the raised backlog limit. */
export function createBenchCache(options: BenchCacheOptions): WriteBehind<BenchEntities> {
  return createWriteBehind<BenchEntities>({
    redis: options.redisUrl,
    prisma: options.prisma,
    entities,
    prefix: options.prefix,
    backlog: { limit: BENCH_BACKLOG_LIMIT },
    logger: benchLogger,
    ...(options.flush ? { flush: options.flush } : {}),
  });
}

/**
 * A worker process on the bench schema with the plan's concurrency (`flush` or `noop`, see
 * `WorkerProcessConfig`), ready. Its output goes to this process's, like the cases' progress lines.
 */
export function startBenchWorker(
  ctx: BenchContext,
  config: Omit<WorkerProcessConfig, 'redisUrl' | 'databaseUrl'>,
): Promise<WorkerProcess> {
  return startWorkerProcess(
    {
      redisUrl: ctx.redisUrl,
      databaseUrl: ctx.db.url,
      ...config,
      worker: { concurrency: ctx.plan.workerConcurrency, ...config.worker },
    },
    // BENCH_CHILD_NODE_ARGS: extra node flags for the worker children, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
    { output: 'inherit', nodeArgs: process.env.BENCH_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? [] },
  );
}

/** A bench cache with one flush worker process, as C1 and L1 run. `close()` stops both and removes the keys. */
export async function startFlushingCache(
  ctx: BenchContext,
  prefix: string,
): Promise<{ cache: WriteBehind<BenchEntities>; worker: WorkerProcess; close(): Promise<void> }> {
  const { plan, db } = ctx;
  const prisma = benchPrisma(db);
  const cache = createBenchCache({
    redisUrl: ctx.redisUrl,
    prisma,
    prefix,
    flush: { windowMs: plan.windowMs },
  });
  const worker = await startBenchWorker(ctx, { prefix, flush: { windowMs: plan.windowMs } });
  return {
    cache,
    worker,
    async close() {
      await worker.stop().catch(() => ({}));
      await cache.close();
      await prisma.$disconnect();
      await deleteKeys(ctx.redis, prefix);
    },
  };
}
