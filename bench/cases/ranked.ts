// R2: what ranking a counter costs on the write path (cache.increment of a ranked counter against the same
// increment of an unranked one, interleaved on the same keys), what `top` costs to read, and the ranking's
// memory per member. No worker runs: every key stays dirty, as in W1.

import { createWriteBehind, type EntityDefinitions, type WriteBehind } from '@write-behind/core';
import { rankingKey, shardKeys } from '@write-behind/core/internal';
import type { PrismaClient } from '@write-behind/db';
import { deleteKeys, entities, rankedEntities } from '@write-behind/testkit';
import { type BenchContext, type CaseResult, loadSummary } from '../lib/context.ts';
import { uniform } from '../lib/distributions.ts';
import { BENCH_BACKLOG_LIMIT, benchLogger, benchPrisma } from '../lib/entities.ts';
import type { SlicedCase } from '../lib/interleave.ts';
import { warmKeys } from './baselines.ts';

/** Keys of the leaderboard: enough for a sorted set in its skiplist encoding, as a real one is. */
const RANKED_KEYS = 10_000;
const KEY_SEED = 11;
/** How many entries the read case asks for, as a "top 10" page does. */
const TOP_N = 10;

function caseCache<E extends EntityDefinitions>(ctx: BenchContext, name: string, defined: E) {
  const prisma: PrismaClient = benchPrisma(ctx.db);
  const prefix = `${ctx.prefix}-${name}`;
  const cache: WriteBehind<E> = createWriteBehind({
    redis: ctx.redisUrl,
    prisma,
    entities: defined,
    prefix,
    backlog: { limit: BENCH_BACKLOG_LIMIT },
    logger: benchLogger,
  });
  return {
    cache,
    prefix,
    async teardown() {
      await cache.close();
      await prisma.$disconnect();
      await deleteKeys(ctx.redis, prefix);
    },
  };
}

/** R2: increments of `video.likes`, ranked or not, over {@link RANKED_KEYS} warm keys. */
export function rankedIncrements(ctx: BenchContext, ranked: boolean): SlicedCase {
  const id = ranked ? 'R2 ranked' : 'R2 unranked';
  const { cache, prefix, teardown } = ranked
    ? caseCache(ctx, 'r2-ranked', rankedEntities)
    : caseCache(ctx, 'r2-unranked', entities);
  const nextKey = uniform(RANKED_KEYS, KEY_SEED);
  return {
    id,
    budgetMs: ctx.plan.closedLoopMs,
    setup: () => warmKeys(ctx, RANKED_KEYS, (key) => cache.increment('video', `r2-${key}`, 'likes')),
    op: () => cache.increment('video', `r2-${nextKey()}`, 'likes'),
    async finish(load): Promise<CaseResult[]> {
      const notes = [`${RANKED_KEYS.toLocaleString('en')} warm keys, uniform; keys already dirty`];
      const metrics: Record<string, number> = {};
      if (ranked) {
        const key = rankingKey(shardKeys(prefix, 0, 1), 'video', 'likes');
        const [bytes, members] = await Promise.all([ctx.redis.memory('USAGE', key), ctx.redis.zcard(key)]);
        metrics.rankingBytesPerMember = Number(bytes) / members;
        notes.push(
          `+1 ZADD per write; ranking ${Math.round(metrics.rankingBytesPerMember)} B per member (${members.toLocaleString('en')} members, MEMORY USAGE)`,
        );
      } else {
        notes.push('the same increments, field not ranked');
      }
      return [
        {
          id,
          title: `cache.increment of a${ranked ? ' ranked' : 'n unranked'} counter`,
          ...loadSummary(load),
          notes,
          metrics,
        },
      ];
    },
    teardown,
  };
}

/**
 * R2 build and R2 top: the first `cache.top('video', 'likes', 10)` builds the ranking from the table (rows
 * inserted beforehand, as rows a cache never saw) and from {@link RANKED_KEYS} keys dirty in Redis; then
 * `top` over the built ranking.
 */
export function rankedTop(ctx: BenchContext): SlicedCase {
  const { cache, teardown } = caseCache(ctx, 'r2-top', rankedEntities);
  const rows = ctx.plan.quick ? 10_000 : 100_000;
  let build = { ms: 0, rows: 0, members: 0 };
  return {
    id: 'R2 top',
    budgetMs: ctx.plan.closedLoopMs,
    async setup() {
      await warmKeys(ctx, RANKED_KEYS, (key) => cache.increment('video', `r2-${key}`, 'likes', key % 977));
      await ctx.db.pool.query(
        `INSERT INTO "Video" (id, likes) SELECT 'r2b-' || g, g % 1000 FROM generate_series(1, $1::int) g`,
        [rows],
      );
      const counted = await ctx.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM "Video"');
      const started = performance.now();
      await cache.top('video', 'likes', TOP_N);
      const ms = performance.now() - started;
      const key = rankingKey(shardKeys(`${ctx.prefix}-r2-top`, 0, 1), 'video', 'likes');
      build = { ms, rows: counted.rows[0]?.n ?? 0, members: (await ctx.redis.zcard(key)) - 1 };
    },
    op: () => cache.top('video', 'likes', TOP_N),
    finish: async (load): Promise<CaseResult[]> => [
      {
        id: 'R2 build',
        title: `first cache.top: builds the ranking from ${build.rows.toLocaleString('en')} rows and ${RANKED_KEYS.toLocaleString('en')} dirty keys`,
        count: build.members,
        countUnit: 'members',
        rate: build.members / (build.ms / 1000),
        rateUnit: 'members/s',
        notes: [
          `${(build.ms / 1000).toFixed(2)} s; pages of limits.maxLoadBatch (1,000) rows: 1 scan + 1 load query, 2 script calls each`,
        ],
        metrics: { buildMs: build.ms, tableRows: build.rows, members: build.members },
      },
      {
        id: 'R2 top',
        title: `cache.top, n = ${TOP_N}, ${build.members.toLocaleString('en')} ranked keys, 1 shard`,
        ...loadSummary(load, 'reads', 'reads/s'),
        notes: ['one script call per shard (ZREVRANGE)'],
        metrics: {},
      },
    ],
    async teardown() {
      await ctx.db.pool.query(`DELETE FROM "Video" WHERE id LIKE 'r2b-%'`);
      await teardown();
    },
  };
}
