import type { Store } from '@write-behind/core';

/**
 * A store that passes every call to `target` except those `overrides` replace: how tests count, hold or fail
 * one kind of call. `target` may be a getter, for a store built after the harness.
 */
export function forwardingStore(target: Store | (() => Store), overrides: Partial<Store> = {}): Store {
  const s = typeof target === 'function' ? target : () => target;
  return {
    get dataModel() {
      return s().dataModel;
    },
    verify: (entities) => s().verify(entities),
    describeError: (err) => s().describeError?.(err) ?? { message: String(err) },
    load: (e, ids) => s().load(e, ids),
    upsert: (e, rows) => s().upsert(e, rows),
    delete: (e, rows) => s().delete(e, rows),
    purgeTombstones: (ms) => s().purgeTombstones(ms),
    isUnavailable: (err) => s().isUnavailable(err),
    ...overrides,
  };
}
