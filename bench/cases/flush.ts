// F1 (flush throughput, one and two worker processes, against BullMQ's no-op ceiling) and M1 (memory per
// dirty key around the preload).
import type { WriteBehind } from '@write-behind/core';
import { shardKeys } from '@write-behind/core/internal';
import { deleteKeys, type WorkerProcess } from '@write-behind/testkit';
import { type JobsOptions, Queue } from 'bullmq';
import { type BenchContext, type CaseResult, waitFor } from '../lib/context.ts';
import { type BenchEntities, benchPrisma, createBenchCache, startBenchWorker } from '../lib/entities.ts';
import { type LoadResult, runLoad } from '../lib/load.ts';
import { describeBreakdown, memoryBreakdown } from '../lib/memory.ts';
import { type CpuPerOp, startServerCpuMeter, usedMemory } from '../lib/server-stats.ts';
import { formatBytes } from './writes.ts';

const FLUSH_TIMEOUT_MS = 240_000;

const COUNTERS = [
  'batches',
  'statements',
  'rowsWritten',
  'keysFlushed',
  'rowsRejected',
  'outages',
  'cpuMicros',
];

interface FlushRound {
  keys: number;
  ms: number;
  /** Keys/s of each round, when this pools several. */
  rates?: number[];
  counters: Record<string, number>;
  /** Per key: CPU of the worker process(es), and of Redis. */
  cpu: CpuPerOp;
}

export interface FlushResults {
  flush: CaseResult;
  flushTwo: CaseResult;
  ceiling: CaseResult;
  ceilingTwo: CaseResult;
  ceilingShape: CaseResult;
  flushDiscard: CaseResult;
  memory: CaseResult;
}

const sum = (counters: Record<string, number>[], name: string) =>
  counters.reduce((total, c) => total + (c[name] ?? 0), 0);

/**
 * Rows `<idPrefix>0` .. for F1's keys: they exist, as they do for a cache in front of a live table, so the
 * flush updates rows.
 */
export async function insertVideoRows(ctx: BenchContext, idPrefix: string): Promise<void> {
  await ctx.db.pool.query(
    `INSERT INTO "Video" (id) SELECT $2 || g FROM generate_series(0, $1::int - 1) AS g ON CONFLICT DO NOTHING`,
    [ctx.plan.flushKeys, idPrefix],
  );
}

/** F1's preload: one increment of each of its keys, `preloadInFlight` at a time; any error fails the case. */
export async function dirtyVideoKeys(
  ctx: BenchContext,
  cache: WriteBehind<BenchEntities>,
  idOf: (index: number) => string,
  caseId: string,
): Promise<LoadResult> {
  const { plan } = ctx;
  const load = await runLoad({
    concurrency: plan.preloadInFlight,
    total: plan.flushKeys,
    maxMs: 300_000,
    op: (index) => cache.increment('video', idOf(index), 'likes'),
  });
  if (load.errors > 0) throw new Error(`${caseId} preload: ${load.errors} errors, first: ${load.firstError}`);
  return load;
}

export async function flushThroughput(ctx: BenchContext): Promise<FlushResults> {
  const { plan } = ctx;
  const prefix = `${ctx.prefix}-f1`;
  const prisma = benchPrisma(ctx.db);
  const cache = createBenchCache({
    redisUrl: ctx.redisUrl,
    prisma,
    prefix,
    flush: { windowMs: plan.windowMs },
  });
  const idOf = (index: number) => `f1-${index}`;
  // Both rounds update rows (no inserts), so one and two workers do the same database work.
  await insertVideoRows(ctx, 'f1-');

  const preload = async () => {
    const load = await dirtyVideoKeys(ctx, cache, idOf, 'F1');
    // Every flush job is delayed by the window: wait until the last one is due, so the worker starts on a
    // full queue and the measurement is pure flushing.
    await new Promise((resolve) => setTimeout(resolve, plan.windowMs + 200));
    return load;
  };

  const flushRound = async (
    workers: number,
    mode: 'flush' | 'flush-discard' = 'flush',
  ): Promise<FlushRound> => {
    const keys = (await cache.stats()).dirtyKeys;
    const queue = cache.queues[0] as Queue;
    let children: WorkerProcess[] = [];
    try {
      // Paused until every child is up, so that two workers start together and start-up is not timed.
      await queue.pause();
      children = await Promise.all(
        Array.from({ length: workers }, () =>
          startBenchWorker(ctx, {
            prefix,
            flush: { windowMs: plan.windowMs },
            store: mode === 'flush-discard' ? 'discard-writes' : 'prisma',
          }),
        ),
      );
      const servers = await startServerCpuMeter(ctx.redis);
      const started = performance.now();
      await queue.resume();
      const finished = await waitFor(
        `F1 flush with ${workers} worker(s)`,
        async () => (await cache.stats()).dirtyKeys === 0,
        FLUSH_TIMEOUT_MS,
      );
      const serverCpu = await servers.stop(keys);
      const counters = await Promise.all(children.map((c) => c.stop()));
      const total: Record<string, number> = {};
      for (const name of COUNTERS) total[name] = sum(counters, name);
      const cpu = { nodeUsPerOp: (total.cpuMicros ?? 0) / keys, ...serverCpu };
      return { keys, ms: finished - started, counters: total, cpu };
    } finally {
      await Promise.all(children.map((c) => c.stop().catch(() => ({}))));
    }
  };

  try {
    ctx.progress(`F1: preloading ${plan.flushKeys.toLocaleString('en')} dirty keys`);
    const memoryBefore = await usedMemory(ctx.redis);
    const firstLoad = await preload();
    const memoryAfter = await usedMemory(ctx.redis);
    const dirtyKeys = (await cache.stats()).dirtyKeys;
    const bytesPerKey = (memoryAfter - memoryBefore) / dirtyKeys;
    const breakdown = await memoryBreakdown(
      ctx.redis,
      prefix,
      Array.from({ length: 50 }, (_, i) => idOf(i * 97)),
    );

    // F1 and its ceiling alternate, one worker process, then two, then one again: this machine's speed
    // drifts by tens of percent over minutes, and a ratio of figures taken minutes apart would measure
    // the drift. The one-process figures pool both of their rounds.
    const oneRounds: FlushRound[] = [];
    const ceilingRounds: CeilingRound[] = [];
    ctx.progress('F1: flushing with 1 worker process (round 1 of 2), then the BullMQ no-op ceiling');
    oneRounds.push(await flushRound(1));
    ceilingRounds.push(await noopCeiling(ctx, plan.flushKeys, 1));
    ctx.progress('F1: re-dirtying the same keys (warm), flushing with 2 worker processes, then the no-op');
    const secondLoad = await preload();
    const two = await flushRound(2);
    const ceilingTwo = await noopCeiling(ctx, plan.flushKeys, 2);
    ctx.progress('F1: re-dirtying, flushing with 1 worker process (round 2 of 2), then the no-op');
    await preload();
    oneRounds.push(await flushRound(1));
    ceilingRounds.push(await noopCeiling(ctx, plan.flushKeys, 1));
    // Right after the rounds it is compared with, for the same reason.
    ctx.progress('F1: re-dirtying, flushing with 1 worker process whose database writes are discarded');
    await preload();
    const discard = await flushRound(1, 'flush-discard');
    ctx.progress("F1: BullMQ no-op over the library's job shape, 1 process");
    const queue = cache.queues[0] as Queue;
    const shapeOpts = { ...queue.defaultJobOptions, delay: plan.windowMs };
    const ceilingShape = await noopCeiling(ctx, plan.flushKeys, 1, {
      opts: shapeOpts,
      windowMs: plan.windowMs,
    });
    const one = poolFlushRounds(oneRounds);
    const ceilingOne = poolCeilingRounds(ceilingRounds);
    const flushRow = (id: string, round: FlushRound, workers: number): CaseResult => {
      const { statements = 0, keysFlushed = 0, batches = 0 } = round.counters;
      return roundRow(
        {
          id,
          title: `flush ${round.keys.toLocaleString('en')} dirty keys, ${processes(workers, 'worker ')}`,
          note: `${(statements / keysFlushed).toFixed(4)} SQL statements per key (${statements} statements, ${keysFlushed.toLocaleString('en')} keys flushed, ${(keysFlushed / Math.max(1, batches)).toFixed(0)} keys per batch)`,
          metrics: { statementsPerKey: statements / keysFlushed, ...round.counters },
        },
        round,
        round.keys,
        'keys',
      );
    };
    return {
      flush: flushRow('F1', one, 1),
      flushTwo: flushRow('F1 ×2', two, 2),
      ceiling: ceilingRow('F1 ceiling', ceilingOne, 1, plan.workerConcurrency),
      ceilingTwo: ceilingRow('F1 ceiling ×2', ceilingTwo, 2, plan.workerConcurrency),
      ceilingShape: {
        ...ceilingRow('F1 ceiling (job shape)', ceilingShape, 1, plan.workerConcurrency),
        title: `BullMQ no-op Worker over flush-shaped jobs, ${ceilingShape.jobs.toLocaleString('en')} jobs, 1 process`,
        notes: [
          `informational: jobs with the library's options (${JSON.stringify(shapeOpts)}), due when the clock starts; what BullMQ alone costs per flush job`,
        ],
      },
      flushDiscard: {
        ...flushRow('F1 (no writes)', discard, 1),
        title: `F1 with the database writes discarded, ${discard.keys.toLocaleString('en')} dirty keys, 1 worker process`,
        notes: [
          `informational: the same flush, its upserts succeeding without reaching PostgreSQL: what the statements cost F1. One round, right after F1's and the ceiling's second rounds: ${ratioTo(discard, lastOf(oneRounds))}× that F1 round, ${ratioTo(discard, lastOf(ceilingRounds))}× that ceiling round`,
          ...busyNote(discard.cpu.machineBusyPct),
        ],
      },
      memory: {
        id: 'M1',
        title: `Redis used_memory per dirty key, around the F1 preload`,
        count: dirtyKeys,
        countUnit: 'dirty keys',
        notes: [
          `${formatBytes(bytesPerKey)} per dirty key (${formatBytes(memoryAfter - memoryBefore)} for ${dirtyKeys.toLocaleString('en')}; data hash + dirty index + delayed BullMQ job)`,
          describeBreakdown(breakdown, formatBytes),
          `preload ${Math.round(firstLoad.opsPerSec).toLocaleString('en')} cold / ${Math.round(secondLoad.opsPerSec).toLocaleString('en')} warm increments/s at ${plan.preloadInFlight} in flight`,
        ],
        metrics: {
          bytesPerKey,
          usedMemoryDelta: memoryAfter - memoryBefore,
          dirtyKeys,
          ...breakdown,
          coldPreloadOpsPerSec: firstLoad.opsPerSec,
          warmPreloadOpsPerSec: secondLoad.opsPerSec,
        },
      },
    };
  } finally {
    await cache.close();
    await prisma.$disconnect();
    await deleteKeys(ctx.redis, prefix);
  }
}

interface CeilingRound {
  jobs: number;
  ms: number;
  /** Jobs/s of each round, when this pools several. */
  rates?: number[];
  cpu: CpuPerOp;
}

function ceilingRow(id: string, round: CeilingRound, workers: number, concurrency: number): CaseResult {
  return roundRow(
    {
      id,
      title: `BullMQ no-op Worker, ${round.jobs.toLocaleString('en')} jobs, ${processes(workers)}`,
      note: `concurrency ${concurrency} per process, jobs added beforehand with addBulk`,
    },
    round,
    round.jobs,
    'jobs',
  );
}

/** `1 process`, `2 worker processes`. */
const processes = (workers: number, kind = '') => `${workers} ${kind}process${workers > 1 ? 'es' : ''}`;

/**
 * What every row of F1 and of its ceiling shows: `count` `unit` over the round's time, the rates of the rounds
 * it pools, how busy the machine was, then the row's own note and metrics.
 */
function roundRow(
  row: { id: string; title: string; note: string; metrics?: Record<string, number> },
  round: { ms: number; rates?: number[]; cpu: CpuPerOp },
  count: number,
  unit: 'keys' | 'jobs',
): CaseResult {
  return {
    id: row.id,
    title: row.title,
    count,
    countUnit: unit,
    rate: (count / round.ms) * 1000,
    rateUnit: `${unit}/s`,
    cpu: round.cpu,
    notes: [...poolNote(round.rates, `${unit}/s`), ...busyNote(round.cpu.machineBusyPct), row.note],
    metrics: { ms: round.ms, ...row.metrics },
  };
}

/**
 * The CPU per operation of pooled rounds: each round's figure weighted by its operations; how busy the machine
 * was, by its duration.
 */
function poolCpu(rounds: { count: number; ms: number; cpu: CpuPerOp }[]): CpuPerOp {
  const weigh = (pick: (cpu: CpuPerOp) => number | undefined, by: (r: (typeof rounds)[number]) => number) =>
    rounds.reduce((acc, r) => acc + (pick(r.cpu) ?? 0) * by(r), 0) / rounds.reduce((n, r) => n + by(r), 0);
  const byCount = (r: (typeof rounds)[number]) => r.count;
  const has = (pick: (cpu: CpuPerOp) => number | undefined) => rounds.every((r) => pick(r.cpu) !== undefined);
  return {
    nodeUsPerOp: weigh((c) => c.nodeUsPerOp, byCount),
    redisUsPerOp: weigh((c) => c.redisUsPerOp, byCount),
    ...(has((c) => c.postgresUsPerOp) ? { postgresUsPerOp: weigh((c) => c.postgresUsPerOp, byCount) } : {}),
    ...(has((c) => c.machineBusyPct)
      ? {
          machineBusyPct: weigh(
            (c) => c.machineBusyPct,
            (r) => r.ms,
          ),
        }
      : {}),
  };
}

/** Several rounds as one: all the keys over all the time, counters summed. */
function poolFlushRounds(rounds: FlushRound[]): FlushRound {
  const counters: Record<string, number> = {};
  for (const name of COUNTERS)
    counters[name] = sum(
      rounds.map((r) => r.counters),
      name,
    );
  return {
    keys: rounds.reduce((n, r) => n + r.keys, 0) / rounds.length,
    ms: rounds.reduce((n, r) => n + r.ms, 0) / rounds.length,
    rates: rounds.map((r) => (r.keys / r.ms) * 1000),
    counters,
    cpu: poolCpu(rounds.map((r) => ({ count: r.keys, ms: r.ms, cpu: r.cpu }))),
  };
}

function poolCeilingRounds(rounds: CeilingRound[]): CeilingRound {
  return {
    jobs: rounds.reduce((n, r) => n + r.jobs, 0) / rounds.length,
    ms: rounds.reduce((n, r) => n + r.ms, 0) / rounds.length,
    rates: rounds.map((r) => (r.jobs / r.ms) * 1000),
    cpu: poolCpu(rounds.map((r) => ({ count: r.jobs, ms: r.ms, cpu: r.cpu }))),
  };
}

const rateOf = (round: FlushRound | CeilingRound) => ('keys' in round ? round.keys : round.jobs) / round.ms;
const ratioTo = (round: FlushRound, other: FlushRound | CeilingRound) =>
  (rateOf(round) / rateOf(other)).toFixed(2);
function lastOf<T>(rounds: T[]): T {
  const last = rounds.at(-1);
  if (last === undefined) throw new Error('no rounds');
  return last;
}

function busyNote(busyPct: number | undefined): string[] {
  return busyPct === undefined ? [] : [`machine busy ${busyPct.toFixed(0)} % of one core while timed`];
}

function poolNote(rates: number[] | undefined, unit: string): string[] {
  if (!rates || rates.length < 2) return [];
  const each = rates.map((r) => Math.round(r).toLocaleString('en')).join(' and ');
  return [
    `${rates.length} rounds alternating with the other (${each} ${unit}); the rate is all of them over all their time`,
  ];
}

/**
 * BullMQ's own ceiling: a processor that does nothing, same concurrency, same number of jobs. With
 * `shape`, over jobs with exactly the options of the library's flush jobs (delayed by the window, attempts,
 * backoff), added and left until due before the clock starts: what BullMQ alone costs per flush job.
 */
async function noopCeiling(
  ctx: BenchContext,
  jobs: number,
  workers: number,
  shape?: { opts: JobsOptions; windowMs: number },
): Promise<CeilingRound> {
  const prefix = `${ctx.prefix}-noop${workers}${shape ? 's' : ''}`;
  const shard = shardKeys(prefix, 0, 1);
  const queue = new Queue(shard.queueName, { connection: ctx.redis, prefix: shard.tag });
  let children: WorkerProcess[] = [];
  try {
    await queue.pause();
    // Four addBulk calls in flight: setup, not measured.
    await runLoad({
      concurrency: 4,
      total: Math.ceil(jobs / 1000),
      maxMs: FLUSH_TIMEOUT_MS,
      op: (c) => {
        const first = c * 1000;
        return queue.addBulk(
          Array.from({ length: Math.min(1000, jobs - first) }, (_, j) => ({
            name: 'flush',
            data: { entity: 'video', id: `n-${first + j}` },
            opts: { ...shape?.opts, jobId: `video.n-${first + j}.v1`, removeOnComplete: true },
          })),
        );
      },
    });
    // Delayed jobs: wait until the last is due, as F1 does, so the clock times only processing.
    if (shape) await new Promise((resolve) => setTimeout(resolve, shape.windowMs + 200));
    children = await Promise.all(
      Array.from({ length: workers }, () => startBenchWorker(ctx, { mode: 'noop', prefix })),
    );
    const servers = await startServerCpuMeter(ctx.redis);
    const started = performance.now();
    await queue.resume();
    const finished = await waitFor(
      `no-op ceiling with ${workers} worker(s)`,
      async () => {
        const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
        return Object.values(counts).every((n) => n === 0);
      },
      FLUSH_TIMEOUT_MS,
    );
    const serverCpu = await servers.stop(jobs);
    const counters = await Promise.all(children.map((c) => c.stop()));
    const cpu = { nodeUsPerOp: sum(counters, 'cpuMicros') / jobs, ...serverCpu };
    return { jobs, ms: finished - started, cpu };
  } finally {
    await Promise.all(children.map((c) => c.stop().catch(() => ({}))));
    await queue.close();
    await deleteKeys(ctx.redis, prefix);
  }
}
