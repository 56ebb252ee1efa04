import type { Context } from '../context.js';
import { dedupId, flushJobId, parseDataKey, type ShardKeys } from '../keys.js';

const PAGE = 1000;

/**
 * Re-enqueues dirty keys of one shard that have no flush job (see `lua/sweep-2.lua`). Runs as a BullMQ job
 * scheduler, so one worker per interval does it, whichever is free. Returns how many keys it re-enqueued.
 */
export async function sweepShard(context: Context, shard: ShardKeys, now = Date.now()): Promise<number> {
  const { options, redis } = context;
  const cutoff = now - options.flush.windowMs - options.sweep.graceMs;
  const queue = context.queue(shard.shard);
  let found = 0;
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
    if (jobs.length > 0) {
      await queue.addBulk(jobs);
      found += jobs.length;
    }
  }
  if (found > 0)
    context.logger.warn(
      { shard: shard.shard, keys: found },
      'sweep re-enqueued dirty keys that had no flush job',
    );
  return found;
}
