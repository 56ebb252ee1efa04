import { checkKeys } from '../check-keys.js';
import { ConfigurationError } from '../errors.js';
import { quoteIdent } from '../util.js';
import {
  ENTITY_KEYS,
  type EntityDefinition,
  type EntityDefinitions,
  type FieldKind,
  type FieldSpec,
  type KeyKind,
  type KeyParts,
} from './fields.js';
import type { DataModel, PrismaEnum, PrismaField, PrismaModel } from './prisma-schema.js';

/*
 * Turns entity definitions into what the cache and the store work with: table and column names, each
 * column's PostgreSQL type, and the limits a value must respect to be accepted by that type. With a Prisma
 * schema every name and type comes from it, and a definition that does not fit it is a ConfigurationError
 * naming the entity, the field and what was expected. Pure: no I/O (the live database is checked by the store).
 */

/** A column's PostgreSQL type. */
export interface ColumnType {
  /** As `format_type()` prints it (`integer`, `numeric(10,2)`, …); for an enum, its quoted type name. */
  sql: string;
  /** For an enum column: its type name and the Prisma value names mapped to their database labels. */
  enum?: { dbName: string; toDb: ReadonlyMap<string, string>; fromDb: ReadonlyMap<string, string> };
}

export interface ResolvedField {
  name: string;
  kind: FieldKind;
  column: string;
  nullable: boolean;
  type: ColumnType;
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
  /** Counters declared `ranked: true`: the cache keeps a ranking of the field in Redis. */
  ranked: boolean;
  /** Enums: the Prisma value names accepted. */
  values?: readonly string[];
  /**
   * The default, already checked and encoded for Redis (`undefined`: none): the field definition's own, else
   * a constant `@default(...)` of the Prisma schema.
   */
  encodedDefault?: string;
  /**
   * A default made anew for each record the cache creates, from the Prisma schema: `now()`, `uuid()` (v4 or
   * v7), `nanoid(size)`. Prisma Client applies these itself, so a raw insert must too.
   */
  dynamicDefault?: DynamicDefault;
  spec: FieldSpec;
}

export interface ResolvedKeyPart {
  field: string;
  column: string;
  kind: KeyKind;
  type: ColumnType;
}

export interface ResolvedEntity {
  /** The entity's name in the cache (the key of `entities`). */
  name: string;
  model: string;
  table: string;
  /** The table's schema (`@@schema`); unset: the connection's search path. */
  schema?: string;
  key: ResolvedKeyPart[];
  /**
   * For an append entity: the field and column numbering its events within a key. Its key groups events and
   * need not be unique; the key's columns and this one are.
   */
  append?: { sequenceField: string; sequenceColumn: string };
  /** True when ids are passed as objects (the key was declared with several parts). */
  compositeKey: boolean;
  /** The write-behind version's column; for an append entity, its sequence column. */
  versionColumn: string;
  fields: ResolvedField[];
  fieldsByName: ReadonlyMap<string, ResolvedField>;
  /** `@updatedAt` columns the entity does not declare: the flush sets them to its own time. */
  touched: { column: string; type: ColumnType }[];
  /** Fields without which a record cannot be created: not counters, no default, not nullable. */
  requiredFields: string[];
  definition: EntityDefinition;
}

/** A default the cache makes for each record it creates (see `ResolvedField.dynamicDefault`). */
export type DynamicDefault =
  | { name: 'now' }
  | { name: 'uuid'; version: 4 | 7 }
  | { name: 'nanoid'; size: number };

/** Prisma defaults the database applies: a declared field with one cannot be created by the cache. */
const DATABASE_DEFAULTS = new Set(['autoincrement', 'dbgenerated', 'sequence']);

/** The cache's reading of a field's Prisma `@default`, or why it cannot use it. */
function prismaDefault(
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

const NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

/** What a JavaScript number holds exactly: the range of `BigInt` columns here. */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const INT_RANGES: Record<string, [number, number]> = {
  smallint: [-32_768, 32_767],
  integer: [-2_147_483_648, 2_147_483_647],
  bigint: [-MAX_SAFE, MAX_SAFE],
};

/** Types the cache can hold, per field kind, as `format_type()` prints them (a prefix for parametrised ones). */
const KIND_TYPES: Record<FieldKind, string[]> = {
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
const KEY_TYPES: Record<KeyKind, string[]> = {
  string: ['text', 'character varying', 'character'],
  int: ['smallint', 'integer'],
  bigint: ['bigint'],
  uuid: ['uuid'],
};

/** Which Prisma scalar types each field kind maps to. */
const KIND_PRISMA_TYPES: Record<FieldKind, string[]> = {
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
const KIND_BUILDER: Record<FieldKind, string> = {
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
const PRISMA_TYPE_KIND: Record<string, FieldKind> = {
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
const COLUMN_TYPES: Record<string, Record<string, (args: readonly string[]) => string>> = {
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
function defaultColumnType(kind: FieldKind): ColumnType {
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

function defaultKeyType(kind: KeyKind): ColumnType {
  return { sql: { string: 'text', int: 'integer', bigint: 'bigint', uuid: 'uuid' }[kind] };
}

/** Whether `sql` (as format_type prints it) is one of `allowed`, a parametrised type matching by its base. */
export function typeMatches(sql: string, allowed: readonly string[]): boolean {
  return allowed.some(
    (a) => sql === a || sql.startsWith(`${a}(`) || (a === 'timestamp' && sql.startsWith(a)),
  );
}

function limitsOf(kind: FieldKind, type: ColumnType, spec: FieldSpec): Partial<ResolvedField> {
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
    const out: Partial<ResolvedField> = { uuid: sql === 'uuid' };
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

/** Checks a definition's names and shape, with or without a Prisma schema. */
function checkShape(name: string, def: EntityDefinition): void {
  if (!NAME.test(name)) {
    throw new ConfigurationError(
      `entity name ${JSON.stringify(name)} must match ${NAME} (it becomes part of Redis keys)`,
    );
  }
  if (!def || typeof def !== 'object') throw new ConfigurationError(`entities.${name} must be an object`);
  checkKeys(def, ENTITY_KEYS, '', `entities.${name}`);
  if (typeof def.model !== 'string' || def.model.length === 0) {
    throw new ConfigurationError(
      `entities.${name}.model must name a Prisma model, got ${JSON.stringify(def.model)}`,
    );
  }
  const fieldNames = Object.keys(def.fields ?? {});
  if (fieldNames.length === 0)
    throw new ConfigurationError(`entities.${name}.fields must define at least one field`);
  for (const fieldName of fieldNames) {
    if (!NAME.test(fieldName)) {
      throw new ConfigurationError(
        `entities.${name}.fields: field name ${JSON.stringify(fieldName)} must match ${NAME}`,
      );
    }
    const spec = def.fields[fieldName] as FieldSpec;
    if (!spec || typeof spec !== 'object' || !(spec.kind in KIND_TYPES)) {
      throw new ConfigurationError(
        `entities.${name}.fields.${fieldName} must be built with counter(), string(), integer(), number(), decimal(), boolean(), dateTime(), json() or enumeration()`,
      );
    }
    if (spec.kind === 'enum' && (!Array.isArray(spec.values) || spec.values.length === 0)) {
      throw new ConfigurationError(
        `entities.${name}.fields.${fieldName}: enumeration() needs at least one value`,
      );
    }
    if (spec.ranked !== undefined && spec.ranked !== false) {
      if (spec.ranked !== true || spec.kind !== 'counter') {
        throw new ConfigurationError(
          `entities.${name}.fields.${fieldName}: only a counter can be ranked (counter({ ranked: true })), got ranked ${JSON.stringify(spec.ranked)} on a ${spec.kind} field`,
        );
      }
      if (def.append !== undefined) {
        throw new ConfigurationError(
          `entities.${name}.fields.${fieldName}: an append entity cannot have a ranked field (its rows are events, not records)`,
        );
      }
    }
  }
  if (def.append !== undefined) {
    const sequence = (def.append as { sequence?: unknown } | null)?.sequence;
    if (typeof sequence !== 'string' || !NAME.test(sequence)) {
      throw new ConfigurationError(
        `entities.${name}.append must be { sequence: '<field>' } naming the BigInt field that numbers a key's events, got ${JSON.stringify(def.append)}`,
      );
    }
    if (def.versionField !== undefined) {
      throw new ConfigurationError(
        `entities.${name}: an append entity has no version field (its rows are only inserted); remove versionField`,
      );
    }
  }
  const keyFields = keyPartsOf(name, def).map((p) => p.field);
  const counterpart = def.append ? def.append.sequence : (def.versionField ?? 'version');
  for (const reserved of [...keyFields, counterpart]) {
    if (fieldNames.includes(reserved)) {
      throw new ConfigurationError(
        `entities.${name}.fields must not include ${JSON.stringify(reserved)}: it is the key or ${def.append ? 'sequence' : 'version'} field`,
      );
    }
  }
  if (def.append) {
    const counters = fieldNames.filter((f) => def.fields[f]?.kind === 'counter');
    if (counters.length > 0) {
      throw new ConfigurationError(
        `entities.${name}.fields.${counters[0]}: an append entity's rows are never updated, so it has no counters; declare it as integer()`,
      );
    }
  }
}

function keyPartsOf(name: string, def: EntityDefinition): { field: string; kind: KeyKind }[] {
  const key = def.key ?? 'id';
  if (typeof key === 'string') return [{ field: key, kind: 'string' }];
  const parts = Object.entries(key as KeyParts);
  if (parts.length === 0) throw new ConfigurationError(`entities.${name}.key must name at least one field`);
  for (const [field, kind] of parts) {
    if (!(kind in KEY_TYPES)) {
      throw new ConfigurationError(
        `entities.${name}.key.${field} must be 'string', 'int', 'bigint' or 'uuid', got ${JSON.stringify(kind)}`,
      );
    }
  }
  return parts.map(([field, kind]) => ({ field, kind }));
}

const KEY_PRISMA: Record<KeyKind, (f: PrismaField) => boolean> = {
  string: (f) => f.type === 'String' && f.native?.name !== 'Uuid',
  uuid: (f) => f.type === 'String' && f.native?.name === 'Uuid',
  int: (f) => f.type === 'Int',
  bigint: (f) => f.type === 'BigInt',
};

/** Resolves one entity against a Prisma model (`model` undefined: no Prisma schema, names as declared). */
function resolveEntity(
  name: string,
  def: EntityDefinition,
  dataModel: DataModel | undefined,
  encodeDefault: (entity: string, field: ResolvedField, value: unknown) => string,
): ResolvedEntity {
  checkShape(name, def);
  const where = `entities.${name}`;
  const model: PrismaModel | undefined = dataModel?.models.get(def.model);
  if (dataModel && !model) {
    throw new ConfigurationError(
      `${where}.model: the Prisma schema has no model ${JSON.stringify(def.model)} (models: ${[...dataModel.models.keys()].join(', ')})`,
    );
  }
  const prismaField = (fieldName: string, role: string): PrismaField | undefined => {
    if (!model) return undefined;
    const found = model.fields.find((f) => f.name === fieldName);
    if (!found) {
      throw new ConfigurationError(
        `${where}: model ${model.name} has no field ${JSON.stringify(fieldName)} (${role}); its fields: ${model.fields.map((f) => f.name).join(', ')}`,
      );
    }
    if (found.list)
      throw new ConfigurationError(
        `${where}: ${model.name}.${fieldName} is a list, which the cache cannot hold`,
      );
    return found;
  };
  const typeOf = (field: PrismaField, what: string): ColumnType => {
    const type = prismaColumnType(field, dataModel?.enums ?? new Map());
    if (typeof type === 'string') throw new ConfigurationError(`${what}: ${type}`);
    return type;
  };

  const keyParts = keyPartsOf(name, def);
  const key: ResolvedKeyPart[] = keyParts.map(({ field, kind }) => {
    const pf = prismaField(field, 'the key');
    if (!pf) return { field, column: field, kind, type: defaultKeyType(kind) };
    const expected = Object.entries(KEY_PRISMA)
      .filter(([, fits]) => fits(pf))
      .map(([k]) => k);
    if (!KEY_PRISMA[kind](pf)) {
      throw new ConfigurationError(
        `${where}.key: ${model?.name}.${field} is ${pf.type}${pf.native ? ` @db.${pf.native.name}` : ''}, which is key kind ${expected.map((k) => `'${k}'`).join(' or ') || '(none)'}, not '${kind}'` +
          (typeof def.key === 'object' ? '' : `: declare the key as { ${field}: '${expected[0] ?? 'int'}' }`),
      );
    }
    if (pf.optional)
      throw new ConfigurationError(
        `${where}.key: ${model?.name}.${field} is optional; a key field must be required`,
      );
    return { field, column: pf.dbName ?? field, kind, type: typeOf(pf, `${where}.key.${field}`) };
  });
  if (model) {
    // An append entity's rows are told apart by the key and the sequence together.
    const unique = [...keyParts.map((p) => p.field), ...(def.append ? [def.append.sequence] : [])];
    const keySet = [...unique].sort().join(',');
    const candidates = [model.primaryKey, ...model.uniques].filter((c) => c.length > 0);
    if (!candidates.some((c) => [...c].sort().join(',') === keySet)) {
      throw new ConfigurationError(
        `${where}${def.append ? '' : '.key'}: ${unique.join(', ')} is not the primary key or a unique constraint of model ${model.name} ` +
          `(its primary key: ${model.primaryKey.join(', ') || 'none'}${model.uniques.length > 0 ? `; unique: ${model.uniques.map((u) => `(${u.join(', ')})`).join(' ')}` : ''})`,
      );
    }
  }

  const versionField = def.append ? def.append.sequence : (def.versionField ?? 'version');
  const versionPrisma = prismaField(versionField, def.append ? 'the sequence field' : 'the version field');
  if (versionPrisma && (versionPrisma.type !== 'BigInt' || versionPrisma.optional)) {
    throw new ConfigurationError(
      def.append
        ? `${where}.append.sequence: ${model?.name}.${versionField} must be \`BigInt\` (it numbers a key's events), got ${versionPrisma.type}${versionPrisma.optional ? '?' : ''}`
        : `${where}.versionField: ${model?.name}.${versionField} must be \`BigInt @default(0)\` (it holds the write-behind version), got ${versionPrisma.type}${versionPrisma.optional ? '?' : ''}`,
    );
  }

  const fields: ResolvedField[] = Object.entries(def.fields).map(([fieldName, spec]) => {
    const what = `${where}.fields.${fieldName}`;
    const pf = prismaField(fieldName, `declared as ${KIND_BUILDER[spec.kind]}`);
    let type = defaultColumnType(spec.kind);
    if (pf) {
      type = typeOf(pf, what);
      const isEnum = type.enum !== undefined;
      const fits = spec.kind === 'enum' ? isEnum : KIND_PRISMA_TYPES[spec.kind].includes(pf.type);
      if (!fits) {
        const suggestion = isEnum ? KIND_BUILDER.enum : KIND_BUILDER[PRISMA_TYPE_KIND[pf.type] ?? 'string'];
        throw new ConfigurationError(
          `${what} is declared as ${KIND_BUILDER[spec.kind]}, but ${model?.name}.${fieldName} is ${pf.type}: declare it as ${spec.kind === 'counter' && pf.type !== 'Int' && pf.type !== 'BigInt' ? 'an Int or BigInt column' : suggestion}` +
            (spec.kind === 'number' && pf.type === 'Decimal'
              ? ' (a float would round the exact decimal)'
              : ''),
        );
      }
      if (spec.nullable && !pf.optional) {
        throw new ConfigurationError(
          `${what} is nullable, but ${model?.name}.${fieldName} is required (${pf.type}, not ${pf.type}?): the database would refuse null`,
        );
      }
      if (type.enum && spec.values) {
        const unknown = spec.values.filter((v) => !type.enum?.toDb.has(v));
        if (unknown.length > 0) {
          throw new ConfigurationError(
            `${what}: enum ${pf.type} has no value ${unknown.map((v) => JSON.stringify(v)).join(', ')} (its values: ${[...type.enum.toDb.keys()].join(', ')})`,
          );
        }
      }
    }
    const resolved: ResolvedField = {
      name: fieldName,
      kind: spec.kind,
      column: spec.column ?? pf?.dbName ?? fieldName,
      nullable: spec.nullable,
      type,
      min: -MAX_SAFE,
      max: MAX_SAFE,
      uuid: false,
      float4: false,
      ranked: spec.kind === 'counter' && spec.ranked === true,
      spec,
      ...limitsOf(spec.kind, type, spec),
    };
    if (spec.values) resolved.values = spec.values;
    const fromPrisma = spec.default === undefined && pf ? prismaDefault(pf) : undefined;
    if (fromPrisma && 'unusable' in fromPrisma) {
      throw new ConfigurationError(`${what}: ${model?.name}.${fieldName}: ${fromPrisma.unusable}`);
    }
    if (fromPrisma && 'dynamic' in fromPrisma) resolved.dynamicDefault = fromPrisma.dynamic;
    const constant =
      spec.default !== undefined
        ? spec.default
        : fromPrisma && 'value' in fromPrisma
          ? fromPrisma.value
          : undefined;
    if (constant !== undefined) {
      try {
        resolved.encodedDefault = encodeDefault(name, resolved, constant);
      } catch (error) {
        throw new ConfigurationError(
          `${what}.default${spec.default === undefined ? ` (from the Prisma schema's @default)` : ''}: ${(error as Error).message}`,
        );
      }
    }
    return resolved;
  });

  const touched: ResolvedEntity['touched'] = [];
  if (model) {
    const owned = new Set([...keyParts.map((p) => p.field), versionField, ...Object.keys(def.fields)]);
    for (const pf of model.fields) {
      if (owned.has(pf.name) || pf.list || dataModel?.models.has(pf.type)) continue;
      if (pf.isUpdatedAt) {
        touched.push({
          column: pf.dbName ?? pf.name,
          type: typeOf(pf, `${where}: ${model.name}.${pf.name}`),
        });
      } else if (!pf.optional && !pf.hasDefault) {
        throw new ConfigurationError(
          `${where}: ${model.name}.${pf.name} is required and has no @default, so the cache could not create a row without it: ` +
            `declare it in entities.${name}.fields, or give it a default`,
        );
      }
    }
  }

  const resolved: ResolvedEntity = {
    name,
    model: def.model,
    table: model?.dbName ?? def.model,
    key,
    compositeKey: typeof def.key === 'object' && key.length > 1,
    versionColumn: versionPrisma?.dbName ?? versionField,
    fields,
    fieldsByName: new Map(fields.map((f) => [f.name, f])),
    touched,
    requiredFields: fields
      .filter(
        (f) =>
          f.kind !== 'counter' &&
          f.encodedDefault === undefined &&
          f.dynamicDefault === undefined &&
          !f.nullable,
      )
      .map((f) => f.name),
    definition: def,
  };
  if (def.append) {
    resolved.append = { sequenceField: versionField, sequenceColumn: resolved.versionColumn };
  }
  if (model?.schema !== undefined) resolved.schema = model.schema;
  return resolved;
}

/**
 * Resolves every entity. `encodeDefault` checks and encodes a declared default (it is the codec's, passed in
 * to keep this module free of value rules).
 */
export function resolveEntities(
  definitions: EntityDefinitions,
  dataModel: DataModel | undefined,
  encodeDefault: (entity: string, field: ResolvedField, value: unknown) => string,
): Map<string, ResolvedEntity> {
  if (!definitions || typeof definitions !== 'object' || Object.keys(definitions).length === 0) {
    throw new ConfigurationError('`entities` must define at least one entity');
  }
  return new Map(
    Object.entries(definitions).map(([name, def]) => [
      name,
      resolveEntity(name, def, dataModel, encodeDefault),
    ]),
  );
}

/** The types each field kind and key kind may have in the database, for the live check. */
export const ALLOWED_TYPES = { fields: KIND_TYPES, keys: KEY_TYPES };
