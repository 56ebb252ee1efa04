import type { FieldKind } from '../schema/fields.js';
import type { ResolvedEntity } from '../schema/resolve.js';
import { quoteIdent, tableName } from '../store/sql.js';

/*
 * The operator's reads of one key in the database, as SQL text: its row with its version and `@updatedAt`
 * columns, an append key's events, and its tombstone. Pure, unit-tested; parameters are the key's columns as
 * text (`keyColumnsOf`), each cast to its column's type.
 */

/** A column as text; dates as epoch milliseconds, as the store's load reads them. */
function asText(column: string, kind: FieldKind | 'dateTime'): string {
  if (kind === 'dateTime') return `floor(extract(epoch from ${column}) * 1000)::int8::text`;
  return `${column}::text`;
}

/** `t.<key column> = $n::<type>` for each key part, parameters from `$1`. */
function keyWhere(entity: ResolvedEntity): string {
  return entity.key
    .map((part, i) => `t.${quoteIdent(part.column)} = $${i + 1}::${part.type.sql}`)
    .join(' AND ');
}

/**
 * One key's row: `r` its version, `c<i>` the entity's fields in order, `u<i>` its `@updatedAt` columns (as
 * epoch ms). Parameters: the key's columns as text. No row: no result.
 */
export function inspectRowSql(entity: ResolvedEntity): string {
  const columns = [
    `t.${quoteIdent(entity.versionColumn)}::text AS r`,
    ...entity.fields.map((f, i) => `${asText(`t.${quoteIdent(f.column)}`, f.kind)} AS c${i}`),
    ...entity.touched.map((t, i) => `${asText(`t.${quoteIdent(t.column)}`, 'dateTime')} AS u${i}`),
  ];
  return `SELECT ${columns.join(', ')} FROM ${tableName(entity)} t WHERE ${keyWhere(entity)}`;
}

/** An append key's events in the table: `n` how many, `last` the highest sequence number (null: none). */
export function inspectEventsSql(entity: ResolvedEntity): string {
  const sequence = quoteIdent(entity.versionColumn);
  return `SELECT count(*)::text AS n, max(t.${sequence})::text AS last FROM ${tableName(entity)} t WHERE ${keyWhere(entity)}`;
}

/** A key's tombstone: `v` its version, `at` when it was written (epoch ms). Parameters: $1 entity, $2 canonical id. */
export function inspectTombstoneSql(tombstoneTable: string): string {
  const table = quoteIdent(tombstoneTable);
  return `SELECT version::text AS v, ${asText('deleted_at', 'dateTime')} AS at FROM ${table} WHERE entity = $1 AND key = $2`;
}
