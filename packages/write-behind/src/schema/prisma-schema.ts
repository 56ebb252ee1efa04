/*
 * The parts of a Prisma schema the cache depends on: models with their table and column names, key and
 * unique fields, native types (`@db.*`), defaults, `@updatedAt`, relations (the foreign keys a relation field
 * declares), and enums with their `@map`ped values. Read
 * by Prisma's own schema parser (`@prisma/prisma-schema-wasm`, the one its CLI runs, at the engines version
 * of the Prisma this package is built against), from the schema text every Prisma 7 client carries (see
 * `store/prisma-client.ts`; the runtime data model it also carries lacks native types, defaults,
 * `@updatedAt` and enums). The shape it returns is the published DMMF; `test/unit/prisma-schema.test.ts`
 * fails if an upgrade changes what is read here.
 */
import { createRequire } from 'node:module';
import { ConfigurationError } from '../errors.js';

/** A field's `@default`: a value, or a function Prisma or the database applies (`now()`, `autoincrement()`, ...). */
export type PrismaDefault =
  | { kind: 'value'; value: string | number | boolean | readonly unknown[] }
  | { kind: 'function'; name: string; args: readonly unknown[] };

export interface PrismaField {
  name: string;
  /** The scalar type (`String`, `Int`, …), an enum's name, or a model's name for a relation. */
  type: string;
  optional: boolean;
  list: boolean;
  /** The column name (`@map`), when it differs from `name`. */
  dbName?: string;
  isId: boolean;
  isUnique: boolean;
  isUpdatedAt: boolean;
  hasDefault: boolean;
  /** The `@default`, when there is one. */
  default?: PrismaDefault;
  /** A native type attribute: `@db.VarChar(20)` is `{ name: 'VarChar', args: ['20'] }`. */
  native?: { name: string; args: string[] };
  /**
   * A relation field (its `type` is the related model's name): the relation's name, and on the side that holds
   * the foreign key (`@relation(fields: [...], references: [...])`) its fields, the referenced fields of the
   * other model in the same order, and `onDelete` when the schema sets it. The other side (a list such as
   * `comments Comment[]`, or an optional back relation) has empty `fields` and `references`.
   */
  relation?: PrismaRelation;
}

/** See {@link PrismaField.relation}. */
export interface PrismaRelation {
  name: string;
  /** This model's fields holding the foreign key; empty on the side that does not hold it. */
  fields: string[];
  /** The related model's fields they reference, in the same order. */
  references: string[];
  /** `@relation(onDelete: ...)` as written (`Cascade`, `Restrict`, `NoAction`, `SetNull`, `SetDefault`); unset: Prisma's default. */
  onDelete?: string;
}

export interface PrismaModel {
  name: string;
  /** The table name (`@@map`), when it differs from `name`. */
  dbName?: string;
  /** `@@schema` (multi-schema projects). */
  schema?: string;
  fields: PrismaField[];
  /** Field names of the primary key: `@id` or `@@id`. */
  primaryKey: string[];
  /** Field names of each unique constraint: `@unique` and `@@unique`. */
  uniques: string[][];
}

export interface PrismaEnum {
  name: string;
  dbName?: string;
  schema?: string;
  values: { name: string; dbName?: string }[];
}

export interface DataModel {
  models: Map<string, PrismaModel>;
  enums: Map<string, PrismaEnum>;
}

/** The DMMF fields read here (Prisma's `DMMF.Field`, `DMMF.Model`, `DMMF.DatamodelEnum`). */
interface DmmfField {
  name: string;
  kind: 'scalar' | 'object' | 'enum' | 'unsupported';
  type: string;
  isRequired: boolean;
  isList: boolean;
  isId: boolean;
  isUnique: boolean;
  isUpdatedAt: boolean;
  hasDefaultValue: boolean;
  dbName?: string | null;
  nativeType?: [string, string[]] | null;
  default?: unknown;
  /** Relation fields (`kind: 'object'`) only. */
  relationName?: string | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  schema: string | null;
  fields: DmmfField[];
  primaryKey: { fields: string[] } | null;
  uniqueFields: string[][];
}
interface DmmfEnum {
  name: string;
  dbName?: string | null;
  schema?: string | null;
  values: { name: string; dbName: string | null }[];
}
export interface Dmmf {
  datamodel: { models: DmmfModel[]; enums: DmmfEnum[] };
}

const require = createRequire(import.meta.url);
let parser: { get_dmmf(params: string): string } | undefined;

/** Prisma's DMMF of a schema, from Prisma's own parser; a schema it refuses is a `ConfigurationError`. */
export function prismaDmmf(text: string): Dmmf {
  parser ??= require('@prisma/prisma-schema-wasm') as { get_dmmf(params: string): string };
  try {
    return JSON.parse(parser.get_dmmf(JSON.stringify({ prismaSchema: text }))) as Dmmf;
  } catch (error) {
    throw new ConfigurationError(`Prisma's schema parser refused the schema: ${parserMessage(error)}`);
  }
}

/** The parser's own message, from its JSON error, without terminal colours. */
function parserMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    // Not JSON: the text as it is.
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the parser colours its messages for a terminal.
  return message.replace(/\u001b\[[0-9;]*m/g, '');
}

function defaultOf(raw: unknown): PrismaDefault | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'object' && !Array.isArray(raw) && 'name' in raw) {
    const fn = raw as { name: string; args?: unknown[] };
    return { kind: 'function', name: fn.name, args: fn.args ?? [] };
  }
  return { kind: 'value', value: raw as string | number | boolean | readonly unknown[] };
}

function fieldOf(field: DmmfField): PrismaField {
  const out: PrismaField = {
    name: field.name,
    type: field.type,
    optional: !field.isRequired,
    list: field.isList,
    isId: field.isId,
    isUnique: field.isUnique,
    isUpdatedAt: field.isUpdatedAt,
    hasDefault: field.hasDefaultValue,
  };
  if (field.dbName) out.dbName = field.dbName;
  const fallback = defaultOf(field.default);
  if (fallback) out.default = fallback;
  if (field.nativeType) out.native = { name: field.nativeType[0], args: [...field.nativeType[1]] };
  if (field.kind === 'object') {
    const relation: PrismaRelation = {
      name: field.relationName ?? '',
      fields: [...(field.relationFromFields ?? [])],
      references: [...(field.relationToFields ?? [])],
    };
    if (field.relationOnDelete) relation.onDelete = field.relationOnDelete;
    out.relation = relation;
  }
  return out;
}

/** The data model of a parsed schema (see {@link prismaDmmf}). Pure. */
export function dataModelOf(dmmf: Dmmf): DataModel {
  const models = new Map<string, PrismaModel>();
  for (const model of dmmf.datamodel.models) {
    const fields = model.fields.map(fieldOf);
    const out: PrismaModel = {
      name: model.name,
      fields,
      primaryKey: model.primaryKey?.fields ?? fields.filter((f) => f.isId).map((f) => f.name),
      uniques: [...fields.filter((f) => f.isUnique).map((f) => [f.name]), ...model.uniqueFields],
    };
    if (model.dbName) out.dbName = model.dbName;
    if (model.schema) out.schema = model.schema;
    models.set(model.name, out);
  }
  const enums = new Map<string, PrismaEnum>();
  for (const e of dmmf.datamodel.enums) {
    const out: PrismaEnum = {
      name: e.name,
      values: e.values.map((v) => (v.dbName ? { name: v.name, dbName: v.dbName } : { name: v.name })),
    };
    if (e.dbName) out.dbName = e.dbName;
    if (e.schema) out.schema = e.schema;
    enums.set(e.name, out);
  }
  return { models, enums };
}

const parsed = new Map<string, DataModel>();

/** Parses a Prisma schema's models and enums (once per distinct text). */
export function parsePrismaSchema(text: string): DataModel {
  let model = parsed.get(text);
  if (!model) {
    model = dataModelOf(prismaDmmf(text));
    parsed.set(text, model);
  }
  return model;
}
