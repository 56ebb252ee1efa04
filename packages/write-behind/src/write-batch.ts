import type { Cluster, Redis } from 'ioredis';
import { TurnBatcher } from './batch.js';
import type { ShardKeys } from './keys.js';
import type { WriteReply } from './scripts.js';

/** One write for `lua/write.lua`: its data key, op and the op's arguments (see the script's header). */
export interface WriteCall {
  key: string;
  op: 'i' | 'incr' | 'set' | 'put' | 'del';
  args: readonly string[];
}

/**
 * Most writes in one script call. Redis runs a script to its end before it serves anyone else: this bounds
 * that pause (a few microseconds per write) to about a tenth of a millisecond. Measured with `npm run bench`
 * (W1, W3 at 64 and 8 in flight): 16 to 32 writes per call and four batches in flight did best, against 8
 * and 64 writes or one batch at a time.
 */
export const MAX_WRITES_PER_CALL = 32;
/** Batches in flight to aim for (see `TurnBatcherOptions.spread`). */
const BATCHES_IN_FLIGHT = 4;

/** The script arguments for a batch: the shared ones, then one `op, count, ...args` record per write. */
export function writeArguments(
  shared: readonly (string | number)[],
  calls: readonly WriteCall[],
): (string | number)[] {
  const argv: (string | number)[] = [...shared];
  for (const call of calls) {
    argv.push(call.op, call.args.length);
    for (const arg of call.args) argv.push(arg);
  }
  return argv;
}

/**
 * The writes of one shard made in one event-loop turn go to Redis as one call of `lua/write.lua`: one round
 * trip and one script call for all of them, each applied atomically and answered on its own. The keys of a
 * shard share a hash tag, so the batch is valid on Redis Cluster.
 */
export function createWriteBatcher(
  redis: Redis | Cluster,
  shard: ShardKeys,
  shared: () => (string | number)[],
): TurnBatcher<WriteCall, WriteReply> {
  return new TurnBatcher(
    (calls) =>
      redis.wbWrite(
        calls.length + 1,
        shard.dirty,
        ...calls.map((c) => c.key),
        ...writeArguments(shared(), calls),
      ),
    { maxItems: MAX_WRITES_PER_CALL, schedule: 'tick', spread: BATCHES_IN_FLIGHT },
  );
}
