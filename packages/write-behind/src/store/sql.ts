import type { FieldKind } from '../schema/fields.js';
import type { ColumnType, ResolvedEntity, ResolvedField } from '../schema/resolve.js';
import { quoteIdent } from '../util.js';
import type { StoreForeignKey } from './store.js';

/*
 * SQL text for the batched statements, built from a resolved entity. Pure: no I/O, unit-tested.
 * Rows travel as one array parameter per column through `unnest`, so a statement has a fixed, small number
 * of parameters however many rows it carries (a VALUES list would hit PostgreSQL's 65,535 limit). Every
 * statement starts with `$1` the canonical ids (text, as the tombstone table keeps them) and `$2` the
 * versions; then one array per key column that is not `$1` itself; then one per field; then the entity name.
 */

export { quoteIdent };

export function tableName(entity: { table: string; schema?: string }): string {
  return entity.schema
    ? `${quoteIdent(entity.schema)}.${quoteIdent(entity.table)}`
    : quoteIdent(entity.table);
}

/**
 * How each key column is reached in `unnest`'s output: a text key of one column is the canonical id
 * itself (`u.id`); any other key column has an array of its own, cast to its type.
 */
interface KeyColumn {
  column: string;
  /** The alias in `unnest ... AS u(...)`. */
  alias: string;
  /** The array parameter, when the column has one. */
  param?: string;
}

function keyColumns(entity: ResolvedEntity, firstParam: number): KeyColumn[] {
  let next = firstParam;
  return entity.key.map((part, i) => {
    if (!entity.compositeKey && part.kind === 'string') return { column: part.column, alias: 'id' };
    return { column: part.column, alias: `k${i}`, param: `$${next++}::${part.type.sql}[]` };
  });
}

/** The key parameters' count: what `keyColumns` adds after `$1` and `$2`. */
export function keyParamCount(entity: ResolvedEntity): number {
  return entity.compositeKey || entity.key[0]?.kind !== 'string' ? entity.key.length : 0;
}

/** What `@updatedAt` columns are set to: the flush's time, as Prisma stores it (UTC wall time without a zone). */
function nowFor(type: ColumnType): string {
  if (type.sql === 'date') return "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')::date";
  if (type.sql.includes('with time zone')) return 'CURRENT_TIMESTAMP';
  return "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')";
}

/**
 * `unnest(...) AS u(id, [v,] key aliases..., extra aliases...)`: ids in `$1`, versions in `$2` when the
 * statement has them, then the key arrays.
 */
function unnestSource(
  entity: ResolvedEntity,
  withVersions: boolean,
  extra: { alias: string; param: string }[],
): string {
  const keys = keyColumns(entity, withVersions ? 3 : 2).filter((k) => k.param);
  const head = withVersions ? ['$1::text[]', '$2::bigint[]'] : ['$1::text[]'];
  const params = [...head, ...keys.map((k) => k.param), ...extra.map((e) => e.param)];
  const aliases = [
    ...(withVersions ? ['id', 'v'] : ['id']),
    ...keys.map((k) => k.alias),
    ...extra.map((e) => e.alias),
  ];
  return `unnest(${params.join(', ')}) AS u(${aliases.join(', ')})`;
}

function keyMatch(entity: ResolvedEntity, alias: string): string {
  return keyColumns(entity, 0)
    .map((k) => `${alias}.${quoteIdent(k.column)} = u.${k.alias}`)
    .join(' AND ');
}

/**
 * The parameters shared by the upsert and the append: $1 and $2, the key arrays from $3, then one array per
 * field; and the columns the flush sets to now().
 */
function rowParams(entity: ResolvedEntity, columns: readonly ResolvedField[] = entity.fields) {
  const keys = keyColumns(entity, 3);
  const firstField = 3 + keyParamCount(entity);
  const fields = columns.map((f, i) => ({
    column: quoteIdent(f.column),
    alias: `c${i}`,
    param: `$${firstField + i}::${f.type.sql}[]`,
  }));
  const touched = entity.touched.map((t) => ({ column: quoteIdent(t.column), value: nowFor(t.type) }));
  return { keys, firstField, fields, touched };
}

/** Parameters: $1 ids, $2 versions, key arrays, one array per field, then the entity name. */
export function upsertSql(entity: ResolvedEntity, tombstoneTable: string): string {
  const table = tableName(entity);
  const version = quoteIdent(entity.versionColumn);
  const { keys, firstField, fields, touched } = rowParams(entity);
  const entityParam = `$${firstField + fields.length}`;
  const insertColumns = [...keys.map((k) => quoteIdent(k.column)), version, ...fields.map((f) => f.column)];
  const selected = [...keys.map((k) => `u.${k.alias}`), 'u.v', ...fields.map((f) => `u.${f.alias}`)];
  const updates = [version, ...fields.map((f) => f.column)].map((c) => `${c} = EXCLUDED.${c}`);
  return [
    `INSERT INTO ${table} (${[...insertColumns, ...touched.map((t) => t.column)].join(', ')})`,
    `SELECT ${[...selected, ...touched.map((t) => t.value)].join(', ')}`,
    `FROM ${unnestSource(entity, true, fields)}`,
    `WHERE NOT EXISTS (SELECT 1 FROM ${quoteIdent(tombstoneTable)} tb WHERE tb.entity = ${entityParam} AND tb.key = u.id AND tb.version >= u.v)`,
    `ON CONFLICT (${keys.map((k) => quoteIdent(k.column)).join(', ')}) DO UPDATE SET ${[...updates, ...touched.map((t) => `${t.column} = ${t.value}`)].join(', ')}`,
    `WHERE ${table}.${version} < EXCLUDED.${version}`,
  ].join('\n');
}

/**
 * The fields a delta upsert writes (see {@link deltaSql}): the counters, then the fields with a declared
 * default (a row it inserts takes them).
 */
export function deltaColumns(entity: ResolvedEntity): ResolvedField[] {
  return [
    ...entity.fields.filter((f) => f.kind === 'counter'),
    ...entity.fields.filter(
      (f) => f.kind !== 'counter' && (f.encodedDefault !== undefined || f.dynamicDefault !== undefined),
    ),
  ];
}

/** A counter's default as SQL (a safe integer: `0` unless the schema says otherwise). */
function counterDefault(field: ResolvedField | undefined): string {
  return String(Number(field?.encodedDefault ?? 0));
}

/**
 * Sums added to counters (`cache.add` on keys the cache held partly). Parameters: $1 ids, $2 versions, key
 * arrays, one array per column of {@link deltaColumns} (the counters' sums, then the defaults), then the
 * entity name. A row that is there gets `counter = counter + sum` and the version, if its version is older; a
 * row that is not is inserted with the sums, the declared defaults and the database's own defaults.
 */
export function deltaSql(entity: ResolvedEntity, tombstoneTable: string): string {
  const table = tableName(entity);
  const version = quoteIdent(entity.versionColumn);
  const columns = deltaColumns(entity);
  const { keys, firstField, fields, touched } = rowParams(entity, columns);
  const entityParam = `$${firstField + fields.length}`;
  const isCounter = (i: number) => columns[i]?.kind === 'counter';
  // A row inserted starts each counter at its default; an update adds the sum alone (EXCLUDED holds the
  // inserted value, the default included).
  const insertColumns = [...keys.map((k) => quoteIdent(k.column)), version, ...fields.map((f) => f.column)];
  const selected = [
    ...keys.map((k) => `u.${k.alias}`),
    'u.v',
    ...fields.map((f, i) =>
      isCounter(i) && counterDefault(columns[i]) !== '0'
        ? `u.${f.alias} + ${counterDefault(columns[i])}`
        : `u.${f.alias}`,
    ),
  ];
  const updates = [
    ...fields.flatMap((c, i) => {
      if (!isCounter(i)) return [];
      const shift = counterDefault(columns[i]) === '0' ? '' : ` - ${counterDefault(columns[i])}`;
      return [`${c.column} = ${table}.${c.column} + EXCLUDED.${c.column}${shift}`];
    }),
    `${version} = EXCLUDED.${version}`,
    ...touched.map((t) => `${t.column} = ${t.value}`),
  ];
  return [
    `INSERT INTO ${table} (${[...insertColumns, ...touched.map((t) => t.column)].join(', ')})`,
    `SELECT ${[...selected, ...touched.map((t) => t.value)].join(', ')}`,
    `FROM ${unnestSource(entity, true, fields)}`,
    `WHERE NOT EXISTS (SELECT 1 FROM ${quoteIdent(tombstoneTable)} tb WHERE tb.entity = ${entityParam} AND tb.key = u.id AND tb.version >= u.v)`,
    `ON CONFLICT (${keys.map((k) => quoteIdent(k.column)).join(', ')}) DO UPDATE SET ${updates.join(', ')}`,
    `WHERE ${table}.${version} < EXCLUDED.${version}`,
  ].join('\n');
}

/** Parameters: $1 ids, $2 versions, key arrays, then the entity name. The delete and its tombstone commit together. */
export function deleteSql(entity: ResolvedEntity, tombstoneTable: string): string {
  const table = tableName(entity);
  const tomb = quoteIdent(tombstoneTable);
  const entityParam = `$${3 + keyParamCount(entity)}`;
  return [
    `WITH u AS (SELECT * FROM ${unnestSource(entity, true, [])}),`,
    `d AS (DELETE FROM ${table} t USING u WHERE ${keyMatch(entity, 't')} AND t.${quoteIdent(entity.versionColumn)} < u.v)`,
    `INSERT INTO ${tomb} (entity, key, version) SELECT ${entityParam}, u.id, u.v FROM u`,
    `ON CONFLICT (entity, key) DO UPDATE SET version = EXCLUDED.version, deleted_at = CURRENT_TIMESTAMP WHERE ${tomb}.version < EXCLUDED.version`,
  ].join('\n');
}

/** A column as text; dates as epoch milliseconds (a `timestamp` without a zone counts as UTC, as Prisma writes it). */
function selectText(column: string, kind: FieldKind): string {
  if (kind === 'dateTime') return `floor(extract(epoch from ${column}) * 1000)::int8::text`;
  return `${column}::text`;
}

/**
 * Parameters: $1 ids, key arrays, then the entity name. One row per id asked for: `r` is null when there is
 * no row, `tv` the tombstone's version.
 */
export function loadSql(entity: ResolvedEntity, tombstoneTable: string): string {
  const columns = entity.fields.map((f, i) => `${selectText(`t.${quoteIdent(f.column)}`, f.kind)} AS c${i}`);
  const entityParam = `$${2 + keyParamCount(entity)}`;
  return [
    `SELECT u.id, t.${quoteIdent(entity.versionColumn)}::text AS r, tb.version::text AS tv${columns.map((c) => `, ${c}`).join('')}`,
    `FROM ${unnestSource(entity, false, [])}`,
    `LEFT JOIN ${tableName(entity)} t ON ${keyMatch(entity, 't')}`,
    `LEFT JOIN ${quoteIdent(tombstoneTable)} tb ON tb.entity = ${entityParam} AND tb.key = u.id`,
  ].join('\n');
}

/**
 * An append entity's events. Parameters: $1 the keys' canonical ids (one per event), $2 the events' sequence
 * numbers, key arrays, then the events as one JSON array of their Redis forms (each a JSON array of its
 * fields' stored forms: `schema/event-codec.ts`), which PostgreSQL decodes (see {@link storedValueSql}): the
 * worker sends the events as Redis holds them, with no per-field work of its own. With `skipExisting`, a row
 * already there (a replayed flush) is left alone; without, it fails the statement with a unique violation.
 */
export function appendSql(entity: ResolvedEntity, skipExisting: boolean): string {
  const keys = keyColumns(entity, 3);
  const own = keys.filter((k) => k.param);
  const events = `$${3 + own.length}::jsonb`;
  const sequence = quoteIdent(entity.versionColumn);
  const unique = [...keys.map((k) => quoteIdent(k.column)), sequence];
  const touched = entity.touched.map((t) => ({ column: quoteIdent(t.column), value: nowFor(t.type) }));
  const sources = [
    'unnest($1::text[])',
    'unnest($2::bigint[])',
    ...own.map((k) => `unnest(${k.param})`),
    `jsonb_array_elements(${events})`,
  ];
  const aliases = ['id', 'v', ...own.map((k) => k.alias), 'e'];
  const values = entity.fields.map((f, i) => storedValueSql(f, `(u.e->>${i})`));
  return [
    `INSERT INTO ${tableName(entity)} (${[...unique, ...entity.fields.map((f) => quoteIdent(f.column)), ...touched.map((t) => t.column)].join(', ')})`,
    `SELECT ${[...keys.map((k) => `u.${k.alias}`), 'u.v', ...values, ...touched.map((t) => t.value)].join(', ')}`,
    `FROM ROWS FROM (${sources.join(', ')}) AS u(${aliases.join(', ')})`,
    ...(skipExisting ? [`ON CONFLICT (${unique.join(', ')}) DO NOTHING`] : []),
  ].join('\n');
}

/**
 * SQL that turns a field's stored form (`codec.ts`: a tag, then the value's text; `z` null; a counter's bare
 * number), held in the text expression `stored`, into the column's value: what casting
 * `storedToSqlText(field, stored)` to the column's type gives (a test checks every kind and column type
 * against PostgreSQL). A date is epoch milliseconds, added to the epoch as whole days and milliseconds, exact
 * over the whole range and free of the session's time zone.
 */
export function storedValueSql(field: ResolvedField, stored: string): string {
  const type = field.type.sql;
  if (field.kind === 'counter') return `${stored}::${type}`;
  const body = `substr(${stored}, 2)`;
  let value = body;
  if (field.kind === 'boolean') value = `(${stored} = 'b1')`;
  else if (field.kind === 'dateTime') {
    const ms = `${body}::bigint`;
    const utc = `(timestamp '1970-01-01' + (${ms} / 86400000) * interval '1 day' + (${ms} % 86400000) * interval '1 millisecond')`;
    value = type.includes('with time zone') ? `(${utc} AT TIME ZONE 'UTC')` : utc;
  } else if (field.kind === 'enum') {
    const renamed = [...(field.type.enum?.toDb ?? [])].filter(([name, label]) => name !== label);
    if (renamed.length > 0) {
      const when = renamed.map(([name, label]) => `WHEN ${quoteLiteral(name)} THEN ${quoteLiteral(label)}`);
      value = `(CASE ${body} ${when.join(' ')} ELSE ${body} END)`;
    }
  }
  const cast = `${value}::${type}`;
  return field.nullable ? `(CASE WHEN ${stored} = 'z' THEN NULL ELSE ${cast} END)` : cast;
}

/** A string as an SQL literal. */
function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * The highest sequence number stored for each key of an append entity, as `r` (null when the key has none).
 * Parameters: $1 ids, then key arrays. Uses the unique index on the key and the sequence.
 */
export function appendLoadSql(entity: ResolvedEntity): string {
  return [
    `SELECT u.id, (SELECT max(t.${quoteIdent(entity.versionColumn)}) FROM ${tableName(entity)} t WHERE ${keyMatch(entity, 't')})::text AS r`,
    `FROM ${unnestSource(entity, false, [])}`,
  ].join('\n');
}

/**
 * Parameters: the key columns of the last row of the previous page (none for the first page), then the page
 * size. The rows' key columns as text (`k0`, `k1`, ...), in key order: keyset pagination over the key's
 * unique index, which stays cheap however deep the page.
 */
export function scanSql(entity: ResolvedEntity, firstPage: boolean): string {
  const columns = entity.key.map((part) => `t.${quoteIdent(part.column)}`);
  const after = entity.key.map((part, i) => `$${i + 1}::${part.type.sql}`);
  return [
    `SELECT ${columns.map((c, i) => `${c}::text AS k${i}`).join(', ')} FROM ${tableName(entity)} t`,
    ...(firstPage ? [] : [`WHERE (${columns.join(', ')}) > (${after.join(', ')})`]),
    `ORDER BY ${columns.join(', ')}`,
    `LIMIT $${firstPage ? 1 : after.length + 1}::int`,
  ].join('\n');
}

/**
 * Which parent keys have no row in the parent table. Parameters: one array per column of the foreign key, in
 * its order. Returns `i`, the 1-based position of each key asked for that has no parent row.
 */
export function missingParentsSql(fk: StoreForeignKey): string {
  const params = fk.types.map((type, i) => `$${i + 1}::${type.sql}[]`);
  const aliases = fk.types.map((_, i) => `c${i}`);
  const match = fk.parent.columns.map((column, i) => `p.${quoteIdent(column)} = u.c${i}`).join(' AND ');
  return [
    `SELECT u.i::int AS i FROM unnest(${params.join(', ')}) WITH ORDINALITY AS u(${aliases.join(', ')}, i)`,
    `WHERE NOT EXISTS (SELECT 1 FROM ${tableName(fk.parent)} p WHERE ${match})`,
  ].join('\n');
}

/**
 * The key columns (`k0`, `k1`, ... as text) of child rows whose foreign key holds one parent key. Parameters:
 * one per column of the foreign key, in its order, then the most rows to return.
 */
export function referencingRowsSql(fk: StoreForeignKey): string {
  const match = fk.child.columns
    .map((column, i) => `t.${quoteIdent(column)} = $${i + 1}::${(fk.types[i] as ColumnType).sql}`)
    .join(' AND ');
  return [
    `SELECT ${fk.child.keyColumns.map((column, i) => `t.${quoteIdent(column)}::text AS k${i}`).join(', ')}`,
    `FROM ${tableName(fk.child)} t WHERE ${match}`,
    `LIMIT $${fk.types.length + 1}::int`,
  ].join('\n');
}

export function purgeTombstonesSql(tombstoneTable: string): string {
  return `DELETE FROM ${quoteIdent(tombstoneTable)} WHERE deleted_at < CURRENT_TIMESTAMP - $1::bigint * interval '1 millisecond'`;
}

/**
 * One column of a batch as a PostgreSQL array literal (`{"a","b",NULL}`), sent as a single text parameter and
 * cast by the statement (`$1::text[]`). Building the literal here is one string join per column, where an
 * array parameter costs the client libraries a conversion per element. Quoted elements keep any content
 * (commas, braces, the word NULL, an empty string) one element; numbers and booleans need no quotes.
 */
export function arrayLiteral(values: readonly (string | null)[], quoted: boolean): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) parts[i] = arrayElement(values[i] ?? null, quoted);
  return `{${parts.join(',')}}`;
}

/** One element of an {@link arrayLiteral}. */
export function arrayElement(value: string | null, quoted: boolean): string {
  if (value === null) return 'NULL';
  return quoted ? `"${value.replace(/["\\]/g, '\\$&')}"` : value;
}

/** Whether a kind's values need quoting in an array literal. */
export function needsQuotes(kind: FieldKind): boolean {
  return !(
    kind === 'counter' ||
    kind === 'integer' ||
    kind === 'number' ||
    kind === 'boolean' ||
    kind === 'decimal'
  );
}
