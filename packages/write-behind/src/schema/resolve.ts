import { ConfigurationError } from '../errors.js';
import {
  type ColumnType,
  type DynamicDefault,
  defaultColumnType,
  defaultKeyType,
  type FieldLimits,
  KEY_PRISMA,
  KIND_BUILDER,
  KIND_PRISMA_TYPES,
  limitsOf,
  MAX_SAFE,
  PRISMA_TYPE_KIND,
  prismaColumnType,
  prismaDefault,
} from './column-types.js';
import { checkShape, keyPartsOf } from './definition-shape.js';
import type { EntityDefinition, EntityDefinitions, FieldKind, FieldSpec, KeyKind } from './fields.js';
import type { DataModel, PrismaField, PrismaModel } from './prisma-schema.js';
import { type ForeignKey, resolveRelations } from './relations.js';

export type { ColumnType, DynamicDefault } from './column-types.js';
export { ALLOWED_TYPES, MAX_SAFE, prismaColumnType, typeMatches } from './column-types.js';

/*
 * Turns entity definitions into what the cache and the store work with: table and column names, each
 * column's PostgreSQL type, and the limits a value must respect to be accepted by that type. With a Prisma
 * schema every name and type comes from it, and a definition that does not fit it is a ConfigurationError
 * naming the entity, the field and what was expected. The definition's own shape is checked by
 * `definition-shape.ts`, the type tables are `column-types.ts`'s. Pure: no I/O (the live database is checked
 * by the store).
 */

export interface ResolvedField extends FieldLimits {
  name: string;
  kind: FieldKind;
  column: string;
  nullable: boolean;
  type: ColumnType;
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
  /**
   * Foreign keys of its table whose columns it writes (see `relations.ts`): a row's parents, written before it
   * when the cache writes them too.
   */
  parents: ForeignKey[];
  /** Foreign keys of any table pointing at its key: children that keep its rows from being deleted. */
  children: ForeignKey[];
  /** Its depth in the relation graph: a flush writes lower depths first, and deletes higher depths first. */
  flushOrder: number;
  definition: EntityDefinition;
}

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
    parents: [],
    children: [],
    flushOrder: 0,
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
  const entities = new Map(
    Object.entries(definitions).map(([name, def]) => [
      name,
      resolveEntity(name, def, dataModel, encodeDefault),
    ]),
  );
  for (const [name, relations] of resolveRelations(entities, dataModel)) {
    Object.assign(entities.get(name) as ResolvedEntity, relations);
  }
  return entities;
}
