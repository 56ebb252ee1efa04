// Guarantee 15 on keys that are not text: a BigInt key and a composite key of a UUID and an Int (mapped
// columns), built from rows written in PostgreSQL before first use; `top` returns ids as they are passed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { counter, dateTime, string } from '@write-behind/core';
import { createWorld, type World } from '@write-behind/testkit';
import { createKindsPrisma, KINDS_MIGRATIONS_DIR, type PrismaClient } from '../schemas/kinds/index.ts';

const entities = {
  ledger: { model: 'Ledger', key: { id: 'bigint' }, fields: { entries: counter({ ranked: true }) } },
  membership: {
    model: 'Membership',
    key: { orgId: 'uuid', userId: 'int' },
    fields: { role: string(), visits: counter({ ranked: true }), since: dateTime() },
  },
} as const;

const ORG = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
let w: World<typeof entities, PrismaClient>;
before(async () => {
  w = await createWorld(entities, {
    shards: 2,
    limits: { maxLoadBatch: 3 },
    schema: { migrationsDir: KINDS_MIGRATIONS_DIR, createPrisma: createKindsPrisma },
  });
  await w.db.pool.query(`
    INSERT INTO "Ledger" (id, entries) VALUES (9007199254740993, 5), (2, 7), (-3, 1);
    INSERT INTO memberships (org_id, user_id, role, visits, since)
      SELECT '${ORG}', g, 'member', g * 2, now() FROM generate_series(1, 8) g;
  `);
});
after(() => w.close());

test('a BigInt key: rows paged in key order, ids returned as bigints', async () => {
  assert.deepEqual(await w.cache.top('ledger', 'entries', 3), [
    { id: 2n, value: 7, rank: 1 },
    { id: 9007199254740993n, value: 5, rank: 2 },
    { id: -3n, value: 1, rank: 3 },
  ]);
  await w.cache.increment('ledger', -3n, 'entries', 10);
  assert.deepEqual(await w.cache.rank('ledger', 'entries', -3n), { rank: 1, value: 11 });
  assert.deepEqual(await w.cache.rank('ledger', 'entries', 9007199254740993n), { rank: 3, value: 5 });
});

test('a composite key with mapped columns: ids returned as objects', async () => {
  assert.deepEqual(await w.cache.top('membership', 'visits', 2), [
    { id: { orgId: ORG, userId: 8 }, value: 16, rank: 1 },
    { id: { orgId: ORG, userId: 7 }, value: 14, rank: 2 },
  ]);
  await w.cache.delete('membership', { orgId: ORG, userId: 8 });
  assert.equal(await w.cache.rank('membership', 'visits', { orgId: ORG, userId: 8 }), null);
  assert.deepEqual(await w.cache.rank('membership', 'visits', { orgId: ORG.toUpperCase(), userId: 1 }), {
    rank: 7,
    value: 2,
  });
});
