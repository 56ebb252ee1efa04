import type { EntityDefinition, Scalar } from '../schema.js';

/** An entity as the store sees it: its logical name and definition. */
export interface StoreEntity {
  name: string;
  definition: EntityDefinition;
}

/** A key as the database holds it. `version` is the highest version the database has seen for the key. */
export interface LoadedKey {
  /** The row's field values (Prisma field names), or `undefined` when there is no row. */
  values?: Record<string, Scalar>;
  /** max(row version, version of the delete that removed it); 0 for a key never written. */
  version: number;
}

export interface UpsertRow {
  id: string;
  version: number;
  /** Every field of the entity, by Prisma field name. */
  values: Record<string, Scalar>;
}

export interface DeleteRow {
  id: string;
  version: number;
}

/**
 * Where flushed state goes. The Prisma store is one implementation; any other must pass the same contract
 * suite (`test/store-contract.ts`). Every write is guarded by the key's version, so a replayed or stale
 * write is a no-op: that is what makes at-least-once flushing safe.
 */
export interface Store {
  /** Reads keys for a cache fill. Returns an entry for every id asked for. */
  load(entity: StoreEntity, ids: readonly string[]): Promise<Map<string, LoadedKey>>;
  /** Inserts or updates rows whose version is newer than the row's and than any delete of the key. One statement. */
  upsert(entity: StoreEntity, rows: readonly UpsertRow[]): Promise<void>;
  /** Deletes rows older than the given versions and remembers each delete's version. One statement. */
  delete(entity: StoreEntity, rows: readonly DeleteRow[]): Promise<void>;
  /** Forgets deletes older than `olderThanMs`; returns how many. */
  purgeTombstones(olderThanMs: number): Promise<number>;
  /** True when `error` means the database is unreachable (retry later), not that the rows are bad. */
  isUnavailable(error: unknown): boolean;
}
