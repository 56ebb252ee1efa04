import { ValidationError } from '../errors.js';
import { describeValue } from '../schema/codec.js';
import type { KeyKind } from '../schema/fields.js';
import { encodeId, keyColumnsOf } from '../schema/id-codec.js';
import type { ResolvedEntity } from '../schema/resolve.js';

/*
 * Ids as an operator types them: a key's canonical text (what job ids, Bull Board's job data and the failures
 * list show: a composite key's parts joined by `/`, `%` and `/` inside a text part percent-encoded), or its
 * parts one by one. Pure.
 */

/** A key part as an operator's form or command line needs it. */
export interface KeyPartInfo {
  field: string;
  kind: KeyKind;
}

const INTEGER = /^-?\d+$/;

/**
 * The id an operator typed, checked against the entity's key and returned as its canonical text. `id` may be
 * the canonical text (`'v1'`, `'42'`, `'a0eebc99-…/7'`) or an id as the cache's API takes it (`42`,
 * `{ orgId, userId }`). Throws a {@link ValidationError} naming the part that is wrong.
 *
 * @example
 * ```ts
 * operatorId(membership, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11/7', 512); // the same text, checked
 * operatorId(player, 'x', 512); // ValidationError: player id must be an integer from ...
 * ```
 */
export function operatorId(entity: ResolvedEntity, id: unknown, maxIdBytes: number): string {
  return encodeId(entity, typeof id === 'string' ? typedIdOf(entity, id) : id, maxIdBytes);
}

/** An id as the cache's API takes it, from its canonical text (each part checked by the key's kind). */
export function typedIdOf(entity: ResolvedEntity, text: string): unknown {
  if (entity.compositeKey && text.split('/').length !== entity.key.length) {
    throw new ValidationError(
      `${entity.name} id must have ${entity.key.length} parts joined by '/' (${entity.key.map((p) => p.field).join('/')}), got ${describeValue(text)}`,
    );
  }
  const parts = keyColumnsOf(entity, text).map((part, i) => {
    const { kind, field } = entity.key[i] as ResolvedEntity['key'][number];
    const where = entity.compositeKey ? `${entity.name} id.${field}` : `${entity.name} id`;
    if (kind !== 'int' && kind !== 'bigint') return part;
    if (!INTEGER.test(part))
      throw new ValidationError(`${where} must be an integer, got ${describeValue(part)}`);
    return kind === 'int' ? Number(part) : BigInt(part);
  });
  if (!entity.compositeKey) return parts[0];
  return Object.fromEntries(entity.key.map((part, i) => [part.field, parts[i]]));
}

/**
 * The canonical text of an id given part by part (`{ orgId: 'a0ee…', userId: '7' }`), as `encodeId` makes it,
 * unchecked: the server checks it. For command lines and forms, which know the key's parts but not its types.
 * A missing part is a {@link ValidationError}.
 */
export function canonicalIdOf(
  parts: readonly KeyPartInfo[],
  values: Readonly<Record<string, string>>,
): string {
  if (parts.length === 1) {
    const only = parts[0] as KeyPartInfo;
    const value = values[only.field];
    if (value === undefined) throw new ValidationError(`the id needs ${only.field}`);
    return only.kind === 'uuid' ? value.toLowerCase() : value;
  }
  return parts
    .map((part) => {
      const value = values[part.field];
      if (value === undefined) {
        throw new ValidationError(
          `the id needs ${parts.map((p) => p.field).join(' and ')}; ${part.field} is missing`,
        );
      }
      if (part.kind === 'string') return value.replace(/[%/]/g, (c) => (c === '%' ? '%25' : '%2F'));
      return part.kind === 'uuid' ? value.toLowerCase() : value;
    })
    .join('/');
}

/** An id's parts for JSON: a `bigint` part as its decimal text, every other as it is. */
export function jsonId(entity: ResolvedEntity, text: string): unknown {
  const typed = typedIdOf(entity, text);
  const plain = (value: unknown) => (typeof value === 'bigint' ? value.toString() : value);
  if (!entity.compositeKey) return plain(typed);
  return Object.fromEntries(Object.entries(typed as Record<string, unknown>).map(([k, v]) => [k, plain(v)]));
}
