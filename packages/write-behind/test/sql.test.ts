import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deleteSql, loadSql, quoteIdent, type TableMapping, upsertSql } from '../src/store/sql.ts';

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
