// Waiting for a condition by asking again: the one polling loop of the tests, the benchmark and the chaos run.
// The library keeps its own (`pollUntil` in packages/write-behind/src/util.ts, backing off up to a ceiling and
// answering a value): it is published on its own and cannot depend on this private package, which depends on it.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls `check` every `intervalMs` until it answers true; resolves with `performance.now()` at that answer,
 * or `undefined` once `timeoutMs` has passed with a last `check` still false.
 */
export async function poll(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs: number,
): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return performance.now();
    if (performance.now() > deadline) return undefined;
    await sleep(intervalMs);
  }
}

/**
 * Polls `check` until it is true or `timeoutMs` passes; returns whether it became true (for an assertion that
 * names what did not happen).
 *
 * @example
 * ```ts
 * assert.ok(await eventually(async () => (await videoRow(db, 'v1'))?.likes === 3), 'v1 was not flushed');
 * ```
 */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
  intervalMs = 25,
): Promise<boolean> {
  return (await poll(check, timeoutMs, intervalMs)) !== undefined;
}

/**
 * Polls `check` until it is true; returns `performance.now()` at that moment (the end of a timed phase), or
 * throws an error naming `what` once `timeoutMs` has passed.
 *
 * @example
 * ```ts
 * const drained = await waitFor('drain', async () => (await cache.stats()).dirtyKeys === 0, 60_000);
 * ```
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs = 20,
): Promise<number> {
  const at = await poll(check, timeoutMs, intervalMs);
  if (at === undefined) throw new Error(`${what}: not done within ${timeoutMs} ms`);
  return at;
}
