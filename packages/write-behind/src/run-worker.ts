import type { FlushWorker } from './flush/worker.js';
import type { FlushWorkerOptions } from './options.js';
import type { EntityDefinitions } from './schema/fields.js';
import type { WriteBehind } from './write-behind.js';

export interface RunFlushWorkerOptions extends FlushWorkerOptions {
  /** Signals that stop the worker. @defaultValue `['SIGTERM', 'SIGINT']` */
  signals?: NodeJS.Signals[];
  /** Runs after the worker drained, before the cache closes (close your own servers here). */
  onStop?: () => Promise<void> | void;
  /** Where the exit code goes. @defaultValue `(code) => process.exit(code)` */
  exit?: (code: number) => void;
}

/**
 * The main of a flush-worker process: starts a worker for `cache` (the same entities, prefix and shards as
 * the app that writes), and on the first SIGTERM or SIGINT stops taking jobs, finishes those in flight (up to
 * `closeTimeoutMs`; what is left is picked up by another worker), closes the cache and exits 0 (1 when
 * something failed). Resolves once the worker is ready; rejects (and the caller should exit) when the
 * database does not match the entities.
 *
 * In a process with its own shutdown logic, use `cache.createWorker()` and `await worker.close()` from your
 * handler instead: this installs handlers that exit the process.
 *
 * @example
 * ```ts
 * // worker.ts: node worker.js, as many as the backlog needs
 * import { runFlushWorker } from '@write-behind/core';
 * import { cache } from './cache.js'; // createWriteBehind({ ... }), shared with the app
 * await runFlushWorker(cache, { concurrency: 200 });
 * ```
 */
export async function runFlushWorker<E extends EntityDefinitions>(
  cache: WriteBehind<E>,
  options: RunFlushWorkerOptions = {},
): Promise<FlushWorker> {
  const {
    signals = ['SIGTERM', 'SIGINT'],
    onStop,
    exit = (code) => process.exit(code),
    ...workerOptions
  } = options;
  const worker = cache.createWorker(workerOptions);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    (async () => {
      await worker.close();
      await onStop?.();
      await cache.close();
    })().then(
      () => exit(0),
      () => exit(1),
    );
  };
  for (const signal of signals) process.on(signal, stop);
  try {
    await worker.ready;
  } catch (error) {
    for (const signal of signals) process.off(signal, stop);
    await cache.close();
    throw error;
  }
  return worker;
}
