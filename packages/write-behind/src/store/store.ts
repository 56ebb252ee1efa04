import type { FieldValue } from '../schema/codec.js';
import type { ColumnType } from '../schema/column-types.js';
import type { FieldKind, KeyKind } from '../schema/fields.js';
import type { DataModel } from '../schema/prisma-schema.js';

/**
 * What a store sees of an entity: its table and columns, resolved against the Prisma schema. A narrow view of
 * the cache's resolved entity: names, column names and types, never its value rules.
 */
export interface StoreEntity {
  /** The entity's name in the cache (the tombstone table keys deletes by it). */
  readonly name: string;
  readonly table: string;
  /** The table's schema (`@@schema`); unset: the connection's search path. */
  readonly schema?: string;
  /** The key's parts, in order; a canonical id joins them (see the package README, "Keys"). */
  readonly key: readonly StoreKeyPart[];
  readonly compositeKey: boolean;
  /** The column of the write-behind version; for an append entity, of its events' sequence. */
  readonly versionColumn: string;
  /** Set for an append entity, whose rows are only inserted. */
  readonly append?: { readonly sequenceField: string; readonly sequenceColumn: string };
  /** The fields the cache owns, in the order rows list them. */
  readonly fields: readonly StoreField[];
  /** `@updatedAt` columns the entity does not declare: a write sets them to its own time. */
  readonly touched: readonly { readonly column: string; readonly type: ColumnType }[];
}

export interface StoreField {
  readonly name: string;
  readonly kind: FieldKind;
  readonly column: string;
  readonly nullable: boolean;
  readonly type: ColumnType;
}

export interface StoreKeyPart {
  readonly field: string;
  readonly column: string;
  readonly kind: KeyKind;
  readonly type: ColumnType;
}

/**
 * A foreign key, as a store looks rows up by it (see {@link Store.missingParents} and
 * {@link Store.referencingRows}): the child table's columns holding the parent table's key, in one order on
 * both sides.
 */
export interface StoreForeignKey {
  readonly child: {
    readonly table: string;
    readonly schema?: string;
    /** The columns holding the parent's key. */
    readonly columns: readonly string[];
    /** The columns that name a child row (its key), for {@link Store.referencingRows}. */
    readonly keyColumns: readonly string[];
  };
  readonly parent: { readonly table: string; readonly schema?: string; readonly columns: readonly string[] };
  /** The columns' types, in the same order (both sides hold the same values). */
  readonly types: readonly ColumnType[];
}

/** A key as the database holds it. `version` is the highest version the database has seen for the key. */
export interface LoadedKey {
  /** The row's field values (by field name), or `undefined` when there is no row. */
  values?: Record<string, FieldValue>;
  /** max(row version, version of the delete that removed it); 0 for a key never written. */
  version: number;
}

export interface UpsertRow {
  /** The key's canonical id (see `schema/id-codec.ts`). */
  id: string;
  version: number;
  /** Every field of the entity, by field name. */
  values: Record<string, FieldValue>;
  /**
   * The same fields as SQL text (what `toSqlText` makes of each, `null` for NULL), in the entity's field
   * order, when the flush has them ready: a store that writes text may take them instead of encoding
   * `values`, which the flush then decodes only if asked.
   */
  sqlTexts?: readonly (string | null)[];
}

/**
 * What was added to a key's counters since its last flush, for a key whose stored values the cache does not
 * hold (`cache.add` on a key Redis lacked): applied as `column = column + sum`, or inserted as the row's
 * values when there is no row.
 */
export interface DeltaRow {
  id: string;
  version: number;
  /** By counter field name: what was added since the last flush (0 for a counter nothing was added to). */
  sums: Record<string, number>;
}

/**
 * Events of one key of an append entity, numbered one after another, as a flush takes them from Redis: the
 * cache never looks inside them (see {@link Store.appendRuns}).
 */
export interface EventRun {
  /** The key's canonical id. */
  readonly id: string;
  /** The sequence number of the first event; each next one is one more. */
  readonly first: number;
  readonly count: number;
  /** The events' Redis forms ({@link AppendRow.event}), joined by commas: the elements of a JSON array. */
  readonly events: string;
}

/** One event of an append entity: its key, its number within the key, and every field. */
export interface AppendRow {
  /** The key's canonical id. */
  id: string;
  /** The event's sequence number within its key, assigned when Redis acknowledged it. */
  sequence: number;
  values: Record<string, FieldValue>;
  /** As {@link UpsertRow.sqlTexts}. */
  sqlTexts?: readonly (string | null)[];
  /**
   * The event as Redis holds it, when the row comes from a flush: a JSON array of its fields' stored forms, in
   * the entity's field order (`schema/event-codec.ts`). The Prisma store sends it to PostgreSQL as it is.
   */
  event?: string;
}

export interface DeleteRow {
  id: string;
  version: number;
}

/**
 * Where flushed state goes. The Prisma store is one implementation; any other must pass the same contract
 * suite (`packages/testkit/src/store-contract.ts`). Every write is guarded by the key's version, so a replayed or
 * stale write is a no-op: that is what makes at-least-once flushing safe.
 */
export interface Store {
  /**
   * The data model the entities are declared against (the Prisma schema), when the store has one. The cache
   * checks every definition against it before it accepts a write.
   */
  readonly dataModel?: DataModel;
  /**
   * Checks the entities against the live database: tables, columns and their types, the key's unique
   * constraint, the version column, the tombstone table. Rejects with a `ConfigurationError` naming what
   * differs; with the store's own error when the database cannot be reached.
   */
  verify(entities: readonly StoreEntity[]): Promise<void>;
  /**
   * Reads keys (canonical ids) for a cache fill. Returns an entry for every id asked for. For an append
   * entity, `version` is the highest sequence number stored for the key (0 for none), without values.
   */
  load(entity: StoreEntity, ids: readonly string[]): Promise<Map<string, LoadedKey>>;
  /**
   * The canonical ids of an entity's rows in key order: the first `limit` after `after` (exclusive; from the
   * start when undefined). Pages through a table to build a ranking (see `counter({ ranked: true })`); a store
   * without it cannot hold ranked fields.
   */
  scan?(entity: StoreEntity, after: string | undefined, limit: number): Promise<string[]>;
  /** Inserts or updates rows whose version is newer than the row's and than any delete of the key. One statement. */
  upsert(entity: StoreEntity, rows: readonly UpsertRow[]): Promise<void>;
  /**
   * Adds sums to counters of rows whose version is older than the row's version given (and than any delete of
   * the key), setting the row's version to it; inserts a row that is not there, its counters the sums, the
   * fields with a declared `default` that, its other columns at the database's defaults. One statement. The
   * version guard makes a replay add nothing. Needed only by stores serving `cache.add`.
   */
  add?(entity: StoreEntity, rows: readonly DeltaRow[]): Promise<void>;
  /**
   * Inserts the events of an append entity, one row each, in one statement; a row whose key and sequence are
   * already there is skipped (a replayed flush inserts nothing twice). Needed only by stores that serve
   * append entities: without it, declaring one is a `ConfigurationError`.
   */
  append?(entity: StoreEntity, rows: readonly AppendRow[]): Promise<void>;
  /**
   * {@link append} for events as a flush takes them from Redis, in runs: the Prisma store sends them to
   * PostgreSQL as they are. A store without it is sent the same events as rows; a flush also sends rows to
   * isolate an event the database refuses.
   */
  appendRuns?(entity: StoreEntity, runs: readonly EventRun[]): Promise<void>;
  /** Deletes rows older than the given versions and remembers each delete's version. One statement. */
  delete(entity: StoreEntity, rows: readonly DeleteRow[]): Promise<void>;
  /**
   * For each parent key (its columns as text, in the foreign key's order), whether the parent table has no
   * such row. Read only when the database refused a row for a foreign key (`23503`), to name the parent it
   * lacks; a store without it leaves the database's own message.
   */
  missingParents?(foreignKey: StoreForeignKey, keys: readonly (readonly string[])[]): Promise<boolean[]>;
  /**
   * The key columns (`child.keyColumns`, as text) of up to `limit` child rows whose foreign key holds `key`:
   * the rows that keep a parent from being deleted. Read only when the database refused a delete for a
   * foreign key (`23503`); a store without it leaves the database's own message.
   */
  referencingRows?(foreignKey: StoreForeignKey, key: readonly string[], limit: number): Promise<string[][]>;
  /** Forgets deletes older than `olderThanMs`; returns how many. */
  purgeTombstones(olderThanMs: number): Promise<number>;
  /** True when `error` means the database is unreachable (retry later), not that the rows are bad. */
  isUnavailable(error: unknown): boolean;
  /** The database's own code and message for a refused row, for logs and failed jobs. */
  describeError?(error: unknown): { code?: string; message: string };
}
