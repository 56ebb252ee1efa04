import { type Context, redactError } from '../context.js';
import { parseDataKey, type ShardKeys } from '../keys.js';
import { STALLED_REASON } from './bullmq-internals.js';
import { type FlushJob, flushJob, SWEEP_JOB } from './job.js';

const PAGE = 1000;

/**
 * Re-enqueues dirty keys of one shard that have no flush job (see `lua/sweep-2.lua`). Runs as a BullMQ job
 * scheduler, so one worker per interval does it, whichever is free. Returns how many keys it re-enqueued.
 *
 * A key's last job that failed by stalling is removed: the sweep enqueues the key again, and leaving the job
 * would show operators a failure that needs nothing from them.
 */
export async function sweepShard(context: Context, shard: ShardKeys, now = Date.now()): Promise<number> {
  const { options, redis } = context;
  const cutoff = now - options.flush.windowMs - options.sweep.graceMs;
  const queue = context.queue(shard.shard);
  let found = 0;
  const stale: string[] = [];
  for (let offset = '0'; offset !== ''; ) {
    const [next = '', ...orphans] = await redis.wbSweep(
      shard.dirty,
      shard.failed,
      cutoff,
      offset,
      PAGE,
      shard.jobPrefix,
      now,
      shard.dataKeyPrefixLength,
    );
    offset = next;
    const jobs: FlushJob[] = [];
    for (let i = 0; i + 2 < orphans.length; i += 3) {
      jobs.push(flushJob(parseDataKey(shard, orphans[i] as string), orphans[i + 1] as string, 0));
      if (orphans[i + 2]) stale.push(orphans[i + 2] as string);
    }
    found += jobs.length;
    if (jobs.length > 0) await queue.addBulk(jobs);
  }
  if (found === 0) return 0;
  let stalledJobsRemoved = 0;
  for (const jobId of stale) {
    const job = await queue.getJob(jobId);
    if (job?.failedReason?.includes(STALLED_REASON)) {
      await job.remove();
      stalledJobsRemoved++;
    }
  }
  context.logger.warn(
    { shard: shard.shard, keys: found, stalledJobsRemoved },
    'sweep re-enqueued dirty keys that had no flush job',
  );
  return found;
}

/**
 * Keeps the sweep of each of `shards` scheduled while a worker runs: registers it now, then again every
 * `sweep.intervalMs`. BullMQ schedules a job scheduler's next run from the worker that takes the current one,
 * after taking it; a worker that dies in between, or whose command fails then, leaves that run's job the last
 * one (BullMQ logs "Failed to add repeatable job for next iteration"), and without a restart of some worker
 * the shard would never be swept again. Registering again is idempotent: it replaces the pending run's job with
 * the same one, or adds the next run when there is none. Resolves once the first registration is done.
 */
export async function keepSweepsScheduled(
  context: Context,
  shards: readonly number[],
): Promise<{ stop(): void }> {
  await scheduleSweeps(context, shards);
  const timer = setInterval(() => {
    scheduleSweeps(context, shards).catch((error: unknown) =>
      context.logger.warn(
        { err: redactError(error) },
        'could not register the sweep again; the next interval tries',
      ),
    );
  }, context.options.sweep.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** Registers the sweep of each of `shards` as a BullMQ job scheduler (idempotent: every worker does it). */
async function scheduleSweeps(context: Context, shards: readonly number[]): Promise<void> {
  await Promise.all(
    shards.map((shard) =>
      context
        .queue(shard)
        .upsertJobScheduler(
          SWEEP_JOB,
          { every: context.options.sweep.intervalMs },
          { name: SWEEP_JOB, opts: { attempts: 1 } },
        ),
    ),
  );
}

/**
 * Runs a sweep job: the shard's sweep, and on shard 0 the purge of old tombstones (an outage skips the
 * purge until the next run; it is not the sweep's failure).
 */
export async function runSweepJob(context: Context, shard: ShardKeys): Promise<string> {
  const found = await sweepShard(context, shard);
  if (shard.shard === 0) {
    const { store } = context;
    try {
      await store.purgeTombstones(context.options.sweep.tombstoneRetentionMs);
    } catch (error) {
      if (!store.isUnavailable(error)) throw error;
      context.logger.warn({ err: error }, 'database unreachable; tombstone purge skipped');
    }
  }
  return `re-enqueued ${found}`;
}
