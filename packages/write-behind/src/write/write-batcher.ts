import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { redactError } from '../context.js';
import { IndeterminateError } from '../errors.js';
import { type ShardKeys, writerKey } from '../keys.js';
import type { DurabilityLevel, WritesOptions } from '../options.js';
import { TurnBatcher } from '../turn-batcher.js';
import {
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
import { sendUntilKnown } from './send-until-known.js';
import { callWriteScriptAndWait } from './write-call.js';

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
 * exceed the batches one writer can have in flight; a resent batch older than that gets status UNKNOWN
 * (an `IndeterminateError`), never a second application.
 */
const KEPT_REPLIES = 1024;
/**
 * How long a writer's state outlives its last renewal (at least every quarter of this while it writes): far
 * longer than any reconnect or `writes.resolveTimeoutMs`.
 */
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
 * so the script applies a batch at most once however often the client sends it. A batch whose reply is lost
 * (the connection closed after it went out, a Cluster failover) is sent again, the same batch with the same
 * number and arguments, until a reply comes or `writes.resolveTimeoutMs` passes (see `send-until-known.ts`):
 * its writes then get their replies, each applied once, or an `IndeterminateError`. A failure Redis certainly
 * did not run is an `UnavailableError` at once.
 *
 * A batch holding a write that asked for `'replicas'` or `'fsync'` goes out as one pipeline: the script call,
 * then `WAIT` / `WAITAOF` for the whole batch (one wait per batch, not per write). Both ride the same
 * connection, so the wait counts this batch's writes; on Redis Cluster ioredis sends a pipeline's keyless
 * commands to the node of its keyed ones.
 */
export function createWriteBatcher(
  redis: Redis | Cluster,
  shard: ShardKeys,
  header: () => Pick<
    BatchHeader,
    'now' | 'backlogLimit' | 'cacheTtlMs' | 'maxKeys' | 'maxBytes' | 'rankingCap'
  >,
  replication: () => ReplicationSettings,
  writes: () => Required<WritesOptions>,
): TurnBatcher<BatchedWrite, BatchedReply> {
  const state = writerKey(shard, randomBytes(9).toString('base64url'));
  let batch = 0;
  return new TurnBatcher(
    async (batched) => {
      const calls = batched.map((w) => w.call);
      const keys = writeKeys(shard, state, calls);
      const args = writeArguments(
        shard,
        { ...header(), batch: ++batch, keptReplies: KEPT_REPLIES, writerTtlMs: WRITER_STATE_TTL_MS },
        calls,
      );
      const levels = new Set(batched.map((w) => w.durability));
      levels.delete('memory');
      const { resolveTimeoutMs } = writes();
      if (levels.size === 0) {
        // Through the connection's `wbWrite`, which `write-call.ts` made report whether a failed call went out.
        const raw = await sendUntilKnown(
          () => redis.wbWrite(keys.length, ...(keys as [string, ...string[]]), ...args),
          resolveTimeoutMs,
        );
        return decodeReplies(raw, calls.length).map((reply) => ({ reply }));
      }
      const settings = replication();
      const waits = confirmationCommands(levels, settings);
      const { reply: raw, waited } = await sendUntilKnown(
        () => callWriteScriptAndWait(redis, keys, args, waits),
        resolveTimeoutMs,
      );
      const confirmation = readConfirmation(waits, waited);
      return decodeReplies(raw, calls.length).map((reply, i) => {
        const shortfall = shortfallOf((batched[i] as BatchedWrite).durability, confirmation, settings);
        return shortfall ? { reply, shortfall } : { reply };
      });
    },
    { maxItems: MAX_WRITES_PER_CALL, schedule: 'tick', spread: BATCHES_IN_FLIGHT },
  );
}

/**
 * The script's replies, one per write. A reply that is not what the script returns means Redis ran something
 * this library cannot read: its writes may have been applied.
 */
function decodeReplies(raw: unknown, writes: number): WriteResult[] {
  try {
    if (!Array.isArray(raw) || raw.length !== writes) {
      throw new Error(`expected ${writes} replies from the write script, got ${JSON.stringify(raw)}`);
    }
    return raw.map(decodeWriteReply);
  } catch (error) {
    throw new IndeterminateError(
      `Redis answered the write script with a reply this library cannot read, so its writes may have been applied: ${(error as Error).message}`,
      { cause: redactError(error) },
    );
  }
}
