// D1: what `durability: 'replicas'` costs beside `'memory'`: hot-key increments through the library against a
// private primary and replica (testkit `startRedisReplication`), one level after the other in one run, same
// load: acknowledged increments per second and ack latency. `'fsync'` needs Redis 7.2 (WAITAOF); a server
// without it is reported, not measured.
import { createWriteBehind, type DurabilityLevel } from '@write-behind/core';
import { entities, startRedisReplication } from '@write-behind/testkit';
import type { BenchContext, CaseResult } from '../lib/context.ts';
import { loadSummary } from '../lib/context.ts';
import { BENCH_BACKLOG_LIMIT, type BenchEntities, benchLogger, benchPrisma } from '../lib/entities.ts';
import { runLoad } from '../lib/load.ts';

const IN_FLIGHT = 64;
const KEYS = 100;
const LEVELS: DurabilityLevel[] = ['memory', 'replicas', 'fsync'];

export async function durabilityCost(ctx: BenchContext): Promise<CaseResult[]> {
  const servers = await startRedisReplication();
  const prisma = benchPrisma(ctx.db);
  const rows: CaseResult[] = [];
  try {
    for (const level of LEVELS) {
      const cache = createWriteBehind<BenchEntities>({
        redis: servers.url,
        prisma,
        entities,
        prefix: `${ctx.prefix}-d1-${level}`,
        backlog: { limit: BENCH_BACKLOG_LIMIT },
        durability: level,
        logger: benchLogger,
      });
      try {
        await cache.ready;
        const probe = await cache.increment('video', 'probe', 'likes').then(
          () => undefined,
          (error: Error) => error.message,
        );
        if (probe) {
          rows.push({ id: 'D1', title: `durability '${level}': not measured`, notes: [probe], metrics: {} });
          continue;
        }
        const maxMs = ctx.plan.quick ? 2_000 : 5_000;
        const load = await runLoad({
          concurrency: IN_FLIGHT,
          total: Number.MAX_SAFE_INTEGER,
          maxMs,
          op: (i) => cache.increment('video', `v${i % KEYS}`, 'likes'),
        });
        rows.push({
          id: 'D1',
          title: `durability '${level}': hot-key increments, ${IN_FLIGHT} in flight, primary + 1 replica`,
          ...loadSummary(load, 'increments', 'increments/s'),
          notes: [],
          metrics: { inFlight: IN_FLIGHT, keys: KEYS },
        });
      } finally {
        await cache.close();
      }
    }
  } finally {
    await prisma.$disconnect();
    await servers.stop();
  }
  return rows;
}
