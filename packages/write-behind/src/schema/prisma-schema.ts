/*
 * Reads the parts of a Prisma schema the cache depends on: models with their table and column names, key
 * and unique fields, native types (`@db.*`), `@updatedAt`, and enums with their `@map`ped values. Pure: it
 * takes the schema text, which every Prisma 7 client carries (the runtime data model it also carries lacks
 * native types, `@updatedAt` and enums). Only what is needed is parsed; everything else is skipped.
 */

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
  /** A native type attribute: `@db.VarChar(20)` is `{ name: 'VarChar', args: ['20'] }`. */
  native?: { name: string; args: string[] };
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

type Token =
  | { t: 'word'; v: string }
  | { t: 'string'; v: string }
  | { t: 'punct'; v: string }
  | { t: 'newline' };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '\n') {
      tokens.push({ t: 'newline' });
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '"') {
      let value = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i];
        i++;
      }
      i++;
      tokens.push({ t: 'string', v: value });
    } else if (c === '@') {
      const double = text[i + 1] === '@';
      tokens.push({ t: 'punct', v: double ? '@@' : '@' });
      i += double ? 2 : 1;
    } else if (/[A-Za-z0-9_.-]/.test(c)) {
      let word = '';
      while (i < text.length && /[A-Za-z0-9_.-]/.test(text[i] as string)) word += text[i++];
      tokens.push({ t: 'word', v: word });
    } else {
      tokens.push({ t: 'punct', v: c });
      i++;
    }
  }
  return tokens;
}

/** An attribute argument: a string or word, a list of them, or `null` for anything else (`now()`, …). */
type ArgValue = string | string[] | null;
interface Attribute {
  name: string;
  /** Positional arguments, then named ones under their name. */
  positional: ArgValue[];
  named: Map<string, ArgValue>;
}

class Parser {
  readonly #tokens: Token[];
  #at = 0;

  constructor(text: string) {
    this.#tokens = tokenize(text);
  }

  parse(): DataModel {
    const models = new Map<string, PrismaModel>();
    const enums = new Map<string, PrismaEnum>();
    for (;;) {
      this.#skipNewlines();
      const token = this.#next();
      if (!token) break;
      if (token.t !== 'word') continue;
      const name = this.#peek()?.t === 'word' ? (this.#next() as { v: string }).v : undefined;
      if (this.#peek()?.t === 'punct' && (this.#peek() as { v: string }).v === '{') {
        this.#next();
        const lines = this.#blockLines();
        if (name === undefined) continue;
        if (token.v === 'model' || token.v === 'view') models.set(name, modelOf(name, lines));
        else if (token.v === 'enum') enums.set(name, enumOf(name, lines));
      }
    }
    return { models, enums };
  }

  /** The statements of a `{ ... }` block, one token list per line (newlines inside brackets do not end one). */
  #blockLines(): Token[][] {
    const lines: Token[][] = [];
    let line: Token[] = [];
    let depth = 0;
    for (let token = this.#next(); token; token = this.#next()) {
      if (token.t === 'punct' && token.v === '}' && depth === 0) break;
      if (token.t === 'punct' && (token.v === '(' || token.v === '[' || token.v === '{')) depth++;
      if (token.t === 'punct' && (token.v === ')' || token.v === ']' || token.v === '}')) depth--;
      if (token.t === 'newline' && depth === 0) {
        if (line.length > 0) lines.push(line);
        line = [];
      } else if (token.t !== 'newline') {
        line.push(token);
      }
    }
    if (line.length > 0) lines.push(line);
    return lines;
  }

  #skipNewlines(): void {
    while (this.#peek()?.t === 'newline') this.#at++;
  }

  #peek(): Token | undefined {
    return this.#tokens[this.#at];
  }

  #next(): Token | undefined {
    return this.#tokens[this.#at++];
  }
}

/** Splits a line's tokens into its leading words and its attributes (`@x(...)`, `@@x(...)`). */
function attributesOf(line: Token[], from: number): Attribute[] {
  const attributes: Attribute[] = [];
  let i = from;
  while (i < line.length) {
    const token = line[i] as Token;
    const nameToken = line[i + 1];
    if (token.t !== 'punct' || (token.v !== '@' && token.v !== '@@') || nameToken?.t !== 'word') {
      i++;
      continue;
    }
    const attribute: Attribute = { name: token.v + nameToken.v, positional: [], named: new Map() };
    i += 2;
    if (line[i]?.t === 'punct' && (line[i] as { v: string }).v === '(') {
      const args: Token[][] = [[]];
      let depth = 0;
      for (i++; i < line.length; i++) {
        const t = line[i] as Token;
        if (t.t === 'punct' && (t.v === '(' || t.v === '[')) depth++;
        if (t.t === 'punct' && (t.v === ')' || t.v === ']')) {
          if (depth === 0) break;
          depth--;
        }
        if (t.t === 'punct' && t.v === ',' && depth === 0) args.push([]);
        else (args[args.length - 1] as Token[]).push(t);
      }
      i++;
      for (const arg of args) {
        if (arg.length === 0) continue;
        const isNamed = arg[0]?.t === 'word' && arg[1]?.t === 'punct' && (arg[1] as { v: string }).v === ':';
        const value = argValue(isNamed ? arg.slice(2) : arg);
        if (isNamed) attribute.named.set((arg[0] as { v: string }).v, value);
        else attribute.positional.push(value);
      }
    }
    attributes.push(attribute);
  }
  return attributes;
}

function argValue(tokens: Token[]): ArgValue {
  const [first] = tokens;
  if (tokens.length === 1 && first && (first.t === 'string' || first.t === 'word')) return first.v;
  if (first?.t === 'punct' && first.v === '[') {
    // A list of fields; a field may carry arguments of its own (`[a(sort: Desc)]`), which are dropped.
    const out: string[] = [];
    let depth = 0;
    for (const t of tokens.slice(1)) {
      if (t.t === 'punct' && t.v === '(') depth++;
      else if (t.t === 'punct' && t.v === ')') depth--;
      else if (depth === 0 && (t.t === 'word' || t.t === 'string')) out.push(t.v);
    }
    return out;
  }
  return null;
}

function stringArg(attribute: Attribute | undefined, name: string): string | undefined {
  const value = attribute?.named.get(name) ?? attribute?.positional[0];
  return typeof value === 'string' ? value : undefined;
}

function listArg(attribute: Attribute, name: string): string[] {
  const value = attribute.named.get(name) ?? attribute.positional[0];
  return Array.isArray(value) ? value : [];
}

function modelOf(name: string, lines: Token[][]): PrismaModel {
  const model: PrismaModel = { name, fields: [], primaryKey: [], uniques: [] };
  for (const line of lines) {
    const [first, second] = line;
    if (first?.t === 'punct' && first.v === '@@') {
      for (const attribute of attributesOf(line, 0)) {
        if (attribute.name === '@@map') assign(model, 'dbName', stringArg(attribute, 'name'));
        else if (attribute.name === '@@schema') assign(model, 'schema', stringArg(attribute, 'map'));
        else if (attribute.name === '@@id') model.primaryKey = listArg(attribute, 'fields');
        else if (attribute.name === '@@unique') model.uniques.push(listArg(attribute, 'fields'));
      }
      continue;
    }
    if (first?.t !== 'word' || second?.t !== 'word') continue;
    // The type, then `?` or `[]`; `Unsupported("...")` takes a parenthesised argument.
    let at = 2;
    let optional = false;
    let list = false;
    const isPunct = (i: number, v: string) => line[i]?.t === 'punct' && (line[i] as { v: string }).v === v;
    if (isPunct(at, '(')) {
      while (at < line.length && !isPunct(at, ')')) at++;
      at++;
    }
    if (isPunct(at, '[') && isPunct(at + 1, ']')) {
      list = true;
      at += 2;
    }
    if (isPunct(at, '?')) {
      optional = true;
      at++;
    }
    const field: PrismaField = {
      name: first.v,
      type: second.v,
      optional,
      list,
      isId: false,
      isUnique: false,
      isUpdatedAt: false,
      hasDefault: false,
    };
    for (const attribute of attributesOf(line, at)) {
      if (attribute.name === '@id') field.isId = true;
      else if (attribute.name === '@unique') field.isUnique = true;
      else if (attribute.name === '@updatedAt') field.isUpdatedAt = true;
      else if (attribute.name === '@default') field.hasDefault = true;
      else if (attribute.name === '@map') assign(field, 'dbName', stringArg(attribute, 'name'));
      else if (attribute.name.startsWith('@db.')) {
        field.native = {
          name: attribute.name.slice(4),
          args: attribute.positional.filter((a): a is string => typeof a === 'string'),
        };
      }
    }
    if (field.isId) model.primaryKey = [field.name];
    if (field.isUnique) model.uniques.push([field.name]);
    model.fields.push(field);
  }
  return model;
}

function enumOf(name: string, lines: Token[][]): PrismaEnum {
  const result: PrismaEnum = { name, values: [] };
  for (const line of lines) {
    const [first] = line;
    if (first?.t === 'punct' && first.v === '@@') {
      for (const attribute of attributesOf(line, 0)) {
        if (attribute.name === '@@map') assign(result, 'dbName', stringArg(attribute, 'name'));
        else if (attribute.name === '@@schema') assign(result, 'schema', stringArg(attribute, 'map'));
      }
    } else if (first?.t === 'word') {
      const value: { name: string; dbName?: string } = { name: first.v };
      const map = attributesOf(line, 1).find((a) => a.name === '@map');
      assign(value, 'dbName', stringArg(map, 'name'));
      result.values.push(value);
    }
  }
  return result;
}

/** Sets an optional property only when there is a value (`exactOptionalPropertyTypes` friendly). */
function assign<T, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

/** Parses a Prisma schema's models and enums. */
export function parsePrismaSchema(text: string): DataModel {
  return new Parser(text).parse();
}
