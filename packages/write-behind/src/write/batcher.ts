import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { TurnBatcher } from '../batch.js';
import { type ShardKeys, writerKey } from '../keys.js';
import type { DurabilityLevel } from '../options.js';
import { pipelineScript } from '../scripts.js';
import {
  type Confirmation,
  confirmationCommands,
  type ReplicationSettings,
  readConfirmation,
  type Shortfall,
  shortfallOf,
} from './durability.js';
import {
  type BatchHeader,
  decodeWriteReply,
  type WriteCall,
  type WriteResult,
  writeArguments,
  writeKeys,
} from './protocol.js';

/**
 * Most writes in one script call. Redis runs a script to its end before it serves anyone else: this bounds
 * that pause (a few microseconds per write) to about a tenth of a millisecond. Measured with `npm run bench`
 * (hot-key increments at 64 and 8 in flight): 16 to 32 writes per call did best, against 8 and 64.
 */
const MAX_WRITES_PER_CALL = 32;
/**
 * Batches in flight to aim for (see `TurnBatcherOptions.spread`). One: the write script costs about 30 µs of
 * Redis per call beside a few per write (its clock, its resend record), so small batches cost most. Measured
 * 2026-12-03 (`npm run bench -- --only=A,W1,J,W2A`, one run each): 1 gave W1 85k/s (37k at 8 in flight) and
 * W2a 0.90× J; 4 gave W1 81k/s (22k at 8 in flight) and W2a 0.80× J, its cold writes split into batches of 3-4.
 */
const BATCHES_IN_FLIGHT = 1;
/**
 * Replies of recent batches the writer state keeps, to answer a batch sent again after a reconnect. Must
 * exceed the batches one writer can have in flight; a resent batch older than that gets status UNKNOWN, never
 * a second application.
 */
const KEPT_REPLIES = 1024;
/** How long a writer's state outlives its last batch: far longer than any reconnect. */
const WRITER_STATE_TTL_MS = 3_600_000;

/** One write for the batcher: the script's call, and when its caller wants it acknowledged. */
export interface BatchedWrite {
  call: WriteCall;
  durability: DurabilityLevel;
}

/** The script's reply to one write, and what its durability level missed (the write stands either way). */
export interface BatchedReply {
  reply: WriteResult;
  shortfall?: Shortfall;
}

/**
 * The writes of one shard made in one event-loop turn go to Redis as one call of `lua/write.lua`: one round
 * trip and one script call for all of them, each applied atomically and answered on its own. The keys of a
 * shard share a hash tag, so the batch is valid on Redis Cluster.
 *
 * Each batcher is a writer of its own, numbering its batches in the order it sends them on its connection,
 * so the script applies a batch at most once however often the client sends it.
 *
 * A batch holding a write that asked for `'replicas'` or `'fsync'` goes out as one pipeline: the script call,
 * then `WAIT` / `WAITAOF` for the whole batch (one wait per batch, not per write). Both ride the same
 * connection, so the wait counts this batch's writes; on Redis Cluster ioredis sends a pipeline's keyless
 * commands to the node of its keyed ones.
 */
export function createWriteBatcher(
  redis: Redis | Cluster,
  shard: ShardKeys,
  header: () => Pick<BatchHeader, 'now' | 'backlogLimit' | 'mayExpire' | 'maxKeys' | 'maxBytes'>,
  replication: () => ReplicationSettings,
): TurnBatcher<BatchedWrite, BatchedReply> {
  const state = writerKey(shard, randomBytes(9).toString('base64url'));
  let batch = 0;
  return new TurnBatcher(
    async (writes) => {
      const calls = writes.map((w) => w.call);
      const keys = writeKeys(shard, state, calls);
      const args = writeArguments(
        shard,
        { ...header(), batch: ++batch, keptReplies: KEPT_REPLIES, writerTtlMs: WRITER_STATE_TTL_MS },
        calls,
      );
      const levels = new Set(writes.map((w) => w.durability));
      levels.delete('memory');
      if (levels.size === 0) {
        const replies = await redis.wbWrite(keys.length, ...(keys as [string, ...string[]]), ...args);
        return replies.map((reply) => ({ reply: decodeWriteReply(reply) }));
      }
      const settings = replication();
      const { replies, confirmation } = await writeAndConfirm(redis, keys, args, levels, settings);
      return replies.map((raw, i) => {
        const reply = decodeWriteReply(raw);
        const shortfall = shortfallOf((writes[i] as BatchedWrite).durability, confirmation, settings);
        return shortfall ? { reply, shortfall } : { reply };
      });
    },
    { maxItems: MAX_WRITES_PER_CALL, schedule: 'tick', spread: BATCHES_IN_FLIGHT },
  );
}

/**
 * Sends the script and the waits in one pipeline. By hand rather than through the defined command: after a
 * script flush or a failover the new primary lacks the script, and ioredis would send the script again after
 * the pipeline, behind the waits, which would then count nothing of it. Here a NOSCRIPT refusal (nothing
 * applied) sends the whole pipeline again with the script's source.
 */
async function writeAndConfirm(
  redis: Redis | Cluster,
  keys: string[],
  args: (string | number)[],
  levels: ReadonlySet<DurabilityLevel>,
  settings: ReplicationSettings,
): Promise<{ replies: unknown[]; confirmation: Confirmation }> {
  const waits = confirmationCommands(levels, settings);
  for (const byHash of [true, false]) {
    const pipeline = redis.pipeline();
    pipelineScript(pipeline, 'wbWrite', byHash, keys, args);
    for (const [command, ...waitArgs] of waits) pipeline.call(command, ...waitArgs);
    const results = (await pipeline.exec()) ?? [];
    const [scriptError, replies] = results[0] ?? [new Error('no reply to the write script'), undefined];
    if (scriptError) {
      if (byHash && scriptError.message.includes('NOSCRIPT')) continue;
      throw scriptError;
    }
    return {
      replies: replies as unknown[],
      confirmation: readConfirmation(waits, results.slice(1) as [Error | null, unknown][]),
    };
  }
  throw new Error('unreachable: the script was sent by its source');
}
