import type { FieldValue } from '../schema/codec.js';
import { decodeEvent, eventSqlTexts } from '../schema/event-codec.js';
import type { ResolvedEntity } from '../schema/resolve.js';
import type { AppendRow, EventRun } from '../store/store.js';

/*
 * The pure part of flushing an append key: its snapshot (see `lua/snapshot.lua`) into runs of events sent as
 * they are, and into rows, one per event, where one is needed. No I/O; unit-tested without servers.
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

/** A run of a snapshot (see `lua/snapshot.lua`): its first event's number, how many, their Redis forms joined. */
export type SnapshotRun = readonly [first: string, count: number, events: string];

/**
 * An append key's snapshot: its head (`_v`, `_fv`, `_m` when more wait) and its runs of events, oldest first.
 */
export function appendedKey(
  entity: ResolvedEntity,
  id: string,
  head: ReadonlyMap<string, string>,
  runs: readonly SnapshotRun[],
): { key: AppendedKey; runs: PlannedRun[] } {
  const planned = runs.map(
    ([first, count, events]) => new PlannedRun(entity, id, Number(first), count, events),
  );
  const events = planned.reduce((sum, run) => sum + run.count, 0);
  const key = { id, version: Number(head.get('_v')), events, more: head.has('_m') };
  return { key, runs: planned };
}

/**
 * Events of one key as its snapshot took them, sent as they are ({@link EventRun}); their rows are made only
 * when needed: for a store without `appendRuns`, to isolate an event the database refuses, or to read a
 * foreign key's columns.
 */
export class PlannedRun implements EventRun {
  readonly id: string;
  readonly first: number;
  readonly count: number;
  readonly events: string;
  readonly #entity: ResolvedEntity;
  #rows: PlannedEvent[] | undefined;

  constructor(entity: ResolvedEntity, id: string, first: number, count: number, events: string) {
    this.#entity = entity;
    this.id = id;
    this.first = first;
    this.count = count;
    this.events = events;
  }

  get rows(): readonly PlannedEvent[] {
    this.#rows ??= splitEvents(this.events).map(
      (event, i) => new StoredAppendRow(this.#entity, this.id, this.first + i, event),
    );
    return this.#rows;
  }
}

/**
 * The Redis forms of events joined by commas, one by one. Each was made by `JSON.stringify` (`encodeEvent`),
 * which gives one text for one value, so parsing and writing it again gives it back unchanged.
 */
export function splitEvents(joined: string): string[] {
  return (JSON.parse(`[${joined}]`) as unknown[]).map((event) => JSON.stringify(event));
}

/**
 * Runs into statements of at most `size` events and, past the first run of each, `maxBytes` of them. A run
 * is never split: the snapshot made each at most that large (see `lua/snapshot.lua`).
 */
export function runStatements<R extends { count: number; events: string }>(
  runs: readonly R[],
  size: number,
  maxBytes: number,
): R[][] {
  const out: R[][] = [];
  let current: R[] = [];
  let events = 0;
  let bytes = 0;
  for (const run of runs) {
    if (current.length > 0 && (events + run.count > size || bytes + run.events.length > maxBytes)) {
      out.push(current);
      current = [];
      events = 0;
      bytes = 0;
    }
    current.push(run);
    events += run.count;
    bytes += run.events.length;
  }
  if (current.length > 0) out.push(current);
  return out;
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
