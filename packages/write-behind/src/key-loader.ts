import type { ResolvedEntity } from './schema/resolve.js';
import type { LoadedKey, Store } from './store/store.js';
import { type Deferred, deferred, SingleFlight } from './util.js';

/**
 * Loads cold keys from the store: callers asking for the same key share one load (single flight), and keys
 * asked for in the same tick go to the database in one query per entity.
 */
export class KeyLoader {
  readonly #store: Store;
  readonly #maxBatch: number;
  readonly #loads = new SingleFlight<string, LoadedKey>();
  #pending = new Map<string, { entity: ResolvedEntity; ids: Map<string, Deferred<LoadedKey>> }>();
  #scheduled = false;

  constructor(store: Store, maxBatch: number) {
    this.#store = store;
    this.#maxBatch = maxBatch;
  }

  load(entity: ResolvedEntity, id: string): Promise<LoadedKey> {
    return this.#loads.run(`${entity.name}:${id}`, () => this.#queue(entity, id));
  }

  /** Puts the key in this tick's query for its entity. */
  #queue(entity: ResolvedEntity, id: string): Promise<LoadedKey> {
    let group = this.#pending.get(entity.name);
    if (!group) {
      group = { entity, ids: new Map() };
      this.#pending.set(entity.name, group);
    }
    const pendingLoad = deferred<LoadedKey>();
    group.ids.set(id, pendingLoad);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#dispatch());
    }
    return pendingLoad.promise;
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
