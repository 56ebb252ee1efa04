import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { TurnBatcher } from '../batch.js';
import { type ShardKeys, writerKey } from '../keys.js';
import { type BatchHeader, type WriteCall, type WriteReply, writeArguments } from './protocol.js';

/**
 * Most writes in one script call. Redis runs a script to its end before it serves anyone else: this bounds
 * that pause (a few microseconds per write) to about a tenth of a millisecond. Measured with `npm run bench`
 * (hot-key increments at 64 and 8 in flight): 16 to 32 writes per call and four batches in flight did best,
 * against 8 and 64 writes or one batch at a time.
 */
const MAX_WRITES_PER_CALL = 32;
/** Batches in flight to aim for (see `TurnBatcherOptions.spread`). */
const BATCHES_IN_FLIGHT = 4;
/**
 * Replies of recent batches the writer state keeps, to answer a batch sent again after a reconnect. Must
 * exceed the batches one writer can have in flight; a resent batch older than that gets status UNKNOWN, never
 * a second application.
 */
const KEPT_REPLIES = 1024;
/** How long a writer's state outlives its last batch: far longer than any reconnect. */
const WRITER_STATE_TTL_MS = 3_600_000;

/**
 * The writes of one shard made in one event-loop turn go to Redis as one call of `lua/write.lua`: one round
 * trip and one script call for all of them, each applied atomically and answered on its own. The keys of a
 * shard share a hash tag, so the batch is valid on Redis Cluster.
 *
 * Each batcher is a writer of its own, numbering its batches in the order it sends them on its connection,
 * so the script applies a batch at most once however often the client sends it.
 */
export function createWriteBatcher(
  redis: Redis | Cluster,
  shard: ShardKeys,
  header: () => Pick<BatchHeader, 'now' | 'backlogLimit' | 'mayExpire'>,
): TurnBatcher<WriteCall, WriteReply> {
  const state = writerKey(shard, randomBytes(9).toString('base64url'));
  let batch = 0;
  return new TurnBatcher(
    (calls) =>
      redis.wbWrite(
        calls.length + 2,
        shard.dirty,
        state,
        ...calls.map((c) => c.key),
        ...writeArguments(
          { ...header(), batch: ++batch, keptReplies: KEPT_REPLIES, writerTtlMs: WRITER_STATE_TTL_MS },
          calls,
        ),
      ),
    { maxItems: MAX_WRITES_PER_CALL, schedule: 'tick', spread: BATCHES_IN_FLIGHT },
  );
}
