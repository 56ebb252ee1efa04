// E1: events of an append entity (one row per event). Three figures from one run on the same rows:
// the events the library acknowledges per second (from Redis, no worker running), the rows per second its
// flush worker then inserts draining that backlog, and the rows per second a plain batched multi-row INSERT
// of the same rows achieves straight into PostgreSQL (the ceiling the flush is measured against).
import { createWriteBehind, type WriteBehind } from '@write-behind/core';
import { dataKey, shardKeys } from '@write-behind/core/internal';
import { deleteKeys, type EventTestEntities, eventEntities } from '@write-behind/testkit';
import { type BenchContext, type CaseResult, loadSummary } from '../lib/context.ts';
import { uniform } from '../lib/distributions.ts';
import { benchLogger, benchPrisma, startBenchWorker } from '../lib/entities.ts';
import { runLoad } from '../lib/load.ts';
import { startCpuMeter, startServerCpuMeter } from '../lib/server-stats.ts';

/** Videos the events are spread over (uniformly). */
const KEYS = 1000;
/** Rows per statement of the plain INSERT: the library's `flush.batchSize` default. */
const ROWS_PER_STATEMENT = 500;
/** Statements of the plain INSERT in flight: the test database pool's size. */
const STATEMENTS_IN_FLIGHT = 4;
const DRAIN_TIMEOUT_MS = 300_000;
/** Most events a full run acknowledges (about 150 MB of Redis memory while they wait). */
const MAX_EVENTS = 1_000_000;
const EVENT_TYPES = ['click', 'view', 'play', 'pause'] as const;

function eventOf(index: number) {
  return {
    type: EVENT_TYPES[index % EVENT_TYPES.length] as string,
    context: index % 3 === 0 ? null : { position: index % 997, source: 'bench' },
    createdAt: new Date(1_767_225_600_000 + index),
  };
}

/**
 * Events/s of one append to each of `keys` keys Redis lacks (cold: flushed, then evicted) and to as many it
 * holds clean (warm: flushed), four rounds of each, in ABBA order; a worker flushes between rounds.
 */
async function coldAndWarm(
  ctx: BenchContext,
  cache: WriteBehind<EventTestEntities>,
  keys: number,
): Promise<{ keys: number; cold: number; warm: number; coldRates: number[]; warmRates: number[] }> {
  const { plan } = ctx;
  const rates = { cold: [] as number[], warm: [] as number[] };
  // ABBA: each kind goes first as often as last, so a machine speeding up or slowing down over the rounds
  // favours neither; each load is a few seconds, so four of each.
  const rounds = [0, 1, 2, 3].flatMap((round) =>
    (round % 2 === 0 ? (['cold', 'warm'] as const) : (['warm', 'cold'] as const)).map((kind) => ({
      kind,
      id: (i: number) => `e1${kind}-${round}-${i}`,
    })),
  );
  const appendAll = (id: (i: number) => string) =>
    runLoad({
      concurrency: plan.inFlight,
      total: keys,
      maxMs: 300_000,
      op: (i) => cache.append('videoEvent', id(i), eventOf(i)),
    });
  // Untimed, all before the first timed load: every key gets a first event and its flush, and the cold keys
  // then leave Redis. Freeing them all at once right before a timed load would bill the cold load for the
  // allocator's purge of that memory, which an eviction spread over time does not cause.
  for (const { id } of rounds) await appendAll(id);
  await cache.flush({ timeoutMs: DRAIN_TIMEOUT_MS });
  const shard = shardKeys(`${ctx.prefix}-e1`, 0, 1);
  for (const { kind, id } of rounds) {
    if (kind !== 'cold') continue;
    for (let i = 0; i < keys; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, keys - i) }, (_, k) =>
        dataKey(shard, 'videoEvent', id(i + k)),
      );
      await ctx.redis.del(...batch);
    }
  }
  for (const { kind, id } of rounds) {
    rates[kind].push((await appendAll(id)).opsPerSec);
    await cache.flush({ timeoutMs: DRAIN_TIMEOUT_MS });
  }
  // The median: one load of a few seconds can be slowed by a third by whatever else the machine does.
  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const middle = sorted.length / 2;
    return ((sorted[Math.floor(middle - 0.5)] as number) + (sorted[Math.ceil(middle - 0.5)] as number)) / 2;
  };
  return {
    keys,
    cold: median(rates.cold),
    warm: median(rates.warm),
    coldRates: rates.cold,
    warmRates: rates.warm,
  };
}

export async function appendEvents(ctx: BenchContext): Promise<CaseResult[]> {
  const { plan, db } = ctx;
  const prefix = `${ctx.prefix}-e1`;
  const prisma = benchPrisma(db);
  const cache = createWriteBehind<EventTestEntities>({
    redis: ctx.redisUrl,
    prisma,
    entities: eventEntities,
    prefix,
    flush: { windowMs: plan.windowMs },
    backlog: { eventLimit: 0 },
    logger: benchLogger,
  });
  try {
    await cache.ready;
    // 1. Acknowledged events per second, from Redis alone (no worker competes for the CPU).
    const nextKey = uniform(KEYS, 17);
    const load = await runLoad({
      concurrency: plan.inFlight,
      // Bounded: every acknowledged event waits in Redis until the flush below (the server is shared).
      total: plan.quick ? Number.MAX_SAFE_INTEGER : MAX_EVENTS,
      maxMs: plan.closedLoopMs,
      op: (index) => cache.append('videoEvent', `e1-${nextKey()}`, eventOf(index)),
    });
    const acked = load.completed;
    ctx.progress(`E1: ${acked.toLocaleString('en')} events acknowledged; flushing them`);

    // 2. The flush worker drains that backlog: rows inserted per second.
    const worker = await startBenchWorker(ctx, {
      prefix,
      entities: 'events',
      flush: { windowMs: plan.windowMs },
    });
    const flushServers = await startServerCpuMeter(ctx.redis);
    const flushStart = performance.now();
    await cache.flush({ timeoutMs: DRAIN_TIMEOUT_MS });
    const flushMs = performance.now() - flushStart;
    const counters = await worker.stop();
    const { rows: countRows } = await db.pool.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM video_event WHERE video_id LIKE 'e1-%'",
    );
    const inserted = Number(countRows[0]?.n);
    // The worker's CPU is its own from ready to stop (about the flush: it waits idle before); Redis's and
    // PostgreSQL's are the flush's.
    const flushCpu = {
      nodeUsPerOp: (counters.cpuMicros ?? 0) / inserted,
      ...(await flushServers.stop(inserted)),
    };

    // 3. The same rows, inserted by a plain batched multi-row INSERT into a copy of the table.
    await db.pool.query('CREATE TABLE bench_video_event (LIKE video_event INCLUDING ALL)');
    const { rows: same } = await db.pool.query<{
      video_id: string;
      seq: string;
      type: string;
      context: string | null;
      created_at: Date;
    }>(
      "SELECT video_id, seq::text, type, context::text, created_at FROM video_event WHERE video_id LIKE 'e1-%'",
    );
    const statements: (typeof same)[] = [];
    for (let i = 0; i < same.length; i += ROWS_PER_STATEMENT) {
      statements.push(same.slice(i, i + ROWS_PER_STATEMENT));
    }
    const plainCpu = await startCpuMeter(ctx.redis);
    const plainStart = performance.now();
    let nextStatement = 0;
    await Promise.all(
      Array.from({ length: STATEMENTS_IN_FLIGHT }, async () => {
        for (let s = statements[nextStatement++]; s; s = statements[nextStatement++]) {
          await db.pool.query(
            `INSERT INTO bench_video_event (video_id, seq, type, context, created_at)
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::varchar(32)[], $4::jsonb[], $5::timestamp(3)[])`,
            [
              s.map((r) => r.video_id),
              s.map((r) => r.seq),
              s.map((r) => r.type),
              s.map((r) => r.context),
              s.map((r) => r.created_at),
            ],
          );
        }
      }),
    );
    const plainMs = performance.now() - plainStart;
    const plainCpuPerRow = await plainCpu.stop(same.length);

    const flushRate = (inserted / flushMs) * 1000;
    const plainRate = (same.length / plainMs) * 1000;

    // 4. First events of keys that Redis holds (clean, flushed) against keys it lacks (evicted): each makes its
    // key dirty (one job each), and a key Redis lacks needs no read either. Alternated, so drift hits both.
    const second = await startBenchWorker(ctx, {
      prefix,
      entities: 'events',
      flush: { windowMs: plan.windowMs },
    });
    const coldWarm = await coldAndWarm(ctx, cache, plan.quick ? 2000 : 50_000);
    await second.stop();
    const seconds = Math.round(load.elapsedMs / 1000);
    return [
      {
        id: 'E1',
        title: `append: events acknowledged, ${KEYS} videos, ${seconds} s, no worker running`,
        ...loadSummary(load, 'events', 'events/s'),
        notes: [
          `each event its own row: ${inserted.toLocaleString('en')} rows for ${acked.toLocaleString('en')} acked events`,
          inserted === acked ? 'rows = acked events' : `MISMATCH: ${inserted} rows ≠ ${acked} acked`,
        ],
        metrics: { acked, inserted },
      },
      {
        id: 'E1',
        title: `append: the flush worker inserting that backlog (${(acked / KEYS).toFixed(0)} events per video)`,
        count: inserted,
        countUnit: 'rows',
        rate: flushRate,
        rateUnit: 'rows/s',
        cpu: flushCpu,
        notes: [
          `${Math.round(flushMs)} ms from promote to drained; ${counters.statements ?? 0} statements, ${counters.keysFlushed ?? 0} key flushes`,
          `${((flushRate / plainRate) * 100).toFixed(0)} % of the plain batched INSERT below`,
        ],
        metrics: {
          flushMs,
          statements: counters.statements ?? 0,
          keysFlushed: counters.keysFlushed ?? 0,
          eventsInserted: counters.eventsInserted ?? 0,
          workerCpuMicros: counters.cpuMicros ?? 0,
        },
      },
      {
        id: 'E1',
        title: `append ceiling: the same rows, plain multi-row INSERT (${ROWS_PER_STATEMENT} rows, ${STATEMENTS_IN_FLIGHT} in flight)`,
        count: same.length,
        countUnit: 'rows',
        rate: plainRate,
        rateUnit: 'rows/s',
        cpu: plainCpuPerRow,
        notes: [
          `${Math.round(plainMs)} ms; the library acknowledged ${((load.opsPerSec / plainRate) * 100).toFixed(0)} % of this rate from Redis`,
        ],
        metrics: { plainMs, statements: statements.length },
      },
      {
        id: 'E1',
        title: `append to keys Redis lacks (cold) vs holds (warm), ${coldWarm.keys.toLocaleString('en')} keys each, alternated`,
        count: coldWarm.keys * 2,
        countUnit: 'events',
        rate: coldWarm.cold,
        rateUnit: 'events/s',
        notes: [
          `median of 4 rounds each (ABBA): cold ${Math.round(coldWarm.cold).toLocaleString('en')} events/s, warm ${Math.round(coldWarm.warm).toLocaleString('en')} events/s: ${(coldWarm.cold / coldWarm.warm).toFixed(2)}×`,
          `rounds: cold ${coldWarm.coldRates.map((r) => Math.round(r).toLocaleString('en')).join(', ')}; warm ${coldWarm.warmRates.map((r) => Math.round(r).toLocaleString('en')).join(', ')}`,
          'each event makes its key dirty (one BullMQ add); a cold key needs no database read',
        ],
        metrics: {
          coldRate: coldWarm.cold,
          warmRate: coldWarm.warm,
          coldPerWarm: coldWarm.cold / coldWarm.warm,
          ...Object.fromEntries(coldWarm.coldRates.map((r, i) => [`coldRate${i + 1}`, r])),
          ...Object.fromEntries(coldWarm.warmRates.map((r, i) => [`warmRate${i + 1}`, r])),
          flushPerPlain: flushRate / plainRate,
        },
      },
    ];
  } finally {
    await cache.close();
    await prisma.$disconnect();
    await deleteKeys(ctx.redis, prefix);
    await db.pool.query('DROP TABLE IF EXISTS bench_video_event');
  }
}
