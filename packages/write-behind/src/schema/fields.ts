/*
 * What an entity declares: its Prisma model, its key, and the fields the cache owns, built with the field
 * functions below. Types only and tiny builders: checking them against Prisma's schema is `resolve.ts`,
 * encoding values is `codec.ts`.
 */
import { checkKeys, type KeyShape, type KeyShapeOf } from '../check-keys.js';

/** How a field's value is held and written. */
export type FieldKind =
  | 'counter'
  | 'string'
  | 'integer'
  | 'number'
  | 'decimal'
  | 'boolean'
  | 'dateTime'
  | 'json'
  | 'enum';

/** A value `JSON.stringify` writes and `JSON.parse` reads back unchanged. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** What a JSON document's property may be: `JsonValue`, or an object (an interface too) of such properties. */
type JsonProperty<T> = T extends JsonValue
  ? JsonValue
  : T extends bigint | symbol | undefined | ((...args: never[]) => unknown)
    ? never
    : T extends object
      ? { [K in keyof T]: JsonProperty<T[K]> }
      : never;

/**
 * What the type argument of {@link json} must extend (`T extends JsonCompatible<T>`): a JSON value, checked
 * property by property so that an `interface` passes too (an interface has no index signature, so it is
 * never assignable to {@link JsonValue}'s object member). A property that is a function, a `bigint`, a
 * `symbol` or `undefined` (other than an optional property's) is refused, and so is a class such as `Date`,
 * through its methods.
 */
export type JsonCompatible<T> = (string | number | boolean | null | object) & {
  [K in keyof T]: JsonProperty<T[K]>;
};

/** Anything with `toFixed()` that prints the exact value, such as Prisma's `Decimal` (decimal.js). */
export interface DecimalLike {
  toFixed(): string;
}

/**
 * One field of an entity. `T` is the type a read returns and `I` the type a write accepts (they differ for
 * decimals and dates, which accept more than one form); `N` whether `null` is allowed.
 */
export interface FieldSpec<K extends FieldKind = FieldKind, T = unknown, N extends boolean = boolean, I = T> {
  readonly kind: K;
  /** Column name when it differs from the Prisma field's. Read from the Prisma schema when omitted. */
  readonly column?: string;
  /** Whether `null` is allowed. */
  readonly nullable: N;
  /** Value used when a record is created by a partial `set` that does not name this field. */
  readonly default?: I | null;
  /** For strings: the longest value accepted, in characters (the column's own limit also applies). */
  readonly maxLength?: number;
  /** For enums: the values accepted, as the Prisma enum names them. */
  readonly values?: readonly string[];
  /** For counters: whether the cache keeps a ranking of the field in Redis (see {@link counter}). */
  readonly ranked?: boolean;
  /** Carries the value types for inference only; never set. */
  readonly __types?: { read: T; write: I };
}

/** Options every field kind takes; a nullable field also accepts `null` as its default. */
interface FieldOptions<I> {
  /** Column name when it differs from the Prisma field's (`@map`); read from the Prisma schema when omitted. */
  column?: string;
  /** Whether `null` is allowed. @defaultValue `false` */
  nullable?: false;
  /** Value a record created by a partial `set` takes for this field. */
  default?: I;
}
interface NullableFieldOptions<I> extends Omit<FieldOptions<I>, 'nullable' | 'default'> {
  nullable: true;
  default?: I | null;
}

/**
 * A field builder: `kind()` for a required field, `kind({ nullable: true })` for a nullable one. Overloads
 * rather than a generic flag, so the field's type never widens to "maybe null" from the context it is used in.
 */
export interface FieldBuilder<K extends FieldKind, T, I = T, X = object> {
  (options?: FieldOptions<I> & X): FieldSpec<K, T, false, I>;
  (options: NullableFieldOptions<I> & X): FieldSpec<K, T, true, I>;
}

function field<K extends FieldKind, T, I = T>(
  kind: K,
  options: {
    column?: string;
    nullable?: boolean;
    default?: unknown;
    maxLength?: number;
    values?: readonly string[];
  } = {},
): FieldSpec<K, T, boolean, I> {
  const spec: { -readonly [P in keyof FieldSpec<K, T, boolean, I>]: FieldSpec<K, T, boolean, I>[P] } = {
    kind,
    nullable: options.nullable ?? false,
  };
  if (options.column !== undefined) spec.column = options.column;
  if (options.default !== undefined) spec.default = options.default as I | null;
  if (options.maxLength !== undefined) spec.maxLength = options.maxLength;
  if (options.values !== undefined) spec.values = options.values;
  return spec;
}

/** The option names each builder takes; another name is a `ConfigurationError` naming the closest. */
const FIELD_OPTION_KEYS = {
  column: true,
  nullable: true,
  default: true,
} as const satisfies KeyShapeOf<FieldOptions<unknown>>;
const STRING_OPTION_KEYS = { ...FIELD_OPTION_KEYS, maxLength: true } as const;

const builder = <K extends FieldKind, T, I = T, X = object>(kind: K, keys: KeyShape = FIELD_OPTION_KEYS) =>
  ((options?: object) => {
    checkKeys(options, keys, `${kind}()`);
    return field(kind, options);
  }) as FieldBuilder<K, T, I, X>;

/** A counter's options. */
export interface CounterOptions {
  /** Column name when it differs from the Prisma field's (`@map`); read from the Prisma schema when omitted. */
  column?: string;
  /**
   * Keep a ranking of this field in Redis, updated in the same atomic write as the counter, for
   * `top(entity, field, n)` and `rank(entity, field, id)`. Costs one sorted-set member per record (about
   * 70 bytes plus the id) and one `ZADD` per write. @defaultValue `false`
   */
  ranked?: boolean;
}

const COUNTER_OPTION_KEYS = { column: true, ranked: true } as const satisfies KeyShapeOf<CounterOptions>;

/** A counter declared with `ranked: true`: what `top` and `rank` accept. */
export type RankedCounterSpec = FieldSpec<'counter', number, false> & { readonly ranked: true };

/**
 * An integer changed by `increment` (an `Int` or `BigInt` column). Reads as 0 until written. Its range is the
 * column's: ±2^31 for `Int`, ±(2^53-1) for `BigInt` (what a JavaScript number holds exactly, and a Redis
 * sorted-set score too, so a ranked counter's score is always exact).
 *
 * @example
 * ```ts
 * fields: { likes: counter({ ranked: true }), views: counter() } // top('video', 'likes', 10)
 * ```
 */
export function counter(options: CounterOptions & { ranked: true }): RankedCounterSpec;
export function counter(options?: CounterOptions): FieldSpec<'counter', number, false>;
export function counter(options: CounterOptions = {}): FieldSpec<'counter', number, false> {
  checkKeys(options, COUNTER_OPTION_KEYS, 'counter()');
  const spec = field('counter', options) as FieldSpec<'counter', number, false>;
  return options.ranked === true ? { ...spec, ranked: true } : spec;
}

/** Text (`String`, also `@db.VarChar(n)`, `@db.Char(n)`, `@db.Uuid`); `maxLength` in characters. */
export const string = builder<'string', string, string, { maxLength?: number }>('string', STRING_OPTION_KEYS);

/** A whole number set as a value (`Int`, `BigInt`, `@db.SmallInt`), within the column's range. */
export const integer = builder<'integer', number>('integer');

/** A floating-point number (`Float`, `@db.Real`). For exact amounts use {@link decimal}. */
export const number = builder<'number', number>('number');

/**
 * An exact decimal (`Decimal`, `@db.Decimal(p, s)`), read as a string such as `'12.5'`. Writes accept a
 * string, a bigint, a safe integer or a decimal object (Prisma's `Decimal`); never a fractional JavaScript
 * number, which is already rounded. A value with more digits than the column holds is refused.
 */
export const decimal = builder<'decimal', string, string | bigint | number | DecimalLike>('decimal');

/** `true` or `false` (`Boolean`). */
export const boolean = builder<'boolean', boolean>('boolean');

/**
 * A point in time (`DateTime`, `@db.Timestamptz`, `@db.Date`), read as a `Date`, written as a `Date` or an ISO
 * 8601 string, between the years 1 and 9999. Millisecond precision, as JavaScript's `Date`.
 */
export const dateTime = builder<'dateTime', Date, Date | string>('dateTime');

/**
 * A JSON document (`Json`): any value `JSON.stringify` can write. `null` is SQL NULL (allowed when
 * `nullable`), as in a nullable column; a JSON `null` nested inside an object or array is kept. The type
 * argument may be a type alias or an `interface` whose properties are JSON (see {@link JsonCompatible}).
 *
 * @example
 * ```ts
 * interface Prefs { theme: string; pinned: string[] }
 * prefs: json<Prefs>()
 * ```
 */
export function json<T extends JsonCompatible<T> = JsonValue>(
  options?: FieldOptions<T>,
): FieldSpec<'json', T, false>;
export function json<T extends JsonCompatible<T> = JsonValue>(
  options: NullableFieldOptions<T>,
): FieldSpec<'json', T, true>;
export function json(options?: object): FieldSpec<'json', JsonValue, boolean> {
  checkKeys(options, FIELD_OPTION_KEYS, 'json()');
  return field('json', options);
}

/**
 * One of a Prisma `enum`'s values, by the names the Prisma schema gives them (a value's `@map` is applied when
 * it is written). `values` may be fewer than the enum has, never others.
 *
 * @example
 * ```ts
 * import { Role } from './generated/prisma/enums';
 * role: enumeration(Object.values(Role))          // typed as Role
 * tier: enumeration(['FREE', 'PRO'], { default: 'FREE' })
 * ```
 */
export function enumeration<const V extends readonly string[]>(
  values: V,
  options?: FieldOptions<V[number]>,
): FieldSpec<'enum', V[number], false>;
export function enumeration<const V extends readonly string[]>(
  values: V,
  options: NullableFieldOptions<V[number]>,
): FieldSpec<'enum', V[number], true>;
export function enumeration(values: readonly string[], options?: object): FieldSpec<'enum', string, boolean> {
  checkKeys(options, FIELD_OPTION_KEYS, 'enumeration()');
  return field('enum', { ...options, values });
}

/** The type of one part of a key, and the JavaScript type an id of that part is passed as. */
export interface KeyKinds {
  /** `String @id`: a string. */
  string: string;
  /** `Int @id`: a safe integer within ±2^31. */
  int: number;
  /** `BigInt @id`: a bigint, or a safe integer number. */
  bigint: bigint | number;
  /** `String @id @db.Uuid`: a UUID string (any case; stored in its canonical lower-case form). */
  uuid: string;
}
export type KeyKind = keyof KeyKinds;

/** A key of several columns (`@@id([a, b])`, or an `@@unique`), by Prisma field name. */
export type KeyParts = Readonly<Record<string, KeyKind>>;

export type FieldsSpec = Readonly<Record<string, FieldSpec>>;

/**
 * Marks an append entity (an event log): each `append` lands as a row of its own, never folded into another.
 * Rows of one key are numbered 1, 2, 3... in the order Redis acknowledged them, in the `sequence` field.
 */
export interface AppendSpec {
  /**
   * The Prisma field (a `BigInt`) holding an event's number within its key, assigned at write time. The key's
   * fields and this one must be the table's primary key or a unique constraint: the flush inserts with
   * `ON CONFLICT DO NOTHING` on them, so a replayed flush inserts no row twice.
   */
  readonly sequence: string;
}

/**
 * A parent the Prisma schema does not relate (a foreign key the schema does not declare, or a store without a
 * Prisma schema): a row of this entity needs the parent's row in the database, so the flush writes the parent
 * first and deletes it after this entity's rows. See the package README, "Relations".
 *
 * @example
 * ```ts
 * comment: { model: 'Comment', fields: { videoId: string(), body: string() },
 *   parents: { video: { entity: 'video', fields: ['videoId'] } } }
 * ```
 */
export interface ParentSpec {
  /** The parent entity (another entity of this cache, or this one; not an append entity). */
  readonly entity: string;
  /**
   * This entity's fields (declared fields or key parts) holding the parent's key, in the order of the parent
   * entity's key parts. A row whose fields hold `null` has no parent.
   */
  readonly fields: readonly string[];
}

export interface EntityDefinition<F extends FieldsSpec = FieldsSpec> {
  /** The Prisma model name (e.g. `'Video'`); table and column names come from the Prisma schema. */
  readonly model: string;
  /**
   * Makes this an append entity (telemetry, an event log): written with `append`, one row per event, the key
   * naming the column the events are grouped by (it need not be unique). Not read, set or deleted through
   * the cache. See {@link AppendSpec}.
   */
  readonly append?: AppendSpec;
  /**
   * The key, by Prisma field name. A name alone is a `String` key; an object names the key's fields and
   * their kinds: `{ id: 'int' }`, `{ id: 'uuid' }`, or several for a composite key
   * `{ orgId: 'uuid', userId: 'int' }`, whose ids are then passed as objects `{ orgId, userId }`. The
   * fields must be the table's primary key or a unique constraint. @defaultValue `'id'`
   */
  readonly key?: string | KeyParts;
  /** The Prisma field holding the write-behind version (a `BigInt` column). @defaultValue `'version'` */
  readonly versionField?: string;
  /**
   * The fields the cache owns, by Prisma field name. Every flush writes all of them; columns not named here
   * are never touched (except `@updatedAt` columns, set to the flush time).
   */
  readonly fields: F;
  /**
   * Parents the Prisma schema does not relate, by a name of your choosing (see {@link ParentSpec}); or the
   * name of one of the model's Prisma relation fields set to `false`, so the flush does not order writes by
   * that relation (a way out of a cycle: see the package README, "Relations"). The relations of the Prisma
   * schema whose foreign key fields the entity declares are its parents without this.
   * @defaultValue `{}`
   */
  readonly parents?: Readonly<Record<string, ParentSpec | false>>;
}

export type EntityDefinitions = Readonly<Record<string, EntityDefinition>>;

/** The keys a {@link ParentSpec} takes. */
export const PARENT_KEYS = { entity: true, fields: true } as const satisfies KeyShapeOf<ParentSpec>;

/** The keys an entity definition takes; another is a `ConfigurationError` naming the closest. */
export const ENTITY_KEYS = {
  model: true,
  append: { sequence: true } satisfies KeyShapeOf<AppendSpec>,
  key: true,
  versionField: true,
  fields: true,
  // Names the user chooses; each value is checked by `definition-shape.ts`.
  parents: true,
} as const satisfies KeyShapeOf<EntityDefinition>;

/**
 * The entities as `createWriteBehind` takes them: each definition narrowed to the keys an
 * {@link EntityDefinition} has, so that a misspelled key written in place (`versionFeild`) is a compile error
 * (an excess property), which it is not against the `E` inferred from that very object. `E` itself is still
 * inferred from the true branch; entities of a generic or index-signature type pass as they are.
 */
export type CheckedEntities<E> = string extends keyof E
  ? E
  : { readonly [N in keyof E]: Pick<E[N], keyof EntityDefinition & keyof E[N]> };

type ReadType<S> =
  S extends FieldSpec<FieldKind, infer T, infer N, unknown> ? T | (N extends true ? null : never) : never;
type WriteType<S> =
  S extends FieldSpec<FieldKind, unknown, infer N, infer I> ? I | (N extends true ? null : never) : never;

/** The state of one key, as read: every field present (counters read 0, absent values their default or `null`). */
export type EntityValues<D extends EntityDefinition> = {
  -readonly [P in keyof D['fields']]: ReadType<D['fields'][P]>;
};

/** What a `set` accepts: some or all fields, in the forms each field's kind accepts. */
export type EntityInput<D extends EntityDefinition> = {
  -readonly [P in keyof D['fields']]?: WriteType<D['fields'][P]>;
};

/** What an `append` takes: every field, nullable ones optional. */
export type AppendInput<D extends EntityDefinition> = {
  -readonly [P in keyof D['fields'] as D['fields'][P] extends FieldSpec<FieldKind, unknown, true, unknown>
    ? never
    : P]: WriteType<D['fields'][P]>;
} & {
  -readonly [P in keyof D['fields'] as D['fields'][P] extends FieldSpec<FieldKind, unknown, true, unknown>
    ? P
    : never]?: WriteType<D['fields'][P]>;
};

/** The names of the append entities (those declared with `append`). */
export type AppendEntityNames<E extends EntityDefinitions> = {
  [N in keyof E]: E[N] extends { readonly append: AppendSpec } ? N : never;
}[keyof E] &
  string;

/** The names of the entities whose state the cache holds (every entity but the append ones). */
export type StateEntityNames<E extends EntityDefinitions> = Exclude<keyof E & string, AppendEntityNames<E>>;

/** The names of an entity's ranked counter fields (declared with `counter({ ranked: true })`). */
export type RankedFields<D extends EntityDefinition> = {
  [P in keyof D['fields']]: D['fields'][P] extends { readonly ranked: true } ? P : never;
}[keyof D['fields']] &
  string;

/** The names of an entity's counter fields. */
export type CounterFields<D extends EntityDefinition> = {
  [P in keyof D['fields']]: D['fields'][P] extends FieldSpec<'counter', number, boolean, number> ? P : never;
}[keyof D['fields']] &
  string;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void
  ? I
  : never;
type IsUnion<T> = [T] extends [UnionToIntersection<T>] ? false : true;

/**
 * How an entity's ids are passed: a string for a `String` key, a number for `{ id: 'int' }`, and an object
 * with every part for a composite key.
 */
export type IdOf<D extends EntityDefinition> = D['key'] extends KeyParts
  ? IsUnion<keyof D['key']> extends true
    ? { readonly [P in keyof D['key']]: KeyKinds[D['key'][P]] }
    : KeyKinds[D['key'][keyof D['key']]]
  : string;
