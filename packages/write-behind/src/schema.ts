import { ConfigurationError, ValidationError } from './errors.js';

/**
 * Field kinds. A `counter` is an integer changed by increments (and may also be set); the other kinds hold
 * a value written whole. Counters and values may be mixed in one entity (a player with a `score` counter
 * and a `name`).
 */
export type FieldKind = 'counter' | 'string' | 'integer' | 'number' | 'boolean';

interface FieldTypes {
  counter: number;
  string: string;
  integer: number;
  number: number;
  boolean: boolean;
}

export interface FieldSpec<K extends FieldKind = FieldKind, N extends boolean = boolean> {
  readonly kind: K;
  /** Column name in the table when it differs from the Prisma field name (`@map`). Resolved from Prisma when omitted. */
  readonly column?: string;
  /** Whether `null` is allowed. */
  readonly nullable: N;
  /** Value used when a record is created by a partial `set` that does not name this field. */
  readonly default?: FieldTypes[K] | null;
  /** For strings: the longest value accepted, in characters. */
  readonly maxLength?: number;
}

interface FieldOptions<K extends FieldKind, N extends boolean> {
  column?: string;
  nullable?: N;
  default?: FieldTypes[K] | (N extends true ? null : never);
  maxLength?: number;
}

function field<K extends FieldKind, N extends boolean = false>(
  kind: K,
  options: FieldOptions<K, N> = {},
): FieldSpec<K, N> {
  return { ...options, kind, nullable: (options.nullable ?? false) as N };
}

/** An integer counter (a `BigInt` or `Int` column). Missing counters read as 0. */
export const counter = (options: Omit<FieldOptions<'counter', false>, 'nullable'> = {}) =>
  field('counter', options);
export const string = <N extends boolean = false>(options?: FieldOptions<'string', N>) =>
  field('string', options);
export const integer = <N extends boolean = false>(options?: FieldOptions<'integer', N>) =>
  field('integer', options);
export const number = <N extends boolean = false>(options?: FieldOptions<'number', N>) =>
  field('number', options);
export const boolean = <N extends boolean = false>(options?: FieldOptions<'boolean', N>) =>
  field('boolean', options);

export type FieldsSpec = Record<string, FieldSpec>;

export interface EntityDefinition<F extends FieldsSpec = FieldsSpec> {
  /** The Prisma model name (e.g. `'Video'`); its table and column names are read from the Prisma client. */
  model: string;
  /** The Prisma field that is the primary key (a string column). @defaultValue `'id'` */
  key?: string;
  /** The Prisma field holding the write-behind version (a `BigInt` column). @defaultValue `'version'` */
  versionField?: string;
  /** The fields that hold the state, by Prisma field name. */
  fields: F;
}

export type EntityDefinitions = Record<string, EntityDefinition>;

type FieldValue<S> =
  S extends FieldSpec<infer K, infer N> ? FieldTypes[K] | (N extends true ? null : never) : never;

/** The state of one key, as read: every field present (counters default to 0, absent values to `null`). */
export type EntityValues<D extends EntityDefinition> = {
  [P in keyof D['fields']]: FieldValue<D['fields'][P]>;
};

/** The entity names whose definition has at least one counter field. */
export type CounterFields<D extends EntityDefinition> = {
  [P in keyof D['fields']]: D['fields'][P] extends FieldSpec<'counter'> ? P : never;
}[keyof D['fields']] &
  string;

/** A value that can be stored; used where the static type is not known. */
export type Scalar = string | number | boolean | null;

const NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

/** Largest magnitude a counter may reach: JavaScript numbers are exact only up to 2^53 - 1. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/** Checks entity definitions once, at start-up, with messages that name the entity and field. */
export function validateEntities(entities: EntityDefinitions): void {
  const names = Object.keys(entities);
  if (names.length === 0) throw new ConfigurationError('`entities` must define at least one entity');
  for (const name of names) {
    const def = entities[name] as EntityDefinition;
    if (!NAME.test(name)) {
      throw new ConfigurationError(
        `entity name ${JSON.stringify(name)} must match ${NAME} (it becomes part of Redis keys)`,
      );
    }
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
      if (spec.default !== undefined) {
        try {
          checkValue(name, fieldName, spec, spec.default);
        } catch (err) {
          throw new ConfigurationError(
            `entities.${name}.fields.${fieldName}.default: ${(err as Error).message}`,
          );
        }
      }
    }
    const reserved = [def.key ?? 'id', def.versionField ?? 'version'];
    for (const r of reserved) {
      if (fieldNames.includes(r)) {
        throw new ConfigurationError(
          `entities.${name}.fields must not include ${JSON.stringify(r)}: it is the key or version field`,
        );
      }
    }
  }
}

/** Throws a {@link ValidationError} unless `value` fits the field; returns it unchanged. */
export function checkValue(entity: string, fieldName: string, spec: FieldSpec, value: unknown): Scalar {
  const where = `${entity}.${fieldName}`;
  if (value === null) {
    if (spec.nullable) return null;
    throw new ValidationError(`${where} must not be null`);
  }
  switch (spec.kind) {
    case 'counter':
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        throw new ValidationError(
          `${where} must be an integer between -(2^53-1) and 2^53-1, got ${describe(value)}`,
        );
      }
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new ValidationError(`${where} must be a finite number, got ${describe(value)}`);
      }
      return value;
    case 'boolean':
      if (typeof value !== 'boolean')
        throw new ValidationError(`${where} must be a boolean, got ${describe(value)}`);
      return value;
    case 'string': {
      if (typeof value !== 'string')
        throw new ValidationError(`${where} must be a string, got ${describe(value)}`);
      if (spec.maxLength !== undefined && value.length > spec.maxLength) {
        throw new ValidationError(
          `${where} is ${value.length} characters long; the limit is ${spec.maxLength}`,
        );
      }
      if (!value.isWellFormed())
        throw new ValidationError(`${where} contains a lone surrogate (not valid Unicode)`);
      // PostgreSQL text cannot hold U+0000: accepted here, the value could never be flushed.
      if (value.includes('\u0000')) throw new ValidationError(`${where} contains a NUL character (U+0000)`);
      return value;
    }
  }
}

export function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/*
 * Redis encoding of values. Counters are stored as plain decimal integers so HINCRBY can change them.
 * Every other value is tagged with its type's letter, which keeps `null` distinct from the string "null"
 * and lets a reader decode without guessing.
 */
export function encodeValue(spec: FieldSpec, value: Scalar): string {
  if (spec.kind === 'counter') return String(value);
  if (value === null) return 'z';
  switch (spec.kind) {
    case 'string':
      return `s${value as string}`;
    case 'boolean':
      return value ? 'b1' : 'b0';
    default:
      return `n${String(value)}`;
  }
}

export function decodeValue(spec: FieldSpec, raw: string | undefined): Scalar {
  if (spec.kind === 'counter') return raw === undefined ? 0 : Number(raw);
  if (raw === undefined || raw === 'z') return spec.default ?? null;
  switch (raw[0]) {
    case 's':
      return raw.slice(1);
    case 'b':
      return raw === 'b1';
    default:
      return Number(raw.slice(1));
  }
}
