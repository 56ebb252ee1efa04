/*
 * Relations between entities: the foreign keys of each entity's table that its rows fill (its parents), the
 * foreign keys of any table that point at an entity's key (its children), and the order a flush writes
 * entities in. Read from the Prisma schema's relation fields (`@relation(fields: [...], references: [...])`)
 * and from `parents` declarations. Pure: no I/O; `relation-graph.ts` orders the entities and finds cycles.
 */
import { ConfigurationError } from '../errors.js';
import type { StoreForeignKey } from '../store/store.js';
import type { ColumnType } from './column-types.js';
import type { KeyKind, ParentSpec } from './fields.js';
import type { DataModel, PrismaField, PrismaModel } from './prisma-schema.js';
import { findCycle, type RelationEdge, relationDepths } from './relation-graph.js';

/** Where one part of a foreign key comes from in a child's row: a part of its key, or one of its fields. */
export interface ForeignKeySource {
  from: 'key' | 'field';
  /** Index in the entity's key parts, or in its fields. */
  index: number;
}

/**
 * A foreign key: a child table's columns holding a parent table's key. Its columns are listed in one order on
 * both sides: the parent entity's key order when the parent is an entity, else the referenced columns' order.
 */
export interface ForeignKey extends StoreForeignKey {
  /** The relation's name on the child's side: its Prisma relation field, or its name under `parents`. */
  readonly name: string;
  /** The child entity, when the cache writes the child's rows. */
  readonly childEntity?: string;
  /** The child's model (for messages). */
  readonly childModel: string;
  /** The parent entity, when the cache writes the parent's rows: then the flush orders writes by this key. */
  readonly parentEntity?: string;
  /** The parent's model (for messages). */
  readonly parentModel: string;
  /** With a child entity: where each column's value comes from in its rows, in the same order. */
  readonly sources: readonly ForeignKeySource[];
  /** Whether each column holds a UUID (its canonical text is in lower case). */
  readonly uuid: readonly boolean[];
  /** `onDelete` as Prisma names it (`Restrict`, `NoAction`, `Cascade`, `SetNull`, `SetDefault`). */
  readonly onDelete: string;
  /** Declared under `parents` rather than read from the Prisma schema. */
  readonly declared: boolean;
}

/** What relations need of a resolved entity (`ResolvedEntity` has it all). */
export interface RelationEntity {
  readonly name: string;
  readonly model: string;
  readonly table: string;
  readonly schema?: string;
  readonly append?: unknown;
  readonly key: readonly {
    readonly field: string;
    readonly column: string;
    readonly kind: KeyKind;
    readonly type: ColumnType;
  }[];
  readonly fields: readonly {
    readonly name: string;
    readonly column: string;
    readonly kind: string;
    readonly nullable: boolean;
    readonly type: ColumnType;
  }[];
  readonly definition: { readonly parents?: Readonly<Record<string, ParentSpec | false>> };
}

/** An entity's relations, as `resolveRelations` finds them. */
export interface EntityRelations {
  /** Foreign keys of its table whose columns it writes: parents whose rows its rows need. */
  parents: ForeignKey[];
  /** Foreign keys of any table that point at its key: rows that keep its rows from being deleted. */
  children: ForeignKey[];
  /** Its depth in the relation graph: a flush writes lower depths first and deletes higher depths first. */
  flushOrder: number;
}

/**
 * Every entity's relations. Throws a `ConfigurationError` for a `parents` declaration that names what does
 * not exist or does not fit, and for a cycle of two or more entities (see the package README, "Relations").
 */
export function resolveRelations(
  entities: ReadonlyMap<string, RelationEntity>,
  dataModel: DataModel | undefined,
): Map<string, EntityRelations> {
  const relations = new Map<string, EntityRelations>(
    [...entities.keys()].map((name) => [name, { parents: [], children: [], flushOrder: 0 }]),
  );
  for (const entity of entities.values()) {
    const own = relations.get(entity.name) as EntityRelations;
    own.parents.push(...parentsOf(entity, entities, dataModel));
  }
  // Children: every table's foreign keys that point at an entity's key (the Prisma schema's, cached or not),
  // and the declared ones.
  const linked = new Set<ForeignKey>();
  for (const { parents } of relations.values()) {
    for (const fk of parents) {
      if (fk.parentEntity === undefined) continue;
      relations.get(fk.parentEntity)?.children.push(fk);
      linked.add(fk);
    }
  }
  if (dataModel) {
    for (const fk of uncachedChildren(entities, dataModel))
      relations.get(fk.parentEntity as string)?.children.push(fk);
  }
  const edges: RelationEdge[] = [...relations.entries()].flatMap(([child, r]) =>
    r.parents.flatMap((fk) =>
      fk.parentEntity === undefined ? [] : [{ child, parent: fk.parentEntity, name: fk.name }],
    ),
  );
  const names = [...entities.keys()];
  const cycle = findCycle(names, edges);
  if (cycle) throw cycleError(cycle, relations);
  for (const [name, depth] of relationDepths(names, edges)) {
    (relations.get(name) as EntityRelations).flushOrder = depth;
  }
  return relations;
}

function cycleError(
  cycle: readonly RelationEdge[],
  relations: ReadonlyMap<string, EntityRelations>,
): ConfigurationError {
  const path = cycle.map((e) => `${e.child}.${e.name} → ${e.parent}`).join(', ');
  // `false` takes a relation of the Prisma schema out; a declared parent is taken out by removing it (`false`
  // under its name is refused: the model has no such relation field).
  const declared = (e: RelationEdge) =>
    relations.get(e.child)?.parents.find((fk) => fk.name === e.name)?.declared === true;
  const fromSchema = cycle.find((e) => !declared(e));
  const first = cycle[0] as RelationEdge;
  const wayOut = fromSchema
    ? `e.g. \`entities.${fromSchema.child}.parents: { ${fromSchema.name}: false }\``
    : `by removing its declaration, e.g. \`entities.${first.child}.parents.${first.name}\``;
  return new ConfigurationError(
    `entities ${cycle.map((e) => e.child).join(', ')} are each other's parents (${path}): new rows of each, written ` +
      'in the same flush window, would each wait for the other to reach the database first, for ever. Take one ' +
      `relation out of the flush's ordering, ${wayOut} ` +
      '(its rows are then written without waiting for their parent, so that foreign key must accept them: ' +
      'nullable, and set once both rows are stored), or keep one of these tables out of the cache',
  );
}

/** The parent entity a relation to `model` referencing `references` points at: same model, key = references. */
function parentEntityOf(
  entities: ReadonlyMap<string, RelationEntity>,
  model: string,
  references: readonly string[],
): RelationEntity | undefined {
  const wanted = [...references].sort().join(',');
  for (const entity of entities.values()) {
    if (entity.model !== model || entity.append) continue;
    if (
      entity.key
        .map((k) => k.field)
        .sort()
        .join(',') === wanted
    )
      return entity;
  }
  return undefined;
}

/** Where `field` is in the entity's rows: a key part or a declared field; `undefined` when the cache does not write it. */
function sourceOf(entity: RelationEntity, field: string): ForeignKeySource | undefined {
  const keyIndex = entity.key.findIndex((k) => k.field === field);
  if (keyIndex >= 0) return { from: 'key', index: keyIndex };
  const fieldIndex = entity.fields.findIndex((f) => f.name === field);
  return fieldIndex >= 0 ? { from: 'field', index: fieldIndex } : undefined;
}

function columnOf(entity: RelationEntity, source: ForeignKeySource) {
  return source.from === 'key'
    ? {
        column: entity.key[source.index]?.column as string,
        type: entity.key[source.index]?.type as ColumnType,
        nullable: false,
      }
    : {
        column: entity.fields[source.index]?.column as string,
        type: entity.fields[source.index]?.type as ColumnType,
        nullable: entity.fields[source.index]?.nullable as boolean,
      };
}

function tableOf(model: PrismaModel): { table: string; schema?: string } {
  return model.schema === undefined
    ? { table: model.dbName ?? model.name }
    : { table: model.dbName ?? model.name, schema: model.schema };
}

function withSchema<T extends object>(value: T, schema: string | undefined): T & { schema?: string } {
  return schema === undefined ? value : { ...value, schema };
}

/** The key columns that name a row of `model` in messages: its primary key (or first unique). */
function namingColumns(model: PrismaModel): string[] {
  const fields = model.primaryKey.length > 0 ? model.primaryKey : (model.uniques[0] ?? []);
  return fields.map((name) => model.fields.find((f) => f.name === name)?.dbName ?? name);
}

/** An entity's parents: its model's relations whose foreign key it writes, and its declared parents. */
function parentsOf(
  entity: RelationEntity,
  entities: ReadonlyMap<string, RelationEntity>,
  dataModel: DataModel | undefined,
): ForeignKey[] {
  const where = `entities.${entity.name}.parents`;
  const declared = entity.definition.parents ?? {};
  const model = dataModel?.models.get(entity.model);
  const relationFields = (model?.fields ?? []).filter(
    (f): f is PrismaField & { relation: NonNullable<PrismaField['relation']> } =>
      f.relation !== undefined && f.relation.fields.length > 0,
  );
  const out: ForeignKey[] = [];
  for (const [name, spec] of Object.entries(declared)) {
    if (spec !== false) continue;
    if (!relationFields.some((f) => f.name === name)) {
      throw new ConfigurationError(
        `${where}.${name}: false takes a relation of the Prisma schema out of the flush's ordering, but model ${entity.model} has no relation field ${JSON.stringify(name)} holding a foreign key` +
          (relationFields.length > 0
            ? ` (its relation fields that do: ${relationFields.map((f) => f.name).join(', ')})`
            : ''),
      );
    }
  }
  const childTable = withSchema({ table: entity.table }, entity.schema);
  for (const field of relationFields) {
    if (field.name in declared) continue;
    const sources = field.relation.fields.map((f) => sourceOf(entity, f));
    // A foreign key whose columns the cache does not all write: its flush never sets them, so never breaks it.
    if (sources.some((s) => s === undefined)) continue;
    const target = dataModel?.models.get(field.type);
    if (!target) continue;
    const parent = parentEntityOf(entities, field.type, field.relation.references);
    // In the parent entity's key order when there is one (its canonical id is built in that order).
    const order = parent
      ? parent.key.map((k) => field.relation.references.indexOf(k.field))
      : field.relation.references.map((_, i) => i);
    const ordered = order.map((i) => sources[i] as ForeignKeySource);
    const columns = ordered.map((s) => columnOf(entity, s));
    const references = order.map((i) => field.relation.references[i] as string);
    const optional = field.optional || columns.some((c) => c.nullable);
    out.push({
      name: field.name,
      ...(parent ? { parentEntity: parent.name } : {}),
      parentModel: target.name,
      childEntity: entity.name,
      childModel: entity.model,
      sources: ordered,
      uuid: parent ? parent.key.map((k) => k.kind === 'uuid') : columns.map((c) => c.type.sql === 'uuid'),
      onDelete: field.relation.onDelete ?? (optional ? 'SetNull' : 'Restrict'),
      declared: false,
      types: columns.map((c) => c.type),
      child: {
        ...childTable,
        columns: columns.map((c) => c.column),
        keyColumns: entity.key.map((k) => k.column),
      },
      parent: {
        ...tableOf(target),
        columns: references.map((r) => target.fields.find((f) => f.name === r)?.dbName ?? r),
      },
    });
  }
  for (const [name, spec] of Object.entries(declared)) {
    if (spec === false) continue;
    out.push(declaredParent(entity, name, spec, entities, childTable));
  }
  return out;
}

/** Key kinds a field of each kind can hold (a foreign key's column holds the parent's key). */
const HOLDS: Record<string, readonly KeyKind[]> = {
  string: ['string', 'uuid'],
  integer: ['int', 'bigint'],
};

function declaredParent(
  entity: RelationEntity,
  name: string,
  spec: ParentSpec,
  entities: ReadonlyMap<string, RelationEntity>,
  childTable: { table: string; schema?: string },
): ForeignKey {
  const where = `entities.${entity.name}.parents.${name}`;
  const parent = entities.get(spec.entity);
  if (!parent || parent.append) {
    throw new ConfigurationError(
      `${where}.entity: ${JSON.stringify(spec.entity)} is not ${parent ? 'an entity whose rows have a key of their own (it is an append entity)' : 'an entity of this cache'} (entities: ${[
        ...entities.values(),
      ]
        .filter((e) => !e.append)
        .map((e) => e.name)
        .join(', ')})`,
    );
  }
  if (spec.fields.length !== parent.key.length) {
    throw new ConfigurationError(
      `${where}.fields: ${parent.name}'s key has ${parent.key.length} part${parent.key.length > 1 ? 's' : ''} (${parent.key.map((k) => k.field).join(', ')}), so fields must name ${parent.key.length}, in that order; got ${JSON.stringify(spec.fields)}`,
    );
  }
  const sources = spec.fields.map((field, i) => {
    const source = sourceOf(entity, field);
    if (!source) {
      throw new ConfigurationError(
        `${where}.fields: ${JSON.stringify(field)} is neither a key part nor a declared field of ${entity.name} (the cache must write the columns holding the parent's key)`,
      );
    }
    const part = parent.key[i] as RelationEntity['key'][number];
    const kind = source.from === 'key' ? entity.key[source.index]?.kind : entity.fields[source.index]?.kind;
    const fits =
      source.from === 'key'
        ? HOLDS[kind === 'int' || kind === 'bigint' ? 'integer' : 'string']?.includes(part.kind)
        : HOLDS[kind as string]?.includes(part.kind);
    if (!fits) {
      throw new ConfigurationError(
        `${where}.fields: ${entity.name}.${field} (${kind}) cannot hold ${parent.name}.${part.field}, a '${part.kind}' key part`,
      );
    }
    return source;
  });
  const columns = sources.map((s) => columnOf(entity, s));
  return {
    name,
    parentEntity: parent.name,
    parentModel: parent.model,
    childEntity: entity.name,
    childModel: entity.model,
    sources,
    uuid: parent.key.map((k) => k.kind === 'uuid'),
    onDelete: 'Restrict',
    declared: true,
    types: parent.key.map((k) => k.type),
    child: {
      ...childTable,
      columns: columns.map((c) => c.column),
      keyColumns: entity.key.map((k) => k.column),
    },
    parent: {
      ...withSchema({ table: parent.table }, parent.schema),
      columns: parent.key.map((k) => k.column),
    },
  };
}

/**
 * Foreign keys of the Prisma schema pointing at an entity's key from a model no entity writes, or from an
 * entity's model through a relation whose columns it does not write: a delete of the entity's row can still
 * fail on them (`ON DELETE RESTRICT`), and the message names their rows.
 */
function uncachedChildren(entities: ReadonlyMap<string, RelationEntity>, dataModel: DataModel): ForeignKey[] {
  const out: ForeignKey[] = [];
  for (const model of dataModel.models.values()) {
    const writer = [...entities.values()].find((e) => e.model === model.name && !e.append);
    for (const field of model.fields) {
      const relation = field.relation;
      if (!relation || relation.fields.length === 0) continue;
      const parent = parentEntityOf(entities, field.type, relation.references);
      if (!parent) continue;
      // Already among the parent's children as a parent of the entity writing this model (or replaced by a
      // declaration of the same name); one taken out of the ordering (`false`) is still a foreign key.
      const declaration = writer?.definition.parents?.[field.name];
      const written = writer !== undefined && relation.fields.every((f) => sourceOf(writer, f));
      if ((written && declaration === undefined) || (declaration !== undefined && declaration !== false))
        continue;
      const order = parent.key.map((k) => relation.references.indexOf(k.field));
      const fieldOf = (name: string) => model.fields.find((f) => f.name === name);
      const columns = order.map((i) => {
        const fkField = relation.fields[i] as string;
        return fieldOf(fkField)?.dbName ?? fkField;
      });
      const optional = field.optional;
      out.push({
        name: field.name,
        ...(writer ? { childEntity: writer.name } : {}),
        parentEntity: parent.name,
        parentModel: parent.model,
        childModel: model.name,
        sources: [],
        uuid: parent.key.map((k) => k.kind === 'uuid'),
        onDelete: relation.onDelete ?? (optional ? 'SetNull' : 'Restrict'),
        declared: false,
        types: parent.key.map((k) => k.type),
        child: {
          ...tableOf(model),
          columns,
          keyColumns: writer ? writer.key.map((k) => k.column) : namingColumns(model),
        },
        parent: {
          ...withSchema({ table: parent.table }, parent.schema),
          columns: parent.key.map((k) => k.column),
        },
      });
    }
  }
  return out;
}

/**
 * The foreign key's values in a child row, as text in its column order, from the row's key columns and its
 * fields as SQL text (`null` for NULL); `undefined` when a value is NULL (no parent) or unknown (`fields`
 * absent: a row holding only sums). UUIDs in their canonical lower case.
 */
export function foreignKeyValues(
  fk: ForeignKey,
  keyColumns: readonly string[],
  fields: readonly (string | null)[] | undefined,
): string[] | undefined {
  const values: string[] = [];
  for (let i = 0; i < fk.sources.length; i++) {
    const source = fk.sources[i] as ForeignKeySource;
    const text = source.from === 'key' ? keyColumns[source.index] : fields?.[source.index];
    if (text === null || text === undefined) return undefined;
    values.push(fk.uuid[i] ? text.toLowerCase() : text);
  }
  return values;
}

/** Whether a flush must look at this foreign key's parents: the cache writes both sides. */
export function isOrdered(fk: ForeignKey): fk is ForeignKey & { parentEntity: string; childEntity: string } {
  return fk.parentEntity !== undefined && fk.childEntity !== undefined && fk.sources.length > 0;
}
