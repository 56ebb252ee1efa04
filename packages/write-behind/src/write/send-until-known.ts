/*
 * Sending a write batch until its outcome is known. Each batch carries its writer's id and number, and
 * `lua/write.lua` answers a batch it applied already with the replies it kept (and applies one it never did),
 * so sending it again is safe and answers the question a lost reply left open. No I/O of its own: the send
 * is given.
 */
import { redactError } from '../context.js';
import { IndeterminateError, UnavailableError } from '../errors.js';
import { sleep } from '../util.js';
import { outcomeOf, WriteCallError } from './write-call.js';

/** The first pause before a batch is sent again; it doubles up to {@link MAX_RESEND_DELAY_MS}. */
export const FIRST_RESEND_DELAY_MS = 50;
export const MAX_RESEND_DELAY_MS = 1000;

const TIMED_OUT = Symbol('timed out');

/** `promise` settled, or {@link TIMED_OUT} after `ms` (the promise then goes on, unwatched). */
async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ value: T } | { error: unknown } | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error Redis or ioredis gave, without the wrapper that carries its outcome. */
const original = (error: unknown) => (error instanceof WriteCallError ? error.cause : error);
const messageOf = (error: unknown) => {
  const cause = original(error);
  return cause instanceof Error ? cause.message : String(cause);
};

/**
 * Runs `send` (one call of the write script for one batch, always the same batch) and answers its result, or
 * throws:
 * - {@link UnavailableError} when the call failed and Redis certainly did not run it (never sent, refused);
 * - {@link IndeterminateError} when Redis ran it and it failed part-way, or when it may have been applied and
 *   sending it again for `resolveTimeoutMs` (backing off from {@link FIRST_RESEND_DELAY_MS}) got no reply.
 *
 * The first call is left to the connection's own retries, as any command is; only the resends are bounded by
 * the deadline. A resend that Redis certainly did not run leaves the question open (the first may have run),
 * so only a reply ends it.
 */
export async function sendUntilKnown<T>(send: () => Promise<T>, resolveTimeoutMs: number): Promise<T> {
  let first: unknown;
  try {
    return await send();
  } catch (error) {
    first = error;
  }
  const outcome = outcomeOf(first);
  if (outcome === 'not-applied') {
    throw new UnavailableError(`Redis command failed: ${messageOf(first)} (the write was not applied)`, {
      cause: redactError(original(first)),
    });
  }
  if (outcome === 'failed-while-running') throw failedWhileRunning(first);

  const deadline = Date.now() + resolveTimeoutMs;
  let last = first;
  let resends = 0;
  for (let delay = FIRST_RESEND_DELAY_MS; ; delay = Math.min(delay * 2, MAX_RESEND_DELAY_MS)) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(delay, left));
    if (Date.now() >= deadline) break;
    resends++;
    const result = await within(send(), deadline - Date.now());
    if (result === TIMED_OUT) break;
    if ('value' in result) return result.value;
    last = result.error;
    if (outcomeOf(last) === 'failed-while-running') throw failedWhileRunning(last);
  }
  throw new IndeterminateError(
    `Redis may have applied this write: it was sent and its reply was lost (${messageOf(first)}); ` +
      (resends === 0
        ? `it was not sent again (\`writes.resolveTimeoutMs\` is ${resolveTimeoutMs}). `
        : `sent again ${resends} times in ${resolveTimeoutMs} ms, it got no reply (last: ${messageOf(last)}). `) +
      'Read the record before writing it again: a retried increment may count twice. Raise `writes.resolveTimeoutMs` to wait longer for Redis.',
    { cause: redactError(original(last)) },
  );
}

function failedWhileRunning(error: unknown): IndeterminateError {
  return new IndeterminateError(
    `Redis ran the write script and it failed part-way (${messageOf(error)}): the writes sent with this one may be partly applied. ` +
      "Check the Redis user's ACL (it must allow every command of the script) and that no other program writes the cache's keys.",
    { cause: redactError(original(error)) },
  );
}
