export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/** `Promise.withResolvers`, which Node 20 lacks. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` until it returns a value other than `undefined`, backing off from 5 ms to `maxIntervalMs`,
 * and gives up (returns `undefined`) at the deadline.
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined>,
  deadline: number,
  maxIntervalMs = 100,
): Promise<T | undefined> {
  let interval = 5;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    await sleep(Math.min(interval, left));
    interval = Math.min(interval * 2, maxIntervalMs);
  }
}

/**
 * Calls that share a key while one runs share its outcome (single flight): the cache's one mechanism for
 * "load once however many wait", used for database loads (`key-loader.ts`) and for a cold read's load and fill
 * together (`write-behind.ts`).
 */
export class SingleFlight<K, V> {
  readonly #running = new Map<K, Promise<V>>();

  run(key: K, call: () => Promise<V>): Promise<V> {
    let running = this.#running.get(key);
    if (!running) {
      running = call().finally(() => this.#running.delete(key));
      this.#running.set(key, running);
    }
    return running;
  }
}

/** The value of `key` in `map`, created by `create` and stored on first use. */
export function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

/** A PostgreSQL identifier, quoted: any name, including one with quotes or upper case, stays one identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
