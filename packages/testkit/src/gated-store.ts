import type { Store } from '@write-behind/core';
import { forwardingStore } from './forwarding-store.ts';

/** A store whose writes can be held open mid-flush, to stage races deterministically. */
export interface GatedStore extends Store {
  /** Resolves when a write has started and is being held. */
  held(): Promise<void>;
  /** Lets the held write (and all later ones) through. */
  release(): void;
  /** Hold the next write. */
  hold(): void;
  upserts: number;
}

export function gatedStore(inner: Store): GatedStore {
  let gate: Promise<void> | undefined;
  let open: () => void = () => {};
  let signalHeld: () => void = () => {};
  let heldPromise = new Promise<void>((r) => {
    signalHeld = r;
  });
  /** Holds a write while the gate is closed, first saying so. */
  const waitWhileHeld = async () => {
    if (!gate) return;
    signalHeld();
    await gate;
  };
  const store: GatedStore = {
    ...forwardingStore(inner),
    upserts: 0,
    async upsert(e, rows) {
      await waitWhileHeld();
      store.upserts++;
      return inner.upsert(e, rows);
    },
    async add(e, rows) {
      await waitWhileHeld();
      if (!inner.add) throw new Error('the wrapped store has no add()');
      return inner.add(e, rows);
    },
    async append(e, rows) {
      await waitWhileHeld();
      if (!inner.append) throw new Error('the wrapped store has no append()');
      return inner.append(e, rows);
    },
    async appendRuns(e, runs) {
      await waitWhileHeld();
      if (!inner.appendRuns) throw new Error('the wrapped store has no appendRuns()');
      return inner.appendRuns(e, runs);
    },
    async delete(e, rows) {
      await waitWhileHeld();
      return inner.delete(e, rows);
    },
    held: () => heldPromise,
    hold() {
      gate = new Promise<void>((r) => {
        open = r;
      });
      heldPromise = new Promise<void>((r) => {
        signalHeld = r;
      });
    },
    release() {
      gate = undefined;
      open();
    },
  };
  return store;
}
