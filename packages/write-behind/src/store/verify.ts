import { ALLOWED_TYPES, type ResolvedEntity, typeMatches } from '../schema/resolve.js';
import { tableName } from './sql.js';

/*
 * The live check: does the database hold what the entities (resolved against the Prisma schema) expect?
 * `introspectSql` reads a table's columns and unique indexes in one query; `checkTable` and `checkTombstones`
 * compare, purely, and return one message per problem, each naming the entity, field, column and what was
 * expected.
 */

export interface ColumnInfo {
  name: string;
  /** As `format_type()` prints it. */
  type: string;
  notNull: boolean;
  /** A default, an identity, or a generated column: an insert may leave it out. */
  hasDefault: boolean;
  /** For an enum column: its type name and labels. */
  enumName?: string;
  labels?: string[];
}

export interface TableInfo {
  columns: ColumnInfo[];
  /** Column names of each unique index without a predicate or expressions (the primary key included). */
  uniques: string[][];
}

/** Parameter $1: the table's name as SQL (quoted, maybe schema-qualified). One row with `info`, or none. */
export const introspectSql = `
SELECT json_build_object(
  'columns', (
    SELECT coalesce(json_agg(json_build_object(
      'name', a.attname,
      'type', format_type(a.atttypid, a.atttypmod),
      'notNull', a.attnotnull,
      'hasDefault', a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '',
      'enumName', CASE WHEN t.typtype = 'e' THEN t.typname END,
      'labels', CASE WHEN t.typtype = 'e' THEN
        (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) END
    ) ORDER BY a.attnum), '[]'::json)
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
  'uniques', (
    SELECT coalesce(json_agg((
      SELECT json_agg(a.attname ORDER BY k.ord)
      FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)), '[]'::json)
    FROM pg_index i
    WHERE i.indrelid = c.oid AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL)
)::text AS info
FROM (SELECT to_regclass($1)::oid AS oid) c
WHERE c.oid IS NOT NULL`;

/** Types compare exactly, except a timestamp's precision (it rounds, it never refuses). */
function sameType(expected: string, actual: string): boolean {
  const base = (sql: string) => sql.replace(/^timestamp\(\d+\)/, 'timestamp');
  return base(expected) === base(actual);
}

const sameColumns = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');

/** Problems with an entity's table; empty when it fits. `info` undefined: the table does not exist. */
export function checkTable(entity: ResolvedEntity, info: TableInfo | undefined): string[] {
  const where = `entities.${entity.name}`;
  const table = tableName(entity);
  if (!info)
    return [
      `${where}: table ${table} (model ${entity.model}) does not exist in the database: apply the migrations`,
    ];
  const problems: string[] = [];
  const columns = new Map(info.columns.map((c) => [c.name, c]));
  const column = (name: string, role: string): ColumnInfo | undefined => {
    const found = columns.get(name);
    if (!found)
      problems.push(`${where}: table ${table} has no column "${name}" (${role}): apply the migrations`);
    return found;
  };

  for (const part of entity.key) {
    const found = column(part.column, `key ${part.field}`);
    if (
      found &&
      !(sameType(part.type.sql, found.type) && typeMatches(found.type, ALLOWED_TYPES.keys[part.kind]))
    ) {
      problems.push(
        `${where}.key.${part.field}: column "${part.column}" of ${table} is ${found.type}, expected ${part.type.sql} (key kind '${part.kind}')`,
      );
    }
  }
  const keyColumns = entity.key.map((p) => p.column);
  // An append entity's rows are told apart by the key and the sequence together.
  const uniqueColumns = entity.append ? [...keyColumns, entity.append.sequenceColumn] : keyColumns;
  if (!info.uniques.some((u) => sameColumns(u, uniqueColumns))) {
    problems.push(
      `${where}${entity.append ? '' : '.key'}: ${table} has no primary key or unique index on exactly (${uniqueColumns.join(', ')}), which the flush's ${entity.append ? 'insert' : 'upsert'} needs (ON CONFLICT)`,
    );
  }

  const version = column(
    entity.versionColumn,
    entity.append ? 'the sequence of events' : 'the write-behind version',
  );
  if (version && version.type !== 'bigint') {
    problems.push(
      entity.append
        ? `${where}.append.sequence: column "${entity.versionColumn}" of ${table} is ${version.type}, expected bigint`
        : `${where}.versionField: column "${entity.versionColumn}" of ${table} is ${version.type}, expected bigint: ` +
            `ALTER TABLE ${table} ADD COLUMN "${entity.versionColumn}" bigint NOT NULL DEFAULT 0`,
    );
  }

  for (const field of entity.fields) {
    const found = column(field.column, `field ${field.name}`);
    if (!found) continue;
    const what = `${where}.fields.${field.name}: column "${field.column}" of ${table}`;
    if (field.type.enum) {
      const labels = new Set(found.labels ?? []);
      const needed = (field.values ?? []).map((v) => field.type.enum?.toDb.get(v) ?? v);
      if (found.enumName !== field.type.enum.dbName) {
        problems.push(`${what} is ${found.type}, expected the enum ${field.type.enum.dbName}`);
      } else if (needed.some((label) => !labels.has(label))) {
        problems.push(
          `${what}: enum ${found.enumName} lacks ${needed.filter((l) => !labels.has(l)).join(', ')} (it has ${[...labels].join(', ')})`,
        );
      }
    } else if (
      !sameType(field.type.sql, found.type) ||
      !typeMatches(found.type, ALLOWED_TYPES.fields[field.kind])
    ) {
      problems.push(`${what} is ${found.type}, expected ${field.type.sql} (${field.kind})`);
    }
    if (field.nullable && found.notNull) {
      problems.push(`${what} is NOT NULL, but the field is nullable: the database would refuse null`);
    }
  }

  for (const touched of entity.touched) {
    const found = column(touched.column, '@updatedAt');
    if (found && !found.type.startsWith('timestamp') && found.type !== 'date') {
      problems.push(
        `${where}: @updatedAt column "${touched.column}" of ${table} is ${found.type}, expected a timestamp`,
      );
    }
  }

  const filled = new Set([
    ...keyColumns,
    entity.versionColumn,
    ...entity.fields.map((f) => f.column),
    ...entity.touched.map((t) => t.column),
  ]);
  for (const c of info.columns) {
    if (!filled.has(c.name) && c.notNull && !c.hasDefault) {
      problems.push(
        `${where}: column "${c.name}" of ${table} is NOT NULL without a default, so the flush could not insert a row: declare it as a field or give it a default`,
      );
    }
  }
  return problems;
}

/** The tombstone table's name unless `tombstoneTable` says otherwise (`DEFAULT_OPTIONS.tombstoneTable`). */
export const DEFAULT_TOMBSTONE_TABLE = 'write_behind_tombstone';

/**
 * The tombstone table as the flush needs it, in the SQL Prisma Migrate writes for the `WriteBehindTombstone`
 * model (see the README): for users who create it by hand.
 *
 * @param name the table's name: the cache's `tombstoneTable` option. @defaultValue `'write_behind_tombstone'`
 * @example
 * ```ts
 * console.log(tombstoneTableSql()); // CREATE TABLE "write_behind_tombstone" (...
 * ```
 */
export function tombstoneTableSql(name: string = DEFAULT_TOMBSTONE_TABLE): string {
  const q = (id: string) => `"${id.replaceAll('"', '""')}"`;
  return [
    `CREATE TABLE ${q(name)} (`,
    '    "entity" TEXT NOT NULL,',
    '    "key" TEXT NOT NULL,',
    '    "version" BIGINT NOT NULL,',
    '    "deleted_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,',
    '',
    `    CONSTRAINT ${q(`${name}_pkey`)} PRIMARY KEY ("entity","key")`,
    ');',
    '',
    `CREATE INDEX ${q(`${name}_deleted_at_idx`)} ON ${q(name)}("deleted_at");`,
  ].join('\n');
}

/** Problems with the tombstone table, which remembers deletes (see `deleteSql`). */
export function checkTombstones(name: string, info: TableInfo | undefined): string[] {
  const create = `create it with:\n${tombstoneTableSql(name)}`;
  if (!info) return [`the tombstone table "${name}" does not exist in the database: ${create}`];
  const types = new Map(info.columns.map((c) => [c.name, c.type]));
  const expected: [string, (t: string) => boolean, string][] = [
    ['entity', (t) => t === 'text' || t.startsWith('character varying'), 'text'],
    ['key', (t) => t === 'text' || t.startsWith('character varying'), 'text'],
    ['version', (t) => t === 'bigint', 'bigint'],
    ['deleted_at', (t) => t.startsWith('timestamp'), 'a timestamp'],
  ];
  const problems: string[] = [];
  for (const [column, fits, what] of expected) {
    const type = types.get(column);
    if (type === undefined || !fits(type)) {
      problems.push(
        `the tombstone table "${name}" needs a column "${column}" of ${what}, found ${type ?? 'none'}: ${create}`,
      );
    }
  }
  if (!info.uniques.some((u) => sameColumns(u, ['entity', 'key']))) {
    problems.push(`the tombstone table "${name}" needs a primary key on (entity, key): ${create}`);
  }
  return problems;
}
