// The chaos run's final check, once a clean worker has drained: every key's row in PostgreSQL and its record in
// Redis (through `cache.get`) against the model, comments column by column (their video included), every event
// row against the acknowledged events, and what is left behind (keys still dirty, jobs in the failed set: the
// load never asks the database for what it must refuse, so any failed job is a failure).
import { bullmqInternals, defineScripts, SWEEP_JOB, shardKeys } from '@write-behind/core/internal';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { bump, type Counts } from './counts.ts';
import type { ChaosCache } from './load.ts';
import {
  type ChaosModel,
  type CommentRecord,
  type EventRow,
  type Mismatch,
  type SettingsRecord,
  sameValue,
  type VideoRecord,
} from './model.ts';

/** Keys read through `cache.get` at once. */
const REDIS_CHECK_BATCH = 200;
/** Keys still dirty listed in the report, at most. */
const STUCK_KEYS_LISTED = 20;
/** Failed jobs listed in the report, at most. */
const FAILED_JOBS_LISTED = 20;

export interface DatabaseCheck {
  /** Video, settings and comment rows read. */
  rows: number;
  /** Of those, comment rows. */
  commentRows: number;
  /** Event rows read. */
  eventRows: number;
  mismatches: Mismatch[];
}

/** Every row of the run's schema against the model. */
export async function checkDatabase(pool: pg.Pool, model: ChaosModel): Promise<DatabaseCheck> {
  const [videos, settings, comments, events] = await Promise.all([
    readVideoRows(pool),
    readSettingsRows(pool),
    readCommentRows(pool),
    readEventRows(pool),
  ]);
  return {
    rows: videos.size + settings.size + comments.size,
    commentRows: comments.size,
    eventRows: events.length,
    mismatches: [
      ...model.checkRows('video', videos),
      ...model.checkRows('settings', settings),
      ...model.checkRows('comment', comments),
      ...model.checkEvents(events),
    ],
  };
}

/** Every video, settings and comment key of the model (not unsure) read through `cache.get`. */
export async function checkRedis(cache: ChaosCache, model: ChaosModel): Promise<Mismatch[]> {
  const keys = [...model.checkedKeys()];
  const mismatches: Mismatch[] = [];
  for (let i = 0; i < keys.length; i += REDIS_CHECK_BATCH) {
    await Promise.all(
      keys.slice(i, i + REDIS_CHECK_BATCH).map(async ([entity, id, want]) => {
        const got = await cache.get(entity, id);
        if (!sameValue(got, want))
          mismatches.push({ where: 'redis', entity, id, expected: want, actual: got });
      }),
    );
  }
  return mismatches;
}

/** Keys still dirty after the drain (at most 20), each with the state of its flush job. */
export async function stuckKeys(queue: Queue | undefined, redis: Redis, prefix: string): Promise<string[]> {
  const shard = shardKeys(prefix, 0, 1);
  defineScripts(redis);
  const stuck: string[] = [];
  for (const key of await redis.zrange(shard.dirty, '0', String(STUCK_KEYS_LISTED - 1))) {
    const [version, flushed, deleted, partial, taken, append] = await redis.hmget(
      key,
      '_v',
      '_fv',
      '_d',
      '_p',
      '_sv',
      '_a',
    );
    const [score, ttl] = [await redis.zscore(shard.dirty, key), await redis.pttl(key)];
    const jobId = await redis.wbJobId(key, shard.dataKeyPrefixLength);
    const job = jobId ? await queue?.getJob(jobId) : undefined;
    const state = job ? await job.getState() : 'no job';
    // Every field the flush decides by: a key in the dirty index whose hash is not dirty is never acknowledged.
    const meta = Object.entries({ _fv: flushed, _d: deleted, _p: partial, _sv: taken, _a: append })
      .filter(([, value]) => value !== null)
      .map(([field, value]) => ` ${field}=${value}`)
      .join('');
    stuck.push(
      `${key} v${version}${meta} dirty since ${score} pttl ${ttl}: job ${jobId ?? '(none)'} ${state}${job?.failedReason ? ` (${job.failedReason})` : ''}`,
    );
  }
  if (stuck.length > 0 && queue) stuck.push(await sweepState(queue));
  return stuck;
}

/**
 * Where the shard's sweep stands, for a drain that left keys dirty: its scheduler's next run and that run's job
 * (BullMQ schedules the next run from the worker after taking the current one), and the sweep jobs by state.
 */
async function sweepState(queue: Queue): Promise<string> {
  const scheduler = await queue.getJobScheduler(SWEEP_JOB);
  const next = scheduler?.next;
  const nextJob = next === undefined ? undefined : await queue.getJob(`repeat:${SWEEP_JOB}:${next}`);
  const states = ['active', 'wait', 'delayed', 'failed', 'completed'] as const;
  const byState = await Promise.all(
    states.map(async (s) => `${s} ${(await queue.getJobs([s])).filter((j) => j.name === SWEEP_JOB).length}`),
  );
  const nextState = nextJob ? await nextJob.getState() : 'no job';
  return `sweep: scheduler ${scheduler ? `next ${next} (in ${(next ?? 0) - Date.now()} ms), its job ${nextState}` : 'missing'}; sweep jobs ${byState.join(', ')}`;
}

export interface FailedJobs {
  /** Jobs in BullMQ's failed set. */
  count: number;
  /**
   * Of those, jobs BullMQ failed for stalling more than `maxStalledCount` (their workers were killed twice
   * while holding them): by design, the sweep enqueues their key again (guarantee 7, docs/RELIABILITY.md), and
   * the check of the key's row says whether it landed. Every other failed job is a failure of the run.
   */
  stalled: number;
  /** How many failed for each entity and reason (`<entity>: <reason>`). */
  reasons: Counts;
  /** The first failed jobs other than the stalled ones (at most 20): `<entity> <id>: <reason>`. */
  samples: string[];
}

/**
 * Jobs in BullMQ's failed set, by reason, those that stalled too often apart: one snapshot of the set's ids, then
 * each job. A job removed meanwhile (the drainer's sweep removes a stalled job it has replaced, and may still be
 * doing so as the check starts) is left out; an id left in the set without its job counts, named.
 */
export async function failedJobs(queue: Queue | undefined, redis: Redis): Promise<FailedJobs> {
  const reasons: Counts = {};
  const samples: string[] = [];
  let stalled = 0;
  const ids = queue ? await redis.zrange(queue.keys.failed as string, '0', '-1') : [];
  let counted = 0;
  for (const id of ids) {
    const job = await queue?.getJob(id);
    if (!job && (await redis.zscore(queue?.keys.failed as string, id)) === null) continue;
    counted++;
    if (!job) {
      bump(reasons, 'no job: an id in the failed set without its job');
      if (samples.length < FAILED_JOBS_LISTED) samples.push(`${id}: in the failed set, its job gone`);
      continue;
    }
    const reason = String(job.failedReason);
    bump(reasons, `${job.data?.entity}: ${reason.slice(0, 120)}`);
    if (reason.includes(bullmqInternals.STALLED_REASON)) stalled++;
    else if (samples.length < FAILED_JOBS_LISTED)
      samples.push(`${job.data?.entity} ${job.data?.id}: ${reason.slice(0, 300)}`);
  }
  return { count: counted, stalled, reasons, samples };
}

/**
 * What an operator would do about stuck keys: retry every failed job, drain again, and compare PostgreSQL
 * again. Tells "lost for good" from "stranded until someone retries". Returns the PostgreSQL mismatches left.
 */
export async function retryFailedAndRecheck(
  cache: ChaosCache,
  queue: Queue | undefined,
  pool: pg.Pool,
  model: ChaosModel,
): Promise<number> {
  for (const job of (await queue?.getFailed(0, 9999)) ?? []) await job.retry().catch(() => {});
  await cache.flush({ timeoutMs: 20_000 }).catch(() => {});
  return (await checkDatabase(pool, model)).mismatches.length;
}

async function readVideoRows(pool: pg.Pool): Promise<Map<string, VideoRecord>> {
  const { rows } = await pool.query<{ id: string; likes: string; views: string }>(
    'SELECT id, likes::text, views::text FROM "Video"',
  );
  return new Map(rows.map((row) => [row.id, { likes: Number(row.likes), views: Number(row.views) }]));
}

async function readSettingsRows(pool: pg.Pool): Promise<Map<string, SettingsRecord>> {
  const { rows } = await pool.query<{ user_id: string } & SettingsRecord>(
    'SELECT user_id, theme, language, notifications FROM user_settings',
  );
  return new Map(
    rows.map((row) => [
      row.user_id,
      { theme: row.theme, language: row.language, notifications: row.notifications },
    ]),
  );
}

async function readCommentRows(pool: pg.Pool): Promise<Map<string, CommentRecord>> {
  // As for events: the epoch of the `timestamp` column reads it as UTC, as the flush stores it.
  const { rows } = await pool.query<{
    id: string;
    video_id: string;
    author: string;
    body: string;
    created_ms: string;
  }>(
    `SELECT id, video_id, author, body, round(extract(epoch FROM created_at) * 1000)::text AS created_ms
     FROM comment`,
  );
  return new Map(
    rows.map((row) => [
      row.id,
      {
        videoId: row.video_id,
        author: row.author,
        body: row.body,
        createdAt: new Date(Number(row.created_ms)),
      },
    ]),
  );
}

async function readEventRows(pool: pg.Pool): Promise<EventRow[]> {
  // The epoch of a `timestamp` (without time zone) column reads it as UTC, which is how the flush stores it;
  // `pg` would read the column itself in this machine's time zone.
  const { rows } = await pool.query<{
    video_id: string;
    seq: string;
    type: string;
    context: unknown;
    created_ms: string;
  }>(
    `SELECT video_id, seq::text, type, context, round(extract(epoch FROM created_at) * 1000)::text AS created_ms
     FROM video_event`,
  );
  return rows.map((row) => ({
    stream: row.video_id,
    seq: Number(row.seq),
    type: row.type,
    context: row.context,
    createdAtMs: Number(row.created_ms),
  }));
}
