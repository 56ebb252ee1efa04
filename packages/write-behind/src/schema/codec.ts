import { ValidationError } from '../errors.js';
import { parseIsoDate } from './iso-date.js';
import type { ResolvedEntity, ResolvedField } from './resolve.js';

/*
 * One home for a value's forms: what a write accepts (checked against the column's type, so the database
 * never refuses a value the cache acknowledged), how Redis holds it, how it reads back, and how it travels
 * to and from PostgreSQL. Pure.
 *
 * Redis form: counters are plain decimal integers (HINCRBY changes them); every other value is tagged with
 * a letter, so `null` (`z`) stays distinct from the string "null" and a reader never guesses:
 *   s<text>  n<number>  m<decimal>  b1 / b0  d<epoch ms>  j<JSON text>  e<enum value name>  z (null)
 */

/** A value as a read returns it. */
export type FieldValue = string | number | boolean | Date | null | object;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DECIMAL = /^([+-])?(\d+)(?:\.(\d+))?$/;
/** The years a `DateTime` holds here: ISO 8601 without an expanded year, as PostgreSQL reads it. */
const EARLIEST = new Date('0001-01-01T00:00:00.000Z').getTime();
const LATEST = new Date('9999-12-31T23:59:59.999Z').getTime();
const FLOAT4_MAX = 3.4028234663852886e38;
const DAY = 86_400_000;

/** A value as an error message quotes it: short, and never the whole of a long string. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Date)
    return `Date(${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()})`;
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** Text PostgreSQL can store: well-formed Unicode without U+0000 (which `text` cannot hold). */
export function checkText(where: string, value: string): void {
  if (!value.isWellFormed())
    throw new ValidationError(`${where} contains a lone surrogate (not valid Unicode)`);
  if (value.includes('\u0000')) throw new ValidationError(`${where} contains a NUL character (U+0000)`);
}

function checkInteger(where: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new ValidationError(`${where} must be an integer, got ${describeValue(value)}`);
  }
  if (value < min || value > max) {
    throw new ValidationError(`${where} is ${value}, outside the column's range ${min} to ${max}`);
  }
  return value;
}

/** An exact decimal in canonical form: no leading `+` or zeros, no trailing fractional zeros, no `-0`. */
export function canonicalDecimal(text: string): string | undefined {
  const match = DECIMAL.exec(text);
  if (!match) return undefined;
  const integer = (match[2] as string).replace(/^0+(?=\d)/, '');
  const fraction = (match[3] ?? '').replace(/0+$/, '');
  const digits = fraction ? `${integer}.${fraction}` : integer;
  return match[1] === '-' && /[1-9]/.test(digits) ? `-${digits}` : digits;
}

function checkDecimal(where: string, field: ResolvedField, value: unknown): string {
  let text: string | undefined;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'bigint') text = value.toString();
  else if (typeof value === 'number' && Number.isSafeInteger(value)) text = String(value);
  else if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { toFixed?: unknown }).toFixed === 'function'
  )
    text = (value as { toFixed(): string }).toFixed();
  else if (typeof value === 'number') {
    throw new ValidationError(
      `${where} is a decimal: pass ${describeValue(value)} as a string (a fractional JavaScript number is already rounded)`,
    );
  }
  const canonical = text === undefined ? undefined : canonicalDecimal(text.trim());
  if (canonical === undefined) {
    throw new ValidationError(`${where} must be a decimal such as "12.50", got ${describeValue(value)}`);
  }
  if (field.precision !== undefined && field.scale !== undefined) {
    const [integer = '', fraction = ''] = canonical.replace('-', '').split('.');
    const integerDigits = integer === '0' ? 0 : integer.length;
    if (fraction.length > field.scale) {
      throw new ValidationError(
        `${where} has ${fraction.length} digits after the point; column ${field.column} keeps ${field.scale} (numeric(${field.precision},${field.scale})) and would round it`,
      );
    }
    if (integerDigits > field.precision - field.scale) {
      throw new ValidationError(
        `${where} is ${canonical}, too large for column ${field.column} (numeric(${field.precision},${field.scale}) holds ${field.precision - field.scale} digits before the point)`,
      );
    }
  }
  return canonical;
}

function checkDate(where: string, value: unknown): number {
  let time = Number.NaN;
  if (value instanceof Date) time = value.getTime();
  else if (typeof value === 'string') {
    const parsed = parseIsoDate(value);
    if (typeof parsed === 'string') {
      throw new ValidationError(
        `${where} must be a valid Date or ISO 8601 string: ${describeValue(value)} ${parsed}`,
      );
    }
    time = parsed;
  }
  if (Number.isNaN(time)) {
    throw new ValidationError(
      `${where} must be a valid Date or ISO 8601 string, got ${describeValue(value)}`,
    );
  }
  if (time < EARLIEST || time > LATEST) {
    throw new ValidationError(`${where} is ${new Date(time).toISOString()}, outside the years 0001 to 9999`);
  }
  return time;
}

/**
 * A string jsonb stores unchanged, as a key or a value: PostgreSQL refuses the `\u0000` escape and lone
 * UTF-16 surrogates (22P02), which `JSON.stringify` writes as escapes, so checking its output is not enough.
 */
function checkJsonString(where: string, text: string, role: 'key' | 'string'): void {
  if (!text.isWellFormed()) {
    throw new ValidationError(
      `${where} holds a JSON ${role} with a lone surrogate (not valid Unicode), which jsonb refuses`,
    );
  }
  if (text.includes('\u0000')) {
    throw new ValidationError(
      `${where} holds a JSON ${role} with a NUL character (U+0000), which jsonb refuses`,
    );
  }
}

function checkJson(where: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (key: string, v: unknown) => {
      // The root comes with key '', as does an empty key, which is well formed anyway; array indices are digits.
      if (key !== '') checkJsonString(where, key, 'key');
      if (typeof v === 'string') checkJsonString(where, v, 'string');
      else if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`${v} is not JSON`);
      else if (typeof v === 'bigint' || typeof v === 'function' || typeof v === 'symbol')
        throw new Error(`a ${typeof v} is not JSON`);
      return v;
    });
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new ValidationError(`${where} must be a JSON value: ${(error as Error).message}`);
  }
  if (text === undefined)
    throw new ValidationError(`${where} must be a JSON value, got ${describeValue(value)}`);
  return text;
}

/**
 * Checks `value` against the field and its column and returns its Redis form. Throws a {@link ValidationError}
 * naming the entity and field for anything the database would refuse or change.
 */
export function encodeField(entity: string, field: ResolvedField, value: unknown): string {
  const where = `${entity}.${field.name}`;
  if (value === null) {
    if (field.nullable) return 'z';
    throw new ValidationError(`${where} must not be null`);
  }
  if (value === undefined) throw new ValidationError(`${where} must not be undefined`);
  switch (field.kind) {
    case 'counter':
      return String(checkInteger(where, value, field.min, field.max));
    case 'integer':
      return `n${checkInteger(where, value, field.min, field.max)}`;
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new ValidationError(`${where} must be a finite number, got ${describeValue(value)}`);
      }
      if (field.float4) {
        const single = Math.fround(value);
        if (Math.abs(value) > FLOAT4_MAX || (single === 0 && value !== 0)) {
          throw new ValidationError(
            `${where} is ${value}, outside the range of column ${field.column} (real)`,
          );
        }
        // A `real` keeps single precision: the cache holds what the column will, so every read agrees.
        return `n${single}`;
      }
      return `n${value}`;
    }
    case 'decimal':
      return `m${checkDecimal(where, field, value)}`;
    case 'boolean':
      if (typeof value !== 'boolean')
        throw new ValidationError(`${where} must be a boolean, got ${describeValue(value)}`);
      return value ? 'b1' : 'b0';
    case 'dateTime': {
      const time = checkDate(where, value);
      if (field.type.sql === 'date' && ((time % DAY) + DAY) % DAY !== 0) {
        throw new ValidationError(
          `${where} is ${new Date(time).toISOString()}, but column ${field.column} is a date and would drop the time of day: pass midnight UTC or "YYYY-MM-DD"`,
        );
      }
      return `d${time}`;
    }
    case 'json':
      return `j${checkJson(where, value)}`;
    case 'enum': {
      if (typeof value !== 'string' || !field.values?.includes(value)) {
        throw new ValidationError(
          `${where} must be one of ${field.values?.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(value)}`,
        );
      }
      return `e${value}`;
    }
    case 'string': {
      if (typeof value !== 'string')
        throw new ValidationError(`${where} must be a string, got ${describeValue(value)}`);
      checkText(where, value);
      if (field.uuid && !UUID.test(value))
        throw new ValidationError(`${where} must be a UUID, got ${describeValue(value)}`);
      // Characters, as PostgreSQL counts them; only counted when the UTF-16 length could exceed the limit.
      if (field.maxLength !== undefined && value.length > field.maxLength) {
        const characters = [...value].length;
        if (characters > field.maxLength) {
          throw new ValidationError(
            `${where} is ${characters} characters long; the limit is ${field.maxLength}${field.type.sql.includes('(') ? ` (column ${field.column} is ${field.type.sql})` : ''}`,
          );
        }
      }
      return `s${field.uuid ? value.toLowerCase() : value}`;
    }
  }
}

/** A value from its Redis form; `undefined` (not in the hash) reads as the field's default, or 0 for counters. */
export function decodeField(field: ResolvedField, raw: string | undefined): FieldValue {
  if (field.kind === 'counter') return Number(raw ?? field.encodedDefault ?? 0);
  const stored = raw ?? field.encodedDefault;
  if (stored === undefined || stored === 'z') return null;
  const body = stored.slice(1);
  switch (stored[0]) {
    case 's':
    case 'm':
    case 'e':
      return body;
    case 'b':
      return stored === 'b1';
    case 'd':
      return new Date(Number(body));
    case 'j':
      return JSON.parse(body) as FieldValue;
    default:
      return Number(body);
  }
}

/** Every field of a record from its Redis hash. */
export function decodeRecord(
  entity: ResolvedEntity,
  hash: ReadonlyMap<string, string>,
): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const field of entity.fields) out[field.name] = decodeField(field, hash.get(field.name));
  return out;
}

/**
 * A value as PostgreSQL reads it from text (an element of an array literal), or `null` for SQL NULL.
 * Dates go as UTC ISO strings: a `timestamp without time zone` column takes them as UTC wall time, as
 * Prisma stores them.
 */
export function toSqlText(field: ResolvedField, value: FieldValue | undefined): string | null {
  if (value === null || value === undefined) return null;
  switch (field.kind) {
    case 'boolean':
      return value ? 't' : 'f';
    case 'dateTime':
      return (value as Date).toISOString();
    case 'json':
      return JSON.stringify(value);
    case 'enum':
      return field.type.enum?.toDb.get(value as string) ?? (value as string);
    default:
      return String(value);
  }
}

/**
 * A value's Redis form (`undefined`: not in the hash) straight to what {@link toSqlText} makes of its decoded
 * value, without decoding it: the flush sends every field of every row, and a JSON value or a date need
 * not become an object on the way. Equal to `toSqlText(field, decodeField(field, raw))` (a unit test checks).
 */
export function storedToSqlText(field: ResolvedField, raw: string | undefined): string | null {
  if (field.kind === 'counter') return raw ?? field.encodedDefault ?? '0';
  const stored = raw ?? field.encodedDefault;
  if (stored === undefined || stored === 'z') return null;
  const body = stored.slice(1);
  switch (stored[0]) {
    case 'b':
      return stored === 'b1' ? 't' : 'f';
    case 'd':
      return new Date(Number(body)).toISOString();
    case 'e':
      return field.type.enum?.toDb.get(body) ?? body;
    default:
      // s, m, n and j: the text after the tag is the value's own text.
      return body;
  }
}

/** A value from PostgreSQL's text output (see `loadSql`: dates arrive as epoch milliseconds). */
export function fromSqlText(field: ResolvedField, text: string | null | undefined): FieldValue {
  if (text === null || text === undefined) return field.kind === 'counter' ? 0 : null;
  switch (field.kind) {
    case 'counter':
    case 'integer':
      return Number(text);
    case 'number':
      return field.float4 ? Math.fround(Number(text)) : Number(text);
    case 'decimal':
      return canonicalDecimal(text) ?? text;
    case 'boolean':
      return text === 'true' || text === 't';
    case 'dateTime':
      return new Date(Number(text));
    case 'json':
      return JSON.parse(text) as FieldValue;
    case 'enum':
      return field.type.enum?.fromDb.get(text) ?? text;
    default:
      return text;
  }
}

/**
 * The Redis form of a value read from the database (a cache fill). An integer beyond what a JavaScript number
 * holds exactly (a `BigInt` column past ±(2^53-1)) is refused: cached, it would be rewritten rounded by the
 * key's next flush, whatever field that flush was for.
 */
export function encodeLoaded(entity: string, id: string, field: ResolvedField, value: FieldValue): string {
  if (
    (field.kind === 'counter' || field.kind === 'integer') &&
    value !== null &&
    !Number.isSafeInteger(value)
  ) {
    throw new ValidationError(
      `${entity} ${JSON.stringify(id)} cannot be cached: column ${field.column} holds ${value}, beyond ±(2^53-1), which a JavaScript number cannot hold exactly`,
    );
  }
  if (field.kind === 'counter') return String(value);
  if (value === null) return 'z';
  switch (field.kind) {
    case 'string':
      return `s${value as string}`;
    case 'decimal':
      return `m${value as string}`;
    case 'boolean':
      return value ? 'b1' : 'b0';
    case 'dateTime':
      return `d${(value as Date).getTime()}`;
    case 'json':
      return `j${JSON.stringify(value)}`;
    case 'enum':
      return `e${value as string}`;
    default:
      return `n${value as number}`;
  }
}

/**
 * The fields a `set` names, checked against the entity and their columns and encoded for Redis as field/value
 * pairs; a {@link ValidationError} for values that are not an object of the entity's fields, or whose encoding
 * passes `maxBytes`.
 */
export function encodeValues(
  entity: ResolvedEntity,
  values: unknown,
  maxBytes: number,
): { pairs: string[]; named: Set<string> } {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) {
    throw new ValidationError(
      `${entity.name} values must be an object of fields, got ${describeValue(values)}`,
    );
  }
  const named = new Set(Object.keys(values));
  if (named.size === 0) throw new ValidationError(`${entity.name} set needs at least one field`);
  const pairs: string[] = [];
  let size = 0;
  for (const name of named) {
    const field = entity.fieldsByName.get(name);
    if (!field) {
      throw new ValidationError(
        `${entity.name} has no field ${JSON.stringify(name)}; fields: ${entity.fields.map((f) => f.name).join(', ')}`,
      );
    }
    const encoded = encodeField(entity.name, field, (values as Record<string, unknown>)[name]);
    size += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(encoded, 'utf8');
    pairs.push(name, encoded);
  }
  if (size > maxBytes) {
    throw new ValidationError(
      `${entity.name} write is ${size} bytes encoded; the limit is ${maxBytes} (limits.maxValueBytes)`,
    );
  }
  return { pairs, named };
}
