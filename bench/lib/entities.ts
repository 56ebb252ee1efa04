import {
  createWriteBehind,
  DEFAULT_OPTIONS,
  type FlushOptions,
  type Logger,
  type WriteBehind,
} from '@write-behind/core';
import { PrismaStore } from '@write-behind/core/internal';
import type { PrismaClient } from '@write-behind/db';
import { entities, type TestEntities } from '../../test/support/entities.ts';
import { forwardingStore } from '../../test/support/forwarding-store.ts';
import { startWorkerChild, type WorkerChild } from './child.ts';
import type { BenchContext } from './context.ts';
import { benchPrisma, deleteKeys } from './env.ts';

export type BenchEntities = TestEntities;

/**
 * The write cases keep every key dirty (no worker runs), so the default backlog limit (1,000,000 dirty keys
 * per shard) would refuse W2's last writes; the benchmark raises it.
 */
export const BENCH_BACKLOG_LIMIT = 50_000_000;

/** Warnings and errors go to stderr, prefixed, so they stand out from the progress lines. */
export const benchLogger: Logger = {
  info: () => {},
  warn: (obj, msg) => process.stderr.write(`  [write-behind warn] ${msg ?? ''} ${safeJson(obj)}\n`),
  error: (obj, msg) => process.stderr.write(`  [write-behind error] ${msg ?? ''} ${safeJson(obj)}\n`),
};

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_, v: unknown) => (v instanceof Error ? v.message : v));
  } catch {
    return String(value);
  }
}

export interface BenchCacheOptions {
  redisUrl: string;
  prisma: PrismaClient;
  prefix: string;
  flush?: FlushOptions;
  /**
   * Diagnostic: the flush's upserts and deletes succeed without reaching PostgreSQL (loads still do), to
   * show what the database statements cost F1. Never in a case whose rows are checked.
   */
  discardWrites?: boolean;
}

/** The cache every case uses: one shard, the demo entities, the raised backlog limit. */
export function createBenchCache(options: BenchCacheOptions): WriteBehind<BenchEntities> {
  const database = options.discardWrites
    ? {
        store: forwardingStore(
          new PrismaStore(options.prisma, { tombstoneTable: DEFAULT_OPTIONS.tombstoneTable }),
          {
            upsert: async () => {},
            delete: async () => {},
          },
        ),
      }
    : { prisma: options.prisma };
  return createWriteBehind<BenchEntities>({
    redis: options.redisUrl,
    ...database,
    entities,
    prefix: options.prefix,
    backlog: { limit: BENCH_BACKLOG_LIMIT },
    logger: benchLogger,
    ...(options.flush ? { flush: options.flush } : {}),
  });
}

/** A bench cache with one flush worker process, as C1 and L1 run. `close()` stops both and removes the keys. */
export async function startFlushingCache(
  ctx: BenchContext,
  prefix: string,
): Promise<{ cache: WriteBehind<BenchEntities>; worker: WorkerChild; close(): Promise<void> }> {
  const { plan, db } = ctx;
  const prisma = benchPrisma(db);
  const cache = createBenchCache({
    redisUrl: ctx.redisUrl,
    prisma,
    prefix,
    flush: { windowMs: plan.windowMs },
  });
  const worker = await startWorkerChild({
    mode: 'flush',
    redisUrl: ctx.redisUrl,
    dbUrl: db.url,
    prefix,
    windowMs: plan.windowMs,
    concurrency: plan.workerConcurrency,
  });
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
