// Every field kind and key kind: a value set through the cache reaches PostgreSQL exactly (decimals to the
// last digit, times to the millisecond, JSON, enum labels, nulls) and reads back identically from a cold load.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type EntityInput, type EntityValues, ValidationError } from '@write-behind/core';
import {
  createKindsHarness,
  exactVersion,
  type KindsEntities,
  type KindsHarness,
  playerRow,
} from './harness.ts';

type PlayerValues = EntityValues<KindsEntities['player']>;

let h: KindsHarness;
before(async () => {
  h = await createKindsHarness({ flush: { windowMs: 50 } });
  await h.startWorker();
});
after(() => h.close());

/** Drops the key from Redis, so the next read loads it from PostgreSQL. */
async function evict(key: string): Promise<void> {
  assert.equal(await h.redis.del(key), 1, `${key} was in Redis`);
}

const full: PlayerValues = {
  score: 2_147_483_647,
  xp: Number.MAX_SAFE_INTEGER,
  // Quotes, a comma, braces and a backslash: what an array literal must escape. 18 characters.
  name: 'O\'Hara, "Ada" {x}\\',
  level: -2_147_483_648,
  ratio: 0.1 + 0.2,
  accuracy: 0.1,
  balance: '-9999999999.99',
  bonus: '12345678901234567890.123456789012345678901234567891',
  active: false,
  lastSeen: new Date('2024-02-29T23:59:59.999Z'),
  birthday: new Date('1990-05-17T00:00:00.000Z'),
  prefs: {
    theme: 'dark',
    quote: 'say "hi" \\ {a,b}',
    list: [1, null, 'x', { deep: true }],
    big: 1e21,
    empty: {},
  },
  tier: 'PRO',
};

// A `real` holds single precision: the cache keeps the value the column will hold, so every read agrees.
const read: PlayerValues = { ...full, accuracy: Math.fround(0.1) };

test('player (Int key): every field kind reaches PostgreSQL exactly and reads back identically when cold', async () => {
  assert.deepEqual(await h.cache.set('player', 1, full), read);
  assert.deepEqual(await h.cache.get('player', 1), read, 'a warm read');
  const version = await h.versionOf('player', 1);
  await h.cache.flushed('player', 1);

  const row = await playerRow(h.db, 1);
  assert.ok(row);
  const { createdAt: _c, updatedAt: _u, ...columns } = row;
  assert.deepEqual(columns, {
    id: 1,
    score: 2_147_483_647,
    xp: '9007199254740991',
    name: 'O\'Hara, "Ada" {x}\\',
    level: -2_147_483_648,
    ratio: 0.30000000000000004,
    accuracy: 0.1,
    balance: '-9999999999.99',
    bonus: '12345678901234567890.123456789012345678901234567891',
    active: false,
    lastSeen: '2024-02-29T23:59:59.999Z',
    birthday: '1990-05-17',
    prefs: full.prefs,
    tier: 'pro', // the enum value's @map
    notes: null,
    version,
  });

  await evict(h.key('player', 1));
  assert.deepEqual(await h.cache.get('player', 1), read, 'a cold read');
});

test('player: nulls and defaults reach PostgreSQL as NULL and column values, and read back the same', async () => {
  const created = await h.cache.set('player', 2, {
    name: 'Nil',
    ratio: 0,
    level: null,
    accuracy: null,
    bonus: null,
    lastSeen: null,
    birthday: null,
    prefs: null,
  });
  const expected: PlayerValues = {
    score: 0,
    xp: 0,
    name: 'Nil',
    level: null,
    ratio: 0,
    accuracy: null,
    balance: '0',
    bonus: null,
    active: true,
    lastSeen: null,
    birthday: null,
    prefs: null,
    tier: 'FREE',
  };
  assert.deepEqual(created, expected);
  await h.cache.flushed('player', 2);
  const row = await playerRow(h.db, 2);
  assert.deepEqual(
    row && [row.level, row.accuracy, row.balance, row.bonus, row.lastSeen, row.birthday, row.prefs, row.tier],
    [null, null, '0.00', null, null, null, null, 'FREE'],
  );
  // SQL NULL, not a JSON null.
  const { rows } = await h.db.pool.query('SELECT prefs IS NULL AS sql_null FROM players WHERE id = 2');
  assert.equal(rows[0]?.sql_null, true);
  await evict(h.key('player', 2));
  assert.deepEqual(await h.cache.get('player', 2), expected);
});

test('player: JSON of every shape, times at the edges of the range, names counted in characters', async () => {
  const cases: [number, EntityInput<KindsEntities['player']>, Partial<Record<string, unknown>>][] = [
    [10, { prefs: ['a', null, 2.5] }, { prefs: ['a', null, 2.5] }],
    [11, { prefs: 'just a string, "quoted"' }, { prefs: 'just a string, "quoted"' }],
    [12, { prefs: 0 }, { prefs: 0 }],
    [13, { prefs: { nested: null } }, { prefs: { nested: null } }],
    [14, { lastSeen: new Date('0001-01-01T00:00:00.000Z') }, { lastSeen: '0001-01-01T00:00:00.000Z' }],
    [15, { lastSeen: '9999-12-31T23:59:59.999Z' }, { lastSeen: '9999-12-31T23:59:59.999Z' }],
    [16, { lastSeen: new Date(-1) }, { lastSeen: '1969-12-31T23:59:59.999Z' }],
    [17, { name: '🎉'.repeat(20) }, { name: '🎉'.repeat(20) }],
    [
      18,
      { balance: 7n, bonus: '-0.000000000000000000000000000001' },
      {
        balance: '7.00',
        bonus: '-0.000000000000000000000000000001',
      },
    ],
  ];
  const written = await Promise.all(
    cases.map(([id, values]) => h.cache.set('player', id, { name: 'n', ratio: 1, ...values })),
  );
  await Promise.all(cases.map(([id]) => h.cache.flushed('player', id)));
  for (const [i, [id, , columns]] of cases.entries()) {
    const row = (await playerRow(h.db, id)) as unknown as Record<string, unknown>;
    for (const [column, value] of Object.entries(columns)) {
      assert.deepEqual(row[column], value, `player ${id}: column ${column}`);
    }
    await evict(h.key('player', id));
    assert.deepEqual(await h.cache.get('player', id), written[i], `player ${id} read back cold`);
  }
});

/**
 * What the cache acknowledges is what PostgreSQL keeps: a value its column would change must be refused (as
 * a decimal with too many digits is), or the warm read and the cold read of one key disagree.
 */
async function assertKeptOrRefused(id: number, values: EntityInput<KindsEntities['player']>): Promise<void> {
  const field = Object.keys(values)[0] as keyof PlayerValues;
  let acknowledged: PlayerValues;
  try {
    acknowledged = await h.cache.set('player', id, { name: 'n', ratio: 0, ...values });
  } catch (error) {
    assert.ok(error instanceof ValidationError, String(error));
    assert.equal(await h.redis.exists(h.key('player', id)), 0, 'a refused write changed nothing');
    return;
  }
  await h.cache.flushed('player', id);
  await evict(h.key('player', id));
  const cold = await h.cache.get('player', id);
  assert.deepEqual(
    cold?.[field],
    acknowledged[field],
    `player.${field}: PostgreSQL kept another value than the one the cache acknowledged and served while warm`,
  );
}

test('player: a time of day in a @db.Date is refused or kept, never silently dropped', () =>
  assertKeptOrRefused(20, { birthday: new Date('1990-05-17T12:34:56.789Z') }));

test('player: a double that a @db.Real cannot hold is refused or kept, never silently rounded', () =>
  assertKeptOrRefused(21, { accuracy: 1 / 3 }));

test('device (UUID key): any case in, the canonical lower-case id in the row, the same record either way', async () => {
  const upper = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11';
  const lower = upper.toLowerCase();
  assert.equal(await h.cache.increment('device', upper, 'pings', 3), 3);
  assert.deepEqual(await h.cache.set('device', lower, { label: 'kitchen' }), { pings: 3, label: 'kitchen' });
  const version = await h.versionOf('device', upper);
  await h.cache.flushed('device', upper);
  const { rows } = await h.db.pool.query('SELECT id, pings::int, label, version::text FROM "Device"');
  assert.deepEqual(rows, [{ id: lower, pings: 3, label: 'kitchen', version: String(version) }]);
  await evict(h.key('device', lower));
  assert.deepEqual(await h.cache.get('device', upper), { pings: 3, label: 'kitchen' });
});

test('ledger (BigInt key): bigint and number ids, up to 2^63-1, reach their rows and read back', async () => {
  const max = 2n ** 63n - 1n;
  const min = -(2n ** 63n);
  await h.cache.increment('ledger', max, 'entries', Number.MAX_SAFE_INTEGER);
  await h.cache.set('ledger', min, { memo: 'the smallest id' });
  await h.cache.increment('ledger', 42n, 'entries', 2);
  await h.cache.increment('ledger', 42, 'entries', 3); // the same key as 42n
  const versions = await Promise.all([min, 42, max].map((id) => h.versionOf('ledger', id)));
  await Promise.all([max, min, 42n].map((id) => h.cache.flushed('ledger', id)));
  const { rows } = await h.db.pool.query(
    'SELECT id::text, entries::text, memo, version::text FROM "Ledger" ORDER BY id',
  );
  assert.deepEqual(
    rows.map((r) => ({ ...r, version: exactVersion(r.version) })),
    [
      { id: min.toString(), entries: '0', memo: 'the smallest id', version: versions[0] },
      { id: '42', entries: '5', memo: null, version: versions[1] },
      { id: max.toString(), entries: String(Number.MAX_SAFE_INTEGER), memo: null, version: versions[2] },
    ],
  );
  for (const id of [max, min, 42n]) await evict(h.key('ledger', id));
  assert.deepEqual(await h.cache.get('ledger', max), { entries: Number.MAX_SAFE_INTEGER, memo: null });
  assert.deepEqual(await h.cache.get('ledger', min), { entries: 0, memo: 'the smallest id' });
  assert.deepEqual(await h.cache.get('ledger', 42), { entries: 5, memo: null });
});

test('membership (composite uuid + Int key): mapped columns, a timestamptz, the same record by any part order', async () => {
  const orgId = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
  const since = new Date('2023-06-30T22:15:00.123Z');
  await h.cache.set('membership', { orgId, userId: 7 }, { role: 'owner, "admin"', since });
  assert.equal(await h.cache.increment('membership', { userId: 7, orgId: orgId.toUpperCase() }, 'visits'), 1);
  await h.cache.set('membership', { orgId, userId: -7 }, { role: 'guest', since: '2023-06-30T22:15:00Z' });
  const versionOf = (userId: number) => h.versionOf('membership', { orgId, userId });
  const [guest, owner] = [await versionOf(-7), await versionOf(7)];
  await h.cache.flushed('membership', { orgId, userId: 7 });
  await h.cache.flushed('membership', { orgId, userId: -7 });
  const { rows } = await h.db.pool.query(
    `SELECT org_id, user_id, role, visits, to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS since, version::text
     FROM memberships ORDER BY user_id`,
  );
  assert.deepEqual(
    rows.map((r) => ({ ...r, version: exactVersion(r.version) })),
    [
      {
        org_id: orgId,
        user_id: -7,
        role: 'guest',
        visits: 0,
        since: '2023-06-30T22:15:00.000Z',
        version: guest,
      },
      {
        org_id: orgId,
        user_id: 7,
        role: 'owner, "admin"',
        visits: 1,
        since: '2023-06-30T22:15:00.123Z',
        version: owner,
      },
    ],
  );
  await evict(h.key('membership', { orgId, userId: 7 }));
  assert.deepEqual(await h.cache.get('membership', { orgId, userId: 7 }), {
    role: 'owner, "admin"',
    visits: 1,
    since,
  });
});
