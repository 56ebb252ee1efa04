import type { FieldValue } from '../schema/codec.js';
import { decodeEvent, eventSqlTexts } from '../schema/event-codec.js';
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
  /** How many events were taken (at most its share of `flush.maxEventsPerBatch` and of `flush.maxBatchBytes`). */
  events: number;
  /** More events wait than the flush took: flush the key again at once. */
  more: boolean;
}

/** An event's row as a flush plans it: with its Redis form, which the Prisma store sends as it is. */
export type PlannedEvent = AppendRow & { readonly event: string };

/**
 * The rows of an append key's snapshot (`_v`, `_fv`, then `e<n>`, event, oldest first, then `_m` when more
 * wait), in order, each with its event's Redis form (what an event the database refuses is set aside as).
 */
export function appendRows(
  entity: ResolvedEntity,
  id: string,
  hash: ReadonlyMap<string, string>,
): { key: AppendedKey; rows: PlannedEvent[] } {
  const rows: PlannedEvent[] = [];
  for (const [field, value] of hash) {
    if (field[0] !== 'e') continue;
    rows.push(new StoredAppendRow(entity, id, Number(field.slice(1)), value));
  }
  const key = { id, version: Number(hash.get('_v')), events: rows.length, more: hash.has('_m') };
  return { key, rows };
}

/**
 * The fields of a flushed row as SQL text, with `values` decoded only on first read: the Prisma store writes
 * `sqlTexts` and never reads `values`, a store of another kind still finds them. A class, not an object with
 * a property defined on it: every row keeps one shape.
 */
export class EncodedFields {
  readonly sqlTexts: readonly (string | null)[];
  readonly #decode: () => Record<string, FieldValue>;
  #values: Record<string, FieldValue> | undefined;

  constructor(sqlTexts: readonly (string | null)[], decode: () => Record<string, FieldValue>) {
    this.sqlTexts = sqlTexts;
    this.#decode = decode;
  }

  get values(): Record<string, FieldValue> {
    this.#values ??= this.#decode();
    return this.#values;
  }
}

/**
 * An event's row as its Redis form (`event`), which the Prisma store sends as it is; its fields as SQL text and
 * its values are decoded only if read (a refused event's message, a store of another kind).
 */
class StoredAppendRow implements PlannedEvent {
  readonly id: string;
  readonly sequence: number;
  readonly event: string;
  readonly #entity: ResolvedEntity;
  #sqlTexts: readonly (string | null)[] | undefined;
  #values: Record<string, FieldValue> | undefined;

  constructor(entity: ResolvedEntity, id: string, sequence: number, event: string) {
    this.#entity = entity;
    this.id = id;
    this.sequence = sequence;
    this.event = event;
  }

  get sqlTexts(): readonly (string | null)[] {
    this.#sqlTexts ??= eventSqlTexts(this.#entity, this.event);
    return this.#sqlTexts;
  }

  get values(): Record<string, FieldValue> {
    this.#values ??= decodeEvent(this.#entity, this.event);
    return this.#values;
  }
}

/**
 * Splits rows into statements of at most `size` rows and, past the first row of each, at most `maxBytes` of
 * `bytes(row)`: large events make short statements, so neither the statement's text nor a failing statement's
 * bisection ever holds much at once.
 */
export function chunks<R>(
  rows: readonly R[],
  size: number,
  bytes: (row: R) => number = () => 0,
  maxBytes = Number.POSITIVE_INFINITY,
): R[][] {
  const out: R[][] = [];
  let current: R[] = [];
  let weight = 0;
  for (const row of rows) {
    const w = bytes(row);
    if (current.length > 0 && (current.length >= size || weight + w > maxBytes)) {
      out.push(current);
      current = [];
      weight = 0;
    }
    current.push(row);
    weight += w;
  }
  if (current.length > 0) out.push(current);
  return out;
}
