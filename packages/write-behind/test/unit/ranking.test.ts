// Rankings without a server: merging the shards' parts, the order of ties, the scan statement, and ids
// turned back into the caller's form.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareEntries, mergeTop } from '../../src/ranking/merge.ts';
import { decodeId, encodeId, idFromColumns, keyColumnsOf } from '../../src/schema/id-codec.ts';
import { scanSql } from '../../src/store/sql.ts';
import { membership, player } from './fixtures/schema.ts';

test('the shards’ first n merge into the first n, equal values sharing a rank (1, 2, 2, 4)', () => {
  const shards = [['a', '9', 'd', '5', 'e', '1'], ['b', '7', 'c', '7'], []];
  assert.deepEqual(mergeTop(shards, 4), [
    { id: 'a', value: 9, rank: 1 },
    { id: 'c', value: 7, rank: 2 },
    { id: 'b', value: 7, rank: 2 },
    { id: 'd', value: 5, rank: 4 },
  ]);
  assert.deepEqual(mergeTop(shards, 100).length, 5);
});

test('ties go by id descending as UTF-8 bytes, as Redis orders them (not UTF-16 units)', () => {
  // U+FF5E is below U+1F600 in UTF-8 bytes, above its surrogate pair in UTF-16 units.
  const sorted = [
    { id: '\uff5e', value: 1 },
    { id: '😀', value: 1 },
  ].sort(compareEntries);
  assert.deepEqual(
    sorted.map((e) => e.id),
    ['😀', '\uff5e'],
  );
});

test('scan: keyset pages over the key columns, cast to their types', () => {
  assert.equal(
    scanSql(membership, true),
    'SELECT t."org_id"::text AS k0, t."user_id"::text AS k1 FROM "memberships" t\nORDER BY t."org_id", t."user_id"\nLIMIT $1::int',
  );
  assert.match(
    scanSql(membership, false),
    /WHERE \(t\."org_id", t\."user_id"\) > \(\$1::uuid, \$2::integer\)/,
  );
  assert.match(scanSql(membership, false), /LIMIT \$3::int$/);
  assert.match(
    scanSql(player, false),
    /WHERE \(t\."id"\) > \(\$1::integer\)\nORDER BY t\."id"\nLIMIT \$2::int$/,
  );
});

test('ids: from key columns to canonical text and back to the form callers pass', () => {
  const id = { orgId: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', userId: 7 };
  const canonical = encodeId(membership, id, 512);
  assert.equal(idFromColumns(membership, keyColumnsOf(membership, canonical)), canonical);
  assert.deepEqual(decodeId(membership, canonical), { orgId: id.orgId.toLowerCase(), userId: 7 });
  assert.equal(decodeId(player, '42'), 42);
});
