import type { FieldKind } from '../schema.js';

/*
 * SQL text for the batched statements, built from a table mapping. Pure: no I/O, unit-tested.
 * Rows travel as one array parameter per column through `unnest`, so a statement has a fixed, small number
 * of parameters however many rows it carries (a VALUES list would hit PostgreSQL's 65,535 limit).
 */

export interface ColumnMapping {
  field: string;
  column: string;
  kind: FieldKind;
}

export interface TableMapping {
  table: string;
  keyColumn: string;
  versionColumn: string;
  columns: ColumnMapping[];
  tombstoneTable: string;
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

const ARRAY_TYPE: Record<FieldKind, string> = {
  counter: 'bigint[]',
  integer: 'bigint[]',
  number: 'float8[]',
  boolean: 'boolean[]',
  string: 'text[]',
};

/** Parameters: $1 keys, $2 versions, $3.. one array per column, then the entity name. */
export function upsertSql(t: TableMapping): string {
  const table = quoteIdent(t.table);
  const key = quoteIdent(t.keyColumn);
  const version = quoteIdent(t.versionColumn);
  const cols = t.columns.map((c) => quoteIdent(c.column));
  const arrays = t.columns.map((c, i) => `$${i + 3}::${ARRAY_TYPE[c.kind]}`);
  const aliases = t.columns.map((_, i) => `c${i}`);
  const entityParam = `$${t.columns.length + 3}`;
  return [
    `INSERT INTO ${table} (${[key, version, ...cols].join(', ')})`,
    `SELECT u.k, u.v${aliases.map((a) => `, u.${a}`).join('')}`,
    `FROM unnest($1::text[], $2::bigint[]${arrays.map((a) => `, ${a}`).join('')}) AS u(k, v${aliases.map((a) => `, ${a}`).join('')})`,
    `WHERE NOT EXISTS (SELECT 1 FROM ${quoteIdent(t.tombstoneTable)} tb WHERE tb.entity = ${entityParam} AND tb.key = u.k AND tb.version >= u.v)`,
    `ON CONFLICT (${key}) DO UPDATE SET ${[version, ...cols].map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`,
    `WHERE ${table}.${version} < EXCLUDED.${version}`,
  ].join('\n');
}

/** Parameters: $1 keys, $2 versions, $3 the entity name. One statement: the delete and its tombstone commit together. */
export function deleteSql(t: TableMapping): string {
  const table = quoteIdent(t.table);
  const tomb = quoteIdent(t.tombstoneTable);
  return [
    'WITH u AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS u(k, v)),',
    `d AS (DELETE FROM ${table} USING u WHERE ${table}.${quoteIdent(t.keyColumn)} = u.k AND ${table}.${quoteIdent(t.versionColumn)} < u.v)`,
    `INSERT INTO ${tomb} (entity, key, version) SELECT $3, u.k, u.v FROM u`,
    `ON CONFLICT (entity, key) DO UPDATE SET version = EXCLUDED.version, deleted_at = CURRENT_TIMESTAMP WHERE ${tomb}.version < EXCLUDED.version`,
  ].join('\n');
}

/** Parameters: $1 keys, $2 the entity name. One row per key asked for; `r` is null when there is no row. */
export function loadSql(t: TableMapping): string {
  const select = t.columns.map((c, i) => {
    const col = `t.${quoteIdent(c.column)}`;
    return c.kind === 'counter' || c.kind === 'integer' ? `${col}::text AS c${i}` : `${col} AS c${i}`;
  });
  return [
    `SELECT u.k, t.${quoteIdent(t.versionColumn)}::text AS r, tb.version::text AS tv${select.map((s) => `, ${s}`).join('')}`,
    'FROM unnest($1::text[]) AS u(k)',
    `LEFT JOIN ${quoteIdent(t.table)} t ON t.${quoteIdent(t.keyColumn)} = u.k`,
    `LEFT JOIN ${quoteIdent(t.tombstoneTable)} tb ON tb.entity = $2 AND tb.key = u.k`,
  ].join('\n');
}

export function purgeTombstonesSql(tombstoneTable: string): string {
  return `DELETE FROM ${quoteIdent(tombstoneTable)} WHERE deleted_at < CURRENT_TIMESTAMP - $1::bigint * interval '1 millisecond'`;
}

/**
 * One column of a batch as a PostgreSQL array literal (`{"a","b",NULL}`), sent as a single text parameter and
 * cast by the statement (`$1::text[]`). Building the literal here is one string join per column, where an
 * array parameter costs the client libraries a conversion per element. Strings are always quoted, so any
 * content (commas, braces, the word NULL, an empty string) stays one element.
 */
export function arrayLiteral(kind: FieldKind, values: readonly unknown[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) parts[i] = 'NULL';
    else if (kind === 'string') parts[i] = `"${String(v).replace(/["\\]/g, '\\$&')}"`;
    else if (kind === 'boolean') parts[i] = v ? 't' : 'f';
    else parts[i] = String(v);
  }
  return `{${parts.join(',')}}`;
}
