import type { Queue } from 'bullmq';
import type { Context } from '../context.js';
import { dataKey, dedupId, flushJobId, parseDataKey, type ShardKeys } from '../keys.js';

const PAGE = 1000;
/** BullMQ's reason for a job whose worker died more often than `maxStalledCount` allows. */
const STALLED_REASON = 'stalled more than allowable limit';

/**
 * Removes the failed jobs of `keys` that failed by stalling: no fault of the key's, and the sweep enqueues
 * the key again, so leaving them would show operators failures that need nothing from them. Only runs when
 * the sweep found orphans, which is rare outside crash loops.
 */
async function removeStalledFailures(
  queue: Queue,
  orphans: Set<string>,
  keyOf: (entity: string, id: string) => string,
): Promise<number> {
  const stale = [];
  // Collected first, removed after: removing while paging would shift the pages.
  for (let start = 0; ; start += PAGE) {
    const jobs = await queue.getJobs(['failed'], start, start + PAGE - 1);
    for (const job of jobs) {
      if (!job?.failedReason?.includes(STALLED_REASON)) continue;
      const { entity, id } = job.data as { entity?: string; id?: string };
      if (entity !== undefined && id !== undefined && orphans.has(keyOf(entity, id))) stale.push(job);
    }
    if (jobs.length < PAGE) break;
  }
  await Promise.all(stale.map((job) => job.remove()));
  return stale.length;
}

/**
 * Re-enqueues dirty keys of one shard that have no flush job (see `lua/sweep-2.lua`). Runs as a BullMQ job
 * scheduler, so one worker per interval does it, whichever is free. Returns how many keys it re-enqueued.
 */
export async function sweepShard(context: Context, shard: ShardKeys, now = Date.now()): Promise<number> {
  const { options, redis } = context;
  const cutoff = now - options.flush.windowMs - options.sweep.graceMs;
  const queue = context.queue(shard.shard);
  const found = new Set<string>();
  for (let offset = '0'; offset !== ''; ) {
    const [next = '', ...orphans] = await redis.wbSweep(
      shard.dirty,
      shard.failed,
      cutoff,
      offset,
      PAGE,
      shard.dedupPrefix,
      shard.jobPrefix,
      shard.tag.length + 3,
    );
    offset = next;
    const jobs = [];
    for (let i = 0; i + 1 < orphans.length; i += 2) {
      found.add(orphans[i] as string);
      const { entity, id } = parseDataKey(shard, orphans[i] as string);
      jobs.push({
        name: 'flush',
        data: { entity, id },
        opts: {
          ...context.jobOptions,
          // A fresh id: the key's last job may still sit in the failed set under the plain id (it stalled
          // too often, which is no fault of the key's), and BullMQ ignores an add whose id exists.
          jobId: `${flushJobId(entity, id, Number(orphans[i + 1]))}.s${now}`,
          deduplication: { id: dedupId(entity, id), keepLastIfActive: true },
        },
      });
    }
    if (jobs.length > 0) await queue.addBulk(jobs);
  }
  if (found.size === 0) return 0;
  // One pass over the failed set for all the keys this sweep found.
  const stalled = await removeStalledFailures(queue, found, (entity, id) => dataKey(shard, entity, id));
  context.logger.warn(
    { shard: shard.shard, keys: found.size, stalledJobsRemoved: stalled },
    'sweep re-enqueued dirty keys that had no flush job',
  );
  return found.size;
}
