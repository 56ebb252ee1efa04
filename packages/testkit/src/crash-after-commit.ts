import type { Store } from '@write-behind/core';
import { forwardingStore } from './forwarding-store.ts';

/**
 * A flush that committed and then failed before its acknowledgement reached Redis, as when a worker dies
 * between the two: the store's writes commit, then throw while `remaining` is above 0. The retry must find
 * the rows current and apply nothing twice.
 */
export interface CrashAfterCommit {
  /** Writes still to fail after they commit: set it to arm the store. */
  remaining: number;
  /** Writes that committed and then failed so far. */
  readonly crashed: number;
  /** For a world's `wrapStore` option. */
  wrapStore(inner: Store): Store;
}

/**
 * A {@link CrashAfterCommit} over the store's `upsert` (rows) or `append` (events).
 *
 * @example
 * ```ts
 * const crash = crashAfterCommit('upsert');
 * const h = await createHarness({ wrapStore: crash.wrapStore });
 * crash.remaining = 2;
 * // ...writes, a flush...
 * assert.equal(crash.remaining, 0, 'the flush failed twice after committing');
 * ```
 */
export function crashAfterCommit(write: 'upsert' | 'append'): CrashAfterCommit {
  let crashed = 0;
  const crash: CrashAfterCommit = {
    remaining: 0,
    get crashed() {
      return crashed;
    },
    wrapStore: (inner) =>
      forwardingStore(
        inner,
        write === 'upsert'
          ? { upsert: (entity, rows) => commitThenCrash(() => inner.upsert(entity, rows)) }
          : {
              append: (entity, rows) => commitThenCrash(async () => inner.append?.(entity, rows)),
              appendRuns: (entity, runs) => commitThenCrash(async () => inner.appendRuns?.(entity, runs)),
            },
      ),
  };
  async function commitThenCrash(commit: () => Promise<void>): Promise<void> {
    await commit();
    if (crash.remaining > 0) {
      crash.remaining--;
      crashed++;
      throw new Error('simulated crash after commit');
    }
  }
  return crash;
}
