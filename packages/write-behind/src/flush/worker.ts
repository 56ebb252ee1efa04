import { DelayedError, type Job, type Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { type Context, closeConnection, duplicateForWorker, redactError } from '../context.js';
import { UnavailableError } from '../errors.js';
import { dataKey, type ShardKeys } from '../keys.js';
import { dedupLogger } from '../log-dedup.js';
import type { ResolvedWorkerOptions } from '../options.js';
import { decodeEvent } from '../schema/event-codec.js';
import type { SchemaCheck } from '../schema-check.js';
import { sleep } from '../util.js';
import { FlushBatcher, type FlushCounters, type RefusedEvent, RowRejectedError } from './batcher.js';
import { coalesceWrites } from './coalesce-writes.js';
import { type FlushJobData, REFUSED_EVENT_JOB, type RefusedEventJobData, SWEEP_JOB } from './job.js';
import { outageBackoff } from './plan.js';
import { dueAtOfDelayedScore, isStuck, type QueueBacklog, type ShardActivity } from './stuck.js';
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
  /** One BullMQ worker per served shard, in `options.shards` order; a stuck one is replaced in place. */
  readonly #workers: Worker[] = [];
  readonly #batchers: FlushBatcher[] = [];
  /** Per served shard, for the stuck-worker check. */
  readonly #activity: ShardActivity[] = [];
  /** Stuck workers being closed: `close()` gives them up to `closeTimeoutMs`. */
  readonly #retired = new Set<Promise<void>>();
  #watchdog: NodeJS.Timeout | undefined;
  #mismatched = false;
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
    this.#options.shards.forEach((shardNumber, index) => {
      const shard = context.shards[shardNumber] as ShardKeys;
      // Each settled job makes BullMQ send a command on this connection: send a batch's in one write.
      this.#batchers.push(
        new FlushBatcher(context, shard, this.counters, () => coalesceWrites(this.#connection)),
      );
      this.#activity.push({ lastStartedAt: Date.now(), running: 0 });
      this.#workers.push(this.#createShardWorker(index));
    });
    shardWorkers.set(this, this.#workers);
    this.ready = this.#start();
  }

  /** The BullMQ worker of the `index`-th served shard, not yet running. */
  #createShardWorker(index: number): Worker<FlushJobData> {
    const context = this.#context;
    const shard = context.shards[this.#options.shards[index] as number] as ShardKeys;
    const batcher = this.#batchers[index] as FlushBatcher;
    const activity = this.#activity[index] as ShardActivity;
    const worker = new Worker<FlushJobData>(
      shard.queueName,
      async (job, token) => {
        const running = `${shard.shard} ${job.id}`;
        this.#running.add(running);
        activity.lastStartedAt = Date.now();
        activity.running++;
        try {
          return await this.#process(shard, batcher, job, token);
        } finally {
          activity.running--;
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
        removeOnFail: this.#context.options.flush.keepFailed,
      },
    );
    worker.on('error', (error) => {
      const jobId = LOCK_RENEWAL_FAILED.exec(error.message)?.[1];
      if (jobId === undefined) {
        dedupLogger(this.#context.logger).error(
          { err: redactError(error), shard: shard.shard },
          'flush worker error',
        );
      } else if (this.#running.has(`${shard.shard} ${jobId}`)) {
        this.#context.logger.warn(
          { jobId, shard: shard.shard, lockDurationMs: this.#options.lockDurationMs },
          'a running flush job lost its lock (this worker paused too long); another worker may run it too, harmlessly',
        );
      } else {
        // The job finished or moved to delayed as the renewal went out: its lock was released, not lost.
        this.#context.logger.debug?.({ jobId, shard: shard.shard }, 'lock renewal of a finished flush job');
      }
    });
    worker.on('failed', (job, error) => {
      if (!job || job.name === SWEEP_JOB) return;
      if (job.name === REFUSED_EVENT_JOB) {
        // Logged once when it was set aside; a retry that fails again is the operator's own action.
        this.#context.logger.debug?.(
          { jobId: job.id, reason: error.message },
          'a refused event is still refused',
        );
        return;
      }
      if (error.message.includes(STALLED_REASON)) {
        // Its workers died while running it: nothing for an operator, and no retry; the sweep enqueues the key.
        this.#context.logger.warn(
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
      if (final) this.#context.logger.error(log, 'flush job failed for good; retry it from the dashboard');
      else this.#context.logger.warn(log, 'flush job failed; it will be retried');
      this.#context.logger.debug?.({ jobId: job.id, err: error }, 'flush job failure detail');
    });
    return worker;
  }

  /** Starts the `index`-th shard's BullMQ worker; its loop ending in an error is logged, not thrown. */
  #run(index: number): void {
    const worker = this.#workers[index] as Worker;
    (this.#activity[index] as ShardActivity).lastStartedAt = Date.now();
    worker
      .run()
      .catch((error: unknown) =>
        this.#context.logger.error({ err: redactError(error) }, 'flush worker stopped'),
      );
  }

  /**
   * Replaces shard BullMQ workers that take no job while jobs wait for them (see `stuckAfterMs`). A read that
   * fails (Redis unreachable) decides nothing: the next check reads again.
   */
  async #checkStuck(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      this.#workers.map(async (worker, index) => {
        if (this.#closing || this.#mismatched) return;
        const activity = this.#activity[index] as ShardActivity;
        if (now - activity.lastStartedAt < this.#options.stuckAfterMs || activity.running > 0) return;
        const shardNumber = this.#options.shards[index] as number;
        const queue = this.#context.queue(shardNumber);
        let backlog: QueueBacklog;
        try {
          const [waiting, earliest, rateLimitTtl, paused] = await Promise.all([
            this.#context.redis.llen(queue.keys.wait as string),
            this.#context.redis.zrange(queue.keys.delayed as string, '0', '0', 'WITHSCORES'),
            queue.getRateLimitTtl(),
            queue.isPaused(),
          ]);
          backlog = {
            waiting,
            earliestDueAt: earliest[1] === undefined ? undefined : dueAtOfDelayedScore(Number(earliest[1])),
            rateLimited: rateLimitTtl > 0,
            paused,
          };
        } catch {
          return;
        }
        if (!isStuck(Date.now(), activity, backlog, this.#options.stuckAfterMs)) return;
        if (this.#closing || this.#workers[index] !== worker) return;
        this.#context.logger.warn(
          { shard: shardNumber, idleMs: Date.now() - activity.lastStartedAt, waiting: backlog.waiting },
          'flush worker took no job while jobs waited (its connection did not recover); replacing it',
        );
        const retiring = worker
          .close(true)
          .catch((error: unknown) =>
            this.#context.logger.warn(
              { err: redactError(error), shard: shardNumber },
              'closing a stuck flush worker',
            ),
          )
          .finally(() => this.#retired.delete(retiring));
        this.#retired.add(retiring);
        this.#workers[index] = this.#createShardWorker(index);
        this.#run(index);
      }),
    );
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
      for (const worker of this.#workers) void worker.pause(true);
    });
    for (let index = 0; index < this.#workers.length; index++) this.#run(index);
    const { stuckAfterMs } = this.#options;
    if (stuckAfterMs > 0) {
      this.#watchdog = setInterval(
        () => void this.#checkStuck(),
        Math.max(100, Math.floor(stuckAfterMs / 5)),
      );
      this.#watchdog.unref();
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
    if (job.name === REFUSED_EVENT_JOB)
      return this.#insertRefused(shard, job as unknown as Job<RefusedEventJobData>);
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

  /**
   * Inserts an event set aside because the database refused it (see `FlushBatcher`), when its job runs: once as
   * it is set aside, then on each retry from Bull Board. Refused again, the job fails at once and stays failed.
   */
  async #insertRefused(shard: ShardKeys, job: Job<RefusedEventJobData>): Promise<string> {
    const { redis, store, entities } = this.#context;
    const jobId = job.id as string;
    const stored = await redis.hget(shard.refused, jobId);
    if (stored === null) return 'inserted already';
    const refused = JSON.parse(stored) as RefusedEvent;
    const entity = entities.get(refused.entity);
    if (!entity?.append || !store.append) {
      throw new UnrecoverableError(`${refused.entity} is not an append entity of this cache`);
    }
    const row = { id: refused.id, sequence: refused.sequence, values: decodeEvent(entity, refused.event) };
    try {
      await store.append(entity, [row]);
    } catch (error) {
      if (store.isUnavailable(error)) throw new Error('the database is unreachable; retry this job later');
      const reason = store.describeError?.(error) ?? { message: (error as Error)?.message ?? String(error) };
      throw new UnrecoverableError(
        new RowRejectedError(refused.entity, `${refused.id}`, reason, error).message +
          ` (event ${refused.sequence})`,
      );
    }
    await redis.hdel(shard.refused, jobId);
    this.counters.eventsInserted++;
    return 'inserted';
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

  /**
   * Stops taking jobs, writes what is batched, waits for the jobs in flight (up to `closeTimeoutMs`),
   * disconnects; returns within about twice `closeTimeoutMs` whatever Redis and the database do.
   *
   * BullMQ's graceful close can wait for ever when Redis does not answer: its loops wait on commands that
   * queue until Redis is back, and it waits for its blocking connection's `end` event, which an ioredis
   * Cluster left without nodes (every node down, or after a failover) never emits; and a close under way cannot
   * be forced (`close(true)` returns the same promise). So past the timeout, the connections it waits on are
   * cut; past a second one, it is no longer waited for.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#watchdog);
      const { closeTimeoutMs } = this.#options;
      const logger = this.#context.logger;
      const closing = Promise.allSettled([...this.#workers.map((w) => w.close()), ...this.#retired]);
      const flushed = Promise.allSettled(this.#batchers.map((b) => b.flushPending()));
      if (!(await settlesWithin(Promise.all([closing, flushed]), closeTimeoutMs))) {
        logger.warn(
          { running: this.#running.size, closeTimeoutMs },
          'flush jobs still running at close timeout; they will be recovered as stalled jobs',
        );
        this.#connection.disconnect();
        await Promise.all(this.#workers.map((w) => abandon(w)));
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

/**
 * Lets go of a BullMQ worker whose close did not finish: stops renewing the locks of its jobs (they are left to
 * stalled-job recovery, which renewals would only delay, and the renewal timer would keep the process alive),
 * and cuts its blocking connection, making sure BullMQ hears it end: an ioredis Cluster whose node pool is empty
 * has no connection left to close, so its `disconnect()` never emits `end`, which BullMQ's close waits for
 * (ioredis 6.0.0). `lockManager` is protected in BullMQ 6's types, hence the cast; a BullMQ without it is left
 * to its own close.
 */
async function abandon(worker: Worker): Promise<void> {
  await (worker as unknown as { lockManager?: { close(): Promise<void> } }).lockManager?.close();
  const connection = (worker.backend as { blockingConnection?: { client: Promise<Redis | Cluster> } })
    .blockingConnection;
  if (!connection) return;
  // A connection still starting has no client to cut yet.
  const client = await Promise.race([connection.client.catch(() => undefined), sleep(100)]);
  if (!client) return;
  client.disconnect();
  if ('nodes' in client && client.nodes().length === 0 && client.status !== 'end') client.emit('end');
}

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
const shardWorkers = new WeakMap<FlushWorker, readonly Worker[]>();

/** The BullMQ workers of `worker`'s shards as they are now (a stuck one is replaced in place). */
export function bullWorkersOf(worker: FlushWorker): readonly Worker[] {
  return shardWorkers.get(worker) ?? [];
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
