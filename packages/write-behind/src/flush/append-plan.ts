import { decodeEvent } from '../schema/event-codec.js';
import type { ResolvedEntity } from '../schema/resolve.js';
import type { AppendRow } from '../store/store.js';

/*
 * The pure part of flushing an append key: its snapshot (see `lua/snapshot.lua`) into rows, one per event.
 * No I/O; unit-tested without servers.
 */

/** The events of one append key that a flush inserts. */
export interface AppendedKey {
  id: string;
  /** The number of the last event taken: what the acknowledgement records as flushed. */
  version: number;
  /** How many events were taken (at most its share of `flush.maxEventsPerBatch`). */
  events: number;
}

/** The rows of an append key's snapshot (`_v`, `_fv`, then `e<n>`, event, oldest first), in order. */
export function appendRows(
  entity: ResolvedEntity,
  id: string,
  hash: ReadonlyMap<string, string>,
): { key: AppendedKey; rows: AppendRow[] } {
  const rows: AppendRow[] = [];
  for (const [field, value] of hash) {
    if (field[0] !== 'e') continue;
    rows.push({ id, sequence: Number(field.slice(1)), values: decodeEvent(entity, value) });
  }
  return { key: { id, version: Number(hash.get('_v')), events: rows.length }, rows };
}

/** Splits rows into statements of at most `size` rows. */
export function chunks<R>(rows: readonly R[], size: number): R[][] {
  const out: R[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}
