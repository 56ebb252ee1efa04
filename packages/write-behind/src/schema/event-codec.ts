import { ValidationError } from '../errors.js';
import { decodeField, describeValue, encodeField, type FieldValue, storedToSqlText } from './codec.js';
import { makeDefault } from './defaults.js';
import type { ResolvedEntity } from './resolve.js';

/*
 * An event of an append entity, as it waits in Redis: a JSON array of its fields' Redis forms (see `codec.ts`),
 * one per field in the entity's order. Redis never looks inside; the flush decodes it into a row. Pure.
 */

/**
 * Checks an event against its entity (every field's value against its column, as `set` does) and returns
 * its Redis form. A field left out takes its default, or `null` when nullable; any other missing field, an
 * unknown one, or an event over `maxBytes` is a {@link ValidationError}.
 */
export function encodeEvent(entity: ResolvedEntity, event: unknown, maxBytes: number): string {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new ValidationError(
      `${entity.name} event must be an object of fields, got ${describeValue(event)}`,
    );
  }
  const values = event as Record<string, unknown>;
  for (const name of Object.keys(values)) {
    if (!entity.fieldsByName.has(name)) {
      throw new ValidationError(
        `${entity.name} has no field ${JSON.stringify(name)}; fields: ${entity.fields.map((f) => f.name).join(', ')}`,
      );
    }
  }
  const missing = entity.requiredFields.filter((name) => values[name] === undefined);
  if (missing.length > 0) {
    throw new ValidationError(`${entity.name} event needs ${missing.join(', ')} (no default, not nullable)`);
  }
  const encoded = entity.fields.map((field) => {
    const value = values[field.name];
    if (value !== undefined) return encodeField(entity.name, field, value);
    if (field.dynamicDefault) return encodeField(entity.name, field, makeDefault(field.dynamicDefault));
    return field.encodedDefault ?? 'z';
  });
  const text = JSON.stringify(encoded);
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) {
    throw new ValidationError(
      `${entity.name} event is ${size} bytes encoded; the limit is ${maxBytes} (limits.maxValueBytes)`,
    );
  }
  return text;
}

/** Every field of an event from its Redis form. */
export function decodeEvent(entity: ResolvedEntity, text: string): Record<string, FieldValue> {
  const encoded = JSON.parse(text) as string[];
  const out: Record<string, FieldValue> = {};
  entity.fields.forEach((field, i) => {
    out[field.name] = decodeField(field, encoded[i]);
  });
  return out;
}

/** Every field of an event from its Redis form straight to SQL text, in the entity's order (see `storedToSqlText`). */
export function eventSqlTexts(entity: ResolvedEntity, text: string): (string | null)[] {
  const encoded = JSON.parse(text) as string[];
  return entity.fields.map((field, i) => storedToSqlText(field, encoded[i]));
}
