// Creating a record uses the Prisma schema's defaults: constants (`@default(PRO)`, `@default(100)`) and the ones
// Prisma Client makes (`now()`, `uuid(7)`, `nanoid(10)`) are applied by the cache, a database default of an
// undeclared column (`autoincrement()`) by PostgreSQL; so a write that creates a record names only the
// fields without any default. A declared field whose default only the database can make is refused.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ConfigurationError,
  counter,
  createWriteBehind,
  dateTime,
  enumeration,
  integer,
  string,
} from '@write-behind/core';
import { createWorld, type World } from '@write-behind/testkit';
import type { PrismaClient } from '../schemas/kinds/index.ts';
import { KINDS_SCHEMA } from './harness.ts';

const profile = {
  model: 'Profile',
  key: { id: 'int' },
  fields: {
    handle: string(),
    token: string(),
    plan: enumeration(['FREE', 'PRO']),
    karma: counter(),
    since: dateTime(),
    note: string({ nullable: true }),
  },
} as const;
const entities = { profile };

let w: World<typeof entities, PrismaClient>;
before(async () => {
  w = await createWorld(entities, { schema: KINDS_SCHEMA, flush: { windowMs: 50 } });
});
after(() => w.close());

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('an increment creates a record from the defaults alone; each default lands in PostgreSQL', async () => {
  const worker = await w.startWorker();
  const before = Date.now();
  assert.equal(
    await w.cache.increment('profile', 1, 'karma', 5),
    105,
    'the counter starts at its @default(100)',
  );
  const record = await w.cache.get('profile', 1);
  assert.ok(record);
  assert.equal(record.plan, 'PRO');
  assert.equal(record.note, null);
  assert.match(record.handle, /^[A-Za-z0-9_-]{10}$/);
  assert.match(record.token, UUID_V7);
  assert.ok(record.since.getTime() >= before - 1000 && record.since.getTime() <= Date.now() + 1000);
  await w.cache.flushed('profile', 1);
  const { rows } = await w.db.pool.query(
    `SELECT handle, token::text AS token, plan::text AS plan, karma, since, note, seq FROM profiles WHERE id = 1`,
  );
  assert.deepEqual(rows[0], {
    handle: record.handle,
    token: record.token,
    plan: 'pro',
    karma: 105,
    since: record.since,
    note: null,
    seq: 1,
  });
  // Each record gets its own.
  await w.cache.increment('profile', 2, 'karma');
  const second = await w.cache.get('profile', 2);
  assert.notEqual(second?.handle, record.handle);
  assert.notEqual(second?.token, record.token);
  await worker.close();
});

test('adds to a record with no row insert it with its defaults', async () => {
  const worker = await w.startWorker();
  await w.cache.add('profile', 3, 'karma', 7);
  await w.cache.add('profile', 3, 'karma', 3);
  await w.cache.flush();
  const { rows } = await w.db.pool.query(
    `SELECT karma, plan::text AS plan, length(handle) AS handle, token IS NOT NULL AS token FROM profiles WHERE id = 3`,
  );
  assert.deepEqual(rows[0], { karma: 110, plan: 'pro', handle: 10, token: true });
  assert.equal((await w.cache.get('profile', 3))?.karma, 110);
  await worker.close();
});

test('a declared field whose default the database makes is a ConfigurationError that says what to do', () => {
  assert.throws(
    () =>
      createWriteBehind({
        redis: 'redis://127.0.0.1:1',
        prisma: w.db.prisma as never,
        entities: { profile: { ...profile, fields: { ...profile.fields, seq: integer() } } },
      }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(
        error.message,
        /entities\.profile\.fields\.seq: Profile\.seq: its @default\(autoincrement/,
      );
      assert.match(error.message, /leave the field out of the entity's fields/);
      return true;
    },
  );
});
