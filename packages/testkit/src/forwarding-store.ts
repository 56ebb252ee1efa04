import type { Store } from '@write-behind/core';

/**
 * A store that passes every call to `target` except those `overrides` replace: how tests count, hold or fail
 * one kind of call. `target` may be a getter, for a store built after the harness.
 */
export function forwardingStore(target: Store | (() => Store), overrides: Partial<Store> = {}): Store {
  const s = typeof target === 'function' ? target : () => target;
  const store: Store = {
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
    appendRuns(e, runs) {
      const target = s();
      if (!target.appendRuns) return Promise.reject(new Error('the wrapped store has no appendRuns()'));
      return target.appendRuns(e, runs);
    },
    add(e, rows) {
      const target = s();
      if (!target.add) return Promise.reject(new Error('the wrapped store has no add()'));
      return target.add(e, rows);
    },
    // The relation lookups a flush makes after a refusal on a foreign key (`23503`): without them a refused
    // delete whose children's deletes are pending could not wait for them, and a refusal would not name the
    // parent or children.
    missingParents(fk, keys) {
      const target = s();
      if (!target.missingParents)
        return Promise.reject(new Error('the wrapped store has no missingParents()'));
      return target.missingParents(fk, keys);
    },
    referencingRows(fk, key, limit) {
      const target = s();
      if (!target.referencingRows)
        return Promise.reject(new Error('the wrapped store has no referencingRows()'));
      return target.referencingRows(fk, key, limit);
    },
    upsert: (e, rows) => s().upsert(e, rows),
    delete: (e, rows) => s().delete(e, rows),
    purgeTombstones: (ms) => s().purgeTombstones(ms),
    isUnavailable: (err) => s().isUnavailable(err),
    ...overrides,
  };
  // An override of `append` sees every insert of events: the flush sends it rows, not runs past it.
  if (overrides.append && !overrides.appendRuns) delete store.appendRuns;
  return store;
}
