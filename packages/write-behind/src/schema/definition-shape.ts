/*
 * The shape of an entity definition, checked before any Prisma schema is consulted: its names (they become
 * parts of Redis keys), its fields built with the field functions, its key, its version or sequence field.
 */
import { checkKeys } from '../check-keys.js';
import { ConfigurationError } from '../errors.js';
import { KEY_TYPES, KIND_TYPES } from './column-types.js';
import {
  ENTITY_KEYS,
  type EntityDefinition,
  type FieldSpec,
  type KeyKind,
  type KeyParts,
  PARENT_KEYS,
} from './fields.js';

export const NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

/** Checks a definition's names and shape, with or without a Prisma schema. */
export function checkShape(name: string, def: EntityDefinition): void {
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
  checkParents(name, def);
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

export function keyPartsOf(name: string, def: EntityDefinition): { field: string; kind: KeyKind }[] {
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

/** `parents`: names, each `false` or `{ entity, fields }` (what they name is checked by `relations.ts`). */
function checkParents(name: string, def: EntityDefinition): void {
  if (def.parents === undefined) return;
  const where = `entities.${name}.parents`;
  if (def.parents === null || typeof def.parents !== 'object' || Array.isArray(def.parents)) {
    throw new ConfigurationError(
      `${where} must be an object of parents by name, got ${JSON.stringify(def.parents)}`,
    );
  }
  for (const [parentName, spec] of Object.entries(def.parents)) {
    if (!NAME.test(parentName)) {
      throw new ConfigurationError(`${where}: name ${JSON.stringify(parentName)} must match ${NAME}`);
    }
    if (spec === false) continue;
    checkKeys(spec, PARENT_KEYS, '', `${where}.${parentName}`);
    const fields = (spec as { fields?: unknown } | null)?.fields;
    if (
      typeof spec?.entity !== 'string' ||
      !Array.isArray(fields) ||
      fields.length === 0 ||
      !fields.every((f) => typeof f === 'string')
    ) {
      throw new ConfigurationError(
        `${where}.${parentName} must be { entity: '<entity>', fields: ['<field>', ...] } (the fields holding the parent's key, in its key's order) or false, got ${JSON.stringify(spec)}`,
      );
    }
  }
}
