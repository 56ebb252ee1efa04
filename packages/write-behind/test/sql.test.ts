import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  arrayLiteral,
  deleteSql,
  loadSql,
  quoteIdent,
  type TableMapping,
  upsertSql,
} from '../src/store/sql.ts';

const mapping: TableMapping = {
  table: 'user_settings',
  keyColumn: 'user_id',
  versionColumn: 'version',
  columns: [
    { field: 'theme', column: 'theme', kind: 'string' },
    { field: 'score', column: 'sc"ore', kind: 'counter' },
  ],
  tombstoneTable: 'write_behind_tombstone',
};

test('identifiers are quoted, embedded quotes doubled', () => {
  assert.equal(quoteIdent('a"b'), '"a""b"');
});

test('upsert: one array parameter per column, guarded by version and tombstones', () => {
  const sql = upsertSql(mapping);
  assert.match(sql, /unnest\(\$1::text\[\], \$2::bigint\[\], \$3::text\[\], \$4::bigint\[\]\)/);
  assert.match(sql, /tb\.entity = \$5/);
  assert.match(sql, /ON CONFLICT \("user_id"\)/);
  assert.match(sql, /"sc""ore" = EXCLUDED\."sc""ore"/);
  assert.match(sql, /WHERE "user_settings"\."version" < EXCLUDED\."version"$/);
});

test('delete and tombstone in one statement', () => {
  const sql = deleteSql(mapping);
  assert.match(sql, /^WITH u AS/);
  assert.match(sql, /DELETE FROM "user_settings" USING u/);
  assert.match(sql, /INSERT INTO "write_behind_tombstone"/);
  assert.equal((sql.match(/;/g) ?? []).length, 0);
});

test('load returns row version, tombstone version and columns', () => {
  const sql = loadSql(mapping);
  assert.match(
    sql,
    /t\."version"::text AS r, tb\.version::text AS tv, t\."theme" AS c0, t\."sc""ore"::text AS c1/,
  );
});

test('arrayLiteral: strings always quoted with quotes and backslashes escaped, nulls bare, numbers and booleans plain', () => {
  assert.equal(
    arrayLiteral('string', ['a', 'b"c', 'd\\e', '', 'NULL', 'x,{y}']),
    '{"a","b\\"c","d\\\\e","","NULL","x,{y}"}',
  );
  assert.equal(arrayLiteral('string', [null, undefined]), '{NULL,NULL}');
  assert.equal(arrayLiteral('counter', [1, -2, 9007199254740991, null]), '{1,-2,9007199254740991,NULL}');
  assert.equal(arrayLiteral('number', [1.5, -0.25, Number.POSITIVE_INFINITY]), '{1.5,-0.25,Infinity}');
  assert.equal(arrayLiteral('boolean', [true, false, null]), '{t,f,NULL}');
  assert.equal(arrayLiteral('integer', []), '{}');
});
