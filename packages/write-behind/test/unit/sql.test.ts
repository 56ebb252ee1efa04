import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { counter } from '../../src/schema/fields.ts';
import { arrayLiteral, deleteSql, loadSql, quoteIdent, upsertSql } from '../../src/store/sql.ts';
import { checkTable, checkTombstones, type TableInfo, tombstoneTableSql } from '../../src/store/verify.ts';
import { membership, player, resolve } from './fixtures/schema.ts';

const TOMB = 'write_behind_tombstone';

test('identifiers are quoted, embedded quotes doubled', () => {
  assert.equal(quoteIdent('a"b'), '"a""b"');
});

test('upsert: one array per column cast to its type, guarded by version and tombstones, @updatedAt set', () => {
  const sql = upsertSql(player, TOMB);
  assert.match(sql, /^INSERT INTO "players" \("id", "version", "score", "xp", "name", .*, "updated_at"\)/);
  assert.match(
    sql,
    /unnest\(\$1::text\[\], \$2::bigint\[\], \$3::integer\[\], \$4::integer\[\], \$5::bigint\[\], \$6::character varying\(20\)\[\]/,
  );
  assert.match(sql, /\$10::numeric\(12,2\)\[\]/);
  assert.match(sql, /::"tier"\[\]/);
  assert.match(sql, /tb\.entity = \$17 AND tb\.key = u\.id/);
  assert.match(sql, /ON CONFLICT \("id"\) DO UPDATE SET "version" = EXCLUDED\."version"/);
  assert.match(sql, /"updated_at" = \(CURRENT_TIMESTAMP AT TIME ZONE 'UTC'\)/);
  assert.match(sql, /WHERE "players"\."version" < EXCLUDED\."version"$/);
  assert.doesNotMatch(sql, /created_at|notes/, 'columns the entity does not own are never touched');
});

test('a composite key: one array per key column, all of them in the conflict target', () => {
  const sql = upsertSql(membership, TOMB);
  assert.match(sql, /unnest\(\$1::text\[\], \$2::bigint\[\], \$3::uuid\[\], \$4::integer\[\], \$5::text\[\]/);
  assert.match(sql, /ON CONFLICT \("org_id", "user_id"\)/);
  assert.match(
    loadSql(membership, TOMB),
    /LEFT JOIN "memberships" t ON t\."org_id" = u\.k0 AND t\."user_id" = u\.k1/,
  );
});

test('a text key is the canonical id itself: no array of its own', () => {
  const [video] = resolve({
    v: { model: 'Device', key: { id: 'uuid' }, fields: { pings: counter() } },
  }).values();
  assert.ok(video);
  assert.match(
    upsertSql(video, TOMB),
    /unnest\(\$1::text\[\], \$2::bigint\[\], \$3::uuid\[\], \$4::bigint\[\]\)/,
  );
});

test('delete and tombstone in one statement', () => {
  const sql = deleteSql(membership, TOMB);
  assert.match(sql, /^WITH u AS/);
  assert.match(sql, /DELETE FROM "memberships" t USING u WHERE t\."org_id" = u\.k0 AND t\."user_id" = u\.k1/);
  assert.match(
    sql,
    /INSERT INTO "write_behind_tombstone" \(entity, key, version\) SELECT \$5, u\.id, u\.v FROM u/,
  );
  assert.equal((sql.match(/;/g) ?? []).length, 0);
});

test('load returns row version, tombstone version and every column as text, dates as epoch ms', () => {
  const sql = loadSql(player, TOMB);
  assert.match(sql, /unnest\(\$1::text\[\], \$2::integer\[\]\) AS u\(id, k0\)/);
  assert.match(sql, /t\."version"::text AS r, tb\.version::text AS tv, t\."score"::text AS c0/);
  assert.match(sql, /floor\(extract\(epoch from t\."last_seen"\) \* 1000\)::int8::text AS c9/);
  assert.match(sql, /tb\.entity = \$3/);
});

test('arrayLiteral: quoted elements escape quotes and backslashes, nulls bare, unquoted as given', () => {
  assert.equal(
    arrayLiteral(['a', 'b"c', 'd\\e', '', 'NULL', 'x,{y}'], true),
    '{"a","b\\"c","d\\\\e","","NULL","x,{y}"}',
  );
  assert.equal(arrayLiteral([null, null], true), '{NULL,NULL}');
  assert.equal(arrayLiteral(['1', '-2', '9007199254740991', null], false), '{1,-2,9007199254740991,NULL}');
  assert.equal(arrayLiteral([], false), '{}');
});

// What the live check reads from pg_catalog for the fixture's players table, as Prisma Migrate creates it.
const playersTable = (): TableInfo => ({
  columns: [
    ['id', 'integer', true, false],
    ['score', 'integer', true, true],
    ['xp', 'bigint', true, true],
    ['name', 'character varying(20)', true, false],
    ['level', 'integer', false, false],
    ['ratio', 'double precision', true, true],
    ['accuracy', 'real', false, false],
    ['balance', 'numeric(12,2)', true, true],
    ['bonus', 'numeric(65,30)', false, false],
    ['active', 'boolean', true, true],
    ['last_seen', 'timestamp(3) without time zone', false, false],
    ['birthday', 'date', false, false],
    ['prefs', 'jsonb', false, false],
    ['tier', 'tier', true, true],
    ['created_at', 'timestamp(3) without time zone', true, true],
    ['updated_at', 'timestamp(3) without time zone', true, false],
    ['notes', 'text', false, false],
    ['version', 'bigint', true, true],
  ].map(([name, type, notNull, hasDefault]) => ({
    name: name as string,
    type: type as string,
    notNull: notNull as boolean,
    hasDefault: hasDefault as boolean,
    ...(name === 'tier' ? { enumName: 'tier', labels: ['FREE', 'pro'] } : {}),
  })),
  uniques: [['id']],
});

test('the live check accepts the table Prisma Migrate makes from the schema', () => {
  assert.deepEqual(checkTable(player, playersTable()), []);
});

test('the live check names each difference: entity, field, column, found and expected', () => {
  const info = playersTable();
  const column = (name: string) => info.columns.find((c) => c.name === name) as TableInfo['columns'][number];
  column('score').type = 'bigint';
  column('level').notNull = true;
  column('tier').labels = ['FREE'];
  column('notes').notNull = true;
  info.columns = info.columns.filter((c) => c.name !== 'xp');
  info.uniques = [];
  assert.deepEqual(checkTable(player, info), [
    'entities.player.key: "players" has no primary key or unique index on exactly (id), which the flush\'s upsert needs (ON CONFLICT)',
    'entities.player.fields.score: column "score" of "players" is bigint, expected integer (counter)',
    'entities.player: table "players" has no column "xp" (field xp): apply the migrations',
    'entities.player.fields.level: column "level" of "players" is NOT NULL, but the field is nullable: the database would refuse null',
    'entities.player.fields.tier: column "tier" of "players": enum tier lacks pro (it has FREE)',
    'entities.player: column "notes" of "players" is NOT NULL without a default, so the flush could not insert a row: declare it as a field or give it a default',
  ]);
  assert.deepEqual(checkTable(player, undefined), [
    'entities.player: table "players" (model Player) does not exist in the database: apply the migrations',
  ]);
});

test('the version column must be bigint, and the message says how to add it', () => {
  const info = playersTable();
  info.columns = info.columns.filter((c) => c.name !== 'version');
  assert.match(checkTable(player, info).join('\n'), /has no column "version" \(the write-behind version\)/);
  info.columns.push({ name: 'version', type: 'integer', notNull: true, hasDefault: true });
  assert.match(
    checkTable(player, info).join('\n'),
    /is integer, expected bigint: ALTER TABLE "players" ADD COLUMN "version" bigint NOT NULL DEFAULT 0/,
  );
});

test('the tombstone SQL users paste is what Prisma Migrate writes for the model', () => {
  const migration = readFileSync(
    new URL('../../../../prisma/migrations/20261122000000_init/migration.sql', import.meta.url),
    'utf8',
  );
  const sql = tombstoneTableSql(TOMB);
  for (const statement of sql
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)) {
    assert.ok(migration.includes(statement), `the migration holds:\n${statement}`);
  }
  const good: TableInfo = {
    columns: [
      { name: 'entity', type: 'text', notNull: true, hasDefault: false },
      { name: 'key', type: 'text', notNull: true, hasDefault: false },
      { name: 'version', type: 'bigint', notNull: true, hasDefault: false },
      { name: 'deleted_at', type: 'timestamp(3) without time zone', notNull: true, hasDefault: true },
    ],
    uniques: [['entity', 'key']],
  };
  assert.deepEqual(checkTombstones(TOMB, good), []);
  assert.match(
    checkTombstones(TOMB, undefined).join(''),
    /does not exist in the database: create it with:\nCREATE TABLE/,
  );
  assert.match(
    checkTombstones(TOMB, { ...good, uniques: [] }).join(''),
    /needs a primary key on \(entity, key\)/,
  );
});
