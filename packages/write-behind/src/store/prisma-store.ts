import { ConfigurationError } from '../errors.js';
import type { FieldSpec, Scalar } from '../schema.js';
import type { ColumnMapping, TableMapping } from './sql.js';
import { arrayLiteral, deleteSql, loadSql, purgeTombstonesSql, upsertSql } from './sql.js';
import type { DeleteRow, LoadedKey, Store, StoreEntity, UpsertRow } from './store.js';

interface RuntimeField {
  name: string;
  dbName?: string | null;
}
interface RuntimeModel {
  dbName?: string | null;
  fields: RuntimeField[];
}

/** The part of a Prisma Client the store uses: raw SQL, and the data model for table and column names. */
export interface PrismaClientLike {
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
  _runtimeDataModel?: { models: Record<string, RuntimeModel> };
}

export interface PrismaStoreOptions {
  /** Table that remembers deletes (see `prisma/schema.prisma`, model `WriteBehindTombstone`). @defaultValue `'write_behind_tombstone'` */
  tombstoneTable?: string;
}

interface Prepared {
  mapping: TableMapping;
  upsert: string;
  delete: string;
  load: string;
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

/**
 * The Prisma implementation of {@link Store}: batched `unnest` statements through `$executeRawUnsafe`, each
 * column of a batch sent as one array literal (see `arrayLiteral`).
 */
export class PrismaStore implements Store {
  readonly #prisma: PrismaClientLike;
  readonly #tombstoneTable: string;
  readonly #prepared = new Map<string, Prepared>();

  constructor(prisma: PrismaClientLike, options: PrismaStoreOptions = {}) {
    this.#prisma = prisma;
    this.#tombstoneTable = options.tombstoneTable ?? 'write_behind_tombstone';
  }

  async load(entity: StoreEntity, ids: readonly string[]): Promise<Map<string, LoadedKey>> {
    const { mapping, load } = this.#prepare(entity);
    const rows = await this.#prisma.$queryRawUnsafe<Record<string, unknown>[]>(
      load,
      arrayLiteral('string', ids),
      entity.name,
    );
    const out = new Map<string, LoadedKey>();
    for (const row of rows) {
      const rowVersion = row.r == null ? 0 : Number(row.r);
      const version = Math.max(rowVersion, row.tv == null ? 0 : Number(row.tv));
      if (row.r == null) {
        out.set(row.k as string, { version });
        continue;
      }
      const values: Record<string, Scalar> = {};
      mapping.columns.forEach((c, i) => {
        values[c.field] = fromDb(c, row[`c${i}`]);
      });
      out.set(row.k as string, { values, version });
    }
    return out;
  }

  async upsert(entity: StoreEntity, rows: readonly UpsertRow[]): Promise<void> {
    if (rows.length === 0) return;
    const { mapping, upsert } = this.#prepare(entity);
    const columns = mapping.columns.map((c) =>
      arrayLiteral(
        c.kind,
        rows.map((r) => r.values[c.field]),
      ),
    );
    await this.#prisma.$executeRawUnsafe(upsert, ...idsAndVersions(rows), ...columns, entity.name);
  }

  async delete(entity: StoreEntity, rows: readonly DeleteRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#prisma.$executeRawUnsafe(this.#prepare(entity).delete, ...idsAndVersions(rows), entity.name);
  }

  async purgeTombstones(olderThanMs: number): Promise<number> {
    return this.#prisma.$executeRawUnsafe(purgeTombstonesSql(this.#tombstoneTable), String(olderThanMs));
  }

  isUnavailable(error: unknown): boolean {
    for (let e = error, depth = 0; e && depth < 6; depth++) {
      const { code, message, kind, cause, meta } = e as {
        code?: unknown;
        message?: unknown;
        kind?: unknown;
        cause?: unknown;
        meta?: { driverAdapterError?: unknown };
      };
      if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
      if (typeof kind === 'string' && UNAVAILABLE_TEXT.test(kind)) return true;
      if (typeof message === 'string' && UNAVAILABLE_TEXT.test(message)) return true;
      // A raw query's driver error arrives as P2010 with the adapter's error (whose cause carries the kind,
      // e.g. ConnectionClosed for ECONNRESET) under meta.driverAdapterError, not under cause.
      e = cause ?? meta?.driverAdapterError;
    }
    return false;
  }

  #prepare(entity: StoreEntity): Prepared {
    let prepared = this.#prepared.get(entity.name);
    if (!prepared) {
      const mapping = this.#mapping(entity);
      prepared = { mapping, upsert: upsertSql(mapping), delete: deleteSql(mapping), load: loadSql(mapping) };
      this.#prepared.set(entity.name, prepared);
    }
    return prepared;
  }

  /** Table and column names from Prisma's data model, so `@map`/`@@map` are honoured (raw SQL ignores them). */
  #mapping({ name, definition }: StoreEntity): TableMapping {
    const models = this.#prisma._runtimeDataModel?.models;
    const model = models?.[definition.model];
    if (models && !model) {
      throw new ConfigurationError(
        `entities.${name}.model: Prisma has no model ${JSON.stringify(definition.model)} (models: ${Object.keys(models).join(', ')})`,
      );
    }
    const columnOf = (field: string, explicit?: string): string => {
      if (explicit) return explicit;
      if (!model) return field;
      const f = model.fields.find((x) => x.name === field);
      if (!f)
        throw new ConfigurationError(
          `entities.${name}: model ${definition.model} has no field ${JSON.stringify(field)}`,
        );
      return f.dbName ?? f.name;
    };
    const columns: ColumnMapping[] = Object.entries(definition.fields).map(([field, spec]) => ({
      field,
      column: columnOf(field, (spec as FieldSpec).column),
      kind: (spec as FieldSpec).kind,
    }));
    return {
      table: model?.dbName ?? definition.model,
      keyColumn: columnOf(definition.key ?? 'id'),
      versionColumn: columnOf(definition.versionField ?? 'version'),
      columns,
      tombstoneTable: this.#tombstoneTable,
    };
  }
}

/** `$1` and `$2` of every batched statement: the rows' keys and versions. */
function idsAndVersions(rows: readonly { id: string; version: number }[]): [string, string] {
  return [
    arrayLiteral(
      'string',
      rows.map((r) => r.id),
    ),
    arrayLiteral(
      'integer',
      rows.map((r) => r.version),
    ),
  ];
}

function fromDb(c: ColumnMapping, value: unknown): Scalar {
  if (value === null || value === undefined) return null;
  switch (c.kind) {
    case 'counter':
    case 'integer':
    case 'number':
      return Number(value);
    case 'boolean':
      return Boolean(value);
    default:
      return String(value);
  }
}

/** Creates the Prisma store. */
export function prismaStore(prisma: PrismaClientLike, options?: PrismaStoreOptions): Store {
  return new PrismaStore(prisma, options);
}
