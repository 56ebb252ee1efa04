import type { Job, JobState, Queue } from 'bullmq';
import { readActivity, type ShardActivity } from '../activity.js';
import { type Context, callRedis, entityOf, redactError } from '../context.js';
import { UnavailableError, ValidationError } from '../errors.js';
import { dueAtOfDelayedScore } from '../flush/bullmq-internals.js';
import { FLUSH_JOB, REFUSED_EVENT_JOB, refusedEventJob } from '../flush/job.js';
import { dataKey, rankingFloorKey, rankingKey, type ShardKeys, shardOf } from '../keys.js';
import { decodeField, type FieldValue, fromSqlText } from '../schema/codec.js';
import { decodeEvent } from '../schema/event-codec.js';
import type { KeyKind } from '../schema/fields.js';
import { keyColumnsOf } from '../schema/id-codec.js';
import type { ResolvedEntity } from '../schema/resolve.js';
import type { PrismaClientLike } from '../store/prisma-store.js';
import { sleep } from '../util.js';
import { internalsOf } from '../write-behind.js';
import {
  batches,
  type Cause,
  causeOf,
  type FailedJob,
  type FailureGroup,
  type FailureReason,
  type FailureSelector,
  groupFailures,
  parseFailedReason,
  selectFailures,
} from './causes.js';
import { jsonId, operatorId } from './ids.js';
import { type OperatorOptions, type ResolvedOperatorOptions, resolveOperatorOptions } from './options.js';
import { inspectEventsSql, inspectRowSql, inspectTombstoneSql } from './sql.js';

/** Why an operator's action was refused: nothing was changed. `code` says which case it is. */
export class OperatorError extends Error {
  readonly code: OperatorErrorCode;

  constructor(code: OperatorErrorCode, message: string) {
    super(message);
    this.name = 'OperatorError';
    this.code = code;
  }
}

/**
 * `FLUSH_RUNNING`: a flush of the key runs now (discard refuses; try again in a moment). `JOB_FAILED`: flush
 * now found the key's job failed (retry it instead). `NO_JOB`: the key is dirty but no flush job holds it (the
 * sweep enqueues it). `NOTHING_TO_RETRY`: the key has no failed job.
 */
export type OperatorErrorCode = 'FLUSH_RUNNING' | 'JOB_FAILED' | 'NO_JOB' | 'NOTHING_TO_RETRY';

/**
 * Where a key stands: `not-cached` (Redis holds nothing: the database's row is the truth), `clean` (Redis holds
 * what the database holds), `dirty` (writes wait for their flush job), `flushing` (its flush runs now),
 * `failed` (its flush job failed for good and waits for an operator), `orphaned` (dirty, but no flush job
 * holds it: the sweep enqueues it within `sweep.intervalMs`).
 */
export type KeyState = 'not-cached' | 'clean' | 'dirty' | 'flushing' | 'failed' | 'orphaned';

/** A flush job (or a refused event's job), as an operator reads it. */
export interface JobInfo {
  id: string;
  /** `'flush'` or `'refused-event'`. */
  name: string;
  state: JobState | 'unknown';
  attemptsMade: number;
  attempts: number;
  /** When it was added (ms since the epoch). */
  createdAt: number;
  /** When it runs next: its due time while delayed, now while waiting; null otherwise. */
  nextRunAt: number | null;
  processedOn: number | null;
  finishedOn: number | null;
  /** Its last error: the database's code (SQLSTATE) and message. */
  error: FailureReason | null;
  cause: Cause | null;
  /** The message of each failed attempt, oldest first (what BullMQ kept). */
  attemptErrors: string[];
  /** For a refused event: its number within the key. */
  sequence?: number;
}

/** What Redis holds for a key. */
export interface RedisSide {
  present: boolean;
  /** `_v`: the version of the last write (for an append key, the number of its last event). */
  version: number | null;
  /** `_fv`: the last version the database acknowledged. */
  flushedVersion: number | null;
  dirty: boolean;
  /** When the key became dirty, or was last left dirty by a flush (ms since the epoch; the dirty index's score). */
  dirtySince: number | null;
  /** A delete not yet flushed, or a key the database has no row for (`_d`). */
  deleted: boolean;
  /** Made by `add` alone: Redis holds sums to add, not the values. */
  partial: boolean;
  /** The record's fields as a read returns them; null when deleted, partial, absent or an append key. */
  values: Record<string, FieldValue> | null;
  /** A partial key's sums waiting for the next flush (`+field`). */
  pending: Record<string, number>;
  /** Sums a flush took and the database has not acknowledged yet (`~field`), at version `takenVersion`. */
  taken: Record<string, number>;
  takenVersion: number | null;
  /** An append key's events waiting to be inserted: how many, the first and last numbers, the first few. */
  events: {
    waiting: number;
    first: number | null;
    last: number | null;
    sample: { sequence: number; values: Record<string, FieldValue> }[];
  } | null;
  /** Time to live of a clean key under `cacheTtlMs`, ms; null when it does not expire. */
  ttlMs: number | null;
}

/** What the database holds for a key. */
export interface DatabaseSide {
  /** False when the database could not be read (`error` says why); the Redis side is still shown. */
  available: boolean;
  error?: string;
  /** The row's fields, or null when there is no row (or an append entity). */
  row: Record<string, FieldValue> | null;
  /** The row's version (an append key: the highest sequence number stored). */
  version: number | null;
  /** The row's `@updatedAt` columns the cache sets at each flush, by column (ms since the epoch). */
  updatedAt: Record<string, number | null>;
  /** The delete the database remembers for the key. */
  tombstone: { version: number; deletedAt: number | null } | null;
  /** An append key's rows in the table. */
  events?: { count: number; lastSequence: number | null };
}

/** A key's place in the ranking of a ranked counter. */
export interface RankingInfo {
  field: string;
  /** The key's score in the ranking (null: not in it). */
  score: number | null;
  /**
   * 1 for the highest; null when not in it, or below a capped ranking's floor on some shard (as `rank` answers).
   * Approximate while the ranking is not built on every shard.
   */
  rank: number | null;
  /** Whether every shard's part of the ranking is built (`top` or `rank` builds it). */
  built: boolean;
}

/** A key's whole story: Redis, the database, its flush job, its failures. */
export interface KeyInspection {
  entity: string;
  /** The key's canonical id. */
  id: string;
  /** The id as the cache's API takes it (a `bigint` part as text). */
  key: unknown;
  shard: number;
  dataKey: string;
  state: KeyState;
  redis: RedisSide;
  database: DatabaseSide;
  /** The key's current flush job (the one its hash names, or the failed one the failed index names). */
  job: JobInfo | null;
  /** The key's failed jobs still kept by BullMQ (its flush jobs and its refused events), newest first. */
  failures: JobInfo[];
  rankings: RankingInfo[];
  inspectedAt: number;
}

/** What an action did. */
export interface ActionResult {
  action: 'flush' | 'retry' | 'discard';
  entity: string;
  id: string;
  /**
   * flush: `promoted` (its delayed job runs now), `queued` (already waiting for a worker), `running`, `clean`
   * (nothing to flush); retry: `retried`; discard: `discarded`, `absent` (Redis held nothing).
   */
  outcome: string;
  message: string;
  /** The jobs acted on (retried, promoted or removed). */
  jobIds: string[];
  /** discard: the version Redis held (its unflushed writes went with it), and the events dropped. */
  droppedVersion?: number | null;
  droppedEvents?: number;
}

/** An entity as forms and command lines need it. */
export interface EntityInfo {
  name: string;
  model: string;
  key: { field: string; kind: KeyKind }[];
  fields: { name: string; kind: string; ranked: boolean }[];
  append: boolean;
}

/** The failed jobs of every shard, grouped. */
export interface FailureReport {
  /** Failed jobs read (flush and refused-event jobs). */
  total: number;
  /** True when a shard held more than `maxFailedJobs` failed jobs: the oldest were not read. */
  truncated: boolean;
  groups: FailureGroup[];
}

/** How a batch of `retryFailures` went, and the run so far. */
export interface RetryProgress {
  /** Failed jobs the selector took. */
  selected: number;
  /** Batches sent so far, and in all. */
  batch: number;
  batches: number;
  /** Jobs retried so far (a job no longer failed when its turn came is skipped). */
  retried: number;
  skipped: number;
  /** Of the retried: flushed (their job ran and is gone), failed again, still waiting or delayed. */
  flushed: number;
  failedAgain: number;
  pending: number;
  /** Whether the run is over. */
  done: boolean;
}

interface DiscardReply {
  status: 'discarded' | 'absent' | 'busy' | 'stale';
  jobId: string;
  failedJobId: string;
  droppedEvents: number;
  version: number | null;
}

/** Decodes the discard script's reply (see the header of `discard.lua`). */
function decodeDiscard(reply: unknown[]): DiscardReply {
  const [status, jobId, failedJobId, dropped, version] = reply as [string, string, string, number, string];
  return {
    status: status as DiscardReply['status'],
    jobId,
    failedJobId,
    droppedEvents: Number(dropped),
    version: version === '' ? null : Number(version),
  };
}

/** BullMQ job states in which a job waits to run. */
const WAITING_STATES = new Set<string>(['waiting', 'prioritized', 'waiting-children', 'paused']);
/** States in which a job can be removed without racing a worker. */
const REMOVABLE_STATES = new Set<string>(['waiting', 'delayed', 'failed', 'prioritized', 'paused']);
/** Stale loads the discard takes again before it gives up (the key was flushed during each). */
const DISCARD_ATTEMPTS = 5;
/** Failed jobs read per BullMQ call. */
const FAILED_PAGE = 500;
/** A key's failed jobs an inspection lists. */
const KEY_FAILURES = 20;
/** Events of an append key an inspection shows. */
const EVENT_SAMPLE = 10;

/** A key's address, as the cache computes it. */
interface Address {
  entity: ResolvedEntity;
  id: string;
  shard: ShardKeys;
  key: string;
}

/**
 * What operators need from a write-behind cache: a key's whole story (`inspect`), its actions (`flushNow`,
 * `retry`, `discard`), failed jobs grouped by cause (`failures`) and retried in batches (`retryFailures`), and
 * the activity counters charts read. For your own tools; `createOperatorRouter` serves it as a JSON API.
 *
 * Ids are a key's canonical text (`'v1'`, `'42'`, `'<uuid>/7'` for a composite key: what job ids and Bull
 * Board show) or an id as the cache's API takes it.
 *
 * @example
 * ```ts
 * import { Operator } from '@write-behind/core/operator';
 *
 * const operator = new Operator(cache);
 * const story = await operator.inspect('video', 'v1'); // { state: 'dirty', redis: {...}, database: {...}, job: {...} }
 * await operator.retryFailures({ cause: '23503' }); // every failed job a foreign key refused, 100 at a time
 * ```
 */
export class Operator {
  readonly #context: Context;
  readonly #options: ResolvedOperatorOptions;

  /** `cache`: a cache made by `createWriteBehind`. */
  constructor(cache: object, options: OperatorOptions = {}) {
    this.#context = internalsOf(cache).context;
    this.#options = resolveOperatorOptions(options);
  }

  /** The cache's entities: names, key parts and their kinds, fields. */
  entities(): EntityInfo[] {
    return [...this.#context.entities.values()].map((e) => ({
      name: e.name,
      model: e.model,
      key: e.key.map((p) => ({ field: p.field, kind: p.kind })),
      fields: e.fields.map((f) => ({ name: f.name, kind: f.kind, ranked: f.ranked })),
      append: e.append !== undefined,
    }));
  }

  /** The settings a dashboard shows beside its charts. */
  settings(): {
    prefix: string;
    shards: number;
    memory: { maxKeys: number; maxBytes: number };
    flush: { windowMs: number; attempts: number };
    sweepIntervalMs: number;
  } {
    const { options } = this.#context;
    return {
      prefix: options.prefix,
      shards: options.shards,
      memory: { maxKeys: options.memory.maxKeys, maxBytes: options.memory.maxBytes },
      flush: { windowMs: options.flush.windowMs, attempts: options.flush.attempts },
      sweepIntervalMs: options.sweep.intervalMs,
    };
  }

  /** Every shard's activity counters (running totals): see `activity.ts`. */
  activity(): Promise<ShardActivity[]> {
    return callRedis(() => readActivity(this.#context));
  }

  /** The canonical id of `id` for `entity`, checked; a {@link ValidationError} when it does not fit the key. */
  canonicalId(entity: string, id: unknown): string {
    return this.#address(entity, id).id;
  }

  /**
   * A key's whole story, side by side: what Redis holds (version, dirty since, pending sums or events), what
   * the database holds (row, version, `@updatedAt`, tombstone), its flush job (state, attempts, next run, last
   * error with its SQLSTATE), its failed jobs and its rankings. Reads only: changes nothing, not even a
   * key's place in the memory budget. A database that cannot be read is reported, not thrown.
   */
  async inspect(entity: string, id: unknown): Promise<KeyInspection> {
    const address = this.#address(entity, id);
    const [redisSide, database, failures, rankings] = await Promise.all([
      callRedis(() => this.#readRedis(address)),
      this.#readDatabase(address),
      callRedis(() => this.#keyFailures(address)),
      callRedis(() => this.#rankings(address)),
    ]);
    const { side, jobId, failedJobId, inDirtyIndex } = redisSide;
    const job = await callRedis(() => this.#currentJob(address, jobId, failedJobId));
    return {
      entity: address.entity.name,
      id: address.id,
      key: jsonId(address.entity, address.id),
      shard: address.shard.shard,
      dataKey: address.key,
      state: stateOf(side, job, inDirtyIndex),
      redis: side,
      database,
      job,
      failures,
      rankings,
      inspectedAt: Date.now(),
    };
  }

  /**
   * Flushes a dirty key now rather than at the end of its window: promotes its delayed flush job. A failed
   * job is not run again here ({@link Operator.retry} does that, once its cause is fixed): an
   * {@link OperatorError} `JOB_FAILED`; a dirty key without a job, `NO_JOB`.
   */
  async flushNow(entity: string, id: unknown): Promise<ActionResult> {
    const address = this.#address(entity, id);
    const { side, jobId, failedJobId, inDirtyIndex } = await callRedis(() => this.#readRedis(address));
    const result = (outcome: string, message: string, jobIds: string[] = []): ActionResult => ({
      action: 'flush',
      entity: address.entity.name,
      id: address.id,
      outcome,
      message,
      jobIds,
    });
    if (!side.dirty && !inDirtyIndex) return result('clean', 'nothing to flush: the database holds it');
    const job = await callRedis(() => this.#currentJob(address, jobId, failedJobId));
    if (!job || job.state === 'unknown' || job.state === 'completed') {
      throw new OperatorError(
        'NO_JOB',
        `it is dirty but no flush job holds it; the sweep enqueues it within ${this.#context.options.sweep.intervalMs} ms`,
      );
    }
    switch (job.state) {
      case 'delayed': {
        const stored = await this.#queue(address).getJob(job.id);
        await callRedis(async () => stored?.promote());
        return result('promoted', 'its flush job runs now', [job.id]);
      }
      case 'active':
        return result('running', 'its flush is running now', [job.id]);
      case 'failed':
        throw new OperatorError(
          'JOB_FAILED',
          `its flush job ${job.id} failed${job.error ? ` (${job.error.message})` : ''}: fix the cause, then retry it`,
        );
      default:
        return result('queued', `its flush job is ${job.state}: a worker takes it next`, [job.id]);
    }
  }

  /**
   * Retries a key's failed jobs (its flush job, and the refused events of an append key) once: each writes
   * the key's current state, and only if it is newer than the row. `NOTHING_TO_RETRY` when it has none.
   */
  async retry(entity: string, id: unknown): Promise<ActionResult> {
    const address = this.#address(entity, id);
    const { jobId, failedJobId } = await callRedis(() => this.#readRedis(address));
    const queue = this.#queue(address);
    const candidates = new Set<string>(
      [jobId, failedJobId, ...(await callRedis(() => this.#failedJobIdsOf(address)))].filter(
        (j): j is string => Boolean(j),
      ),
    );
    const retried: string[] = [];
    for (const candidate of candidates) {
      const job = await callRedis(() => queue.getJob(candidate));
      if (job && (await callRedis(() => retryIfFailed(job)))) retried.push(candidate);
    }
    if (retried.length === 0) {
      throw new OperatorError('NOTHING_TO_RETRY', 'it has no failed job to retry');
    }
    return {
      action: 'retry',
      entity: address.entity.name,
      id: address.id,
      outcome: 'retried',
      message: `retried ${retried.length} job${retried.length === 1 ? '' : 's'}`,
      jobIds: retried,
    };
  }

  /**
   * Forgets what Redis holds for a key, so its next use loads it from the database: **its acknowledged writes
   * that the database does not hold yet are dropped** (a delete not yet flushed, an append key's waiting and
   * refused events too). Removes its hash, its index entries and its flush jobs, and sets its rankings to the
   * row's values, atomically in one script that refuses (`FLUSH_RUNNING`) while a flush of the key runs. Reads
   * the row first, so it needs the database (an {@link UnavailableError} otherwise).
   */
  async discard(entity: string, id: unknown): Promise<ActionResult> {
    const address = this.#address(entity, id);
    const { redis, store } = this.#context;
    const ranked = address.entity.fields.filter((f) => f.ranked);
    let reply: DiscardReply | undefined;
    for (let attempt = 1; attempt <= DISCARD_ATTEMPTS; attempt++) {
      let version = '';
      let scores: string[] = [];
      if (!address.entity.append) {
        let loaded: Awaited<ReturnType<typeof store.load>>;
        try {
          loaded = await store.load(address.entity, [address.id]);
        } catch (error) {
          throw new UnavailableError(
            `could not read ${address.entity.name} ${JSON.stringify(address.id)} from the database, which a discard reloads from`,
            { cause: redactError(error) },
          );
        }
        const row = loaded.get(address.id);
        version = String(row?.version ?? 0);
        scores = ranked.map((f) => {
          const value = row?.values?.[f.name];
          return typeof value === 'number' ? String(value) : '';
        });
      }
      const keys = [
        address.key,
        address.shard.dirty,
        address.shard.failed,
        address.shard.clean,
        address.shard.pendingEvents,
        ...ranked.map((f) => rankingKey(address.shard, address.entity.name, f.name)),
      ];
      const args = [
        address.shard.dataKeyPrefixLength,
        address.shard.jobPrefix,
        version,
        this.#context.budget.rankingCap,
        ...scores,
      ];
      reply = decodeDiscard(await callRedis(() => redis.wbOperatorDiscard(keys.length, ...keys, ...args)));
      if (reply.status !== 'stale') break;
    }
    if (!reply || reply.status === 'stale') {
      throw new UnavailableError(
        `${address.entity.name} ${JSON.stringify(address.id)} was flushed again during each of ${DISCARD_ATTEMPTS} attempts; try again`,
      );
    }
    if (reply.status === 'busy') {
      throw new OperatorError('FLUSH_RUNNING', 'a flush of this key is running; try again in a moment');
    }
    const removed = await callRedis(() =>
      this.#removeJobs(address, [reply.jobId, reply.failedJobId].filter(Boolean)),
    );
    const what =
      reply.status === 'absent'
        ? 'Redis held nothing for it'
        : `dropped version ${reply.version}${reply.droppedEvents > 0 ? ` and ${reply.droppedEvents} waiting events` : ''}`;
    return {
      action: 'discard',
      entity: address.entity.name,
      id: address.id,
      outcome: reply.status,
      message: `${what}; its next use loads it from the database`,
      jobIds: removed,
      droppedVersion: reply.version,
      droppedEvents: reply.droppedEvents,
    };
  }

  /** Every shard's failed jobs (newest `maxFailedJobs` per shard), grouped by entity and cause. */
  async failures(): Promise<FailureReport> {
    const { jobs, truncated } = await this.#failedJobs();
    return { total: jobs.length, truncated, groups: groupFailures(jobs, this.#options.sampleSize) };
  }

  /**
   * Retries the failed jobs a selector takes, oldest first, `retryBatchSize` at a time: a batch goes once the
   * one before has run (its jobs flushed or failed again) or after `retryBatchTimeoutMs`, so that thousands of
   * retries never flood the workers. `onBatch` hears the progress after each batch; `signal` stops the run
   * between batches.
   *
   * @example
   * ```ts
   * await operator.retryFailures({ cause: '23514-1a2b3c4d', entity: 'video' }, { onBatch: console.log });
   * ```
   */
  async retryFailures(
    selector: FailureSelector,
    {
      onBatch,
      signal,
      batchSize = this.#options.retryBatchSize,
    }: { onBatch?: (progress: RetryProgress) => void; signal?: AbortSignal; batchSize?: number } = {},
  ): Promise<RetryProgress> {
    checkSelector(selector, this.#context);
    const { jobs } = await this.#failedJobs();
    const chosen = selectFailures(jobs, selector);
    const planned = batches(chosen, Math.max(1, Math.floor(batchSize)));
    const progress: RetryProgress = {
      selected: chosen.length,
      batch: 0,
      batches: planned.length,
      retried: 0,
      skipped: 0,
      flushed: 0,
      failedAgain: 0,
      pending: 0,
      done: planned.length === 0,
    };
    for (const batch of planned) {
      if (signal?.aborted) break;
      const retried: FailedJob[] = [];
      for (const failed of batch) {
        const job = await callRedis(() => this.#context.queue(failed.shard).getJob(failed.jobId));
        if (job && (await callRedis(() => retryIfFailed(job)))) retried.push(failed);
        else progress.skipped++;
      }
      progress.retried += retried.length;
      const settled = await this.#settle(retried);
      progress.flushed += settled.flushed;
      progress.failedAgain += settled.failedAgain;
      progress.pending += settled.pending;
      progress.batch++;
      progress.done = progress.batch === planned.length;
      onBatch?.({ ...progress });
    }
    progress.done = true;
    return progress;
  }

  /** The jobs a selector would take, without retrying them: what a confirmation dialog counts. */
  async selectFailures(selector: FailureSelector): Promise<FailedJob[]> {
    checkSelector(selector, this.#context);
    const { jobs } = await this.#failedJobs();
    return selectFailures(jobs, selector);
  }

  /** Waits until retried jobs have run (or the batch timeout), and counts how they ended. */
  async #settle(
    jobs: readonly FailedJob[],
  ): Promise<{ flushed: number; failedAgain: number; pending: number }> {
    const deadline = Date.now() + this.#options.retryBatchTimeoutMs;
    let states: string[] = [];
    for (let interval = 20; ; interval = Math.min(interval * 2, 250)) {
      states = await callRedis(() =>
        Promise.all(jobs.map((j) => this.#context.queue(j.shard).getJobState(j.jobId))),
      );
      const running = states.some((s) => s === 'active' || WAITING_STATES.has(s));
      if (!running || Date.now() >= deadline) break;
      await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
    }
    let flushed = 0;
    let failedAgain = 0;
    for (const state of states) {
      if (state === 'unknown' || state === 'completed') flushed++;
      else if (state === 'failed') failedAgain++;
    }
    return { flushed, failedAgain, pending: states.length - flushed - failedAgain };
  }

  /** Every shard's failed flush and refused-event jobs, newest first, up to `maxFailedJobs` per shard. */
  async #failedJobs(): Promise<{ jobs: FailedJob[]; truncated: boolean }> {
    const { maxFailedJobs } = this.#options;
    let truncated = false;
    const perShard = await Promise.all(
      this.#context.shards.map(async (shard) => {
        const queue = this.#context.queue(shard.shard);
        const out: FailedJob[] = [];
        for (let start = 0; start < maxFailedJobs; start += FAILED_PAGE) {
          const end = Math.min(start + FAILED_PAGE, maxFailedJobs) - 1;
          const page = (await callRedis(() => queue.getJobs(['failed'], start, end, false))) as Job[];
          for (const job of page) {
            const failed = failedJobOf(job, shard.shard);
            if (failed) out.push(failed);
          }
          if (page.length < end - start + 1) return out;
        }
        if ((await callRedis(() => queue.getJobCountByTypes('failed'))) > maxFailedJobs) truncated = true;
        return out;
      }),
    );
    return { jobs: perShard.flat(), truncated };
  }

  #address(entity: string, id: unknown): Address {
    const resolved = entityOf(this.#context, entity);
    const canonical = operatorId(resolved, id, this.#context.options.limits.maxIdBytes);
    const shard = this.#context.shards[
      shardOf(resolved.name, canonical, this.#context.options.shards)
    ] as ShardKeys;
    return { entity: resolved, id: canonical, shard, key: dataKey(shard, resolved.name, canonical) };
  }

  #queue(address: Address): Queue {
    return this.#context.queue(address.shard.shard);
  }

  /** The key's hash as Redis holds it, read without touching it (no LRU mark, no fill). */
  async #readRedis(address: Address): Promise<{
    side: RedisSide;
    jobId: string | null;
    failedJobId: string | null;
    inDirtyIndex: boolean;
  }> {
    const { redis } = this.#context;
    const { entity, key, shard } = address;
    const append = entity.append !== undefined;
    const [[, hash], [, score], [, failedJobId], [, ttl]] = (await redis
      .multi()
      .call(append ? 'HMGET' : 'HGETALL', ...(append ? [key, '_v', '_fv', '_j', '_a'] : [key]))
      .zscore(shard.dirty, key)
      .hget(shard.failed, key)
      .pttl(key)
      .exec()) as [
      [unknown, string[] | (string | null)[]],
      [unknown, string | null],
      [unknown, string | null],
      [unknown, number],
    ];
    const fields = new Map<string, string>();
    if (append) {
      ['_v', '_fv', '_j', '_a'].forEach((name, i) => {
        const value = (hash as (string | null)[])[i];
        if (value !== null && value !== undefined) fields.set(name, value);
      });
    } else {
      const flat = hash as string[];
      for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i] as string, flat[i + 1] as string);
    }
    const number = (name: string) => (fields.has(name) ? Number(fields.get(name)) : null);
    const version = number('_v');
    const flushedVersion = number('_fv');
    const present = fields.size > 0;
    const deleted = fields.has('_d');
    const partial = fields.has('_p');
    const pending: Record<string, number> = {};
    const taken: Record<string, number> = {};
    for (const [name, value] of fields) {
      if (name.startsWith('+')) pending[name.slice(1)] = Number(value);
      if (name.startsWith('~')) taken[name.slice(1)] = Number(value);
    }
    const side: RedisSide = {
      present,
      version,
      flushedVersion,
      dirty: version !== null && version > (flushedVersion ?? 0),
      dirtySince: score === null ? null : Number(score),
      deleted,
      partial,
      values:
        present && !deleted && !partial && !append
          ? Object.fromEntries(entity.fields.map((f) => [f.name, decodeField(f, fields.get(f.name))]))
          : null,
      pending,
      taken,
      takenVersion: number('_sv'),
      events: append && present ? await this.#events(address, version, flushedVersion) : null,
      ttlMs: ttl >= 0 ? ttl : null,
    };
    const jobId = fields.has('_j') ? ((await redis.wbJobId(key, shard.dataKeyPrefixLength)) ?? null) : null;
    return { side, jobId, failedJobId, inDirtyIndex: score !== null };
  }

  /** An append key's waiting events: e<_fv + 1> .. e<_v>, the first few decoded. */
  async #events(
    address: Address,
    version: number | null,
    flushedVersion: number | null,
  ): Promise<RedisSide['events']> {
    const last = version ?? 0;
    const first = (flushedVersion ?? 0) + 1;
    if (last < first) return { waiting: 0, first: null, last: null, sample: [] };
    const names = Array.from({ length: Math.min(EVENT_SAMPLE, last - first + 1) }, (_, i) => `e${first + i}`);
    const values = await this.#context.redis.hmget(address.key, ...names);
    const sample = names.flatMap((name, i) => {
      const raw = values[i];
      return raw ? [{ sequence: Number(name.slice(1)), values: decodeEvent(address.entity, raw) }] : [];
    });
    return { waiting: last - first + 1, first, last, sample };
  }

  /** What the database holds for the key; its errors reported, not thrown. */
  async #readDatabase(address: Address): Promise<DatabaseSide> {
    const { entity, id } = address;
    const { options, store } = this.#context;
    const empty: DatabaseSide = { available: true, row: null, version: null, updatedAt: {}, tombstone: null };
    try {
      const prisma = (this.#options.database ?? options.prisma) as PrismaClientLike | undefined;
      if (!prisma) {
        // A store of the user's own: only what its load answers (no @updatedAt, no tombstone apart).
        const loaded = (await store.load(entity, [id])).get(id);
        if (entity.append) {
          const lastSequence = loaded?.version ? loaded.version : null;
          return { ...empty, version: lastSequence, events: { count: lastSequence ?? 0, lastSequence } };
        }
        return { ...empty, row: loaded?.values ?? null, version: loaded?.version ?? null };
      }
      const columns = keyColumnsOf(entity, id);
      if (entity.append) {
        const [row] = await prisma.$queryRawUnsafe<{ n: string; last: string | null }[]>(
          inspectEventsSql(entity),
          ...columns,
        );
        const lastSequence = row?.last == null ? null : Number(row.last);
        return { ...empty, version: lastSequence, events: { count: Number(row?.n ?? 0), lastSequence } };
      }
      const [rows, tombstones] = await Promise.all([
        prisma.$queryRawUnsafe<Record<string, string | null>[]>(inspectRowSql(entity), ...columns),
        prisma.$queryRawUnsafe<{ v: string; at: string | null }[]>(
          inspectTombstoneSql(options.tombstoneTable),
          entity.name,
          id,
        ),
      ]);
      const row = rows[0];
      const tombstone = tombstones[0];
      return {
        available: true,
        row: row
          ? Object.fromEntries(entity.fields.map((f, i) => [f.name, fromSqlText(f, row[`c${i}`])]))
          : null,
        version: row?.r == null ? null : Number(row.r),
        updatedAt: row
          ? Object.fromEntries(
              entity.touched.map((t, i) => [t.column, row[`u${i}`] == null ? null : Number(row[`u${i}`])]),
            )
          : {},
        tombstone: tombstone
          ? { version: Number(tombstone.v), deletedAt: tombstone.at == null ? null : Number(tombstone.at) }
          : null,
      };
    } catch (error) {
      return { ...empty, available: false, error: store.describeError?.(error).message ?? String(error) };
    }
  }

  /** The key's current job: the one its hash names, else the failed one the failed index names. */
  async #currentJob(
    address: Address,
    jobId: string | null,
    failedJobId: string | null,
  ): Promise<JobInfo | null> {
    const queue = this.#queue(address);
    for (const id of [jobId, failedJobId]) {
      if (!id) continue;
      const job = await queue.getJob(id);
      if (job) return this.#jobInfo(queue, job);
    }
    return null;
  }

  async #jobInfo(queue: Queue, job: Job): Promise<JobInfo> {
    const state = await job.getState();
    let nextRunAt: number | null = null;
    if (state === 'delayed') {
      const score = await this.#context.redis.zscore(queue.keys.delayed as string, job.id as string);
      nextRunAt = score === null ? job.timestamp + job.delay : dueAtOfDelayedScore(Number(score));
    } else if (WAITING_STATES.has(state)) nextRunAt = Date.now();
    const error = job.failedReason ? parseFailedReason(job.failedReason) : null;
    return {
      id: job.id as string,
      name: job.name,
      state,
      attemptsMade: job.attemptsMade,
      attempts: job.opts.attempts ?? 1,
      createdAt: job.timestamp,
      nextRunAt,
      processedOn: job.processedOn ?? null,
      finishedOn: job.finishedOn ?? null,
      error,
      cause: job.failedReason ? causeOf(job.failedReason) : null,
      attemptErrors: (job.stacktrace ?? []).map(firstLine),
      ...(job.name === REFUSED_EVENT_JOB
        ? { sequence: Number((job.data as { sequence?: number }).sequence) }
        : {}),
    };
  }

  /** The ids of the key's jobs in the failed set (flush and refused-event), newest first. */
  async #failedJobIdsOf(address: Address): Promise<string[]> {
    const { flush, refused } = jobIdPrefixes(address.entity.name, address.id);
    const ids = await this.#queue(address).getRanges(['failed'], 0, this.#options.maxFailedJobs - 1, false);
    return ids.filter((id) => id.startsWith(flush) || id.startsWith(refused));
  }

  async #keyFailures(address: Address): Promise<JobInfo[]> {
    const queue = this.#queue(address);
    const ids = (await this.#failedJobIdsOf(address)).slice(0, KEY_FAILURES);
    const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
    return Promise.all(jobs.filter((j): j is Job => Boolean(j)).map((job) => this.#jobInfo(queue, job)));
  }

  /**
   * The key's place in each ranked field's ranking, read without building it: as `rank` answers, no place
   * (null) below a trimmed shard's floor, where the records that shard no longer holds may rank above it.
   */
  async #rankings(address: Address): Promise<RankingInfo[]> {
    const { redis, shards } = this.#context;
    const ranked = address.entity.fields.filter((f) => f.ranked);
    return Promise.all(
      ranked.map(async (field) => {
        const own = rankingKey(address.shard, address.entity.name, field.name);
        const [scoreText, marks] = await Promise.all([
          redis.zscore(own, address.id),
          Promise.all(shards.map((s) => redis.zscore(rankingKey(s, address.entity.name, field.name), ''))),
        ]);
        const built = marks.every((mark) => mark !== null);
        if (scoreText === null) return { field: field.name, score: null, rank: null, built };
        const [above, floors] = await Promise.all([
          Promise.all(
            shards.map((s) =>
              redis.zcount(rankingKey(s, address.entity.name, field.name), `(${scoreText}`, '+inf'),
            ),
          ),
          Promise.all(
            shards.map((s) => redis.hget(rankingFloorKey(s, address.entity.name, field.name), 's')),
          ),
        ]);
        const score = Number(scoreText);
        const belowFloor = floors.some((floor) => floor !== null && Number(floor) > score);
        return {
          field: field.name,
          score,
          rank: belowFloor ? null : 1 + above.reduce((n, c) => n + c, 0),
          built,
        };
      }),
    );
  }

  /** Removes jobs that wait or failed (not one a worker holds), and a refused event's record with its job. */
  async #removeJobs(address: Address, ids: string[]): Promise<string[]> {
    const queue = this.#queue(address);
    const all = new Set([...ids, ...(await this.#failedJobIdsOf(address))]);
    const removed: string[] = [];
    for (const id of all) {
      const job = await queue.getJob(id);
      if (!job) continue;
      if (!REMOVABLE_STATES.has(await job.getState())) continue;
      try {
        await job.remove();
        if (job.name === REFUSED_EVENT_JOB) await this.#context.redis.hdel(address.shard.refused, id);
        removed.push(id);
      } catch (error) {
        // Taken by a worker meanwhile: it finds no hash and writes nothing.
        this.#context.logger.debug?.({ jobId: id, err: redactError(error) }, 'discard: job not removed');
      }
    }
    return removed;
  }
}

/** A failed job of the shard's queue as the grouping sees it; undefined for a job that flushes no key (the sweep). */
function failedJobOf(job: Job, shard: number): FailedJob | undefined {
  if (job.name !== FLUSH_JOB && job.name !== REFUSED_EVENT_JOB) return undefined;
  const data = job.data as { entity?: unknown; id?: unknown };
  if (typeof data.entity !== 'string' || typeof data.id !== 'string') return undefined;
  return {
    entity: data.entity,
    id: data.id,
    jobId: job.id as string,
    shard,
    kind: job.name === FLUSH_JOB ? 'flush' : 'refused-event',
    failedAt: job.finishedOn ?? job.timestamp,
    attemptsMade: job.attemptsMade,
    reason: job.failedReason ?? '',
  };
}

/** Retries a job if it is failed (a completed one already wrote: never). Whether it did. */
async function retryIfFailed(job: Job): Promise<boolean> {
  if ((await job.getState()) !== 'failed') return false;
  try {
    await job.retry('failed');
    return true;
  } catch {
    // It left the failed set meanwhile (another operator retried it).
    return false;
  }
}

/**
 * The prefixes of a key's job ids: its flush jobs `<entity>.<id>.v…` and its refused events
 * `refused.<entity>.<id>.s…`, the id escaped as job ids escape it (derived from `refusedEventJob`, the one
 * home of that escaping in TypeScript; the flush job's id is made in Lua with the same escaping).
 */
function jobIdPrefixes(entity: string, id: string): { flush: string; refused: string } {
  const refusedId = refusedEventJob(entity, id, 0).opts.jobId as string;
  const refused = refusedId.slice(0, -1);
  const escaped = refused.slice(`refused.${entity}.`.length, -'.s'.length);
  return { flush: `${entity}.${escaped}.v`, refused };
}

/** The message of a stack trace's first line, without the error's name. */
function firstLine(stack: string): string {
  const line = stack.split('\n', 1)[0] ?? '';
  return line.replace(/^[A-Za-z]*Error: /, '');
}

function stateOf(side: RedisSide, job: JobInfo | null, inDirtyIndex: boolean): KeyState {
  if (!side.present && !inDirtyIndex) return 'not-cached';
  if (!side.dirty && !inDirtyIndex) return 'clean';
  switch (job?.state) {
    case 'active':
      return 'flushing';
    case 'failed':
      return 'failed';
    case undefined:
    case 'unknown':
    case 'completed':
      return 'orphaned';
    default:
      return 'dirty';
  }
}

function checkSelector(selector: FailureSelector, context: Context): void {
  if (selector === null || typeof selector !== 'object') {
    throw new ValidationError('a retry needs { cause } or { keys }');
  }
  if ('keys' in selector) {
    if (!Array.isArray(selector.keys) || selector.keys.length === 0) {
      throw new ValidationError('keys must be a non-empty list of { entity, id }');
    }
    for (const key of selector.keys) entityOf(context, key?.entity);
    return;
  }
  if (typeof selector.cause !== 'string' || selector.cause.trim() === '') {
    throw new ValidationError('cause must be a cause id (23514-1a2b3c4d) or a code (23514)');
  }
  if (selector.entity !== undefined) entityOf(context, selector.entity);
}
