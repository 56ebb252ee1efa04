// Failing before acknowledging anything: a definition that does not fit the Prisma schema throws at
// `createWriteBehind`; a live database that differs from the schema rejects `ready`, then every write (with the
// same error, nothing reaching Redis) and every worker's `ready` (the worker takes no job).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ConfigurationError,
  counter,
  createWriteBehind,
  dateTime,
  decimal,
  type EntityDefinitions,
  enumeration,
  json,
  string,
} from '@write-behind/core';
import { cleanupRedis, prefixPattern, REDIS_URL, recordingLogger, testPrefix } from '@write-behind/testkit';
import { Redis } from 'ioredis';
import { misfits } from '../schemas/kinds/index.ts';
import { createKindsDatabase, type KindsDatabase, kindsEntities } from './harness.ts';

let db: KindsDatabase;
let redis: Redis;
before(async () => {
  db = await createKindsDatabase();
  redis = new Redis(REDIS_URL);
});
after(async () => {
  redis.disconnect();
  await db.drop();
});

const definitionErrors: [string, EntityDefinitions, RegExp][] = [
  ...misfits,
  [
    'a model name typo',
    { player: { model: 'Plyer', key: { id: 'int' }, fields: { score: counter() } } },
    /entities\.player\.model: the Prisma schema has no model "Plyer" \(models: Player, Device, Ledger, Membership, WriteBehindTombstone, Profile, Team, Athlete, Message, Gateway, Sensor, Author, Book\)/,
  ],
  [
    'a key name typo',
    {
      membership: { model: 'Membership', key: { orgId: 'uuid', user: 'int' }, fields: { visits: counter() } },
    },
    /model Membership has no field "user" \(the key\)/,
  ],
  [
    "an 'int' key on a BigInt column",
    { ledger: { model: 'Ledger', key: { id: 'int' }, fields: { entries: counter() } } },
    /entities\.ledger\.key: Ledger\.id is BigInt, which is key kind 'bigint', not 'int'/,
  ],
  [
    "a 'string' key part on a UUID column",
    {
      membership: {
        model: 'Membership',
        key: { orgId: 'string', userId: 'int' },
        fields: { role: string(), since: dateTime() },
      },
    },
    /Membership\.orgId is String @db\.Uuid, which is key kind 'uuid', not 'string'/,
  ],
  [
    'decimal() on a Float',
    { player: { model: 'Player', key: { id: 'int' }, fields: { ratio: decimal() } } },
    /fields\.ratio is declared as decimal\(\), but Player\.ratio is Float: declare it as number\(\)/,
  ],
  [
    'json() on a DateTime',
    { player: { model: 'Player', key: { id: 'int' }, fields: { lastSeen: json({ nullable: true }) } } },
    /fields\.lastSeen is declared as json\(\), but Player\.lastSeen is DateTime: declare it as dateTime\(\)/,
  ],
  [
    'string() on the enum',
    { player: { model: 'Player', key: { id: 'int' }, fields: { tier: string() } } },
    /fields\.tier is declared as string\(\), but Player\.tier is Tier: declare it as enumeration\(\[\.\.\.\]\)/,
  ],
  [
    "an enum value by its database label (the enum's @map)",
    { player: { model: 'Player', key: { id: 'int' }, fields: { tier: enumeration(['FREE', 'pro']) } } },
    /fields\.tier: enum Tier has no value "pro" \(its values: FREE, PRO\)/,
  ],
];

for (const [what, entities, message] of definitionErrors) {
  test(`createWriteBehind throws a ConfigurationError for ${what}`, () => {
    assert.throws(
      () => createWriteBehind({ redis: REDIS_URL, prisma: db.prisma, entities, prefix: testPrefix() }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError, String(error));
        assert.match(error.message, message);
        return true;
      },
    );
  });
}

/** Every key under a prefix: data, dirty index, queues. */
async function keysUnder(prefix: string): Promise<string[]> {
  return redis.keys(prefixPattern(prefix));
}

const liveMismatches: [string, string, RegExp][] = [
  [
    'an Int column altered to bigint',
    'ALTER TABLE players ALTER COLUMN score TYPE bigint',
    /entities\.player\.fields\.score: column "score" of "players" is bigint, expected integer \(counter\)/,
  ],
  [
    'a decimal column with another scale',
    'ALTER TABLE players ALTER COLUMN balance TYPE numeric(12,4)',
    /entities\.player\.fields\.balance: column "balance" of "players" is numeric\(12,4\), expected numeric\(12,2\) \(decimal\)/,
  ],
  [
    'a UUID key column altered to text',
    'ALTER TABLE "Device" ALTER COLUMN id TYPE text',
    /entities\.device\.key\.id: column "id" of "Device" is text, expected uuid \(key kind 'uuid'\)/,
  ],
  [
    "an enum that lost the @map'ped label",
    `ALTER TYPE tier RENAME VALUE 'pro' TO 'PRO'`,
    /entities\.player\.fields\.tier: column "tier" of "players": enum tier lacks pro \(it has FREE, PRO\)/,
  ],
  [
    'a nullable column made NOT NULL',
    'ALTER TABLE players ALTER COLUMN level SET NOT NULL',
    /entities\.player\.fields\.level: column "level" of "players" is NOT NULL, but the field is nullable/,
  ],
  [
    'a dropped primary key',
    'ALTER TABLE memberships DROP CONSTRAINT memberships_pkey',
    /entities\.membership\.key: "memberships" has no primary key or unique index on exactly \(org_id, user_id\)/,
  ],
  [
    'a dropped tombstone table',
    'DROP TABLE write_behind_tombstone',
    /the tombstone table "write_behind_tombstone" does not exist in the database: create it with:\nCREATE TABLE "write_behind_tombstone"/,
  ],
];

for (const [what, alter, message] of liveMismatches) {
  test(`a live database with ${what}: ready, writes and workers fail with the ConfigurationError; nothing reaches Redis`, async () => {
    const altered = await createKindsDatabase();
    const prefix = testPrefix();
    const { logger } = recordingLogger();
    await altered.pool.query(alter);
    const cache = createWriteBehind({
      redis: REDIS_URL,
      prisma: altered.prisma,
      entities: kindsEntities,
      prefix,
      logger,
    });
    try {
      const mismatch = await cache.ready.then(
        () => assert.fail('ready resolved'),
        (error: unknown) => error,
      );
      assert.ok(mismatch instanceof ConfigurationError, String(mismatch));
      assert.match(mismatch.message, message);

      const refusals = await Promise.allSettled([
        cache.increment('player', 1, 'score'),
        cache.set('player', 2, { name: 'n', ratio: 0 }),
        cache.set('device', '0b6c8f46-54a3-4c3e-8d8c-7a1e0e4f5b21', { label: 'x' }),
        cache.increment('ledger', 3n, 'entries'),
        cache.increment('membership', { orgId: '0b6c8f46-54a3-4c3e-8d8c-7a1e0e4f5b21', userId: 4 }, 'visits'),
        cache.delete('player', 5),
        cache.get('player', 6),
      ]);
      for (const refusal of refusals) {
        assert.equal(refusal.status, 'rejected');
        assert.equal(refusal.status === 'rejected' && refusal.reason, mismatch, 'the same error');
      }
      assert.deepEqual(await keysUnder(prefix), [], 'nothing reached Redis');

      // A flush job already waiting (from before the schema changed): the worker must not take it.
      const job = await cache.queues[0]?.add(
        'flush',
        { entity: 'player', id: '1' },
        { jobId: 'player.1.v1' },
      );
      const worker = cache.createWorker({ closeTimeoutMs: 1000 });
      await assert.rejects(worker.ready, (error: unknown) => error === mismatch);
      await worker.close();
      assert.equal(await cache.queues[0]?.getJobState(job?.id as string), 'waiting');
    } finally {
      await cache.close();
      await cleanupRedis(prefix);
      await altered.drop();
    }
  });
}
