// The pure parts of append entities: resolution against a Prisma schema, the live-table check, the SQL, the
// event codec and the flush's rows. No server needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigurationError, ValidationError } from '../../src/errors.ts';
import { appendedKey, runStatements, splitEvents } from '../../src/flush/append-plan.ts';
import { encodeField } from '../../src/schema/codec.ts';
import { decodeEvent, encodeEvent } from '../../src/schema/event-codec.ts';
import { counter, dateTime, type EntityDefinitions, integer, json, string } from '../../src/schema/fields.ts';
import { parsePrismaSchema } from '../../src/schema/prisma-schema.ts';
import { type ResolvedEntity, resolveEntities } from '../../src/schema/resolve.ts';
import { appendLoadSql, appendSql } from '../../src/store/sql.ts';
import { checkTable, type TableInfo } from '../../src/store/verify.ts';

const dataModel = parsePrismaSchema(`
datasource db {
  provider = "postgresql"
}

model Click {
  videoId   String   @map("video_id")
  seq       BigInt
  kind      String   @db.VarChar(8)
  context   Json?
  at        DateTime
  insertedAt DateTime @default(now()) @map("inserted_at")
  @@id([videoId, seq])
  @@map("clicks")
}
model Reading {
  id      BigInt @id @default(autoincrement())
  device  Int
  n       BigInt
  value   Int
  @@unique([device, n])
}
`);

const definitions = {
  click: {
    model: 'Click',
    key: 'videoId',
    append: { sequence: 'seq' },
    fields: { kind: string(), context: json({ nullable: true }), at: dateTime() },
  },
  reading: {
    model: 'Reading',
    key: { device: 'int' },
    append: { sequence: 'n' },
    fields: { value: integer() },
  },
} satisfies EntityDefinitions;
const resolve = (defs: EntityDefinitions) => resolveEntities(defs, dataModel, encodeField);
const resolved = resolve(definitions);
const click = resolved.get('click') as ResolvedEntity;
const reading = resolved.get('reading') as ResolvedEntity;

test('an append entity resolves its sequence column; its key need not be unique alone', () => {
  assert.deepEqual(click.append, { sequenceField: 'seq', sequenceColumn: 'seq' });
  assert.deepEqual(
    click.key.map((k) => k.column),
    ['video_id'],
  );
  assert.deepEqual(click.requiredFields, ['kind', 'at']);
  assert.deepEqual(reading.append, { sequenceField: 'n', sequenceColumn: 'n' });
});

test('definitions that cannot work are a ConfigurationError naming what to change', () => {
  const bad: [EntityDefinitions, RegExp][] = [
    [
      { c: { ...definitions.click, append: { sequence: 'kind' } } },
      /must not include "kind"|Click.kind must be `BigInt`/,
    ],
    [{ c: { ...definitions.click, append: {} as never } }, /append must be \{ sequence: '<field>' \}/],
    [{ c: { ...definitions.click, append: { sequence: 'at' } } }, /must not include "at"/],
    [{ c: { ...definitions.click, versionField: 'seq' } }, /no version field/],
    [{ c: { ...definitions.click, fields: { kind: counter() } } }, /no counters; declare it as integer\(\)/],
    [
      { c: { ...definitions.click, key: 'kind', fields: { at: dateTime() } } },
      /kind, seq is not the primary key or a unique constraint/,
    ],
  ];
  for (const [defs, message] of bad) {
    assert.throws(
      () => resolve(defs),
      (error: unknown) => error instanceof ConfigurationError && message.test(error.message),
      String(message),
    );
  }
});

test('the live table needs a unique index on the key and the sequence, a bigint sequence', () => {
  const columns = [
    { name: 'video_id', type: 'text', notNull: true, hasDefault: false },
    { name: 'seq', type: 'bigint', notNull: true, hasDefault: false },
    { name: 'kind', type: 'character varying(8)', notNull: true, hasDefault: false },
    { name: 'context', type: 'jsonb', notNull: false, hasDefault: false },
    { name: 'at', type: 'timestamp(3) without time zone', notNull: true, hasDefault: false },
    { name: 'inserted_at', type: 'timestamp(3) without time zone', notNull: true, hasDefault: true },
  ];
  const good: TableInfo = { columns, uniques: [['video_id', 'seq']] };
  assert.deepEqual(checkTable(click, good), []);
  assert.match(
    checkTable(click, { columns, uniques: [['video_id']] }).join('\n'),
    /no primary key or unique index on exactly \(video_id, seq\), which the flush's insert needs/,
  );
  const intSeq = columns.map((c) => (c.name === 'seq' ? { ...c, type: 'integer' } : c));
  assert.match(
    checkTable(click, { columns: intSeq, uniques: [['video_id', 'seq']] }).join('\n'),
    /append\.sequence: column "seq" of "clicks" is integer, expected bigint/,
  );
});

test('the insert: the events as Redis holds them in one jsonb; a replay skips rows by the key and the sequence', () => {
  const sql = appendSql(click, true);
  assert.match(sql, /^INSERT INTO "clicks" \("video_id", "seq", "kind", "context", "at"\)/);
  assert.match(
    sql,
    /FROM ROWS FROM \(unnest\(\$1::text\[\]\), unnest\(\$2::bigint\[\]\), jsonb_array_elements\(\$3::jsonb\)\) AS u\(id, v, e\)/,
  );
  // Each field decoded from its stored form, in the entity's order.
  assert.match(sql, /substr\(\(u\.e->>0\), 2\)::character varying\(8\)/);
  assert.match(sql, /CASE WHEN \(u\.e->>1\) = 'z' THEN NULL ELSE substr\(\(u\.e->>1\), 2\)::jsonb END/);
  assert.match(sql, /timestamp '1970-01-01' \+ \(substr\(\(u\.e->>2\), 2\)::bigint \/ 86400000\)/);
  assert.match(sql, /ON CONFLICT \("video_id", "seq"\) DO NOTHING$/);
  assert.doesNotMatch(sql, /inserted_at|UPDATE/, 'a column with a default is left to it');
  // A first flush pays no conflict check: a row already there fails it, and the store sends the replay.
  assert.equal(appendSql(click, false), sql.replace(/\nON CONFLICT .*$/, ''));
  // A key of its own type travels in its own array; the events come after the key arrays.
  assert.match(
    appendSql(reading, true),
    /unnest\(\$3::integer\[\]\), jsonb_array_elements\(\$4::jsonb\)\) AS u\(id, v, k0, e\)/,
  );
  assert.match(appendSql(reading, true), /ON CONFLICT \("device", "n"\) DO NOTHING/);
  assert.match(appendLoadSql(click), /SELECT max\(t\."seq"\) FROM "clicks" t WHERE t\."video_id" = u\.id/);
});

test('events: checked by the codec, defaults and nulls filled, decoded back', () => {
  const at = new Date('2026-01-02T03:04:05.678Z');
  const text = encodeEvent(click, { kind: 'click', at }, 1000);
  assert.deepEqual(decodeEvent(click, text), { kind: 'click', context: null, at });
  const withContext = encodeEvent(click, { kind: 'view', context: { x: [1, null] }, at }, 1000);
  assert.deepEqual(decodeEvent(click, withContext).context, { x: [1, null] });
  const refused: [unknown, RegExp][] = [
    [{ kind: 'click' }, /needs at/],
    [{ kind: 'toolongkind', at }, /11 characters long; the limit is 8/],
    [{ kind: 'c', at, other: 1 }, /has no field "other"/],
    [[], /must be an object/],
    [{ kind: 'c', at, context: 'x'.repeat(2000) }, /bytes encoded; the limit is 1000/],
  ];
  for (const [event, message] of refused) {
    assert.throws(
      () => encodeEvent(click, event, 1000),
      (e: unknown) => e instanceof ValidationError && message.test(e.message),
    );
  }
});

test("a snapshot's runs keep their events as Redis holds them; their rows come in order; the key acknowledges the last one taken", () => {
  const at = new Date(0);
  const a = encodeEvent(click, { kind: 'a', context: { note: 'x],["y' }, at }, 1000);
  const b = encodeEvent(click, { kind: 'b', at }, 1000);
  const c = encodeEvent(click, { kind: 'c', context: ['\u00e9', '\\"'], at }, 1000);
  const head = new Map([
    ['_v', '13'],
    ['_fv', '10'],
  ]);
  // Event 12 is missing from the hash: the snapshot ended the first run there.
  const { key, runs } = appendedKey(click, 'v1', head, [
    ['11', 1, a],
    ['13', 2, `${b},${c}`],
  ]);
  assert.deepEqual(key, { id: 'v1', version: 13, events: 3, more: false });
  assert.deepEqual(
    runs.map((r) => [r.id, r.first, r.count, r.events]),
    [
      ['v1', 11, 1, a],
      ['v1', 13, 2, `${b},${c}`],
    ],
  );
  assert.deepEqual(
    runs.flatMap((r) => r.rows).map((r) => [r.id, r.sequence, r.values.kind, r.event]),
    [
      ['v1', 11, 'a', a],
      ['v1', 13, 'b', b],
      ['v1', 14, 'c', c],
    ],
  );
  assert.deepEqual(splitEvents([a, b, c].join(',')), [a, b, c], 'each event back as Redis held it');
  assert.equal(appendedKey(click, 'v1', new Map([...head, ['_m', '1']]), []).key.more, true);
});

test('runs go into statements of at most so many events and, past the first run, so many bytes', () => {
  const run = (count: number, bytes = count) => ({ count, events: 'x'.repeat(bytes) });
  const sizes = (statements: { count: number }[][]) => statements.map((s) => s.map((r) => r.count));
  assert.deepEqual(sizes(runStatements([run(2), run(3), run(1), run(4), run(5)], 5, 100)), [
    [2, 3],
    [1, 4],
    [5],
  ]);
  // A run larger than either bound travels alone, never in none.
  assert.deepEqual(sizes(runStatements([run(1), run(9, 50), run(2), run(2)], 10, 4)), [[1], [9], [2, 2]]);
  assert.deepEqual(runStatements([], 5, 100), []);
});
