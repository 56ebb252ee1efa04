// The operator's inspection on the kinds schema: ids typed as their keys (an Int key, a composite key of a
// UUID and an Int, given as canonical text or as the cache's API takes them), every field kind read back from
// Redis and from PostgreSQL, and the `@updatedAt` column the flush sets.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { PrismaClientLike } from '@write-behind/core';
import { Operator } from '@write-behind/core/operator';
import { createKindsHarness, type KindsHarness } from './harness.ts';

let h: KindsHarness;
let operator: Operator;
before(async () => {
  h = await createKindsHarness({ flush: { windowMs: 50 } });
  operator = new Operator(h.cache, { database: h.db.prisma as unknown as PrismaClientLike });
  await h.startWorker();
});
after(() => h.close());

test('an Int key: typed as text or as a number; the row with its @updatedAt', async () => {
  const before = Date.now();
  await h.cache.set('player', 42, { name: 'Ada', ratio: 0.5, lastSeen: new Date('2026-01-02T03:04:05Z') });
  await h.cache.flushed('player', 42);
  const byText = await operator.inspect('player', '42');
  const byNumber = await operator.inspect('player', 42);
  assert.equal(byText.id, '42');
  assert.equal(byText.key, 42);
  assert.equal(byNumber.state, 'clean');
  assert.equal(byText.redis.values?.name, 'Ada');
  assert.deepEqual(byText.database.row?.lastSeen, new Date('2026-01-02T03:04:05Z'));
  assert.equal(byText.database.row?.tier, 'FREE');
  assert.equal(byText.database.version, byText.redis.version);
  const updatedAt = byText.database.updatedAt.updated_at;
  assert.ok(typeof updatedAt === 'number' && updatedAt >= before - 1000, `updated_at ${updatedAt}`);
  await assert.rejects(operator.inspect('player', 'forty-two'), /player id must be an integer/);
  await assert.rejects(operator.inspect('player', '99999999999'), { code: 'VALIDATION' });
});

test('a composite key: its canonical text or its parts; wrong parts are refused by name', async () => {
  const id = { orgId: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', userId: 7 };
  await h.cache.set('membership', id, { role: 'owner', since: new Date('2026-03-01T00:00:00Z') });
  const dirty = await operator.inspect('membership', `${id.orgId.toUpperCase()}/7`);
  assert.equal(dirty.id, `${id.orgId}/7`);
  assert.deepEqual(dirty.key, id);
  assert.equal(dirty.redis.values?.role, 'owner');
  await h.cache.flushed('membership', id);
  const clean = await operator.inspect('membership', id);
  assert.equal(clean.state, 'clean');
  assert.equal(clean.database.row?.role, 'owner');
  await assert.rejects(operator.inspect('membership', id.orgId), /2 parts/);
  await assert.rejects(
    operator.inspect('membership', `${id.orgId}/x`),
    /membership id\.userId must be an integer/,
  );
});
