import type { ResolvedEntity } from './schema/resolve.js';
import type { LoadedKey, Store } from './store/store.js';
import { type Deferred, deferred } from './util.js';

/**
 * Loads cold keys from the store: callers asking for the same key share one load (single flight), and keys
 * asked for in the same tick go to the database in one query per entity.
 */
export class BatchLoader {
  readonly #store: Store;
  readonly #maxBatch: number;
  readonly #inFlight = new Map<string, Promise<LoadedKey>>();
  #pending = new Map<string, { entity: ResolvedEntity; ids: Map<string, Deferred<LoadedKey>> }>();
  #scheduled = false;

  constructor(store: Store, maxBatch: number) {
    this.#store = store;
    this.#maxBatch = maxBatch;
  }

  load(entity: ResolvedEntity, id: string): Promise<LoadedKey> {
    const flightKey = `${entity.name}:${id}`;
    const existing = this.#inFlight.get(flightKey);
    if (existing) return existing;
    let group = this.#pending.get(entity.name);
    if (!group) {
      group = { entity, ids: new Map() };
      this.#pending.set(entity.name, group);
    }
    const pendingLoad = deferred<LoadedKey>();
    group.ids.set(id, pendingLoad);
    const promise = pendingLoad.promise.finally(() => this.#inFlight.delete(flightKey));
    this.#inFlight.set(flightKey, promise);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#dispatch());
    }
    return promise;
  }

  #dispatch(): void {
    this.#scheduled = false;
    const pending = this.#pending;
    this.#pending = new Map();
    for (const { entity, ids } of pending.values()) {
      const all = [...ids.keys()];
      for (let i = 0; i < all.length; i += this.#maxBatch) {
        const chunk = all.slice(i, i + this.#maxBatch);
        this.#store.load(entity, chunk).then(
          (found) => {
            for (const id of chunk) ids.get(id)?.resolve(found.get(id) ?? { version: 0 });
          },
          (error: unknown) => {
            for (const id of chunk) ids.get(id)?.reject(error);
          },
        );
      }
    }
  }
}
