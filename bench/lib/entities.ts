import {
  boolean,
  counter,
  createWriteBehind,
  type FlushOptions,
  type Logger,
  string,
  type WriteBehind,
} from '@write-behind/core';
import type { PrismaClient } from '@write-behind/db';

/** The demo schema's entities (prisma/schema.prisma), as the apps and tests declare them. */
export const entities = {
  video: { model: 'Video', fields: { likes: counter(), views: counter() } },
  settings: {
    model: 'UserSettings',
    key: 'userId',
    fields: {
      theme: string({ default: 'light' }),
      language: string(),
      notifications: boolean({ default: true }),
    },
  },
};
export type BenchEntities = typeof entities;

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
