import { type Job, UnrecoverableError } from 'bullmq';
import type { Context } from '../context.js';
import type { ShardKeys } from '../keys.js';
import { decodeEvent } from '../schema/event-codec.js';
import { type FlushCounters, type RefusedEvent, RowRejectedError } from './flush-batcher.js';
import type { RefusedEventJobData } from './job.js';

/**
 * Runs a refused event's job (see `FlushBatcher`, which sets events aside): inserts the event, once as it is
 * set aside, then on each retry from Bull Board. Refused again, the job fails at once and stays failed.
 */
export async function insertRefusedEvent(
  context: Context,
  shard: ShardKeys,
  job: Job<RefusedEventJobData>,
  counters: FlushCounters,
): Promise<string> {
  const { redis, store, entities } = context;
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
      `${new RowRejectedError(refused.entity, refused.id, reason, error).message} (event ${refused.sequence})`,
    );
  }
  await redis.hdel(shard.refused, jobId);
  counters.eventsInserted++;
  return 'inserted';
}
