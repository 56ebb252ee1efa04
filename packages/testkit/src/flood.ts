// The flood (issue 27): distinct video ids written through the demo api's HTTP routes under a memory budget, the
// cache's Redis memory sampled while they go in, then the drain, and every row in PostgreSQL compared with what
// the api acknowledged. `scripts/flood.ts` runs it at full scale (1,000,000 ids under 64 MiB) and
// test/api-memory-budget.test.ts at a small one.
//
// A write the budget refuses (503 `BACKLOG_FULL`: the api runs with `BACKLOG_LIMIT=0`, so the memory budget is
// the only limit that can refuse a video write; or a 429) changed nothing (guarantee 23): it is counted as a
// refusal and sent again after `retryDelayMs`, up to `maxAttempts` times, so that every id ends with exactly one
// acknowledged write. Were a refused write applied after all, its row would hold the delta twice: the exact
// check of the rows also checks that refusals change nothing. An id refused `maxAttempts` times is "abandoned":
// its row must be absent.
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createWriteBehind, type Stats, type WriteBehind } from '@write-behind/core';
import { rankingKey, type ShardKeys, shardKeys } from '@write-behind/core/internal';
import { createPrismaClient, type PrismaClient } from '@write-behind/db';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type AppProcess, startApp } from './app-process.ts';
import { type RankedTestEntities, rankedEntities } from './entities.ts';
import { createTestDatabase, deleteKeys, prefixPattern, REDIS_URL, scanPages, uniqueName } from './env.ts';

/** Which route each id's one write takes. */
export const FLOOD_ROUTES = ['alternate', 'likes', 'views'] as const;
export type FloodRoute = (typeof FLOOD_ROUTES)[number];

/** The ranked counters of the demo's `video` (`demoEntities`): each has a ranking per shard. */
const RANKED_FIELDS = ['likes', 'views'] as const;
/** The largest `by` the api takes by default (`MAX_INCREMENT_BY`). */
const MAX_BY = 1000;

/** An api already running, for the flood to write to instead of starting its own. */
export interface FloodTarget {
  /** Its base URL, e.g. `http://127.0.0.1:3000`. */
  apiUrl: string;
  /** Its `WB_PREFIX`. */
  prefix: string;
  /** Its `DATABASE_URL` (the schema its worker flushes to). */
  databaseUrl: string;
  /** Its `REDIS_URL`. @defaultValue `REDIS_URL` of the environment */
  redisUrl?: string;
}

export interface FloodOptions {
  /** Distinct video ids written, one acknowledged write each. @defaultValue `1_000_000` */
  ids: number;
  /** Requests in flight at once, over as many keep-alive sockets. @defaultValue `64` */
  concurrency: number;
  /**
   * The api's memory budget, `CACHE_MAX_BYTES` (0: none). With {@link FloodOptions.target} it must be what that
   * api runs with: it is what the figures are compared with. @defaultValue `64 * 1024 * 1024`
   */
  maxBytes: number;
  /** `CACHE_MAX_KEYS` (0: no limit). @defaultValue `0` */
  maxKeys: number;
  /**
   * `CACHE_RANKING_ENTRIES`: the entries each ranking keeps under the budget (0: every video, outside the
   * budget). @defaultValue `10_000` (the library's)
   */
  rankingEntries: number;
  /**
   * `likes` (`POST /videos/:id/likes`: a cold key is read from PostgreSQL, and stays in Redis as a whole
   * record, clean once flushed, until the budget evicts it), `views` (`POST /videos/:id/views`: an `add`, no read;
   * the key leaves Redis when flushed), or `alternate` (even ids a like, odd ids a view).
   * @defaultValue `'alternate'`
   */
  route: FloodRoute;
  /** `FLUSH_WINDOW_MS` of the api and worker the flood starts. @defaultValue `1000` (the demo's) */
  flushWindowMs: number;
  /** `WB_SHARDS` of the api and worker (given or started). @defaultValue `1` */
  shards: number;
  /** Sends of one id's write that the budget may refuse before the id is abandoned. @defaultValue `100` */
  maxAttempts: number;
  /** The wait before a refused write is sent again. @defaultValue `100` */
  retryDelayMs: number;
  /** How often Redis memory is sampled, during the load and the drain. @defaultValue `1000` */
  sampleEveryMs: number;
  /** How long the worker gets to flush every dirty key after the load. @defaultValue `600_000` */
  drainTimeoutMs: number;
  /**
   * Also measure every key under the prefix with `MEMORY USAGE` at each sample (a SCAN: for small runs only),
   * by kind: the cache's data keys, its dirty and clean indexes, BullMQ's, the rankings, the rest.
   * @defaultValue `false`
   */
  measureKeys: boolean;
  /** Write to this api rather than start an api and a worker on a fresh prefix and schema. */
  target?: FloodTarget;
  /** Leave the started processes' keys and schema in place (to inspect them). @defaultValue `false` */
  keep: boolean;
  /** Receives a progress line at each sample. @defaultValue none */
  progress?: (line: string) => void;
}

export const DEFAULT_FLOOD_OPTIONS = {
  ids: 1_000_000,
  concurrency: 64,
  maxBytes: 64 * 1024 * 1024,
  maxKeys: 0,
  rankingEntries: 10_000,
  route: 'alternate',
  flushWindowMs: 1000,
  shards: 1,
  maxAttempts: 100,
  retryDelayMs: 100,
  sampleEveryMs: 1000,
  drainTimeoutMs: 600_000,
  measureKeys: false,
  keep: false,
} as const satisfies Omit<FloodOptions, 'target' | 'progress'>;

/** `partial` over the defaults; a `TypeError` quoting the value for one out of range. */
export function resolveFloodOptions(partial: Partial<FloodOptions> = {}): FloodOptions {
  const o: FloodOptions = { ...DEFAULT_FLOOD_OPTIONS, ...partial };
  const whole = (name: keyof FloodOptions, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = o[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new TypeError(
        `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
      );
    }
  };
  whole('ids', 1, 99_999_999);
  whole('concurrency', 1, 10_000);
  whole('maxBytes', 0);
  whole('maxKeys', 0);
  whole('rankingEntries', 0);
  whole('flushWindowMs', 1);
  whole('shards', 1, 1024);
  whole('maxAttempts', 1);
  whole('retryDelayMs', 0);
  whole('sampleEveryMs', 10);
  whole('drainTimeoutMs', 1);
  if (!FLOOD_ROUTES.includes(o.route)) {
    throw new TypeError(`route must be one of ${FLOOD_ROUTES.join(', ')}, got ${JSON.stringify(o.route)}`);
  }
  return o;
}

/** One id's write: the counter it adds to and by how much (1 to {@link MAX_BY}, varied so rows differ). */
export function floodWrite(index: number, route: FloodRoute): { field: 'likes' | 'views'; by: number } {
  const field = route === 'alternate' ? (index % 2 === 0 ? 'likes' : 'views') : route;
  return { field, by: 1 + (index % MAX_BY) };
}

/** The id of index `index` in the run tagged `run`: fixed width, so PostgreSQL's order is the index order. */
export function floodId(run: string, index: number): string {
  return `${run}-${String(index).padStart(8, '0')}`;
}

/** The index of a {@link floodId} of run `run`; undefined for any other id. */
export function floodIndex(run: string, id: string): number | undefined {
  if (!id.startsWith(`${run}-`)) return undefined;
  const digits = id.slice(run.length + 1);
  return /^\d{8}$/.test(digits) ? Number(digits) : undefined;
}

/** What became of an id's write. */
export const IdState = {
  /** Not settled yet. */
  PENDING: 0,
  /** Acknowledged (2xx): its row must hold exactly the delta. */
  ACKED: 1,
  /** Refused every time (`maxAttempts`), or refused for another reason that certainly changed nothing: no row. */
  NOT_APPLIED: 2,
  /** No answer, or an answer that does not say (a 500, `INDETERMINATE`): no row, or exactly the delta. */
  UNKNOWN: 3,
} as const;
type IdStateValue = (typeof IdState)[keyof typeof IdState];

/** An answer of the api, decoded. */
type Answer =
  | { kind: 'acked'; value: number | undefined }
  | { kind: 'refused' }
  | { kind: 'not-applied'; code: string }
  | { kind: 'unknown'; code: string };

/** Codes of a 503 whose write Redis certainly never ran (see apps/api/src/errors.ts). */
const NOT_APPLIED_503 = new Set(['UNAVAILABLE', 'TIMEOUT', 'CLOSED']);

/** The one place an api answer is read: its status and body into an {@link Answer}. */
export function decodeAnswer(status: number, text: string, field: 'likes' | 'views'): Answer {
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (status >= 200 && status < 300) {
    // Likes answer with the new total, views with what was added (`{ added: { views } }`).
    const record = body as { likes?: unknown; added?: { views?: unknown } } | undefined;
    const value = field === 'likes' ? record?.likes : record?.added?.views;
    return { kind: 'acked', value: typeof value === 'number' ? value : undefined };
  }
  const code = String((body as { error?: { code?: unknown } } | undefined)?.error?.code ?? `HTTP_${status}`);
  if (status === 429 || (status === 503 && code === 'BACKLOG_FULL')) return { kind: 'refused' };
  if (status < 500 || (status === 503 && NOT_APPLIED_503.has(code))) {
    return { kind: 'not-applied', code: `${status} ${code}` };
  }
  return { kind: 'unknown', code: `${status} ${code}` };
}

function post(
  agent: Agent,
  base: URL,
  path: string,
  body: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        hostname: base.hostname,
        port: base.port,
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Bytes and count of one kind of key. */
export interface Tally {
  keys: number;
  bytes: number;
}

/** Every key under the prefix measured with `MEMORY USAGE ... SAMPLES 0`, by kind. */
export interface MeasuredKeys {
  /** The cache's data keys (`{prefix:shard}:e:...`): what the budget bounds. */
  data: Tally;
  /** The dirty and clean indexes (sorted sets of data keys); the budget counts INDEX_ENTRY_BYTES plus the name for an entry. */
  indexes: Tally;
  /** BullMQ's keys: the flush jobs of the dirty keys and the queue's own. */
  jobs: Tally;
  /** The rankings of the ranked counters: one entry per video ever written, outside the budget. */
  rankings: Tally;
  /** The rest: clocks, writer states, activity and memory figures. */
  other: Tally;
}

export interface MemorySample {
  /** Since the load started. */
  atMs: number;
  /** Ids whose write was settled (acknowledged or given up). */
  settled: number;
  /** Redis `INFO memory` used_memory: the whole server's, other users included. */
  usedMemory: number;
  /** `stats()` of the cache: keys, their estimated bytes, dirty keys, evictions so far. */
  cacheKeys: number;
  cacheBytes: number;
  dirtyKeys: number;
  evictions: number;
  /** BullMQ jobs not completed (delayed, waiting, active, failed...): the dirty keys' flush jobs. */
  jobs: number;
  /**
   * BullMQ's bytes: the jobs times the sampled size of a job's hash, plus {@link MemorySample.queueBytes}.
   */
  jobBytes: number;
  /** The queue's own keys among them: its lists and sets of job ids, and its events stream (10,000 events). */
  queueBytes: number;
  /** Entries of the rankings and their bytes (`MEMORY USAGE`, sampled). */
  rankingEntries: number;
  rankingBytes: number;
  /** With {@link FloodOptions.measureKeys}, and always in the last sample (after the drain). */
  measured?: MeasuredKeys;
}

/** The kind of a key under the prefix, for {@link MeasuredKeys}. */
export function kindOfKey(key: string, shards: readonly ShardKeys[]): keyof MeasuredKeys {
  for (const s of shards) {
    if (!key.startsWith(`${s.tag}:`)) continue;
    if (key.startsWith(`${s.tag}:e:`)) return 'data';
    if (key === s.dirty || key === s.clean) return 'indexes';
    if (key.startsWith(`${s.tag}:${s.queueName}:`)) return 'jobs';
    if (RANKED_FIELDS.some((field) => key.startsWith(rankingKey(s, 'video', field)))) return 'rankings';
    return 'other';
  }
  return 'other';
}

async function measureKeys(
  redis: Redis,
  prefix: string,
  shards: readonly ShardKeys[],
): Promise<MeasuredKeys> {
  const out: MeasuredKeys = {
    data: { keys: 0, bytes: 0 },
    indexes: { keys: 0, bytes: 0 },
    jobs: { keys: 0, bytes: 0 },
    rankings: { keys: 0, bytes: 0 },
    other: { keys: 0, bytes: 0 },
  };
  for await (const keys of scanPages(redis, prefixPattern(prefix), 2000)) {
    if (keys.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    const replies = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const bytes = Number(replies[i]?.[1] ?? 0);
      // A key deleted between the SCAN and its MEMORY USAGE answers nil: it holds nothing.
      if (!bytes) return;
      const tally = out[kindOfKey(key, shards)];
      tally.keys++;
      tally.bytes += bytes;
    });
  }
  return out;
}

/** Job types BullMQ counts that hold a job's hash (completed jobs are removed at once by the worker). */
const LIVE_JOB_TYPES = ['delayed', 'wait', 'active', 'prioritized', 'waiting-children', 'failed'] as const;

/** A queue's jobs and their bytes: the count times a few sampled jobs' size, plus the queue's own keys. */
async function queueMemory(
  redis: Redis,
  queue: Queue,
): Promise<{ jobs: number; bytes: number; own: number }> {
  const counts = await queue.getJobCounts(...LIVE_JOB_TYPES);
  const jobs = Object.values(counts).reduce((a, b) => a + b, 0);
  const sampleIds = jobs > 0 ? await queue.getRanges(['delayed', 'wait', 'active'], 0, 3) : [];
  // The queue's own keys (wait list, delayed set, events stream, ...): Redis samples their elements.
  const queueKeys = [...new Set(Object.values(queue.keys).filter(Boolean))];
  const pipeline = redis.pipeline();
  for (const id of sampleIds) pipeline.memory('USAGE', queue.toKey(id), 'SAMPLES', 0);
  for (const key of queueKeys) pipeline.memory('USAGE', key);
  const replies = ((await pipeline.exec()) ?? []).map(([, bytes]) => Number(bytes ?? 0));
  const sampled = replies.slice(0, sampleIds.length).filter((n) => n > 0);
  const perJob = sampled.length ? sampled.reduce((a, b) => a + b, 0) / sampled.length : 0;
  const own = replies.slice(sampleIds.length).reduce((a, b) => a + b, 0);
  return { jobs, bytes: Math.round(jobs * perJob + own), own };
}

function usedMemoryOf(info: string): number {
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
}

/** Reads the memory figures of one prefix: see {@link MemorySample}. */
class MemorySampler {
  readonly #redis: Redis;
  readonly #cache: WriteBehind<RankedTestEntities>;
  readonly #prefix: string;
  readonly #shards: ShardKeys[];
  readonly #measure: boolean;

  constructor(
    redis: Redis,
    cache: WriteBehind<RankedTestEntities>,
    prefix: string,
    shards: number,
    measure: boolean,
  ) {
    this.#redis = redis;
    this.#cache = cache;
    this.#prefix = prefix;
    this.#shards = Array.from({ length: shards }, (_, s) => shardKeys(prefix, s, shards));
    this.#measure = measure;
  }

  async usedMemory(): Promise<number> {
    return usedMemoryOf(await this.#redis.info('memory'));
  }

  /** `measure`: also measure every key of the prefix (see {@link FloodOptions.measureKeys}). */
  async sample(atMs: number, settled: number, measure = this.#measure): Promise<MemorySample> {
    const [usedMemory, stats, queues, rankings] = await Promise.all([
      this.usedMemory(),
      this.#cache.stats(),
      Promise.all(this.#cache.queues.map((queue) => queueMemory(this.#redis, queue))),
      this.#rankings(),
    ]);
    return {
      atMs,
      settled,
      usedMemory,
      ...cacheFigures(stats),
      jobs: queues.reduce((n, q) => n + q.jobs, 0),
      jobBytes: queues.reduce((n, q) => n + q.bytes, 0),
      queueBytes: queues.reduce((n, q) => n + q.own, 0),
      rankingEntries: rankings.entries,
      rankingBytes: rankings.bytes,
      ...(measure ? { measured: await measureKeys(this.#redis, this.#prefix, this.#shards) } : {}),
    };
  }

  async #rankings(): Promise<{ entries: number; bytes: number }> {
    const keys = this.#shards.flatMap((s) => RANKED_FIELDS.map((field) => rankingKey(s, 'video', field)));
    const pipeline = this.#redis.pipeline();
    for (const key of keys) pipeline.zcard(key).memory('USAGE', key);
    const replies = ((await pipeline.exec()) ?? []).map(([, n]) => Number(n ?? 0));
    let entries = 0;
    let bytes = 0;
    replies.forEach((n, i) => {
      if (i % 2 === 0) entries += n;
      else bytes += n;
    });
    return { entries, bytes };
  }
}

function cacheFigures(stats: Stats) {
  return {
    cacheKeys: stats.keys,
    cacheBytes: stats.bytes,
    dirtyKeys: stats.dirtyKeys,
    evictions: stats.evictions,
  };
}

/** The rows in PostgreSQL compared with the writes: see {@link checkRows}. */
export interface RowCheck {
  /** Rows of this run's ids found. */
  rows: number;
  /** Rows whose counters differ from the acknowledged write (or from nothing, for an id not applied). */
  mismatches: number;
  /** Acknowledged ids without a row: lost writes. */
  missing: number;
  /** Up to 10 problems, each naming its id. */
  examples: string[];
}

const ROW_PAGE = 10_000;

/** The problem with one row of index `index`, or undefined when it is what the write's outcome allows. */
export function rowProblem(
  index: number,
  state: number,
  row: { likes: number; views: number },
  route: FloodRoute,
): string | undefined {
  const { field, by } = floodWrite(index, route);
  const want = { likes: field === 'likes' ? by : 0, views: field === 'views' ? by : 0 };
  const exact = row.likes === want.likes && row.views === want.views;
  if ((state === IdState.ACKED || state === IdState.UNKNOWN) && exact) return undefined;
  const got = `likes ${row.likes}, views ${row.views}`;
  if (state === IdState.ACKED || state === IdState.UNKNOWN) return `${got}, acknowledged ${field} +${by}`;
  return `${got}, but its write was ${state === IdState.PENDING ? 'never sent' : 'refused'}`;
}

/** Reads every row of the run's ids (in pages, in id order) and compares each with the id's outcome. */
export async function checkRows(
  pool: pg.Pool,
  run: string,
  states: Uint8Array,
  route: FloodRoute,
): Promise<RowCheck> {
  const seen = new Uint8Array(states.length);
  const out: RowCheck = { rows: 0, mismatches: 0, missing: 0, examples: [] };
  let after = `${run}-`;
  for (;;) {
    const { rows } = await pool.query<{ id: string; likes: string; views: string }>(
      'SELECT id, likes::text AS likes, views::text AS views FROM "Video" WHERE id > $1 ORDER BY id LIMIT $2',
      [after, ROW_PAGE],
    );
    for (const row of rows) {
      const index = floodIndex(run, row.id);
      if (index === undefined || index >= states.length) continue;
      out.rows++;
      seen[index] = 1;
      const state = states[index] ?? IdState.PENDING;
      const problem = rowProblem(index, state, { likes: Number(row.likes), views: Number(row.views) }, route);
      if (problem) {
        out.mismatches++;
        if (out.examples.length < 10) out.examples.push(`${row.id}: ${problem}`);
      }
    }
    if (rows.length < ROW_PAGE) break;
    after = (rows.at(-1) as { id: string }).id;
  }
  for (let i = 0; i < states.length; i++) {
    if (states[i] === IdState.ACKED && !seen[i]) {
      out.missing++;
      if (out.examples.length < 10) out.examples.push(`${floodId(run, i)}: no row, acknowledged`);
    }
  }
  return out;
}

export interface FloodReport {
  options: Omit<FloodOptions, 'progress' | 'target'> & { started: boolean };
  /** The tag of this run's ids (`<run>-00000042`). */
  run: string;
  prefix: string;
  ids: number;
  /** Writes acknowledged (2xx): one per id unless some were abandoned. */
  acked: number;
  /** Answers refusing a write for the budget (503 `BACKLOG_FULL`, 429): not applied, sent again. */
  refusals: number;
  /** Ids refused `maxAttempts` times. */
  abandoned: number;
  /** Other answers and failed requests, by status and code (or the socket error's code). */
  errors: Record<string, number>;
  /** Acknowledged answers whose value was not the write's delta (a fresh id's total is its first delta). */
  answerMismatches: number;
  loadMs: number;
  /** Acknowledged writes per second of the load. */
  writesPerSecond: number;
  drainMs: number;
  drained: boolean;
  /** used_memory before the load (the whole server's). */
  baselineUsedMemory: number;
  /** The sample with the highest used_memory. */
  peak: MemorySample;
  /** The highest of each figure over the samples (not necessarily at one instant). */
  max: {
    cacheKeys: number;
    cacheBytes: number;
    dirtyKeys: number;
    jobs: number;
    jobBytes: number;
    rankingBytes: number;
    /** With `measureKeys`: the measured bytes of the data keys, and of the data keys and their indexes. */
    measuredData?: number;
    measuredDataAndIndexes?: number;
    measuredOther?: number;
  };
  final: MemorySample;
  evictions: number;
  rows: RowCheck;
  /** Each ranking's `top` after the drain against the same query in PostgreSQL. */
  tops: TopCheck[];
  samples: MemorySample[];
}

/** A ranking's top entries as `top` answered, and as PostgreSQL orders the rows (value, then id bytewise). */
export interface TopCheck {
  field: string;
  matches: boolean;
  cache: string[];
  database: string[];
}

/** How many entries of each ranking the flood compares with PostgreSQL. */
const TOP_CHECKED = 10;

async function checkTops(observer: WriteBehind<RankedTestEntities>, pool: pg.Pool): Promise<TopCheck[]> {
  return Promise.all(
    RANKED_FIELDS.map(async (field) => {
      const top = await observer.top('video', field, TOP_CHECKED);
      const { rows } = await pool.query<{ id: string; value: string }>(
        `SELECT id, "${field}"::text AS value FROM "Video" ORDER BY "${field}" DESC, id COLLATE "C" DESC LIMIT $1`,
        [TOP_CHECKED],
      );
      const cache = top.map((e) => `${e.id}=${e.value}`);
      const database = rows.map((r) => `${r.id}=${r.value}`);
      return { field, matches: cache.join() === database.join(), cache, database };
    }),
  );
}

/** Whether nothing acknowledged was lost and every row is exact: the run's verdict. */
export function floodPassed(report: FloodReport): boolean {
  return (
    report.drained &&
    report.rows.mismatches === 0 &&
    report.rows.missing === 0 &&
    report.answerMismatches === 0 &&
    report.tops.every((t) => t.matches) &&
    Object.keys(report.errors).length === 0
  );
}

interface FloodWorld {
  apiUrl: URL;
  prefix: string;
  databaseUrl: string;
  redisUrl: string;
  close(): Promise<void>;
}

async function startWorld(o: FloodOptions): Promise<FloodWorld> {
  const db = await createTestDatabase();
  const prefix = uniqueName('flood');
  const env = {
    REDIS_URL,
    DATABASE_URL: db.url,
    WB_PREFIX: prefix,
    WB_SHARDS: String(o.shards),
    FLUSH_WINDOW_MS: String(o.flushWindowMs),
    CACHE_MAX_BYTES: String(o.maxBytes),
    CACHE_MAX_KEYS: String(o.maxKeys),
    CACHE_RANKING_ENTRIES: String(o.rankingEntries),
    // No dirty-key limit: a 503 BACKLOG_FULL is then the memory budget's.
    BACKLOG_LIMIT: '0',
    LOG_LEVEL: 'info',
  };
  const started = await Promise.allSettled([startApp('api', env), startApp('worker', env)]);
  const apps = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const close = async () => {
    await Promise.all(apps.map((app: AppProcess) => app.stop()));
    if (o.keep) return;
    const redis = new Redis(REDIS_URL);
    try {
      await deleteKeys(redis, prefix);
    } finally {
      redis.disconnect();
    }
    await db.drop();
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await close();
    throw failed.reason;
  }
  return {
    apiUrl: new URL((apps[0] as AppProcess).url),
    prefix,
    databaseUrl: db.url,
    redisUrl: REDIS_URL,
    close,
  };
}

function attachWorld(target: FloodTarget): FloodWorld {
  return {
    apiUrl: new URL(target.apiUrl),
    prefix: target.prefix,
    databaseUrl: target.databaseUrl,
    redisUrl: target.redisUrl ?? REDIS_URL,
    close: async () => {},
  };
}

const silent = { info() {}, warn() {}, error() {} };

/**
 * Writes `ids` distinct video ids through the api (started, or {@link FloodOptions.target}), sampling Redis
 * memory, waits for the drain, and compares every row with what was acknowledged.
 *
 * @example
 * ```ts
 * const report = await runFlood({ ids: 10_000, maxBytes: 671_089, flushWindowMs: 200, measureKeys: true });
 * assert.ok(floodPassed(report), formatFloodReport(report));
 * ```
 */
export async function runFlood(partial: Partial<FloodOptions> = {}): Promise<FloodReport> {
  const o = resolveFloodOptions(partial);
  const world = o.target ? attachWorld(o.target) : await startWorld(o);
  const redis = new Redis(world.redisUrl);
  const prisma: PrismaClient = createPrismaClient(world.databaseUrl, { max: 2 });
  // Reads the prefix's figures (stats, queues) with the api's budget; it writes nothing but the rankings its
  // `top` builds after the drain (checkTops).
  const observer = createWriteBehind<RankedTestEntities>({
    redis: world.redisUrl,
    prisma,
    entities: rankedEntities,
    prefix: world.prefix,
    shards: o.shards,
    memory: { maxBytes: o.maxBytes, maxKeys: o.maxKeys, rankingEntries: o.rankingEntries },
    logger: silent,
  });
  const pool = new pg.Pool({ connectionString: world.databaseUrl, max: 2 });
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  try {
    return await flood(o, world, redis, observer, pool, agent);
  } finally {
    agent.destroy();
    await pool.end();
    await observer.close();
    await prisma.$disconnect();
    redis.disconnect();
    await world.close();
  }
}

async function flood(
  o: FloodOptions,
  world: FloodWorld,
  redis: Redis,
  observer: WriteBehind<RankedTestEntities>,
  pool: pg.Pool,
  agent: Agent,
): Promise<FloodReport> {
  const run = uniqueName('f', 8);
  const sampler = new MemorySampler(redis, observer, world.prefix, o.shards, o.measureKeys);
  const states = new Uint8Array(o.ids);
  const errors: Record<string, number> = {};
  let acked = 0;
  let refusals = 0;
  let abandoned = 0;
  let answerMismatches = 0;
  let settled = 0;
  const settle = (index: number, state: IdStateValue) => {
    states[index] = state;
    settled++;
  };
  const countError = (code: string) => {
    errors[code] = (errors[code] ?? 0) + 1;
  };

  const writeOne = async (index: number) => {
    const { field, by } = floodWrite(index, o.route);
    const path = `/videos/${floodId(run, index)}/${field}`;
    const body = `{"by":${by}}`;
    for (let attempt = 1; ; attempt++) {
      let answer: Answer;
      try {
        const { status, text } = await post(agent, world.apiUrl, path, body);
        answer = decodeAnswer(status, text, field);
      } catch (error) {
        // The request may have reached the api before the socket failed.
        countError(`request ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        return settle(index, IdState.UNKNOWN);
      }
      switch (answer.kind) {
        case 'acked':
          acked++;
          if (answer.value !== by) answerMismatches++;
          return settle(index, IdState.ACKED);
        case 'refused':
          refusals++;
          if (attempt >= o.maxAttempts) {
            abandoned++;
            return settle(index, IdState.NOT_APPLIED);
          }
          await sleep(o.retryDelayMs);
          break;
        case 'not-applied':
          countError(answer.code);
          return settle(index, IdState.NOT_APPLIED);
        case 'unknown':
          countError(answer.code);
          return settle(index, IdState.UNKNOWN);
      }
    }
  };

  const samples: MemorySample[] = [];
  const baselineUsedMemory = await sampler.usedMemory();
  const start = performance.now();
  const takeSample = async (measure?: boolean) => {
    const sample = await sampler.sample(Math.round(performance.now() - start), settled, measure);
    samples.push(sample);
    o.progress?.(progressLine(sample, o.ids, baselineUsedMemory, refusals));
    return sample;
  };
  // Samples until stopped, one at a time: a slow sample delays the next rather than piling up.
  let sampling = true;
  const sampleLoop = (async () => {
    while (sampling) {
      await takeSample();
      await sleep(o.sampleEveryMs);
    }
  })();

  let next = 0;
  const lane = async () => {
    for (let index = next++; index < o.ids; index = next++) await writeOne(index);
  };
  let loadMs = 0;
  let drainMs = 0;
  let drained = false;
  try {
    await Promise.all(Array.from({ length: o.concurrency }, lane));
    loadMs = performance.now() - start;
    const drainStart = performance.now();
    drained = await observer.drain({ timeoutMs: o.drainTimeoutMs }).then(
      () => true,
      () => false,
    );
    drainMs = performance.now() - drainStart;
  } finally {
    sampling = false;
    await sampleLoop;
  }
  // Measured key by key whatever the scale: once, after the drain, it takes seconds even at 1,000,000 ids.
  const final = await takeSample(true);
  const rows = await checkRows(pool, run, states, o.route);
  const tops = await checkTops(observer, pool);

  const max = (pick: (s: MemorySample) => number | undefined) =>
    Math.max(...samples.map((s) => pick(s) ?? Number.NEGATIVE_INFINITY));
  const measured = o.measureKeys
    ? {
        measuredData: max((s) => s.measured?.data.bytes),
        measuredDataAndIndexes: max((s) => s.measured && s.measured.data.bytes + s.measured.indexes.bytes),
        measuredOther: max((s) => s.measured?.other.bytes),
      }
    : {};
  const { progress: _, target, ...options } = o;
  return {
    options: { ...options, started: target === undefined },
    run,
    prefix: world.prefix,
    ids: o.ids,
    acked,
    refusals,
    abandoned,
    errors,
    answerMismatches,
    loadMs: Math.round(loadMs),
    writesPerSecond: Math.round(acked / (loadMs / 1000)),
    drainMs: Math.round(drainMs),
    drained,
    baselineUsedMemory,
    peak: samples.reduce((a, b) => (b.usedMemory > a.usedMemory ? b : a)),
    max: {
      cacheKeys: max((s) => s.cacheKeys),
      cacheBytes: max((s) => s.cacheBytes),
      dirtyKeys: max((s) => s.dirtyKeys),
      jobs: max((s) => s.jobs),
      jobBytes: max((s) => s.jobBytes),
      rankingBytes: max((s) => s.rankingBytes),
      ...measured,
    },
    final,
    evictions: final.evictions,
    rows,
    tops,
    samples,
  };
}

const MIB = 1024 * 1024;
/** Bytes in MiB, or KiB below one MiB. */
const size = (bytes: number) =>
  Math.abs(bytes) >= MIB ? `${(bytes / MIB).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
const count = (n: number) => n.toLocaleString('en-US');

function progressLine(s: MemorySample, ids: number, baseline: number, refusals: number): string {
  return (
    `[flood] ${(s.atMs / 1000).toFixed(0)}s ${count(s.settled)}/${count(ids)} ` +
    `used_memory ${size(s.usedMemory)} (+${size(s.usedMemory - baseline)}) cache ${count(s.cacheKeys)} keys ` +
    `${size(s.cacheBytes)} dirty ${count(s.dirtyKeys)} jobs ${count(s.jobs)} ${size(s.jobBytes)} ` +
    `rankings ${count(s.rankingEntries)} ${size(s.rankingBytes)} evictions ${count(s.evictions)} ` +
    `refusals ${count(refusals)}`
  );
}

/** Whether `growth` fits in `bound`, and by how much it misses. */
function against(growth: number, bound: number): string {
  return growth <= bound ? `within (${size(bound - growth)} to spare)` : `ABOVE by ${size(growth - bound)}`;
}

function measuredLine(m: MeasuredKeys, budget: number): string {
  const total = Object.values(m).reduce((n, t) => n + t.bytes, 0);
  return (
    `after drain   measured (MEMORY USAGE of every key of the prefix): ${size(total)} = data keys ` +
    `${count(m.data.keys)} ${size(m.data.bytes)} + their dirty/clean index ${size(m.indexes.bytes)} ` +
    `(together ${size(m.data.bytes + m.indexes.bytes)}, budget ${size(budget)}) + rankings ` +
    `${size(m.rankings.bytes)} + BullMQ ${size(m.jobs.bytes)} + other ${size(m.other.bytes)}`
  );
}

/** The report as the lines the script prints. */
export function formatFloodReport(r: FloodReport): string {
  const budget = r.options.maxBytes;
  const p = r.peak;
  const growth = p.usedMemory - r.baselineUsedMemory;
  const errors = Object.entries(r.errors);
  const lines = [
    `ids           ${count(r.ids)} (${r.options.route}, concurrency ${r.options.concurrency}, ids ${r.run}-*)`,
    `budget        CACHE_MAX_BYTES ${count(budget)} (${size(budget)}), CACHE_MAX_KEYS ${r.options.maxKeys || 'none'}, ` +
      `rankings ${r.options.rankingEntries || 'every video'}, ${r.options.shards} shard(s), flush window ${r.options.flushWindowMs} ms`,
    `acks          ${count(r.acked)}`,
    `refusals      ${count(r.refusals)} (503 BACKLOG_FULL of the budget, each sent again), ` +
      `${count(r.abandoned)} ids abandoned`,
    `errors        ${errors.length ? errors.map(([code, n]) => `${code}: ${count(n)}`).join(', ') : 'none'}`,
    `duration      load ${(r.loadMs / 1000).toFixed(1)} s, drain ${(r.drainMs / 1000).toFixed(1)} s` +
      `${r.drained ? '' : ' (NOT drained)'}`,
    `writes/s      ${count(r.writesPerSecond)}`,
    `used_memory   baseline ${size(r.baselineUsedMemory)}, peak ${size(p.usedMemory)} (+${size(growth)}) at ` +
      `${(p.atMs / 1000).toFixed(0)} s, final ${size(r.final.usedMemory)} (INFO memory: the whole server)`,
    `  at the peak cache ${count(p.cacheKeys)} keys ${size(p.cacheBytes)} (stats(), estimated), ` +
      `dirty ${count(p.dirtyKeys)}; jobs ${count(p.jobs)} ${size(p.jobBytes)} (queue's own keys ` +
      `${size(p.queueBytes)}); rankings ${count(p.rankingEntries)} entries ${size(p.rankingBytes)}`,
    `  growth ${size(growth)} = cache + jobs + rankings ${size(p.cacheBytes + p.jobBytes + p.rankingBytes)} + ` +
      `${size(growth - p.cacheBytes - p.jobBytes - p.rankingBytes)} (index entries beyond the estimate, ` +
      'other keys, allocator; and any other user of the server)',
    `  growth vs budget + jobs (${size(budget + p.jobBytes)}): ${against(growth, budget + p.jobBytes)}`,
    `  growth vs budget + jobs + rankings (${size(budget + p.jobBytes + p.rankingBytes)}): ` +
      against(growth, budget + p.jobBytes + p.rankingBytes),
    `max           cache ${count(r.max.cacheKeys)} keys ${size(r.max.cacheBytes)} (estimated), dirty ` +
      `${count(r.max.dirtyKeys)}, jobs ${count(r.max.jobs)} ${size(r.max.jobBytes)}, rankings ` +
      `${size(r.max.rankingBytes)} (each its own maximum over the samples)`,
    ...(r.max.measuredData === undefined
      ? []
      : [
          `measured      data keys max ${size(r.max.measuredData)}, with their dirty/clean index entries ` +
            `${size(r.max.measuredDataAndIndexes ?? 0)}, other keys max ${size(r.max.measuredOther ?? 0)}`,
        ]),
    ...(r.final.measured ? [measuredLine(r.final.measured, budget)] : []),
    `evictions     ${count(r.evictions)}`,
    `rows          ${count(r.rows.rows)}, mismatches ${count(r.rows.mismatches)}, missing ` +
      `${count(r.rows.missing)}, answers not the delta ${count(r.answerMismatches)}`,
    ...r.rows.examples.map((e) => `  ${e}`),
    ...r.tops.map(
      (t) =>
        `top ${t.field.padEnd(9)} ${t.matches ? `the ${t.cache.length} highest as in PostgreSQL` : `DIFFERS: cache ${t.cache.join(' ')}, database ${t.database.join(' ')}`}`,
    ),
    `verdict       ${floodPassed(r) ? 'PASS: 0 acknowledged writes lost, every row exact, every top exact' : 'FAIL'}`,
  ];
  return lines.join('\n');
}

export const FLOOD_USAGE = `Usage: node --import tsx scripts/flood.ts [flags]
Writes distinct video ids through the demo api under a memory budget, samples Redis memory, waits for the drain
and checks every row in PostgreSQL against what the api acknowledged. Exit code 0 when nothing acknowledged
was lost and every row is exact, 1 otherwise, 2 for bad flags.
  --ids 1000000          distinct video ids, one write each
  --concurrency 64       requests in flight (keep-alive sockets)
  --max-bytes 64MiB      CACHE_MAX_BYTES of the api (bytes, or with KiB, MiB, GiB); 0 for none
  --max-keys 0           CACHE_MAX_KEYS of the api; 0 for no limit
  --ranking-entries 10000  CACHE_RANKING_ENTRIES of the api: entries each ranking keeps; 0 for every video
  --route alternate      likes (read, then a whole record kept clean in Redis), views (an add, no read), or
                         alternate (even ids a like, odd ids a view)
  --flush-window 1000ms  FLUSH_WINDOW_MS of the api and worker started (ms, s or m)
  --shards 1             WB_SHARDS
  --max-attempts 100     sends of a write the budget refuses (503 BACKLOG_FULL) before its id is abandoned
  --retry-delay 100ms    wait before a refused write is sent again
  --sample-every 1s      how often Redis memory is sampled
  --drain-timeout 10m    how long the worker gets to flush everything after the load
  --measure-keys         also MEMORY USAGE every key of the prefix at each sample (small runs only)
  --api-url URL          write to this running api instead of starting one and a worker; needs --prefix and
  --prefix P             --database-url (its WB_PREFIX and DATABASE_URL), and --redis-url unless REDIS_URL
  --database-url URL     is its Redis; --max-bytes, --max-keys and --shards must then be the api's
  --redis-url URL
  --keep                 leave the started processes' keys and schema in place
  --json                 the whole report as JSON on stdout (samples included)
  --quiet                no progress lines on stderr
  --help                 this text
Started processes use REDIS_URL and DATABASE_URL of the environment (a fresh prefix and schema there).`;

export interface FloodCommand {
  options: Partial<FloodOptions>;
  json: boolean;
  quiet: boolean;
  help: boolean;
}

/** `64MiB`, `1.5 MiB`, `512KiB`, `1GiB` or a bare number of bytes. */
export function parseBytes(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB)?$/.exec(text.trim());
  if (!m) throw new TypeError(`--${flag} takes bytes (65536, 512KiB, 64MiB), got ${JSON.stringify(text)}`);
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[m[2] ?? 'B'] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

/** `1500ms`, `2s`, `10m` or a bare number of milliseconds. */
export function parseMs(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new TypeError(`--${flag} takes a duration (1500ms, 2s, 10m), got ${JSON.stringify(text)}`);
  return Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1));
}

function parseWhole(text: string, flag: string): number {
  const n = Number(text.replaceAll('_', ''));
  if (text.trim() === '' || !Number.isFinite(n)) {
    throw new TypeError(`--${flag} takes a number, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** Each flag that takes a value: the option it sets and how its text becomes that value. */
const VALUE_FLAGS = {
  ids: ['ids', parseWhole],
  concurrency: ['concurrency', parseWhole],
  'max-bytes': ['maxBytes', parseBytes],
  'max-keys': ['maxKeys', parseWhole],
  'ranking-entries': ['rankingEntries', parseWhole],
  'flush-window': ['flushWindowMs', parseMs],
  shards: ['shards', parseWhole],
  'max-attempts': ['maxAttempts', parseWhole],
  'retry-delay': ['retryDelayMs', parseMs],
  'sample-every': ['sampleEveryMs', parseMs],
  'drain-timeout': ['drainTimeoutMs', parseMs],
} as const satisfies Record<string, [keyof FloodOptions, (text: string, flag: string) => number]>;

const TARGET_FLAGS = ['api-url', 'prefix', 'database-url', 'redis-url'] as const;

/** The script's flags (see {@link FLOOD_USAGE}) as checked options; throws on a bad or unknown flag. */
export function parseFloodArgs(argv: string[]): FloodCommand {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      ...Object.fromEntries(
        [...Object.keys(VALUE_FLAGS), ...TARGET_FLAGS, 'route'].map((flag) => [
          flag,
          { type: 'string' as const },
        ]),
      ),
      'measure-keys': { type: 'boolean' },
      keep: { type: 'boolean' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const given: Record<string, string | boolean | undefined> = values;
  const options: Partial<FloodOptions> = {};
  for (const [flag, [option, parse]] of Object.entries(VALUE_FLAGS)) {
    const text = given[flag];
    if (typeof text === 'string') Object.assign(options, { [option]: parse(text, flag) });
  }
  if (typeof given.route === 'string') options.route = given.route as FloodRoute;
  if (given['measure-keys']) options.measureKeys = true;
  if (given.keep) options.keep = true;
  const [apiUrl, prefix, databaseUrl, redisUrl] = TARGET_FLAGS.map(
    (flag) => given[flag] as string | undefined,
  );
  if (apiUrl || prefix || databaseUrl || redisUrl) {
    if (!apiUrl || !prefix || !databaseUrl) {
      throw new TypeError(
        '--api-url, --prefix and --database-url go together: the api, its WB_PREFIX and DATABASE_URL',
      );
    }
    options.target = { apiUrl, prefix, databaseUrl, ...(redisUrl ? { redisUrl } : {}) };
  }
  resolveFloodOptions(options);
  return { options, json: given.json === true, quiet: given.quiet === true, help: given.help === true };
}
