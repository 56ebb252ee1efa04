/*
 * One call of the write script (`lua/write.lua`), sent so that its failure says whether Redis may have run
 * it: as commands that count the times they went out (`tracked-command.ts`), by hash first and by source after
 * a `NOSCRIPT` refusal. A failed call rejects with a {@link WriteCallError} carrying that outcome.
 */
import type { Cluster, Redis } from 'ioredis';
import { scriptSha, scriptSource } from '../scripts.js';
import { type FailureOutcome, failureOutcome } from './failure-outcome.js';
import { pipelineTracked, sendTracked, trackedCommand } from './tracked-command.js';

/** A failed call of the write script, and whether Redis may have applied its batch. */
export class WriteCallError extends Error {
  readonly outcome: FailureOutcome;

  constructor(cause: unknown, outcome: FailureOutcome) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'WriteCallError';
    this.outcome = outcome;
  }
}

/** How a failure of a call that was not a {@link WriteCallError} counts: it may have gone out. */
export function outcomeOf(error: unknown): FailureOutcome {
  return error instanceof WriteCallError ? error.outcome : 'unknown';
}

/** What a send of the script tells: its reply, or why there is none and whether it could have run. */
function failed(error: unknown, sends: number): { outcome: FailureOutcome; noScript: boolean } {
  return {
    outcome: failureOutcome(error, sends),
    noScript: error instanceof Error && error.message.startsWith('NOSCRIPT'),
  };
}

/** The script's command by hash or by source: `EVALSHA sha n keys... args...` or `EVAL source n ...`. */
function scriptArgs(byHash: boolean, keys: readonly string[], args: readonly (string | number)[]) {
  return [byHash ? scriptSha('wbWrite') : scriptSource('wbWrite'), keys.length, ...keys, ...args];
}

/** Runs the write script once; a `NOSCRIPT` refusal (nothing ran) sends its source. */
export async function callWriteScript(
  redis: Redis | Cluster,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  for (const byHash of [true, false]) {
    const command = trackedCommand(redis, byHash ? 'evalsha' : 'eval', scriptArgs(byHash, keys, args));
    try {
      return await sendTracked(redis, command);
    } catch (error) {
      const { outcome, noScript } = failed(error, command.sends);
      if (byHash && noScript && outcome === 'not-applied') continue;
      throw new WriteCallError(error, outcome);
    }
  }
  throw new Error('unreachable: the script was sent by its source');
}

/**
 * Runs the write script and the commands that wait for its replication (`WAIT`, `WAITAOF`) in one pipeline,
 * on one connection, so the waits count this call's writes. By hand rather than through ioredis's script
 * command: after a script flush or a failover the server lacks the script, and ioredis would send the source
 * after the pipeline, behind the waits, which would then count nothing of it. Resolves with the script's
 * reply and the waits' results.
 */
export async function callWriteScriptAndWait(
  redis: Redis | Cluster,
  keys: readonly string[],
  args: readonly (string | number)[],
  waits: readonly (readonly [string, ...(string | number)[]])[],
): Promise<{ reply: unknown; waited: [Error | null, unknown][] }> {
  for (const byHash of [true, false]) {
    const command = trackedCommand(redis, byHash ? 'evalsha' : 'eval', scriptArgs(byHash, keys, args));
    const pipeline = redis.pipeline();
    pipelineTracked(pipeline, command);
    for (const [name, ...waitArgs] of waits) pipeline.call(name, ...waitArgs);
    let results: [Error | null, unknown][];
    try {
      results = ((await pipeline.exec()) ?? []) as [Error | null, unknown][];
    } catch (error) {
      throw new WriteCallError(error, failureOutcome(error, command.sends));
    }
    const [scriptError, reply] = results[0] ?? [new Error('no reply to the write script'), undefined];
    if (scriptError) {
      const { outcome, noScript } = failed(scriptError, command.sends);
      if (byHash && noScript && outcome === 'not-applied') continue;
      throw new WriteCallError(scriptError, outcome);
    }
    return { reply, waited: results.slice(1) };
  }
  throw new Error('unreachable: the script was sent by its source');
}

const installed = new WeakSet<Redis | Cluster>();

/**
 * Makes the connection's `wbWrite` (registered by `defineScripts`) send through {@link callWriteScript}, so
 * that its failures say whether the batch went out. Idempotent. Done once when the cache is created, so that a
 * wrapper put around `wbWrite` afterwards (tests count script calls that way) wraps this one.
 */
export function trackWriteScript(redis: Redis | Cluster): void {
  if (installed.has(redis)) return;
  installed.add(redis);
  redis.wbWrite = ((numKeys: number, ...rest: (string | number)[]) =>
    callWriteScript(redis, rest.slice(0, numKeys) as string[], rest.slice(numKeys))) as typeof redis.wbWrite;
}
