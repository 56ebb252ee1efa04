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
    scan(e, after, limit) {
      const target = s();
      if (!target.scan) return Promise.reject(new Error('the wrapped store has no scan()'));
      return target.scan(e, after, limit);
    },
    append(e, rows) {
      const target = s();
      if (!target.append) return Promise.reject(new Error('the wrapped store has no append()'));
      return target.append(e, rows);
    },
    add(e, rows) {
      const target = s();
      if (!target.add) return Promise.reject(new Error('the wrapped store has no add()'));
      return target.add(e, rows);
    },
    upsert: (e, rows) => s().upsert(e, rows),
    delete: (e, rows) => s().delete(e, rows),
    purgeTombstones: (ms) => s().purgeTombstones(ms),
    isUnavailable: (err) => s().isUnavailable(err),
    ...overrides,
  };
}
