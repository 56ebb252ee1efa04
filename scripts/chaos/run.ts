// Consistency checker under faults: `npm run chaos -- --duration 60s`.
//
// Many concurrent clients drive the library (increments, whole and partial sets, deletes, reads) while flush
// workers (child processes) are SIGKILLed and restarted, PostgreSQL is cut through a TCP proxy, and workers
// are killed right after a flush committed. Every ACKNOWLEDGED write is recorded in a model; after the load
// stops, a clean worker drains everything and every key's row in PostgreSQL (and its value in Redis) is
// compared with the model. For each worker kill it also measures recovery: the time from the kill to the last
// key held by a job active at the kill reaching PostgreSQL (see recovery-tracker.ts), with the library's
// default lock and stalled-check settings.
//
// Flags: --duration 60s  --clients 32  --videos 2000  --settings 1000  --hot 8  --workers 2
//        --kill-every 3s  --outage 10s  --outage-at 0.35  --drain-timeout 60s  --seed 1  --json  --quiet
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import {
  createWriteBehind,
  type FlushWorker,
  NotFoundError,
  UnavailableError,
  type WriteBehind,
  WriteBehindError,
} from '@write-behind/core';
import { defineScripts, shardKeys } from '@write-behind/core/internal';
import { createPrismaClient } from '@write-behind/db';
import {
  cleanupRedis,
  createTestDatabase,
  DATABASE_URL,
  entities,
  HARNESS_FLUSH,
  mulberry32,
  REDIS_URL,
  schemaUrl,
  spawnWorkerProcess,
  startPgProxy,
  type TestEntities,
  testPrefix,
  type WorkerProcess,
  type WorkerProcessConfig,
} from '@write-behind/testkit';
import { Redis } from 'ioredis';
import { type KillRecovery, type RecoverySummary, RecoveryTracker } from './recovery-tracker.ts';

export interface ChaosOptions {
  durationMs: number;
  clients: number;
  videos: number;
  settings: number;
  /** Video keys shared by every client (concurrent increments of `views`). */
  hot: number;
  workers: number;
  killEveryMs: number;
  outageMs: number;
  /** When the outage starts, as a fraction of the duration. */
  outageAt: number;
  seed: number;
  /** Progress lines on stderr. */
  verbose: boolean;
  /** How long the clean worker gets to drain everything after the load. */
  drainTimeoutMs: number;
}

export const DEFAULT_CHAOS: ChaosOptions = {
  durationMs: 60_000,
  clients: 32,
  videos: 2000,
  settings: 1000,
  hot: 8,
  workers: 2,
  killEveryMs: 3000,
  outageMs: 10_000,
  outageAt: 0.35,
  seed: 1,
  verbose: true,
  drainTimeoutMs: 60_000,
};

export interface Mismatch {
  where: 'postgres' | 'redis';
  entity: string;
  id: string;
  expected: unknown;
  actual: unknown;
}

export interface ChaosReport {
  options: ChaosOptions;
  loadMs: number;
  acknowledged: number;
  acknowledgedByKind: Record<string, number>;
  rejected: Record<string, number>;
  /** Reads during the load whose value differed from the model (the client owns the key, so it must not). */
  readMismatches: number;
  throughput: number;
  faults: Record<string, number>;
  faultsTotal: number;
  drainMs: number;
  drainError?: string;
  rowsChecked: number;
  keysChecked: number;
  mismatches: number;
  mismatchSamples: Mismatch[];
  /** Jobs left in BullMQ's failed set (their keys may still have been flushed by a later job). */
  failedJobs: number;
  failedReasons: Record<string, number>;
  /** Keys still dirty after the drain (at most 20), with their flush job's state. */
  stuckKeys: string[];
  /** Only when keys were stuck: PostgreSQL mismatches after retrying every failed job and draining again. */
  mismatchesAfterRetry?: number;
  /** Per kill: from the kill to the last key its active jobs held reaching PostgreSQL. */
  recovery: RecoverySummary;
  /** Log lines of the cache and the draining worker; warnings counted by message. */
  logs: { warn: number; error: number; errorSamples: string[]; warnings: Record<string, number> };
}

type VideoRecord = { likes: number; views: number };
type SettingsRecord = { theme: string; language: string; notifications: boolean };

const bump = (counts: Record<string, number>, key: string, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

export async function runChaos(partial: Partial<ChaosOptions> = {}): Promise<ChaosReport> {
  const o: ChaosOptions = { ...DEFAULT_CHAOS, ...partial };
  const log = (line: string) => {
    if (o.verbose) process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${line}\n`);
  };
  const db = await createTestDatabase();
  const prefix = testPrefix();
  const target = new URL(DATABASE_URL);
  const proxy = await startPgProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const proxiedBase = proxy.url(DATABASE_URL);
  const prisma = createPrismaClient(schemaUrl(db.schema, proxiedBase), { max: 8 });
  const logCounts = {
    warn: 0,
    error: 0,
    errorSamples: [] as string[],
    warnings: {} as Record<string, number>,
  };
  const cache = createWriteBehind<TestEntities>({
    redis: REDIS_URL,
    entities,
    prefix,
    prisma,
    flush: { windowMs: 100, backoffMs: 50, outageBackoffMs: 200, maxOutageBackoffMs: 1000 },
    sweep: { intervalMs: 1000, graceMs: 2000 },
    logger: {
      info: () => {},
      warn: (_obj, msg = '') => {
        logCounts.warn++;
        bump(logCounts.warnings, msg);
      },
      error: (obj, msg = '') => {
        logCounts.error++;
        if (logCounts.errorSamples.length < 5) logCounts.errorSamples.push(`${msg} ${safeJson(obj)}`);
      },
    },
  });

  // Workers reach PostgreSQL through the proxy too, so the outage cuts them off.
  const workerConfig: WorkerProcessConfig = {
    prefix,
    databaseUrl: schemaUrl(db.schema, proxiedBase),
    flush: HARNESS_FLUSH,
  };
  const faults: Record<string, number> = {};
  const children = new Set<WorkerProcess>();
  const spawnWorker = () => {
    const c = spawnWorkerProcess(workerConfig);
    children.add(c);
    c.process.once('exit', () => children.delete(c));
    return c;
  };

  // ---- model ----
  const videos = new Map<string, VideoRecord | null>();
  const settings = new Map<string, SettingsRecord | null>();
  const hotViews = new Map<string, number>();
  const hotAmbiguous = new Set<string>();
  const acked: Record<string, number> = {};
  const rejected: Record<string, number> = {};
  let readMismatches = 0;
  const readMismatchSamples: Mismatch[] = [];
  const videoIds = Array.from({ length: o.videos }, (_, i) => `v${i}`);
  const settingsIds = Array.from({ length: o.settings }, (_, i) => `u${i}`);
  const hotIds = Array.from({ length: o.hot }, (_, i) => `hot${i}`);
  for (const id of hotIds) hotViews.set(id, 0);

  const themes = ['light', 'dark', 'solarized', 'système', '🌙'];
  const languages = ['en', 'de', 'fr', 'ja', 'pt-BR'];

  let stop = false;
  const clientLoop = async (c: number) => {
    const r = mulberry32(o.seed * 1000 + c);
    const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;
    // Keys this client owns: only it writes them, so the model is exact per key.
    const myVideos = videoIds.filter((_, i) => i % o.clients === c);
    const mySettings = settingsIds.filter((_, i) => i % o.clients === c);
    while (!stop) {
      const p = r();
      let kind = '';
      try {
        if (p < 0.1 && hotIds.length > 0) {
          kind = 'increment-hot';
          const id = pick(hotIds);
          const by = 1 + Math.floor(r() * 3);
          try {
            await cache.increment('video', id, 'views', by);
            hotViews.set(id, (hotViews.get(id) ?? 0) + by);
          } catch (error) {
            // A cold-load failure happens before the write script: nothing changed. Anything else is ambiguous.
            if (!(error instanceof UnavailableError && String(error.message).startsWith('could not load')))
              hotAmbiguous.add(id);
            throw error;
          }
        } else if (p < 0.5 && myVideos.length > 0) {
          kind = 'increment';
          const id = pick(myVideos);
          const field = r() < 0.5 ? 'likes' : 'views';
          const by = Math.floor(r() * 21) - 8;
          const value = await cache.increment('video', id, field, by);
          const prev = videos.get(id) ?? { likes: 0, views: 0 };
          videos.set(id, { ...prev, [field]: value });
        } else if (p < 0.58 && myVideos.length > 0) {
          kind = r() < 0.5 ? 'set-whole' : 'set-partial';
          const id = pick(myVideos);
          const values =
            kind === 'set-whole'
              ? { likes: Math.floor(r() * 1000), views: Math.floor(r() * 1000) }
              : { likes: Math.floor(r() * 1000) };
          videos.set(id, await cache.set('video', id, values));
        } else if (p < 0.62 && myVideos.length > 0) {
          kind = 'delete';
          const id = pick(myVideos);
          await cache.delete('video', id);
          videos.set(id, null);
        } else if (p < 0.77 && mySettings.length > 0) {
          kind = 'set-whole';
          const id = pick(mySettings);
          const rec = { theme: pick(themes), language: pick(languages), notifications: r() < 0.5 };
          settings.set(id, await cache.set('settings', id, rec));
        } else if (p < 0.87 && mySettings.length > 0) {
          kind = 'set-partial';
          const id = pick(mySettings);
          const values: Partial<SettingsRecord> = {};
          if (r() < 0.5) values.theme = pick(themes);
          if (r() < 0.4) values.notifications = r() < 0.5;
          if (r() < 0.3 || Object.keys(values).length === 0) values.language = pick(languages);
          // On an absent record without `language` this is a NotFoundError: nothing changed.
          settings.set(id, await cache.set('settings', id, values));
        } else if (p < 0.92 && mySettings.length > 0) {
          kind = 'delete';
          const id = pick(mySettings);
          await cache.delete('settings', id);
          settings.set(id, null);
        } else {
          kind = 'get';
          if (r() < 0.5 && myVideos.length > 0) {
            const id = pick(myVideos);
            const got = await cache.get('video', id);
            const want = videos.get(id) ?? null;
            if (!sameRecord(got, want)) {
              readMismatches++;
              if (readMismatchSamples.length < 5)
                readMismatchSamples.push({
                  where: 'redis',
                  entity: 'video',
                  id,
                  expected: want,
                  actual: got,
                });
            }
          } else if (mySettings.length > 0) {
            const id = pick(mySettings);
            const got = await cache.get('settings', id);
            const want = settings.get(id) ?? null;
            if (!sameRecord(got, want)) {
              readMismatches++;
              if (readMismatchSamples.length < 5)
                readMismatchSamples.push({
                  where: 'redis',
                  entity: 'settings',
                  id,
                  expected: want,
                  actual: got,
                });
            }
          }
        }
        bump(acked, kind);
      } catch (error) {
        const code =
          error instanceof NotFoundError
            ? 'NOT_FOUND (expected)'
            : error instanceof WriteBehindError
              ? error.code
              : `non-library ${(error as Error)?.name}: ${(error as Error)?.message}`;
        bump(rejected, code);
        // Back off a little after an outage refusal, as a real client would.
        if (error instanceof UnavailableError) await sleep(5);
      }
    }
  };

  // ---- faults ----
  for (let i = 0; i < o.workers; i++) spawnWorker();
  let outage = false;
  const faultLoop = async (start: number, tracker: RecoveryTracker) => {
    let kills = 0;
    // The outage runs on its own clock, whatever the kill loop is waiting for.
    const outageTimer =
      o.outageMs > 0
        ? setTimeout(
            () => {
              outage = true;
              tracker.outage(Date.now(), Date.now() + o.outageMs);
              proxy.cut();
              bump(faults, 'pg-outage');
              log(`PostgreSQL cut for ${o.outageMs} ms`);
              setTimeout(() => {
                proxy.restore();
                outage = false;
                log('PostgreSQL restored');
              }, o.outageMs).unref();
            },
            Math.max(0, start + o.durationMs * o.outageAt - Date.now()),
          )
        : undefined;
    outageTimer?.unref();
    while (!stop) {
      await sleep(o.killEveryMs);
      if (stop) break;
      kills++;
      if (kills % 3 === 0 && !outage) {
        // Killed right after a flush committed, before the acknowledgement.
        const hang = spawnWorkerProcess({ ...workerConfig, store: 'hang-after-upsert' });
        const committed = await hang.waitFor('upsert-committed', 8000).then(
          () => true,
          () => false,
        );
        const kind = committed ? 'kill-after-commit' : 'kill-hung-worker-before-commit';
        await tracker.kill(kind, () => hang.kill());
        bump(faults, kind);
        log(`hang-after-upsert worker killed (committed: ${committed})`);
        continue;
      }
      const live = [...children].filter((c) => c.process.exitCode === null);
      const victim = live[Math.floor(Math.random() * live.length)];
      if (victim) {
        await tracker.kill('worker-sigkill', () => victim.kill());
        bump(faults, 'worker-sigkill');
      }
      spawnWorker();
      log(`worker SIGKILLed and replaced (acked so far: ${sum(acked)})`);
    }
  };

  log(`load: ${o.clients} clients, ${o.videos}+${o.hot} videos, ${o.settings} settings, ${o.durationMs} ms`);
  const start = Date.now();
  const tracker = new RecoveryTracker(
    cache.queues[0] as NonNullable<(typeof cache.queues)[0]>,
    redisClient(cache),
    shardKeys(prefix, 0, 1),
    start,
  );
  const faulting = faultLoop(start, tracker);
  const clients = Array.from({ length: o.clients }, (_, c) => clientLoop(c));
  await sleep(o.durationMs);
  stop = true;
  await Promise.all(clients);
  const loadMs = Date.now() - start;
  await faulting;

  // ---- recovery ----
  proxy.restore();
  // Stopped, not killed: their jobs finish, so the last kills' recovery is measured like the others.
  await Promise.all([...children].map((c) => c.stop(20_000).then(noop, () => c.kill())));
  log('load stopped; clean worker draining');
  const drainStart = Date.now();
  let worker: FlushWorker | undefined;
  let drainError: string | undefined;
  try {
    worker = cache.createWorker({ closeTimeoutMs: 5000 });
    await worker.ready;
    await cache.flush({ timeoutMs: o.drainTimeoutMs });
  } catch (error) {
    drainError = `${(error as Error).name}: ${(error as Error).message}`;
    log(`drain failed: ${drainError}`);
  }
  const drainMs = Date.now() - drainStart;
  const recovery = await tracker.summary();

  // ---- comparison ----
  const mismatches: Mismatch[] = [...readMismatchSamples];
  let mismatchCount = 0;
  const miss = (m: Mismatch) => {
    mismatchCount++;
    if (mismatches.length < 20) mismatches.push(m);
  };
  const videoRows = new Map<string, VideoRecord>();
  for (const row of (await db.pool.query('SELECT id, likes::text, views::text FROM "Video"')).rows)
    videoRows.set(row.id, { likes: Number(row.likes), views: Number(row.views) });
  const settingsRows = new Map<string, SettingsRecord>();
  for (const row of (await db.pool.query('SELECT user_id, theme, language, notifications FROM user_settings'))
    .rows)
    settingsRows.set(row.user_id, {
      theme: row.theme,
      language: row.language,
      notifications: row.notifications,
    });

  const expectedVideos = new Map<string, VideoRecord | null>(videos);
  for (const id of hotIds) {
    if (hotAmbiguous.has(id)) continue;
    const views = hotViews.get(id) ?? 0;
    expectedVideos.set(id, views === 0 ? null : { likes: 0, views });
  }
  const keys: [string, string, unknown][] = [];
  for (const id of [...videoIds, ...hotIds]) {
    if (hotAmbiguous.has(id)) continue;
    const want = expectedVideos.get(id) ?? null;
    const row = videoRows.get(id) ?? null;
    if (!sameRecord(row, want)) miss({ where: 'postgres', entity: 'video', id, expected: want, actual: row });
    keys.push(['video', id, want]);
  }
  for (const id of settingsIds) {
    const want = settings.get(id) ?? null;
    const row = settingsRows.get(id) ?? null;
    if (!sameRecord(row, want))
      miss({ where: 'postgres', entity: 'settings', id, expected: want, actual: row });
    keys.push(['settings', id, want]);
  }
  for (const id of videoRows.keys())
    if (!expectedVideos.has(id) && !videoIds.includes(id) && !hotIds.includes(id))
      miss({ where: 'postgres', entity: 'video', id, expected: null, actual: videoRows.get(id) });
  for (let i = 0; i < keys.length; i += 200) {
    await Promise.all(
      keys.slice(i, i + 200).map(async ([entity, id, want]) => {
        const got = await cache.get(entity as 'video', id);
        if (!sameRecord(got, want)) miss({ where: 'redis', entity, id, expected: want, actual: got });
      }),
    );
  }
  // Keys still dirty after the drain, with the state of the job their current version maps to.
  const stuckKeys: string[] = [];
  const shard = shardKeys(prefix, 0, 1);
  const client = redisClient(cache);
  defineScripts(client);
  for (const key of await client.zrange(shard.dirty, '0', '19')) {
    const version = Number(await client.hget(key, '_v'));
    const jobId = await client.wbJobId(key, shard.dataKeyPrefixLength);
    const job = jobId ? await cache.queues[0]?.getJob(jobId) : undefined;
    const state = job ? await job.getState() : 'no job';
    stuckKeys.push(
      `${key} v${version}: job ${jobId ?? '(none)'} ${state}${job?.failedReason ? ` (${job.failedReason})` : ''}`,
    );
  }
  const failedJobs = (await cache.queues[0]?.getJobCounts('failed'))?.failed ?? 0;
  const failedReasons: Record<string, number> = {};
  for (const job of (await cache.queues[0]?.getFailed(0, 999)) ?? [])
    bump(failedReasons, String(job.failedReason).slice(0, 120));

  // What an operator would do about stuck keys: retry the failed jobs, drain again, compare PostgreSQL again.
  // Tells "lost for good" from "stranded until someone retries" (see the stalled-twice bug in RELIABILITY.md).
  let mismatchesAfterRetry: number | undefined;
  if (stuckKeys.length > 0) {
    for (const job of (await cache.queues[0]?.getFailed(0, 9999)) ?? []) await job.retry().catch(() => {});
    await cache.flush({ timeoutMs: 20_000 }).catch(() => {});
    mismatchesAfterRetry = 0;
    const rows = await db.pool.query(
      `SELECT 'video' AS entity, id, json_build_object('likes', likes::float8, 'views', views::float8) AS v FROM "Video"
       UNION ALL SELECT 'settings', user_id, json_build_object('theme', theme, 'language', language, 'notifications', notifications) FROM user_settings`,
    );
    const found = new Map<string, unknown>(rows.rows.map((r) => [`${r.entity} ${r.id}`, r.v]));
    for (const [entity, id, want] of keys) {
      if (!sameRecord(found.get(`${entity} ${id}`) ?? null, want)) mismatchesAfterRetry++;
    }
  }

  await worker?.close();
  sharedRedis?.disconnect();
  sharedRedis = undefined;
  await cache.close();
  await prisma.$disconnect();
  await proxy.close();
  await cleanupRedis(prefix);
  await db.drop();

  const acknowledged = sum(acked);
  return {
    options: o,
    loadMs,
    acknowledged,
    acknowledgedByKind: acked,
    rejected,
    readMismatches,
    throughput: Math.round((acknowledged / loadMs) * 1000),
    faults,
    faultsTotal: sum(faults),
    drainMs,
    ...(drainError ? { drainError } : {}),
    rowsChecked: videoRows.size + settingsRows.size,
    keysChecked: keys.length,
    mismatches: mismatchCount + readMismatches,
    mismatchSamples: mismatches,
    failedJobs,
    failedReasons,
    stuckKeys,
    ...(mismatchesAfterRetry === undefined ? {} : { mismatchesAfterRetry }),
    recovery,
    logs: logCounts,
  };
}

let sharedRedis: Redis | undefined;
/** A plain client for diagnostics (the cache's own connection is private). */
function redisClient(_cache: WriteBehind<TestEntities>): Redis {
  sharedRedis ??= new Redis(REDIS_URL);
  return sharedRedis;
}

function noop(): void {}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function sameRecord(a: unknown, b: unknown): boolean {
  if (a === null || b === null || a === undefined || b === undefined) return (a ?? null) === (b ?? null);
  const ka = Object.keys(a as object).sort();
  const kb = Object.keys(b as object).sort();
  if (ka.join() !== kb.join()) return false;
  return ka.every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
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

/** `60s`, `2m`, `1500ms`, or a bare number of milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`not a duration: ${text}`);
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n;
}

export function parseChaosArgs(argv: string[]): Partial<ChaosOptions> & { json?: boolean } {
  const out: Partial<ChaosOptions> & { json?: boolean } = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--duration':
        out.durationMs = parseDuration(next());
        break;
      case '--kill-every':
        out.killEveryMs = parseDuration(next());
        break;
      case '--outage':
        out.outageMs = parseDuration(next());
        break;
      case '--drain-timeout':
        out.drainTimeoutMs = parseDuration(next());
        break;
      case '--outage-at':
        out.outageAt = Number(next());
        break;
      case '--clients':
        out.clients = Number(next());
        break;
      case '--videos':
        out.videos = Number(next());
        break;
      case '--settings':
        out.settings = Number(next());
        break;
      case '--hot':
        out.hot = Number(next());
        break;
      case '--workers':
        out.workers = Number(next());
        break;
      case '--seed':
        out.seed = Number(next());
        break;
      case '--json':
        out.json = true;
        break;
      case '--quiet':
        out.verbose = false;
        break;
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  return out;
}

export function formatReport(r: ChaosReport): string {
  return [
    `load held           ${r.throughput} acknowledged ops/s for ${(r.loadMs / 1000).toFixed(1)} s (${r.options.clients} clients)`,
    `acknowledged        ${r.acknowledged} ${JSON.stringify(r.acknowledgedByKind)}`,
    `not acknowledged    ${JSON.stringify(r.rejected)}`,
    `faults injected     ${r.faultsTotal} ${JSON.stringify(r.faults)}`,
    `drain               ${r.drainMs} ms${r.drainError ? ` FAILED: ${r.drainError}` : ''}`,
    `recovery after kill ${formatRecovery(r.recovery)}`,
    ...r.recovery.samples.map(formatKill),
    `rows checked        ${r.rowsChecked} rows in PostgreSQL, ${r.keysChecked} keys against the model (PostgreSQL and Redis)`,
    `failed jobs         ${r.failedJobs} ${JSON.stringify(r.failedReasons)}`,
    ...r.stuckKeys.map((k) => `  still dirty: ${k}`),
    `library log lines   warn ${r.logs.warn} ${JSON.stringify(r.logs.warnings)}, error ${r.logs.error}`,
    `read mismatches     ${r.readMismatches}`,
    `MISMATCHES          ${r.mismatches}`,
    ...(r.mismatchesAfterRetry === undefined
      ? []
      : [`after retrying the failed jobs by hand: ${r.mismatchesAfterRetry} PostgreSQL mismatches`]),
    ...r.mismatchSamples
      .slice(0, 10)
      .map(
        (m) =>
          `  ${m.where} ${m.entity} ${m.id}: expected ${JSON.stringify(m.expected)}, got ${JSON.stringify(m.actual)}`,
      ),
  ].join('\n');
}

function formatKill(k: KillRecovery): string {
  const s = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`);
  const restalled = k.restalled > 0 ? `; ${k.restalled} stalled a second time: ${s(k.restalledMs)}` : '';
  return `  kill at ${(k.atMs / 1000).toFixed(1)} s (${k.kind}, ${k.keys} keys held): ${k.landed ? s(k.recoveryMs) : 'never landed'}${restalled}${k.duringOutage ? ' (outage)' : ''}`;
}

function formatRecovery(r: RecoverySummary): string {
  const ms = (n: number | undefined) => (n === undefined ? '—' : `${(n / 1000).toFixed(2)} s`);
  return [
    `${r.kills} of ${r.killsTotal} kills found the worker holding keys`,
    `median ${ms(r.medianMs)}, max ${ms(r.maxMs)} over the ${r.kills - r.outageKills} clear of the outage`,
    `${r.outageKills} during the outage (max ${ms(r.outageMaxMs)})`,
    ...(r.restalledMaxMs === undefined
      ? []
      : [`keys whose job stalled a second time (the sweep's): up to ${ms(r.restalledMaxMs)}`]),
    ...(r.notLanded > 0 ? [`${r.notLanded} with a key never landed`] : []),
  ].join('; ');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { json, ...options } = parseChaosArgs(process.argv.slice(2));
  const report = await runChaos(options);
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
  process.exit(report.mismatches === 0 && !report.drainError ? 0 : 1);
}
