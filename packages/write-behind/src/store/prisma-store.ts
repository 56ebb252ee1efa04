import { ConfigurationError } from '../errors.js';
import { decodeField, type FieldValue, fromSqlText, toSqlText } from '../schema/codec.js';
import { makeDefault } from '../schema/defaults.js';
import { encodeEvent } from '../schema/event-codec.js';
import { idFromColumns, keyColumnsOf } from '../schema/id-codec.js';
import { type DataModel, parsePrismaSchema } from '../schema/prisma-schema.js';
import type { ResolvedEntity } from '../schema/resolve.js';
import { clientSchemaText } from './prisma-client.js';
import {
  appendLoadSql,
  appendSql,
  arrayElement,
  arrayLiteral,
  deleteSql,
  deltaColumns,
  deltaSql,
  keyParamCount,
  loadSql,
  missingParentsSql,
  needsQuotes,
  purgeTombstonesSql,
  quoteIdent,
  referencingRowsSql,
  scanSql,
  tableName,
  upsertSql,
} from './sql.js';
import type {
  AppendRow,
  DeleteRow,
  DeltaRow,
  EventRun,
  LoadedKey,
  Store,
  StoreEntity,
  StoreForeignKey,
  UpsertRow,
} from './store.js';
import { checkTable, checkTombstones, introspectSql, type TableInfo } from './verify.js';

/** The part of a Prisma Client the store uses: raw SQL, and the schema it was generated from. */
export interface PrismaClientLike {
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
}

export interface PrismaStoreOptions {
  /** Table that remembers deletes (the `WriteBehindTombstone` model). @defaultValue `'write_behind_tombstone'` */
  tombstoneTable: string;
}

interface Statements {
  upsert: string;
  delete: string;
  load: string;
  /** Sums added to counters (`cache.add`). */
  delta: string;
  /**
   * An append entity's insert (its `upsert` and `delete` are empty: its rows are only inserted), and the same
   * insert skipping the rows already there (a replayed flush).
   */
  append?: string;
  appendReplay?: string;
}

/*
 * Connection-level failures: the database is down or unreachable, as opposed to a row it refuses.
 * Prisma's own codes (P1001 can't reach, P1002 timed out, P1008 operation timed out, P1017 server closed the
 * connection, P2024 pool timeout), the pg driver's socket errors, and PostgreSQL's "admin shutdown" and
 * "cannot connect now" states (57P01-57P03), which arrive while a server restarts.
 */
const UNAVAILABLE_CODES = new Set([
  'P1001',
  'P1002',
  'P1008',
  'P1017',
  'P2024',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
]);
const UNAVAILABLE_TEXT =
  /ECONNREFUSED|ECONNRESET|Connection terminated|Can't reach database|DatabaseNotReachable|ConnectionClosed|SocketTimeout|connection (is )?closed|timeout exceeded when trying to connect|the database system is (starting up|shutting down)/i;

interface ErrorShape {
  code?: unknown;
  message?: unknown;
  kind?: unknown;
  cause?: unknown;
  originalCode?: unknown;
  originalMessage?: unknown;
  meta?: { driverAdapterError?: unknown; code?: unknown; message?: unknown };
}

/** An error and its causes: a raw query's driver error hides under `meta.driverAdapterError`, not `cause`. */
function* causes(error: unknown): Generator<ErrorShape> {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 6; depth++) {
    const shape = e as ErrorShape;
    yield shape;
    e = shape.cause ?? shape.meta?.driverAdapterError;
  }
}

/** The data model of the Prisma schema a client was generated from. */
export function prismaDataModel(prisma: unknown): DataModel {
  return parsePrismaSchema(clientSchemaText(prisma));
}

/**
 * The cache's full entity behind the store's view of it: the cache passes its resolved entities, whose value
 * rules (defaults, single-precision floats, enum labels) the SQL text needs. A store wrapping this one passes
 * along what the cache gave it.
 */
function resolved(entity: StoreEntity): ResolvedEntity {
  return entity as ResolvedEntity;
}

/**
 * The Prisma implementation of {@link Store}: batched `unnest` statements through `$executeRawUnsafe`, each
 * column of a batch sent as one array literal (see `arrayLiteral`); table, column and type names from the
 * client's Prisma schema, checked against the live database by `verify`.
 */
export class PrismaStore implements Store {
  readonly dataModel: DataModel;
  readonly #prisma: PrismaClientLike;
  readonly #tombstoneTable: string;
  readonly #statements = new Map<string, Statements>();

  constructor(prisma: PrismaClientLike, options: PrismaStoreOptions) {
    this.#prisma = prisma;
    this.#tombstoneTable = options.tombstoneTable;
    this.dataModel = prismaDataModel(prisma);
  }

  async verify(views: readonly StoreEntity[]): Promise<void> {
    const entities = views.map(resolved);
    const problems: string[] = [];
    for (const entity of entities)
      problems.push(...checkTable(entity, await this.#introspect(tableName(entity))));
    problems.push(
      ...checkTombstones(this.#tombstoneTable, await this.#introspect(quoteIdent(this.#tombstoneTable))),
    );
    if (problems.length > 0) {
      throw new ConfigurationError(
        `the database does not match the entity definitions:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      );
    }
  }

  async load(view: StoreEntity, ids: readonly string[]): Promise<Map<string, LoadedKey>> {
    const entity = resolved(view);
    if (entity.append) return this.#loadSequences(entity, ids);
    const rows = await this.#prisma.$queryRawUnsafe<Record<string, string | null>[]>(
      this.#prepare(entity).load,
      ...this.#keyParams(entity, ids),
      entity.name,
    );
    const out = new Map<string, LoadedKey>();
    for (const row of rows) {
      const rowVersion = row.r == null ? 0 : Number(row.r);
      const version = Math.max(rowVersion, row.tv == null ? 0 : Number(row.tv));
      if (row.r == null) {
        out.set(row.id as string, { version });
        continue;
      }
      const values: Record<string, FieldValue> = {};
      entity.fields.forEach((field, i) => {
        values[field.name] = fromSqlText(field, row[`c${i}`]);
      });
      out.set(row.id as string, { values, version });
    }
    return out;
  }

  async scan(view: StoreEntity, after: string | undefined, limit: number): Promise<string[]> {
    const entity = resolved(view);
    const rows = await this.#prisma.$queryRawUnsafe<Record<string, string>[]>(
      scanSql(entity, after === undefined),
      ...(after === undefined ? [] : keyColumnsOf(entity, after)),
      limit,
    );
    return rows.map((row) =>
      idFromColumns(
        entity,
        entity.key.map((_, i) => row[`k${i}`] as string),
      ),
    );
  }

  /** The field arrays of `rows`, one per field in the entity's order, as the upsert takes them. */
  #fieldParams(entity: ResolvedEntity, rows: readonly UpsertRow[]): string[] {
    return entity.fields.map((field, i) =>
      arrayLiteral(
        rows.map((r) =>
          r.sqlTexts ? (r.sqlTexts[i] as string | null) : toSqlText(field, r.values[field.name]),
        ),
        needsQuotes(field.kind),
      ),
    );
  }

  /**
   * Runs a write guarded by the keys' versions (the upsert, the delta, the delete) with the parameters sql.ts
   * gives them all: $1 ids, $2 versions, the key arrays, then `columns`, then the entity name.
   */
  async #writeVersioned(
    entity: ResolvedEntity,
    sql: string,
    rows: readonly { id: string; version: number }[],
    columns: readonly string[] = [],
  ): Promise<void> {
    const [ids, ...keys] = this.#keyParams(
      entity,
      rows.map((r) => r.id),
    );
    await this.#prisma.$executeRawUnsafe(sql, ids, versionsOf(rows), ...keys, ...columns, entity.name);
  }

  async upsert(view: StoreEntity, rows: readonly UpsertRow[]): Promise<void> {
    const entity = resolved(view);
    if (rows.length === 0) return;
    await this.#writeVersioned(entity, this.#prepare(entity).upsert, rows, this.#fieldParams(entity, rows));
  }

  async add(view: StoreEntity, rows: readonly DeltaRow[]): Promise<void> {
    const entity = resolved(view);
    if (rows.length === 0) return;
    const columns = deltaColumns(entity).map((field) => {
      if (field.kind === 'counter') {
        return arrayLiteral(
          rows.map((r) => String(r.sums[field.name] ?? 0)),
          false,
        );
      }
      const { dynamicDefault } = field;
      const value = toSqlText(field, decodeField(field, field.encodedDefault));
      return arrayLiteral(
        rows.map(() => (dynamicDefault ? toSqlText(field, makeDefault(dynamicDefault)) : value)),
        needsQuotes(field.kind),
      );
    });
    await this.#writeVersioned(entity, this.#prepare(entity).delta, rows, columns);
  }

  async append(view: StoreEntity, rows: readonly AppendRow[]): Promise<void> {
    const entity = resolved(view);
    if (rows.length === 0) return;
    // The events as Redis holds them, one JSON array: a row built by other means is encoded as the cache would.
    const events = rows.map((r) => r.event ?? encodeEvent(entity, r.values, Number.POSITIVE_INFINITY));
    await this.#insertEvents(
      entity,
      this.#keyParams(
        entity,
        rows.map((r) => r.id),
      ),
      arrayLiteral(
        rows.map((r) => String(r.sequence)),
        false,
      ),
      `[${events.join(',')}]`,
    );
  }

  async appendRuns(view: StoreEntity, runs: readonly EventRun[]): Promise<void> {
    const entity = resolved(view);
    if (runs.length === 0) return;
    // Each key parameter's element once per run, repeated for its events: no work per event but a copy.
    const keys = this.#keyArrays(
      entity,
      runs.map((run) => ({ id: run.id, count: run.count })),
    );
    const sequences: string[] = [];
    for (const run of runs) for (let i = 0; i < run.count; i++) sequences.push(String(run.first + i));
    await this.#insertEvents(
      entity,
      keys,
      `{${sequences.join(',')}}`,
      `[${runs.map((run) => run.events).join(',')}]`,
    );
  }

  /**
   * An append statement ({@link appendSql}): `keys` the ids' array literal, then the key columns' (see
   * {@link #keyParams}), `sequences` an array literal, `events` one JSON array of the events' Redis forms.
   */
  async #insertEvents(
    entity: ResolvedEntity,
    keys: string[],
    sequences: string,
    events: string,
  ): Promise<void> {
    const [ids, ...columns] = keys;
    const params = [ids, sequences, ...columns, events];
    const { append, appendReplay } = this.#prepare(entity);
    try {
      await this.#prisma.$executeRawUnsafe(append as string, ...params);
    } catch (error) {
      // Rows already there: a flush that committed and was not acknowledged, sent again (the statement rolled
      // back whole). Skipping them costs PostgreSQL a conflict check per row, which a first flush need not pay.
      if (this.describeError(error).code !== UNIQUE_VIOLATION) throw error;
      await this.#prisma.$executeRawUnsafe(appendReplay as string, ...params);
    }
  }

  async delete(view: StoreEntity, rows: readonly DeleteRow[]): Promise<void> {
    const entity = resolved(view);
    if (rows.length === 0) return;
    await this.#writeVersioned(entity, this.#prepare(entity).delete, rows);
  }

  async missingParents(fk: StoreForeignKey, keys: readonly (readonly string[])[]): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const rows = await this.#prisma.$queryRawUnsafe<{ i: number }[]>(
      missingParentsSql(fk),
      // Quoted whatever the type: `{"1","2"}` casts to integer[] as well as to text[].
      ...fk.types.map((_, c) =>
        arrayLiteral(
          keys.map((key) => key[c] ?? null),
          true,
        ),
      ),
    );
    const missing = keys.map(() => false);
    for (const row of rows) missing[Number(row.i) - 1] = true;
    return missing;
  }

  async referencingRows(fk: StoreForeignKey, key: readonly string[], limit: number): Promise<string[][]> {
    const rows = await this.#prisma.$queryRawUnsafe<Record<string, string>[]>(
      referencingRowsSql(fk),
      ...key,
      limit,
    );
    return rows.map((row) => fk.child.keyColumns.map((_, i) => row[`k${i}`] as string));
  }

  async purgeTombstones(olderThanMs: number): Promise<number> {
    return this.#prisma.$executeRawUnsafe(purgeTombstonesSql(this.#tombstoneTable), String(olderThanMs));
  }

  isUnavailable(error: unknown): boolean {
    for (const { code, message, kind } of causes(error)) {
      if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
      if (typeof kind === 'string' && UNAVAILABLE_TEXT.test(kind)) return true;
      if (typeof message === 'string' && UNAVAILABLE_TEXT.test(message)) return true;
    }
    return false;
  }

  /**
   * PostgreSQL's SQLSTATE and message, found under Prisma's wrapping (`originalCode` / `originalMessage` of
   * the driver adapter's error) or on a `pg` error (which has a `severity`); the error's own message otherwise.
   */
  describeError(error: unknown): { code?: string; message: string } {
    const shapes = [...causes(error)];
    const adapter = shapes.find((s) => typeof s.originalMessage === 'string');
    if (adapter) return withCode(adapter.originalMessage as string, adapter.originalCode);
    const pg = shapes.find((s) => typeof s.message === 'string' && 'severity' in s);
    if (pg) return withCode(pg.message as string, pg.code);
    return { message: error instanceof Error ? error.message : String(error) };
  }

  /** An append entity's keys: the highest sequence number each has in the table. */
  async #loadSequences(entity: ResolvedEntity, ids: readonly string[]): Promise<Map<string, LoadedKey>> {
    const rows = await this.#prisma.$queryRawUnsafe<{ id: string; r: string | null }[]>(
      this.#prepare(entity).load,
      ...this.#keyParams(entity, ids),
    );
    return new Map(rows.map((row) => [row.id, { version: row.r == null ? 0 : Number(row.r) }]));
  }

  async #introspect(table: string): Promise<TableInfo | undefined> {
    const rows = await this.#prisma.$queryRawUnsafe<{ info: string }[]>(introspectSql, table);
    return rows[0] ? (JSON.parse(rows[0].info) as TableInfo) : undefined;
  }

  #prepare(entity: ResolvedEntity): Statements {
    let statements = this.#statements.get(entity.name);
    if (!statements && entity.append) {
      statements = {
        upsert: '',
        delete: '',
        delta: '',
        load: appendLoadSql(entity),
        append: appendSql(entity, false),
        appendReplay: appendSql(entity, true),
      };
      this.#statements.set(entity.name, statements);
    }
    if (!statements) {
      statements = {
        upsert: upsertSql(entity, this.#tombstoneTable),
        delete: deleteSql(entity, this.#tombstoneTable),
        load: loadSql(entity, this.#tombstoneTable),
        delta: deltaSql(entity, this.#tombstoneTable),
      };
      this.#statements.set(entity.name, statements);
    }
    return statements;
  }

  /** `$1` the canonical ids, then one array per key column that has its own parameter (see `sql.ts`). */
  #keyParams(entity: ResolvedEntity, ids: readonly string[]): string[] {
    return this.#keyArrays(
      entity,
      ids.map((id) => ({ id, count: 1 })),
    );
  }

  /** {@link #keyParams} of keys repeated: each id's elements `count` times over. */
  #keyArrays(entity: ResolvedEntity, keys: readonly { id: string; count: number }[]): string[] {
    const elements = keys.map((key) => this.#keyElements(entity, key.id));
    return Array.from(
      { length: 1 + keyParamCount(entity) },
      (_, p) =>
        `{${keys.map((key, k) => repeat((elements[k] as string[])[p] as string, key.count)).join(',')}}`,
    );
  }

  /** One id's elements of the {@link #keyParams} arrays. */
  #keyElements(entity: ResolvedEntity, id: string): string[] {
    const elements = [arrayElement(id, true)];
    if (keyParamCount(entity) === 0) return elements;
    const columns = keyColumnsOf(entity, id);
    entity.key.forEach((part, i) => {
      elements.push(arrayElement(columns[i] as string, isQuotedKey(part.kind)));
    });
    return elements;
  }
}

function isQuotedKey(kind: string): boolean {
  return kind === 'string' || kind === 'uuid';
}

/** `element` `count` times, joined by commas. */
function repeat(element: string, count: number): string {
  return `${element},`.repeat(count - 1) + element;
}

/** PostgreSQL's SQLSTATE for a row that breaks a unique index. */
const UNIQUE_VIOLATION = '23505';

function withCode(message: string, code: unknown): { code?: string; message: string } {
  return typeof code === 'string' ? { code, message } : { message };
}

function versionsOf(rows: readonly { version: number }[]): string {
  return arrayLiteral(
    rows.map((r) => String(r.version)),
    false,
  );
}
