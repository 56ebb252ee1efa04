import { ValidationError } from '../errors.js';
import { checkText, describeValue } from './codec.js';
import type { KeyKind } from './fields.js';
import type { ResolvedEntity, ResolvedKeyPart } from './resolve.js';

/*
 * Ids as the caller passes them (a string, a number, an object for a composite key) and their canonical
 * text: the one form Redis keys, job data and the tombstone table use. Injective, so two ids never share a
 * key. A `String` key's canonical form is the id itself. Pure.
 *
 * Composite ids join their parts with `/`, in the declared order; `%` and `/` inside a text part are
 * percent-encoded, so the parts split back unambiguously.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT_RANGE: Record<string, [number, number]> = {
  smallint: [-32_768, 32_767],
  integer: [-2_147_483_648, 2_147_483_647],
};

function partText(where: string, part: ResolvedKeyPart, value: unknown): string {
  switch (part.kind) {
    case 'string': {
      if (typeof value !== 'string' || value.length === 0) {
        throw new ValidationError(
          `${where} must be a non-empty string, got ${typeof value === 'string' ? 'an empty string' : describeValue(value)}`,
        );
      }
      checkText(where, value);
      return value;
    }
    case 'uuid':
      if (typeof value !== 'string' || !UUID.test(value)) {
        throw new ValidationError(`${where} must be a UUID, got ${describeValue(value)}`);
      }
      return value.toLowerCase();
    case 'int': {
      const [min, max] = INT_RANGE[part.type.sql] ?? (INT_RANGE.integer as [number, number]);
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
        throw new ValidationError(
          `${where} must be an integer from ${min} to ${max}, got ${describeValue(value)}`,
        );
      }
      return String(value);
    }
    case 'bigint': {
      const ok =
        (typeof value === 'bigint' && value >= -(2n ** 63n) && value < 2n ** 63n) ||
        (typeof value === 'number' && Number.isSafeInteger(value));
      if (!ok)
        throw new ValidationError(
          `${where} must be a 64-bit integer (bigint or safe integer), got ${describeValue(value)}`,
        );
      return String(value);
    }
  }
}

const escapePart = (text: string) => text.replace(/[%/]/g, (c) => (c === '%' ? '%25' : '%2F'));
const unescapePart = (text: string) => text.replace(/%2F|%25/g, (c) => (c === '%25' ? '%' : '/'));

/** Checks an id and returns its canonical text, which is at most `maxBytes` UTF-8 bytes long. */
export function encodeId(entity: ResolvedEntity, id: unknown, maxBytes: number): string {
  let canonical: string;
  if (!entity.compositeKey) {
    canonical = partText(`${entity.name} id`, entity.key[0] as ResolvedKeyPart, id);
  } else {
    if (typeof id !== 'object' || id === null || Array.isArray(id)) {
      throw new ValidationError(
        `${entity.name} id must be an object with ${entity.key.map((p) => p.field).join(', ')}, got ${describeValue(id)}`,
      );
    }
    const record = id as Record<string, unknown>;
    const unknown = Object.keys(record).filter((k) => !entity.key.some((p) => p.field === k));
    if (unknown.length > 0) {
      throw new ValidationError(
        `${entity.name} id has no part ${unknown.map((k) => JSON.stringify(k)).join(', ')}; its parts: ${entity.key.map((p) => p.field).join(', ')}`,
      );
    }
    canonical = entity.key
      .map((part) => {
        const text = partText(`${entity.name} id.${part.field}`, part, record[part.field]);
        return part.kind === 'string' ? escapePart(text) : text;
      })
      .join('/');
  }
  const bytes = Buffer.byteLength(canonical, 'utf8');
  if (bytes > maxBytes) {
    throw new ValidationError(
      `${entity.name} id is ${bytes} bytes long; the limit is ${maxBytes} (limits.maxIdBytes)`,
    );
  }
  return canonical;
}

/** The key columns' values, as text, of a canonical id (the inverse of {@link encodeId}). */
export function keyColumnsOf(entity: ResolvedEntity, canonical: string): string[] {
  if (!entity.compositeKey) return [canonical];
  const texts = canonical.split('/');
  return entity.key.map((part, i) => {
    const text = texts[i] ?? '';
    return part.kind === 'string' ? unescapePart(text) : text;
  });
}

/**
 * The canonical id of a row, from its key columns as PostgreSQL prints them (`::text`) in the key's order.
 * A `uuid` column prints in lower case and an integer in decimal, as their canonical forms are.
 */
export function idFromColumns(entity: ResolvedEntity, columns: readonly string[]): string {
  if (!entity.compositeKey) return columns[0] as string;
  return entity.key
    .map((part, i) => (part.kind === 'string' ? escapePart(columns[i] as string) : (columns[i] as string)))
    .join('/');
}

/** An id as the caller passes it (a number for an `int` part, a bigint for a `bigint` one), from its canonical text. */
export function decodeId(entity: ResolvedEntity, canonical: string): unknown {
  const parts = keyColumnsOf(entity, canonical).map((text, i) => {
    const kind = (entity.key[i] as ResolvedKeyPart).kind;
    if (kind === 'int') return Number(text);
    if (kind === 'bigint') return BigInt(text);
    return text;
  });
  if (!entity.compositeKey) return parts[0];
  return Object.fromEntries(entity.key.map((part, i) => [part.field, parts[i]]));
}

/** What a key kind needs from its column type (for messages). */
export const KEY_KIND_TYPES: Record<KeyKind, string> = {
  string: 'text',
  int: 'integer',
  bigint: 'bigint',
  uuid: 'uuid',
};
