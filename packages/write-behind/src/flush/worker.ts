import { DelayedError, type Job, type Queue, Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { type Context, closeConnection, duplicateForWorker, redactError } from '../context.js';
import { UnavailableError } from '../errors.js';
import { dataKey, QUEUE_NAME, type ShardKeys } from '../keys.js';
import { FlushBatcher, type FlushCounters } from './batcher.js';
import { coalesceWrites } from './coalesce-writes.js';
import { outageBackoff } from './plan.js';
import { sweepShard } from './sweep.js';

export interface FlushWorkerOptions {
  /** Which shards this worker serves. @defaultValue all */
  shards?: number[];
  /** Jobs run at once per shard. @defaultValue `flush.concurrency` */
  concurrency?: number;
  /** BullMQ lock duration: a job whose worker stops renewing its lock this long is run again elsewhere. @defaultValue `30000` */
  lockDurationMs?: number;
  /** How often BullMQ looks for stalled jobs (those whose worker died). @defaultValue `30000` */
  stalledIntervalMs?: number;
  /**
   * How many times a job may stall (its worker died) before BullMQ fails it. A key whose job failed this way is
   * not the operator's to fix: the sweep enqueues it again under a fresh job id. @defaultValue `1`
   */
  maxStalledCount?: number;
  /** How long `close()` waits for jobs in flight before abandoning them to stalled-job recovery. @defaultValue `10000` */
  closeTimeoutMs?: number;
  /** Whether this worker registers the periodic sweep and tombstone purge. @defaultValue `true` */
  sweep?: boolean;
}

interface FlushJobData {
  entity: string;
  id: string;
}

const SWEEP_JOB = 'sweep';

/**
 * Runs flush jobs: a BullMQ worker per shard feeding a batcher. Safe to run in many processes at once:
 * every write to the database is guarded by the key's version, so a job run twice (a stalled job, a retry
 * by an operator) writes nothing stale.
 */
export class FlushWorker {
  readonly #context: Context;
  readonly #options: Required<FlushWorkerOptions>;
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
  #closing: Promise<void> | undefined;
  /** Running totals, for metrics. */
  readonly counters: FlushCounters = {
    batches: 0,
    statements: 0,
    rowsWritten: 0,
    keysFlushed: 0,
    rowsRejected: 0,
    outages: 0,
  };
  /** Resolves when every shard's worker is connected and the sweep is scheduled. */
  readonly ready: Promise<void>;

  constructor(context: Context, options: FlushWorkerOptions) {
    this.#context = context;
    this.#options = {
      shards: options.shards ?? context.shards.map((s) => s.shard),
      concurrency: options.concurrency ?? context.options.flush.concurrency,
      lockDurationMs: options.lockDurationMs ?? 30_000,
      stalledIntervalMs: options.stalledIntervalMs ?? 30_000,
      maxStalledCount: options.maxStalledCount ?? 1,
      closeTimeoutMs: options.closeTimeoutMs ?? 10_000,
      sweep: options.sweep ?? true,
    };
    this.#pausedShards = new Set(this.#options.shards);
    this.#connection = duplicateForWorker(context.redis);
    for (const shardNumber of this.#options.shards) {
      const shard = context.shards[shardNumber];
      if (!shard)
        throw new RangeError(`shard ${shardNumber} does not exist (shards: ${context.shards.length})`);
      // Each settled job makes BullMQ send a command on this connection: send a batch's in one write.
      const batcher = new FlushBatcher(context, shard, this.counters, () => coalesceWrites(this.#connection));
      this.#batchers.push(batcher);
      const worker = new Worker<FlushJobData>(
        QUEUE_NAME,
        (job, token) => this.#process(shard, batcher, job, token),
        {
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
      worker.on('error', (error) =>
        context.logger.error({ err: redactError(error), shard: shard.shard }, 'flush worker error'),
      );
      worker.on('failed', (job, error) => {
        if (!job || job.name === SWEEP_JOB) return;
        const final = job.attemptsMade >= (job.opts.attempts ?? 1);
        const log = { err: error, jobId: job.id, attemptsMade: job.attemptsMade, ...job.data };
        if (final) context.logger.error(log, 'flush job failed for good; retry it from the dashboard');
        else context.logger.warn(log, 'flush job failed; it will be retried');
      });
      this.#workers.push(worker);
    }
    this.ready = this.#start();
  }

  async #start(): Promise<void> {
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
        const { store, sweep } = this.#context.options;
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
    if (outcome === 'dirty') {
      // Written again during the flush: run this same job again after another window.
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
 * Pauses every worker of the queue, in every process, for `ms`. Workers heed the limiter key that
 * `rateLimit` sets only while a rate limit is configured, and a per-worker limiter costs every job of normal
 * operation a few Redis commands; so the pause sets a global limit, too high ever to throttle by itself, only
 * while an outage lasts.
 */
async function pauseQueue(queue: Queue, ms: number): Promise<void> {
  await queue.setGlobalRateLimit(Number.MAX_SAFE_INTEGER - 1, 1000);
  await queue.rateLimit(ms);
}
