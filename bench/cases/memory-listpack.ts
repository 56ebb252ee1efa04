// M1 on a Redis tuned for small hashes: a private redis-server with `hash-max-listpack-value 256`. A flush
// job's `opts` field (about 110 bytes) is over Redis's default limit of 64 bytes per listpack value, so by
// default every job hash is a real hash table; with the limit raised it is a listpack, about half the size.
import { spawnSync } from 'node:child_process';
import { startRedis } from '@write-behind/testkit';
import { Redis } from 'ioredis';
import type { BenchContext, CaseResult } from '../lib/context.ts';
import { benchPrisma, createBenchCache } from '../lib/entities.ts';
import { describeBreakdown, memoryBreakdown } from '../lib/memory.ts';
import { usedMemory } from '../lib/server-stats.ts';
import { dirtyVideoKeys, insertVideoRows } from './flush.ts';
import { formatBytes } from './writes.ts';

/** The Redis setting this case measures; docker-compose.yml and the README recommend the same value. */
export const LISTPACK_VALUE_BYTES = 256;
const ID = 'M1 (listpack)';
const TITLE = `Redis used_memory per dirty key, private Redis with hash-max-listpack-value ${LISTPACK_VALUE_BYTES}`;

export async function listpackMemory(ctx: BenchContext): Promise<CaseResult> {
  const { plan } = ctx;
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    return { id: ID, title: TITLE, notes: ['skipped: no redis-server binary on PATH'], metrics: {} };
  }
  const server = await startRedis([
    ...['--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
    ...['--hash-max-listpack-value', String(LISTPACK_VALUE_BYTES)],
  ]);
  const redis = new Redis(server.port, '127.0.0.1');
  const prisma = benchPrisma(ctx.db);
  const prefix = `${ctx.prefix}-m1l`;
  const cache = createBenchCache({
    redisUrl: `redis://127.0.0.1:${server.port}`,
    prisma,
    prefix,
    flush: { windowMs: plan.windowMs },
  });
  const idOf = (index: number) => `m1-${index}`;
  try {
    // The same keys, rows and writes as F1's preload, so the two M1 rows differ only in the Redis setting.
    await insertVideoRows(ctx, 'm1-');
    const before = await usedMemory(redis);
    await dirtyVideoKeys(ctx, cache, idOf, 'M1');
    const after = await usedMemory(redis);
    const dirtyKeys = (await cache.stats()).dirtyKeys;
    const bytesPerKey = (after - before) / dirtyKeys;
    const breakdown = await memoryBreakdown(
      redis,
      prefix,
      Array.from({ length: 50 }, (_, i) => idOf(i * 97)),
    );
    return {
      id: ID,
      title: TITLE,
      count: dirtyKeys,
      countUnit: 'dirty keys',
      notes: [
        `${formatBytes(bytesPerKey)} per dirty key (${formatBytes(after - before)} for ${dirtyKeys.toLocaleString('en')}; the same keys and writes as M1)`,
        describeBreakdown(breakdown, formatBytes),
      ],
      metrics: { bytesPerKey, usedMemoryDelta: after - before, dirtyKeys, ...breakdown },
    };
  } finally {
    await cache.close();
    await prisma.$disconnect();
    redis.disconnect();
    await server.kill();
  }
}
