import { DelayedError, type Job, Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { type Context, closeConnection, duplicateForWorker, redactError } from '../context.js';
import { UnavailableError } from '../errors.js';
import { dataKey, type ShardKeys } from '../keys.js';
import { dedupLogger } from '../log-dedup.js';
import type { ResolvedWorkerOptions } from '../options.js';
import type { SchemaCheck } from '../schema-check.js';
import { abandonWorker, lockRenewalFailedJobId, STALLED_REASON } from './bullmq-internals.js';
import { coalesceWrites } from './coalesce-writes.js';
import { FlushBatcher, type FlushCounters, RowRejectedError, ZERO_FLUSH_COUNTERS } from './flush-batcher.js';
import { type FlushJobData, REFUSED_EVENT_JOB, type RefusedEventJobData, SWEEP_JOB } from './job.js';
import { OutagePause } from './outage-pause.js';
import { insertRefusedEvent } from './refused-events.js';
import type { ShardActivity } from './stuck.js';
import { keepSweepsScheduled, runSweepJob } from './sweep.js';
import { StuckWatchdog } from './watchdog.js';

/** One served shard: its batcher, its BullMQ worker (replaced in place when stuck), what it is doing. */
interface ServedShard {
  keys: ShardKeys;
  batcher: FlushBatcher;
  worker: Worker<FlushJobData>;
  activity: ShardActivity;
}

/**
 * Runs flush jobs: a BullMQ worker per shard feeding a batcher. Safe to run in many processes at once:
 * every write to the database is guarded by the key's version, so a job run twice (a stalled job, a retry
 * by an operator) writes nothing stale. The database outage pause, the stuck-worker watchdog, the sweep and
 * BullMQ's unpublished parts each have a module of their own; this class runs the shards' workers and sends
 * each job to its handler.
 */
export class FlushWorker {
  readonly #context: Context;
  readonly #options: ResolvedWorkerOptions;
  readonly #schema: SchemaCheck;
  readonly #shards: ServedShard[] = [];
  /** Stuck workers being closed: `close()` gives them up to `closeTimeoutMs`. */
  readonly #retired = new Set<Promise<void>>();
  readonly #watchdog: StuckWatchdog;
  readonly #outage: OutagePause;
  #mismatched = false;
  readonly #connection: Redis | Cluster;
  /** The jobs whose processor runs now (`<shard> <job id>`): their locks must hold. */
  readonly #running = new Set<string>();
  #closing: Promise<void> | undefined;
  /** Registers the shards' sweeps again now and then (see `keepSweepsScheduled`), while the worker runs. */
  #sweeps: { stop(): void } | undefined;
  /** Running totals, for metrics. */
  readonly counters: FlushCounters = { ...ZERO_FLUSH_COUNTERS };
  /** Resolves when every shard's worker is connected and the sweep is scheduled. */
  readonly ready: Promise<void>;

  /** `options` are resolved (see `resolveWorkerOptions`); `schema` is the cache's check of the database. */
  constructor(context: Context, options: ResolvedWorkerOptions, schema: SchemaCheck) {
    this.#context = context;
    this.#options = options;
    this.#schema = schema;
    this.#outage = new OutagePause(context, options.shards);
    this.#connection = duplicateForWorker(context.redis);
    for (const shardNumber of options.shards) {
      const keys = context.shards[shardNumber] as ShardKeys;
      // Each settled job makes BullMQ send a command on this connection: send a batch's in one write.
      const batcher = new FlushBatcher(context, keys, this.counters, () => coalesceWrites(this.#connection));
      const served = { keys, batcher, activity: { lastStartedAt: Date.now(), running: 0 } } as ServedShard;
      served.worker = this.#createShardWorker(served);
      this.#shards.push(served);
    }
    shardWorkers.set(this, () => this.#shards.map((s) => s.worker));
    this.#watchdog = new StuckWatchdog(
      context,
      this.#shards.map((served) => ({
        shard: served.keys.shard,
        activity: served.activity,
        worker: () => served.worker,
        replace: (stuck) => this.#replace(served, stuck),
      })),
      options.stuckAfterMs,
      () => !this.#closing && !this.#mismatched,
    );
    this.ready = this.#start();
  }

  /** The BullMQ worker of a served shard, not yet running. */
  #createShardWorker(served: ServedShard): Worker<FlushJobData> {
    const { keys, activity } = served;
    const worker = new Worker<FlushJobData>(
      keys.queueName,
      async (job, token) => {
        const running = `${keys.shard} ${job.id}`;
        this.#running.add(running);
        activity.lastStartedAt = Date.now();
        activity.running++;
        try {
          return await this.#process(served, job, token);
        } finally {
          activity.running--;
          this.#running.delete(running);
        }
      },
      {
        // Started by `#start` once the entities are known to match the database.
        autorun: false,
        connection: this.#connection,
        prefix: keys.tag,
        concurrency: this.#options.concurrency,
        lockDuration: this.#options.lockDurationMs,
        stalledInterval: this.#options.stalledIntervalMs,
        maxStalledCount: this.#options.maxStalledCount,
        removeOnComplete: { count: 0 },
        removeOnFail: this.#context.options.flush.keepFailed,
      },
    );
    worker.on('error', (error) => this.#onError(keys.shard, error));
    worker.on('failed', (job, error) => {
      if (job) this.#onFailed(job, error);
    });
    return worker;
  }

  #onError(shard: number, error: Error): void {
    const { logger } = this.#context;
    const jobId = lockRenewalFailedJobId(error);
    if (jobId === undefined) {
      dedupLogger(logger).error({ err: redactError(error), shard }, 'flush worker error');
    } else if (this.#running.has(`${shard} ${jobId}`)) {
      logger.warn(
        { jobId, shard, lockDurationMs: this.#options.lockDurationMs },
        'a running flush job lost its lock (this worker paused too long); another worker may run it too, harmlessly',
      );
    } else {
      // The job finished or moved to delayed as the renewal went out: its lock was released, not lost.
      logger.debug?.({ jobId, shard }, 'lock renewal of a finished flush job');
    }
  }

  #onFailed(job: Job<FlushJobData>, error: Error): void {
    const { logger } = this.#context;
    if (job.name === SWEEP_JOB) return;
    if (job.name === REFUSED_EVENT_JOB) {
      // Logged once when it was set aside; a retry that fails again is the operator's own action.
      logger.debug?.({ jobId: job.id, reason: error.message }, 'a refused event is still refused');
      return;
    }
    if (error.message.includes(STALLED_REASON)) {
      // Its workers died while running it: nothing for an operator, and no retry; the sweep enqueues the key.
      logger.warn(
        { jobId: job.id, ...job.data, maxStalledCount: this.#options.maxStalledCount },
        'flush job failed by stalling too often (its workers died); the sweep enqueues its key again',
      );
      return;
    }
    const final = job.attemptsMade >= (job.opts.attempts ?? 1);
    // The database's message once, and its code; the stack only at debug level: a row refused at every retry
    // must not fill the log with the driver's wrapping.
    const log = {
      jobId: job.id,
      attemptsMade: job.attemptsMade,
      ...job.data,
      reason: error.message,
      ...(error instanceof RowRejectedError && error.dbCode ? { dbCode: error.dbCode } : {}),
    };
    if (final) logger.error(log, 'flush job failed for good; retry it from the dashboard');
    else logger.warn(log, 'flush job failed; it will be retried');
    logger.debug?.({ jobId: job.id, err: error }, 'flush job failure detail');
  }

  /** Starts a shard's BullMQ worker; its loop ending in an error is logged, not thrown. */
  #run(served: ServedShard): void {
    served.activity.lastStartedAt = Date.now();
    served.worker
      .run()
      .catch((error: unknown) =>
        this.#context.logger.error({ err: redactError(error) }, 'flush worker stopped'),
      );
  }

  /** Closes a stuck BullMQ worker in the background and runs a new one in its place. */
  #replace(served: ServedShard, stuck: Worker): void {
    const retiring = stuck
      .close(true)
      .catch((error: unknown) =>
        this.#context.logger.warn(
          { err: redactError(error), shard: served.keys.shard },
          'closing a stuck flush worker',
        ),
      )
      .finally(() => this.#retired.delete(retiring));
    this.#retired.add(retiring);
    served.worker = this.#createShardWorker(served);
    this.#run(served);
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
      this.#mismatched = true;
      for (const served of this.#shards) void served.worker.pause(true);
    });
    for (const served of this.#shards) this.#run(served);
    this.#watchdog.start();
    await Promise.all(this.#shards.map((s) => s.worker.waitUntilReady()));
    if (this.#options.sweep && !this.#closing) {
      this.#sweeps = await keepSweepsScheduled(this.#context, this.#options.shards);
      // Closed while the first registration ran: close() found nothing to stop.
      if (this.#closing) this.#sweeps.stop();
    }
  }

  /** Sends a job to its handler: the sweep, a refused event's insert, or a key's flush. */
  async #process(served: ServedShard, job: Job<FlushJobData>, token?: string): Promise<string> {
    if (job.name === SWEEP_JOB) return runSweepJob(this.#context, served.keys);
    if (job.name === REFUSED_EVENT_JOB) {
      return insertRefusedEvent(
        this.#context,
        served.keys,
        job as unknown as Job<RefusedEventJobData>,
        this.counters,
      );
    }
    return this.#flushKey(served, job, token);
  }

  /**
   * Flushes a key. Its outcome decides the job's: done; run again at once (an append key with more events
   * than one flush takes); or again after another window (written meanwhile). An unreachable database pauses
   * the queue (see `OutagePause`); a row the database refused fails the job, noted for the sweep on the last
   * attempt.
   */
  async #flushKey(served: ServedShard, job: Job<FlushJobData>, token?: string): Promise<string> {
    const { keys, batcher } = served;
    const { entity, id } = job.data;
    let outcome: Awaited<ReturnType<FlushBatcher['submit']>>;
    try {
      outcome = await batcher.submit(entity, id);
      // More events wait than one flush takes: flush again within this job, its lock held and renewed, rather
      // than through BullMQ's delayed set; after a few rounds it lets other jobs have the slot.
      for (let round = 1; outcome === 'behind' && round < ROUNDS_WHEN_BEHIND; round++) {
        outcome = await batcher.submit(entity, id);
      }
      this.#outage.succeeded();
    } catch (error) {
      if (error instanceof UnavailableError) throw await this.#outage.failed(keys.shard, error);
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
        // Last attempt: remember which job holds this key, so the sweep leaves it to the operator.
        await this.#context.redis.hset(keys.failed, dataKey(keys, entity, id), job.id as string);
      }
      throw error;
    }
    if (outcome === 'behind') {
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    if (outcome === 'dirty') {
      // Moving it releases its lock, which a renewal racing the move then fails to find.
      this.#running.delete(`${keys.shard} ${job.id}`);
      await job.moveToDelayed(Date.now() + this.#context.options.flush.windowMs, token);
      throw new DelayedError();
    }
    return outcome;
  }

  /**
   * Stops taking jobs, writes what is batched, waits for the jobs in flight (up to `closeTimeoutMs`),
   * disconnects; returns within about twice `closeTimeoutMs` whatever Redis and the database do.
   *
   * BullMQ's graceful close can wait for ever when Redis does not answer: its loops wait on commands that
   * queue until Redis is back, and it waits for its blocking connection's `end` event, which an ioredis
   * Cluster left without nodes (every node down, or after a failover) never emits; and a close under way cannot
   * be forced (`close(true)` returns the same promise). So past the timeout, the connections it waits on are
   * cut (`abandonWorker`); past a second one, it is no longer waited for.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#watchdog.stop();
      this.#sweeps?.stop();
      const { closeTimeoutMs } = this.#options;
      const logger = this.#context.logger;
      const closing = Promise.allSettled([...this.#shards.map((s) => s.worker.close()), ...this.#retired]);
      const flushed = Promise.allSettled(this.#shards.map((s) => s.batcher.flushPending()));
      if (!(await settlesWithin(Promise.all([closing, flushed]), closeTimeoutMs))) {
        logger.warn(
          { running: this.#running.size, closeTimeoutMs },
          'flush jobs still running at close timeout; they will be recovered as stalled jobs',
        );
        this.#connection.disconnect();
        await Promise.all(this.#shards.map((s) => abandonWorker(s.worker)));
        if (!(await settlesWithin(closing, closeTimeoutMs))) {
          logger.warn(
            { closeTimeoutMs },
            'a BullMQ worker did not close (Redis unreachable?); no longer waiting for it',
          );
        }
      }
      await closeConnection(this.#connection);
    })();
    return this.#closing;
  }
}

/** Flushes of one key's backlog of events that one job runs before it goes back to the queue. */
const ROUNDS_WHEN_BEHIND = 8;

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, ms));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Each flush worker's BullMQ workers, one per served shard, for tests that fault them (see `./internal`). */
const shardWorkers = new WeakMap<FlushWorker, () => readonly Worker[]>();

/** The BullMQ workers of `worker`'s shards as they are now (a stuck one is replaced in place). */
export function bullWorkersOf(worker: FlushWorker): readonly Worker[] {
  return shardWorkers.get(worker)?.() ?? [];
}
