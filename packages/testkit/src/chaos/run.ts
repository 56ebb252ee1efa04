// The consistency checker under faults (`npm run chaos`, test/chaos.test.ts).
//
// Many concurrent clients drive the library (increments and adds, whole and partial sets, deletes, appends,
// reads, and comments: children of the videos, created with a video's first write or on a video, updated,
// deleted, and deleted with their video; see load.ts) while flush workers (child processes) are SIGKILLed and
// replaced, PostgreSQL is cut through a TCP proxy, and workers are killed right after a flush committed
// (faults.ts). Every ACKNOWLEDGED write is recorded in a model (model.ts); after the load stops, a clean worker
// drains everything, every key's row in PostgreSQL, its record in Redis and every event row are compared with
// the model, and the failed jobs and the workers' refused rows are counted (check.ts, worker-logs.ts). For each
// worker kill it also measures recovery: the time from the kill to the last key held by a job active at the
// kill reaching PostgreSQL (recovery-tracker.ts), with the library's default lock and stalled-check settings.
import { setTimeout as sleep } from 'node:timers/promises';
import { createWriteBehind, type FlushWorker, type Logger } from '@write-behind/core';
import { shardKeys } from '@write-behind/core/internal';
import { createPrismaClient, type PrismaClient } from '@write-behind/db';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { chaosEntities } from '../entities.ts';
import {
  cleanupRedis,
  createTestDatabase,
  DATABASE_URL,
  REDIS_URL,
  schemaUrl,
  type TestDatabase,
  testPrefix,
} from '../env.ts';
import { HARNESS_FLUSH } from '../harness.ts';
import { type PgProxy, startProxyTo } from '../pg-proxy.ts';
import type { WorkerProcessConfig } from '../worker-process.ts';
import { checkDatabase, checkRedis, failedJobs, retryFailedAndRecheck, stuckKeys } from './check.ts';
import { bump, type Counts, sum } from './counts.ts';
import { runFaults, WorkerPool } from './faults.ts';
import { type ChaosCache, LoadTally, runClient } from './load.ts';
import { type ChaosKeys, ChaosModel, type Mismatch } from './model.ts';
import { type ChaosOptions, resolveChaosOptions } from './options.ts';
import { RecoveryTracker } from './recovery-tracker.ts';
import type { ChaosReport, LogCounts } from './report.ts';

/** Everything a run sets up, and takes down in `close()`. */
interface ChaosWorld {
  db: TestDatabase;
  prefix: string;
  proxy: PgProxy;
  prisma: PrismaClient;
  cache: ChaosCache;
  /** Shard 0 of 1: the run's one flush queue. */
  queue: Queue | undefined;
  /** A plain connection for diagnostics (the cache's own is private). */
  redis: Redis;
  logs: LogCounts;
  /** How the workers of the load are started: through the proxy, so the outage cuts them off too. */
  workerConfig: WorkerProcessConfig;
  /** The clean worker that drains after the load. */
  drainer?: FlushWorker;
  close(): Promise<void>;
}

/**
 * The flush timing of every process of a run (the clients' cache, the workers of the load, the drainer): a
 * short window, and a database outage probed every 200 ms to 1 s rather than the library's 0.5 s to 30 s, so
 * that the workers flush again within a second of the outage's end and the kills after it find them busy.
 */
const CHAOS_FLUSH = { ...HARNESS_FLUSH, outageBackoffMs: 200, maxOutageBackoffMs: 1000 };

/** Mismatches kept as samples in the report. */
const MISMATCH_SAMPLES = 20;
/** How long a worker of the load gets to finish its jobs once the load stops. */
const WORKER_STOP_TIMEOUT_MS = 20_000;

/**
 * Runs the load under faults for `options.durationMs`, drains, and compares everything with the model.
 *
 * @example
 * ```ts
 * const report = await runChaos({ durationMs: 25_000, clients: 16, verbose: false });
 * assert.equal(report.mismatches, 0, formatReport(report));
 * ```
 */
export async function runChaos(options: Partial<ChaosOptions> = {}): Promise<ChaosReport> {
  const o = resolveChaosOptions(options);
  const log = progressLog(o.verbose);
  const world = await openWorld();
  try {
    const model = new ChaosModel(chaosKeys(o));
    const tally = new LoadTally();
    log(
      `load: ${o.clients} clients, ${o.videos}+${o.hot} videos, ${model.commentIds.length} comments, ${o.settings} settings, ${o.streams} event streams, ${o.durationMs} ms`,
    );
    const { loadMs, faults, tracker, workerCounters, pool } = await loadUnderFaults(
      world,
      model,
      tally,
      o,
      log,
    );
    log('load stopped; clean worker draining');
    const { drainMs, drainError } = await drain(world, o.drainTimeoutMs);
    if (drainError) log(`drain failed: ${drainError}`);
    const flushCounters = { ...workerCounters };
    for (const [name, value] of Object.entries(world.drainer?.counters ?? {}))
      bump(flushCounters, name, value);
    const recovery = await tracker.summary();

    const database = await checkDatabase(world.db.pool, model);
    const redis = await checkRedis(world.cache, model);
    const stuck = await stuckKeys(world.queue, world.redis, world.prefix);
    const failed = await failedJobs(world.queue, world.redis);
    const mismatchesAfterRetry =
      stuck.length > 0
        ? await retryFailedAndRecheck(world.cache, world.queue, world.db.pool, model)
        : undefined;

    const mismatches: Mismatch[] = [
      ...model.contradictions,
      ...tally.readMismatchSamples,
      ...database.mismatches,
      ...redis,
    ];
    const acknowledged = sum(tally.acknowledged);
    return {
      options: o,
      loadMs,
      acknowledged,
      acknowledgedByKind: tally.acknowledged,
      rejected: tally.rejected,
      readMismatches: tally.readMismatches,
      throughput: Math.round((acknowledged / loadMs) * 1000),
      faults,
      faultsTotal: sum(faults),
      drainMs,
      ...(drainError ? { drainError } : {}),
      rowsChecked: database.rows,
      commentRows: database.commentRows,
      keysChecked: [...model.checkedKeys()].length,
      eventsChecked: model.eventCount,
      eventRows: database.eventRows,
      unsure: model.unsureCount,
      mismatches:
        model.contradictions.length + tally.readMismatches + database.mismatches.length + redis.length,
      mismatchSamples: mismatches.slice(0, MISMATCH_SAMPLES),
      failedJobs: failed.count,
      stalledJobs: failed.stalled,
      failedReasons: failed.reasons,
      failedSamples: failed.samples,
      flushCounters,
      workerLogs: pool.logs(),
      stuckKeys: stuck,
      ...(mismatchesAfterRetry === undefined ? {} : { mismatchesAfterRetry }),
      recovery,
      logs: world.logs,
    };
  } finally {
    await world.close();
  }
}

/**
 * The keys of a run: `v<n>` videos, `u<n>` settings, `hot<n>` shared videos, `ev<n>` event streams; with
 * comments, `v<n>-c<k>` on each video and `hot<n>-k<client>` on each shared video.
 */
function chaosKeys(o: ChaosOptions): ChaosKeys {
  const ids = (label: string, count: number) => Array.from({ length: count }, (_, i) => `${label}${i}`);
  const videos = ids('v', o.videos);
  const hot = ids('hot', o.hot);
  const comments = new Map<string, string[]>();
  if (o.comments > 0) {
    for (const id of videos) comments.set(id, ids(`${id}-c`, o.comments));
    for (const id of hot) comments.set(id, ids(`${id}-k`, o.clients));
  }
  return { videos, settings: ids('u', o.settings), hot, streams: ids('ev', o.streams), comments };
}

/** A schema, a key prefix, the proxy in front of PostgreSQL, and the clients' cache. */
async function openWorld(): Promise<ChaosWorld> {
  const db = await createTestDatabase();
  const prefix = testPrefix();
  const proxy = await startProxyTo(DATABASE_URL);
  const proxiedUrl = schemaUrl(db.schema, proxy.url(DATABASE_URL));
  const prisma = createPrismaClient(proxiedUrl, { max: 8 });
  const logs: LogCounts = { warn: 0, error: 0, errorSamples: [], warnings: {} };
  const cache = createWriteBehind({
    redis: REDIS_URL,
    entities: chaosEntities,
    prefix,
    prisma,
    flush: CHAOS_FLUSH,
    sweep: { intervalMs: 1000, graceMs: 2000 },
    logger: countingLogger(logs),
  });
  const redis = new Redis(REDIS_URL);
  const world: ChaosWorld = {
    db,
    prefix,
    proxy,
    prisma,
    cache,
    queue: cache.queues[0],
    redis,
    logs,
    workerConfig: { prefix, databaseUrl: proxiedUrl, flush: CHAOS_FLUSH, entities: 'chaos' },
    async close() {
      await world.drainer?.close();
      redis.disconnect();
      await cache.close();
      await prisma.$disconnect();
      await proxy.close();
      await cleanupRedis(prefix);
      await db.drop();
    },
  };
  return world;
}

/** The clients and the faults together for `durationMs`; then the load's workers are stopped. */
async function loadUnderFaults(
  world: ChaosWorld,
  model: ChaosModel,
  tally: LoadTally,
  o: ChaosOptions,
  log: (line: string) => void,
): Promise<{
  loadMs: number;
  faults: Counts;
  tracker: RecoveryTracker;
  workerCounters: Counts;
  pool: WorkerPool;
}> {
  let stopped = false;
  const pool = new WorkerPool(world.workerConfig, o.workers);
  const start = Date.now();
  const tracker = new RecoveryTracker(
    world.queue as Queue,
    world.redis,
    shardKeys(world.prefix, 0, 1),
    start,
  );
  const faults: Counts = {};
  const faulting = runFaults(
    {
      schedule: o,
      pool,
      proxy: world.proxy,
      tracker,
      counts: faults,
      log: (line) => log(`${line} (acked so far: ${sum(tally.acknowledged)})`),
      stopped: () => stopped,
    },
    start,
  );
  const load = { cache: world.cache, model, tally, clients: o.clients, seed: o.seed, stopped: () => stopped };
  const clients = Array.from({ length: o.clients }, (_, c) => runClient(load, c));
  await sleep(o.durationMs);
  stopped = true;
  await Promise.all(clients);
  const loadMs = Date.now() - start;
  await faulting;
  world.proxy.restore();
  // Stopped, not killed: their jobs finish, so the last kills' recovery is measured like the others.
  const workerCounters = await pool.stopAll(WORKER_STOP_TIMEOUT_MS);
  return { loadMs, faults, tracker, workerCounters, pool };
}

/** A clean worker (with the sweep) flushes everything left. */
async function drain(
  world: ChaosWorld,
  timeoutMs: number,
): Promise<{ drainMs: number; drainError?: string }> {
  const start = Date.now();
  try {
    world.drainer = world.cache.createWorker({ closeTimeoutMs: 5000 });
    await world.drainer.ready;
    await world.cache.flush({ timeoutMs });
    return { drainMs: Date.now() - start };
  } catch (error) {
    return {
      drainMs: Date.now() - start,
      drainError: `${(error as Error).name}: ${(error as Error).message}`,
    };
  }
}

function progressLog(verbose: boolean): (line: string) => void {
  return (line) => {
    if (verbose) process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${line}\n`);
  };
}

/** A logger for the cache (and its draining worker) that counts warnings by message and keeps a few errors. */
function countingLogger(logs: LogCounts): Logger {
  return {
    info: () => {},
    warn: (_obj, msg = '') => {
      logs.warn++;
      bump(logs.warnings, msg);
    },
    error: (obj, msg = '') => {
      logs.error++;
      if (logs.errorSamples.length < 5) logs.errorSamples.push(`${msg} ${safeJson(obj)}`);
    },
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => (v instanceof Error ? `${v.name}: ${v.message}` : v)).slice(
      0,
      300,
    );
  } catch {
    return String(value);
  }
}
