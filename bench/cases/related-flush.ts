// F2 (issue 24): what the order of related rows costs a flush. The same number of dirty keys flushed twice over
// in one run: N new videos each with one new comment written right after it (parent and child keys: the flush
// writes a video before its comment, and a comment whose video sits in a batch not acknowledged yet, a
// concurrent one, waits for it a window, spending no attempt; with the preload's writes in flight, a video and
// its comment rarely share a batch), against N new videos and N new settings records (2N keys, no relation), one
// worker process each time. Every round inserts new rows, so both do the same kind of database work.
import { createWriteBehind, type WriteBehind } from '@write-behind/core';
import {
  deleteKeys,
  type RelationTestEntities,
  relationEntities,
  type WorkerProcess,
} from '@write-behind/testkit';
import type { Queue } from 'bullmq';
import { type BenchContext, type CaseResult, waitFor } from '../lib/context.ts';
import { BENCH_BACKLOG_LIMIT, benchLogger, benchPrisma, startBenchWorker } from '../lib/entities.ts';
import { runLoad } from '../lib/load.ts';
import { type CpuPerOp, startServerCpuMeter } from '../lib/server-stats.ts';

const FLUSH_TIMEOUT_MS = 240_000;
const COUNTERS = ['batches', 'statements', 'keysFlushed', 'rowsDeferred', 'rowsRejected', 'cpuMicros'];
const CREATED_AT = new Date('2026-12-15T10:00:00.000Z');

type Shape = 'related' | 'unrelated';

interface Round {
  shape: Shape;
  keys: number;
  ms: number;
  counters: Record<string, number>;
  cpu: CpuPerOp;
}

/**
 * F2's rounds, related and unrelated in the order related, unrelated, unrelated, related: this machine's speed
 * drifts over minutes, and the order cancels a steady drift out of the ratio. Each shape's figure pools its two
 * rounds.
 */
export async function relatedFlush(ctx: BenchContext): Promise<CaseResult[]> {
  const { plan } = ctx;
  const prefix = `${ctx.prefix}-f2`;
  const prisma = benchPrisma(ctx.db);
  const cache = createWriteBehind<RelationTestEntities>({
    redis: ctx.redisUrl,
    prisma,
    entities: relationEntities,
    prefix,
    backlog: { limit: BENCH_BACKLOG_LIMIT },
    logger: benchLogger,
    flush: { windowMs: plan.windowMs },
  });
  // As many keys per round as F1 flushes: half parents, half children (or half unrelated records).
  const pairs = Math.floor(plan.flushKeys / 2);
  const rounds: Round[] = [];
  try {
    for (const [n, shape] of (['related', 'unrelated', 'unrelated', 'related'] as const).entries()) {
      ctx.progress(
        `F2: round ${n + 1} of 4, ${pairs.toLocaleString('en')} new videos + ${pairs.toLocaleString('en')} ${shape === 'related' ? 'comments on them' : 'settings'}`,
      );
      await dirtyPairs(cache, shape, `f2r${n}`, pairs, plan.preloadInFlight);
      // Every flush job is delayed by the window: wait until the last one is due, as F1 does.
      await new Promise((resolve) => setTimeout(resolve, plan.windowMs + 200));
      rounds.push(await flushRound(ctx, cache, prefix, shape));
      await checkRows(ctx, shape, `f2r${n}`, pairs);
    }
  } finally {
    await cache.close();
    await prisma.$disconnect();
    await deleteKeys(ctx.redis, prefix);
  }
  const related = pool(rounds.filter((r) => r.shape === 'related'));
  const unrelated = pool(rounds.filter((r) => r.shape === 'unrelated'));
  const ratio = related.rate / unrelated.rate;
  return [
    row(
      'F2',
      `flush ${related.keys.toLocaleString('en')} keys: ${pairs.toLocaleString('en')} new videos + 1 new comment each, 1 worker process`,
      related,
      [
        `${ratio.toFixed(2)}× the unrelated keys of the same run (${Math.round(related.rate).toLocaleString('en')} vs ${Math.round(unrelated.rate).toLocaleString('en')} keys/s)`,
        `${related.counters.rowsDeferred ?? 0} times a comment row waited for its video (left for a flush a window later: rowsDeferred), ${related.counters.rowsRejected ?? 0} rows refused`,
      ],
      { ratioToUnrelated: ratio },
    ),
    row(
      'F2 unrelated',
      `flush ${unrelated.keys.toLocaleString('en')} keys: ${pairs.toLocaleString('en')} new videos + ${pairs.toLocaleString('en')} new settings, 1 worker process`,
      unrelated,
      ['the same number of keys with no relation between them, in rounds alternating with F2'],
    ),
  ];
}

/** N new videos written whole, each followed by its comment (`related`) or by a settings record. */
async function dirtyPairs(
  cache: WriteBehind<RelationTestEntities>,
  shape: Shape,
  label: string,
  pairs: number,
  inFlight: number,
): Promise<void> {
  const load = await runLoad({
    concurrency: inFlight,
    total: pairs,
    maxMs: 300_000,
    op: async (i) => {
      const videoId = `${label}-v${i}`;
      await cache.set('video', videoId, { likes: i, views: 0 });
      if (shape === 'related')
        await cache.set('comment', `${label}-c${i}`, {
          videoId,
          author: 'bench',
          body: `comment ${i}`,
          createdAt: CREATED_AT,
        });
      else
        await cache.set('settings', `${label}-u${i}`, { theme: 'dark', language: 'en', notifications: true });
    },
  });
  if (load.errors > 0) throw new Error(`F2 preload: ${load.errors} errors, first: ${load.firstError}`);
}

/** One worker process flushes every dirty key; timed from the queue's resume to no dirty key left. */
async function flushRound(
  ctx: BenchContext,
  cache: WriteBehind<RelationTestEntities>,
  prefix: string,
  shape: Shape,
): Promise<Round> {
  const keys = (await cache.stats()).dirtyKeys;
  const queue = cache.queues[0] as Queue;
  let worker: WorkerProcess | undefined;
  try {
    // Paused until the worker is up, so that its start-up is not timed.
    await queue.pause();
    worker = await startBenchWorker(ctx, {
      prefix,
      flush: { windowMs: ctx.plan.windowMs },
      entities: 'chaos',
    });
    const servers = await startServerCpuMeter(ctx.redis);
    const started = performance.now();
    await queue.resume();
    const finished = await waitFor(
      `F2 flush (${shape})`,
      async () => (await cache.stats()).dirtyKeys === 0,
      FLUSH_TIMEOUT_MS,
    );
    const serverCpu = await servers.stop(keys);
    const all = await worker.stop();
    const counters = Object.fromEntries(COUNTERS.map((name) => [name, all[name] ?? 0]));
    return {
      shape,
      keys,
      ms: finished - started,
      counters,
      cpu: { nodeUsPerOp: (counters.cpuMicros ?? 0) / keys, ...serverCpu },
    };
  } finally {
    await worker?.stop().catch(() => ({}));
  }
}

/** Every row of the round is in PostgreSQL: the case measures a flush that did its work. */
async function checkRows(ctx: BenchContext, shape: Shape, label: string, pairs: number): Promise<void> {
  const count = async (sql: string) =>
    Number((await ctx.db.pool.query<{ n: string }>(sql, [`${label}-%`])).rows[0]?.n);
  const videos = await count('SELECT count(*) AS n FROM "Video" WHERE id LIKE $1');
  const others = await count(
    shape === 'related'
      ? 'SELECT count(*) AS n FROM comment WHERE id LIKE $1'
      : 'SELECT count(*) AS n FROM user_settings WHERE user_id LIKE $1',
  );
  if (videos !== pairs || others !== pairs)
    throw new Error(
      `F2 ${shape}: ${videos} videos and ${others} other rows in PostgreSQL, expected ${pairs} each`,
    );
}

interface Pooled {
  keys: number;
  rate: number;
  /** Keys/s of each round. */
  rates: number[];
  ms: number;
  counters: Record<string, number>;
  cpu: CpuPerOp;
}

/** Rounds of one shape as one: all their keys over all their time, counters summed, CPU weighted by keys. */
function pool(rounds: Round[]): Pooled {
  const keys = rounds.reduce((n, r) => n + r.keys, 0);
  const ms = rounds.reduce((n, r) => n + r.ms, 0);
  const counters: Record<string, number> = {};
  for (const name of COUNTERS) counters[name] = rounds.reduce((n, r) => n + (r.counters[name] ?? 0), 0);
  const weigh = (pick: (cpu: CpuPerOp) => number | undefined) =>
    rounds.reduce((n, r) => n + (pick(r.cpu) ?? 0) * r.keys, 0) / keys;
  const postgres = rounds.every((r) => r.cpu.postgresUsPerOp !== undefined);
  const busy = rounds.every((r) => r.cpu.machineBusyPct !== undefined);
  return {
    keys: keys / rounds.length,
    rate: (keys / ms) * 1000,
    rates: rounds.map((r) => (r.keys / r.ms) * 1000),
    ms: ms / rounds.length,
    counters,
    cpu: {
      nodeUsPerOp: weigh((c) => c.nodeUsPerOp),
      redisUsPerOp: weigh((c) => c.redisUsPerOp),
      ...(postgres ? { postgresUsPerOp: weigh((c) => c.postgresUsPerOp) } : {}),
      ...(busy
        ? {
            machineBusyPct:
              rounds.reduce((n, r) => n + (r.cpu.machineBusyPct ?? 0) * r.ms, 0) /
              rounds.reduce((n, r) => n + r.ms, 0),
          }
        : {}),
    },
  };
}

function row(
  id: string,
  title: string,
  round: Pooled,
  notes: string[],
  metrics: Record<string, number> = {},
): CaseResult {
  const { statements = 0, keysFlushed = 0, batches = 0 } = round.counters;
  return {
    id,
    title,
    count: round.keys,
    countUnit: 'keys',
    rate: round.rate,
    rateUnit: 'keys/s',
    cpu: round.cpu,
    notes: [
      ...notes,
      `2 rounds (${round.rates.map((r) => Math.round(r).toLocaleString('en')).join(' and ')} keys/s); the rate is all of them over all their time`,
      ...(round.cpu.machineBusyPct === undefined
        ? []
        : [`machine busy ${round.cpu.machineBusyPct.toFixed(0)} % of one core while timed`]),
      `${(statements / Math.max(1, keysFlushed)).toFixed(4)} SQL statements per key (${statements} statements, ${keysFlushed.toLocaleString('en')} keys flushed, ${(keysFlushed / Math.max(1, batches)).toFixed(0)} keys per batch)`,
    ],
    metrics: { ms: round.ms, ...round.counters, ...metrics },
  };
}
