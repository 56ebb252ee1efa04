import { DelayedError, type Job, type Queue, Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { type Context, closeConnection, duplicateForWorker, redactError } from '../context.js';
import { UnavailableError } from '../errors.js';
import { dataKey, type ShardKeys } from '../keys.js';
import type { ResolvedWorkerOptions } from '../options.js';
import type { SchemaCheck } from '../schema-check.js';
import { FlushBatcher, type FlushCounters, RowRejectedError } from './batcher.js';
import { coalesceWrites } from './coalesce-writes.js';
import { type FlushJobData, SWEEP_JOB } from './job.js';
import { outageBackoff } from './plan.js';
import { STALLED_REASON, sweepShard } from './sweep.js';

/**
 * Runs flush jobs: a BullMQ worker per shard feeding a batcher. Safe to run in many processes at once:
 * every write to the database is guarded by the key's version, so a job run twice (a stalled job, a retry
 * by an operator) writes nothing stale.
 */
export class FlushWorker {
  readonly #context: Context;
  readonly #options: ResolvedWorkerOptions;
  readonly #schema: SchemaCheck;
  readonly #workers: Worker[] = [];
  readonly #batchers: FlushBatcher[] = [];
  readonly #connection: Redis | Cluster;
  #consecutiveOutages = 0;
  /**
   * Shards whose queue may carry an outage pause's global rate limit, lifted by the next successful flush.
   * At start, all of them: a worker that died during an outage may have left one behind.
   */
  readonly #pausedShards: Set<number>;
  #outage: { error: unknown; pause: Promise<void> } | undefined;
  /** The jobs whose processor runs now (`<shard> <job id>`): their locks must hold. */
  readonly #running = new Set<string>();
  #closing: Promise<void> | undefined;
  /** Running totals, for metrics. */
  readonly counters: FlushCounters = {
    batches: 0,
    statements: 0,
    rowsWritten: 0,
    keysFlushed: 0,
    rowsRejected: 0,
    outages: 0,
    eventsInserted: 0,
  };
  /** Resolves when every shard's worker is connected and the sweep is scheduled. */
  readonly ready: Promise<void>;

  /** `options` are resolved (see `resolveWorkerOptions`); `schema` is the cache's check of the database. */
  constructor(context: Context, options: ResolvedWorkerOptions, schema: SchemaCheck) {
    this.#context = context;
    this.#options = options;
    this.#schema = schema;
    this.#pausedShards = new Set(this.#options.shards);
    this.#connection = duplicateForWorker(context.redis);
    for (const shardNumber of this.#options.shards) {
      const shard = context.shards[shardNumber] as ShardKeys;
      // Each settled job makes BullMQ send a command on this connection: send a batch's in one write.
      const batcher = new FlushBatcher(context, shard, this.counters, () => coalesceWrites(this.#connection));
      this.#batchers.push(batcher);
      const worker = new Worker<FlushJobData>(
        shard.queueName,
        async (job, token) => {
          const running = `${shard.shard} ${job.id}`;
          this.#running.add(running);
          try {
            return await this.#process(shard, batcher, job, token);
          } finally {
            this.#running.delete(running);
          }
        },
        {
          // Started by `#start` once the entities are known to match the database.
          autorun: false,
          connection: this.#connection,
          prefix: shard.tag,
          concurrency: this.#options.concurrency,
          lockDuration: this.#options.lockDurationMs,
          stalledInterval: this.#options.stalledIntervalMs,
          maxStalledCount: this.#options.maxStalledCount,
          removeOnComplete: { count: 0 },
          removeOnFail: context.options.flush.keepFailed,
        },
      );
      worker.on('error', (error) => {
        const jobId = LOCK_RENEWAL_FAILED.exec(error.message)?.[1];
        if (jobId === undefined) {
          context.logger.error({ err: redactError(error), shard: shard.shard }, 'flush worker error');
        } else if (this.#running.has(`${shard.shard} ${jobId}`)) {
          context.logger.warn(
            { jobId, shard: shard.shard, lockDurationMs: this.#options.lockDurationMs },
            'a running flush job lost its lock (this worker paused too long); another worker may run it too, harmlessly',
          );
        } else {
          // The job finished or moved to delayed as the renewal went out: its lock was released, not lost.
          context.logger.debug?.({ jobId, shard: shard.shard }, 'lock renewal of a finished flush job');
        }
      });
      worker.on('failed', (job, error) => {
        if (!job || job.name === SWEEP_JOB) return;
        if (error.message.includes(STALLED_REASON)) {
          // Its workers died while running it: nothing for an operator, and no retry; the sweep enqueues the key.
          context.logger.warn(
            { jobId: job.id, ...job.data, maxStalledCount: this.#options.maxStalledCount },
            'flush job failed by stalling too often (its workers died); the sweep enqueues its key again',
          );
          return;
        }
        const final = job.attemptsMade >= (job.opts.attempts ?? 1);
        // The database's message once, and its code; the stack only at debug level: a row refused at every
        // retry must not fill the log with the driver's wrapping.
        const log = {
          jobId: job.id,
          attemptsMade: job.attemptsMade,
          ...job.data,
          reason: error.message,
          ...(error instanceof RowRejectedError && error.dbCode ? { dbCode: error.dbCode } : {}),
        };
        if (final) context.logger.error(log, 'flush job failed for good; retry it from the dashboard');
        else context.logger.warn(log, 'flush job failed; it will be retried');
        context.logger.debug?.({ jobId: job.id, err: error }, 'flush job failure detail');
      });
      this.#workers.push(worker);
    }
    this.ready = this.#start();
  }

  /**
   * Waits for the cache's first check of the database: on a mismatch the worker takes no job and `ready`
   * rejects with it. Otherwise (also while the database is unreachable: flushes then pause for the outage)
   * the workers run; a mismatch found later pauses them.
   */
  async #start(): Promise<void> {
    await this.#schema.firstAttempt;
    const mismatch = this.#schema.error;
    if (mismatch) {
      await this.close();
      throw mismatch;
    }
    this.#schema.onMismatch(() => {
      for (const worker of this.#workers) void worker.pause(true);
    });
    for (const worker of this.#workers) {
      worker
        .run()
        .catch((error: unknown) =>
          this.#context.logger.error({ err: redactError(error) }, 'flush worker stopped'),
        );
    }
    await Promise.all(this.#workers.map((w) => w.waitUntilReady()));
    if (!this.#options.sweep) return;
    await Promise.all(
      this.#options.shards.map((shard) =>
        this.#context
          .queue(shard)
          .upsertJobScheduler(
            SWEEP_JOB,
            { every: this.#context.options.sweep.intervalMs },
            { name: SWEEP_JOB, opts: { attempts: 1 } },
          ),
      ),
    );
  }

  async #process(
    shard: ShardKeys,
    batcher: FlushBatcher,
    job: Job<FlushJobData>,
    token?: string,
  ): Promise<string> {
    if (job.name === SWEEP_JOB) {
      const found = await sweepShard(this.#context, shard);
      if (shard.shard === 0) {
        const { store } = this.#context;
        const { sweep } = this.#context.options;
        try {
          await store.purgeTombstones(sweep.tombstoneRetentionMs);
        } catch (error) {
          // An outage is not the sweep's failure: the purge waits for the next run.
          if (!store.isUnavailable(error)) throw error;
          this.#context.logger.warn({ err: error }, 'database unreachable; tombstone purge skipped');
        }
      }
      return `re-enqueued ${found}`;
    }
    const { entity, id } = job.data;
    let outcome: Awaited<ReturnType<FlushBatcher['submit']>>;
    try {
      outcome = await batcher.submit(entity, id);
      this.#consecutiveOutages = 0;
      if (this.#pausedShards.size > 0) this.#liftPauses();
    } catch (error) {
      if (error instanceof UnavailableError) {
        // Not this key's fault: pause the whole queue (every worker) and put the job back without spending
        // an attempt. The pause doubles while the outage lasts.
        // One failed batch is one probe of the database, however many jobs it carried (the batcher rejects
        // them all with the same error): count it once, and let every job of the batch await one pause.
        if (this.#outage?.error !== error) {
          const attempt = ++this.#consecutiveOutages;
          const { outageBackoffMs, maxOutageBackoffMs } = this.#context.options.flush;
          const delay = outageBackoff(attempt, outageBackoffMs, maxOutageBackoffMs);
          this.#pausedShards.add(shard.shard);
          this.#outage = { error, pause: pauseQueue(this.#context.queue(shard.shard), delay) };
          if (attempt === 1 || attempt % 20 === 0) {
            this.#context.logger.warn(
              { err: error.cause, pauseMs: delay },
              'database unreachable; flushing paused',
            );
          }
        }
        await this.#outage.pause;
        throw Worker.RateLimitError();
      }
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
        // Last attempt: remember which job holds this key, so the sweep leaves it to the operator.
        await this.#context.redis.hset(shard.failed, dataKey(shard, entity, id), job.id as string);
      }
      throw error;
    }
    if (outcome === 'behind') {
      // More events wait than one flush takes: run this same job again now, not after another window.
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    if (outcome === 'dirty') {
      // Written again during the flush: run this same job again after another window. Moving it releases
      // its lock, which a renewal racing the move then fails to find.
      this.#running.delete(`${shard.shard} ${job.id}`);
      await job.moveToDelayed(Date.now() + this.#context.options.flush.windowMs, token);
      throw new DelayedError();
    }
    return outcome;
  }

  /** The database answers again: let every worker of the paused queues take jobs at full speed. */
  #liftPauses(): void {
    const shards = [...this.#pausedShards];
    this.#pausedShards.clear();
    for (const shard of shards) {
      this.#context
        .queue(shard)
        .removeGlobalRateLimit()
        .catch((error: unknown) =>
          this.#context.logger.warn({ err: redactError(error), shard }, 'could not lift the outage pause'),
        );
    }
  }

  /** Stops taking jobs, writes what is batched, waits for jobs in flight (up to `closeTimeoutMs`), disconnects. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closing = Promise.all(this.#workers.map((w) => w.close()));
      await Promise.all(this.#batchers.map((b) => b.flushPending()));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        closing.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), this.#options.closeTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.#context.logger.warn(
          {},
          'flush jobs still running at close timeout; they will be recovered as stalled jobs',
        );
        await Promise.all(this.#workers.map((w) => w.close(true)));
      }
      await closeConnection(this.#connection);
    })();
    return this.#closing;
  }
}

/**
 * BullMQ's error for a lock it could not renew: either the job finished (or moved to delayed) while the renewal
 * was on its way, or the lock really lapsed and the job may run elsewhere too.
 */
const LOCK_RENEWAL_FAILED = /^could not renew lock for job (.+)$/;

/**
 * Pauses every worker of the queue, in every process, for `ms`. Workers heed the limiter key that
 * `rateLimit` sets only while a rate limit is configured, and a per-worker limiter costs every job of normal
 * operation a few Redis commands; so the pause sets a global limit, too high ever to throttle by itself, only
 * while an outage lasts.
 */
async function pauseQueue(queue: Queue, ms: number): Promise<void> {
  await queue.setGlobalRateLimit(Number.MAX_SAFE_INTEGER - 1, 1000);
  await queue.rateLimit(ms);
}
