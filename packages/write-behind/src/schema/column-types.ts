/*
 * What the cache knows of PostgreSQL and Prisma types: the column type Prisma Migrate creates for each Prisma
 * scalar and native type, which types each field kind and key kind may have, the ranges and limits a value
 * must respect to be stored unchanged, and how a Prisma `@default` reads. Tables only, and pure functions
 * over them; `resolve.ts` uses them to resolve a definition.
 */

import { quoteIdent } from '../util.js';
import type { FieldKind, FieldSpec, KeyKind } from './fields.js';
import type { PrismaEnum, PrismaField } from './prisma-schema.js';

/** A column's PostgreSQL type. */
export interface ColumnType {
  /** As `format_type()` prints it (`integer`, `numeric(10,2)`, …); for an enum, its quoted type name. */
  sql: string;
  /** For an enum column: its type name and the Prisma value names mapped to their database labels. */
  enum?: { dbName: string; toDb: ReadonlyMap<string, string>; fromDb: ReadonlyMap<string, string> };
}

/** A default the cache makes for each record it creates (see `ResolvedField.dynamicDefault`). */
export type DynamicDefault =
  | { name: 'now' }
  | { name: 'uuid'; version: 4 | 7 }
  | { name: 'nanoid'; size: number };

/** Prisma defaults the database applies: a declared field with one cannot be created by the cache. */
const DATABASE_DEFAULTS = new Set(['autoincrement', 'dbgenerated', 'sequence']);

/** The cache's reading of a field's Prisma `@default`, or why it cannot use it. */
export function prismaDefault(
  field: PrismaField,
): { value: unknown } | { dynamic: DynamicDefault } | { unusable: string } | undefined {
  const fallback = field.default;
  if (!fallback) return undefined;
  if (fallback.kind === 'value') {
    const { value } = fallback;
    switch (field.type) {
      case 'Int':
      case 'BigInt':
      case 'Float':
        return { value: Number(value) };
      case 'Decimal':
        return { value: String(value) };
      case 'Json':
        return { value: typeof value === 'string' ? JSON.parse(value) : value };
      default:
        return { value };
    }
  }
  const args = fallback.args;
  if (fallback.name === 'now') return { dynamic: { name: 'now' } };
  if (fallback.name === 'uuid')
    return { dynamic: { name: 'uuid', version: Number(args[0] ?? 4) === 7 ? 7 : 4 } };
  if (fallback.name === 'nanoid') return { dynamic: { name: 'nanoid', size: Number(args[0] ?? 21) } };
  if (DATABASE_DEFAULTS.has(fallback.name)) {
    return {
      unusable: `its @default(${fallback.name}(...)) is made by the database, which the cache cannot know when it creates a record: leave the field out of the entity's fields (the cache never writes undeclared columns, so PostgreSQL fills it)`,
    };
  }
  // cuid(), ulid() and others: Prisma Client makes them; the field must then be named when a record is created.
  return undefined;
}

/** What a JavaScript number holds exactly: the range of `BigInt` columns here. */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;
export const INT_RANGES: Record<string, [number, number]> = {
  smallint: [-32_768, 32_767],
  integer: [-2_147_483_648, 2_147_483_647],
  bigint: [-MAX_SAFE, MAX_SAFE],
};

/** Types the cache can hold, per field kind, as `format_type()` prints them (a prefix for parametrised ones). */
export const KIND_TYPES: Record<FieldKind, string[]> = {
  counter: ['smallint', 'integer', 'bigint'],
  integer: ['smallint', 'integer', 'bigint'],
  number: ['double precision', 'real'],
  decimal: ['numeric'],
  string: ['text', 'character varying', 'character', 'uuid'],
  boolean: ['boolean'],
  dateTime: ['timestamp', 'date'],
  json: ['jsonb', 'json'],
  enum: [],
};
export const KEY_TYPES: Record<KeyKind, string[]> = {
  string: ['text', 'character varying', 'character'],
  int: ['smallint', 'integer'],
  bigint: ['bigint'],
  uuid: ['uuid'],
};

/** Which Prisma scalar types each field kind maps to. */
export const KIND_PRISMA_TYPES: Record<FieldKind, string[]> = {
  counter: ['Int', 'BigInt'],
  integer: ['Int', 'BigInt'],
  number: ['Float'],
  decimal: ['Decimal'],
  string: ['String'],
  boolean: ['Boolean'],
  dateTime: ['DateTime'],
  json: ['Json'],
  enum: [],
};
export const KIND_BUILDER: Record<FieldKind, string> = {
  counter: 'counter()',
  integer: 'integer()',
  number: 'number()',
  decimal: 'decimal()',
  string: 'string()',
  boolean: 'boolean()',
  dateTime: 'dateTime()',
  json: 'json()',
  enum: 'enumeration([...])',
};
export const PRISMA_TYPE_KIND: Record<string, FieldKind> = {
  Int: 'integer',
  BigInt: 'integer',
  Float: 'number',
  Decimal: 'decimal',
  String: 'string',
  Boolean: 'boolean',
  DateTime: 'dateTime',
  Json: 'json',
};

/**
 * The PostgreSQL type Prisma Migrate creates for a scalar field, by Prisma type and native type attribute
 * (`''`: none), as `format_type()` prints it. A native type not listed is one the cache cannot hold.
 */
export const COLUMN_TYPES: Record<string, Record<string, (args: readonly string[]) => string>> = {
  String: {
    '': () => 'text',
    Text: () => 'text',
    VarChar: ([n]) => (n ? `character varying(${n})` : 'character varying'),
    Char: ([n = '1']) => `character(${n})`,
    Uuid: () => 'uuid',
  },
  Int: { '': () => 'integer', Integer: () => 'integer', SmallInt: () => 'smallint' },
  BigInt: { '': () => 'bigint', BigInt: () => 'bigint' },
  Float: { '': () => 'double precision', DoublePrecision: () => 'double precision', Real: () => 'real' },
  Decimal: { '': () => 'numeric(65,30)', Decimal: ([p = '65', s = '0']) => `numeric(${p},${s})` },
  Boolean: { '': () => 'boolean', Boolean: () => 'boolean' },
  DateTime: {
    '': () => 'timestamp(3) without time zone',
    Timestamp: ([p = '3']) => `timestamp(${p}) without time zone`,
    Timestamptz: ([p = '3']) => `timestamp(${p}) with time zone`,
    Date: () => 'date',
  },
  Json: { '': () => 'jsonb', JsonB: () => 'jsonb', Json: () => 'json' },
};

/** The PostgreSQL type Prisma Migrate creates for a field, or an error message. */
export function prismaColumnType(
  field: PrismaField,
  enums: ReadonlyMap<string, PrismaEnum>,
): ColumnType | string {
  const scalar = COLUMN_TYPES[field.type];
  if (scalar) {
    const native = field.native;
    const type = scalar[native?.name ?? ''];
    return type ? { sql: type(native?.args ?? []) } : `${field.type} @db.${native?.name} is not supported`;
  }
  const prismaEnum = enums.get(field.type);
  if (prismaEnum) {
    const dbName = prismaEnum.dbName ?? prismaEnum.name;
    const toDb = new Map(prismaEnum.values.map((v) => [v.name, v.dbName ?? v.name]));
    return {
      // A type name, as a cast needs it: quoted, and qualified when the enum has a schema of its own.
      sql: prismaEnum.schema ? `${quoteIdent(prismaEnum.schema)}.${quoteIdent(dbName)}` : quoteIdent(dbName),
      enum: { dbName, toDb, fromDb: new Map([...toDb].map(([name, label]) => [label, name])) },
    };
  }
  return `${field.type} is not a type the cache can hold`;
}

/** The type a column gets when no Prisma schema says otherwise (a store of your own). */
export function defaultColumnType(kind: FieldKind): ColumnType {
  const sql: Record<FieldKind, string> = {
    counter: 'bigint',
    integer: 'bigint',
    number: 'double precision',
    decimal: 'numeric',
    string: 'text',
    boolean: 'boolean',
    dateTime: 'timestamp(3) without time zone',
    json: 'jsonb',
    enum: 'text',
  };
  return { sql: sql[kind] };
}

export function defaultKeyType(kind: KeyKind): ColumnType {
  return { sql: { string: 'text', int: 'integer', bigint: 'bigint', uuid: 'uuid' }[kind] };
}

/** Whether `sql` (as format_type prints it) is one of `allowed`, a parametrised type matching by its base. */
export function typeMatches(sql: string, allowed: readonly string[]): boolean {
  return allowed.some(
    (a) => sql === a || sql.startsWith(`${a}(`) || (a === 'timestamp' && sql.startsWith(a)),
  );
}

export function limitsOf(kind: FieldKind, type: ColumnType, spec: FieldSpec): Partial<FieldLimits> {
  const sql = type.sql;
  if (kind === 'counter' || kind === 'integer') {
    const [min, max] = INT_RANGES[sql] ?? [-MAX_SAFE, MAX_SAFE];
    return { min, max };
  }
  if (kind === 'string') {
    const declared = spec.maxLength;
    const columnLimit = /\((\d+)\)$/.exec(sql)?.[1];
    const limits = [declared, columnLimit === undefined ? undefined : Number(columnLimit)].filter(
      (n): n is number => n !== undefined,
    );
    const out: Partial<FieldLimits> = { uuid: sql === 'uuid' };
    if (limits.length > 0) out.maxLength = Math.min(...limits);
    return out;
  }
  if (kind === 'decimal') {
    const match = /^numeric\((\d+),(\d+)\)$/.exec(sql);
    return match ? { precision: Number(match[1]), scale: Number(match[2]) } : {};
  }
  if (kind === 'number') return { float4: sql === 'real' };
  return {};
}

export const KEY_PRISMA: Record<KeyKind, (f: PrismaField) => boolean> = {
  string: (f) => f.type === 'String' && f.native?.name !== 'Uuid',
  uuid: (f) => f.type === 'String' && f.native?.name === 'Uuid',
  int: (f) => f.type === 'Int',
  bigint: (f) => f.type === 'BigInt',
};

/** The types each field kind and key kind may have in the database, for the live check. */
export const ALLOWED_TYPES = { fields: KIND_TYPES, keys: KEY_TYPES };

/** The limits `limitsOf` sets on a resolved field. */
export interface FieldLimits {
  /** Integers and counters: the column's range, within what a JavaScript number holds exactly. */
  min: number;
  max: number;
  /** Strings: the longest value, in characters (the smaller of the declared and the column's limit). */
  maxLength?: number;
  /** Strings in a `uuid` column must be UUIDs. */
  uuid: boolean;
  /** Decimals: digits in all and after the point. */
  precision?: number;
  scale?: number;
  /** Floats in a `real` column: single precision's range. */
  float4: boolean;
}
