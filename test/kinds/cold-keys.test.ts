// Rows written by someone else (plain SQL) are loaded on the first write: an increment continues from the
// stored counter, a partial set keeps every other stored field, whatever the key and field kinds.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WriteBehindError } from '@write-behind/core';
import { createKindsHarness, exactVersion, type KindsHarness, type PlayerRow, playerRow } from './harness.ts';

let h: KindsHarness;
before(async () => {
  h = await createKindsHarness({ flush: { windowMs: 50 } });
  await h.startWorker();
});
after(() => h.close());

/** Inserts a player with every column set, as another application would. */
async function insertPlayer(id: number, xp = '9007199254740000'): Promise<PlayerRow> {
  await h.db.pool.query(
    `INSERT INTO players (id, score, xp, name, level, ratio, accuracy, balance, bonus, active, last_seen, birthday,
       prefs, tier, updated_at, notes, version)
     VALUES ($1, 41, $2, 'Stored', 5, 2.5, 0.25, 1234.5, 0.000001, false, '2020-01-02 03:04:05.678', '2000-02-29',
       '{"a": [1, 2], "b": null}', 'pro', '2020-01-01 00:00:00', 'hand-written', 4)`,
    [id, xp],
  );
  return (await playerRow(h.db, id)) as PlayerRow;
}

test('player (Int key): increments continue from the stored Int and BigInt counters; nothing else changes', async () => {
  const stored = await insertPlayer(100);
  assert.equal(await h.cache.increment('player', 100, 'score'), 42);
  assert.equal(await h.cache.increment('player', 100, 'xp', 1), 9_007_199_254_740_001);
  // From the shard's clock, above the stored 4: the version the flush stores.
  const version = await h.versionOf('player', 100);
  assert.ok(version > stored.version, `version ${version} follows the stored ${stored.version}`);
  await h.cache.flushed('player', 100);
  const row = await playerRow(h.db, 100);
  assert.deepEqual(row, {
    ...stored,
    score: 42,
    xp: '9007199254740001',
    version,
    updatedAt: row?.updatedAt, // @updatedAt moves: see updated-at.test.ts
  });
});

test('player: a partial set keeps every stored field (decimal, date, JSON, enum included)', async () => {
  const stored = await insertPlayer(101);
  const record = await h.cache.set('player', 101, { name: 'Renamed' });
  assert.deepEqual(record, {
    score: 41,
    xp: 9_007_199_254_740_000,
    name: 'Renamed',
    level: 5,
    ratio: 2.5,
    accuracy: 0.25,
    balance: '1234.5',
    bonus: '0.000001',
    active: false,
    lastSeen: new Date('2020-01-02T03:04:05.678Z'),
    birthday: new Date('2000-02-29T00:00:00.000Z'),
    prefs: { a: [1, 2], b: null },
    tier: 'PRO',
  });
  const version = await h.versionOf('player', 101);
  assert.ok(version > stored.version, `version ${version} follows the stored ${stored.version}`);
  await h.cache.flushed('player', 101);
  const row = await playerRow(h.db, 101);
  assert.deepEqual(row, { ...stored, name: 'Renamed', version, updatedAt: row?.updatedAt });
});

test('player: a stored BigInt beyond 2^53 is never rewritten by a write to another field', async () => {
  // 2^53 + 1: a JavaScript number cannot hold it. The write may be refused; it must not round the counter.
  const stored = await insertPlayer(102, '9007199254740993');
  try {
    await h.cache.set('player', 102, { name: 'Other field' });
  } catch (error) {
    assert.ok(error instanceof WriteBehindError, String(error));
    assert.equal((await playerRow(h.db, 102))?.xp, stored.xp);
    return;
  }
  await h.cache.flushed('player', 102);
  assert.equal((await playerRow(h.db, 102))?.xp, stored.xp, 'the flush rewrote xp, which no write touched');
});

test('ledger (BigInt key): an increment continues from the stored counter', async () => {
  const id = 2n ** 62n + 1n;
  await h.db.pool.query(`INSERT INTO "Ledger" (id, entries, memo, version) VALUES ($1, 1000, 'kept', 9)`, [
    id.toString(),
  ]);
  assert.equal(await h.cache.increment('ledger', id, 'entries', 5), 1005);
  const version = await h.versionOf('ledger', id);
  assert.ok(version > 9, `version ${version} follows the stored 9`);
  await h.cache.flushed('ledger', id);
  const { rows } = await h.db.pool.query(
    'SELECT entries::int, memo, version::text FROM "Ledger" WHERE id = $1',
    [id.toString()],
  );
  assert.deepEqual(rows[0], { entries: 1005, memo: 'kept', version: String(version) });
});

test('device (UUID key): an increment continues from the stored counter, found by an upper-case id', async () => {
  const id = '9f0b4c1e-6a2d-4c8e-9b3a-2f1d0e5c7a64';
  await h.db.pool.query(`INSERT INTO "Device" (id, pings, label, version) VALUES ($1, 77, 'hall', 2)`, [id]);
  assert.equal(await h.cache.increment('device', id.toUpperCase(), 'pings'), 78);
  assert.deepEqual(await h.cache.get('device', id), { pings: 78, label: 'hall' });
  const version = await h.versionOf('device', id);
  assert.ok(version > 2, `version ${version} follows the stored 2`);
  await h.cache.flushed('device', id);
  const { rows } = await h.db.pool.query(
    'SELECT pings::int, label, version::text FROM "Device" WHERE id = $1',
    [id],
  );
  assert.deepEqual(rows[0], { pings: 78, label: 'hall', version: String(version) });
});

test('membership (composite key): an increment and a partial set keep the stored role and timestamptz', async () => {
  const orgId = '0f8fad5b-d9cb-469f-a165-70867728950e';
  await h.db.pool.query(
    `INSERT INTO memberships (org_id, user_id, role, visits, since, version)
     VALUES ($1, 5, 'admin', 9, '2021-03-04 05:06:07.089+02', 3), ($1, 6, 'viewer', 0, '2021-03-04 00:00:00+00', 1)`,
    [orgId],
  );
  assert.equal(await h.cache.increment('membership', { orgId, userId: 5 }, 'visits'), 10);
  assert.deepEqual(await h.cache.set('membership', { orgId, userId: 6 }, { role: 'editor' }), {
    role: 'editor',
    visits: 0,
    since: new Date('2021-03-04T00:00:00.000Z'),
  });
  assert.deepEqual(await h.cache.get('membership', { orgId, userId: 5 }), {
    role: 'admin',
    visits: 10,
    since: new Date('2021-03-04T03:06:07.089Z'),
  });
  const [version5, version6] = [
    await h.versionOf('membership', { orgId, userId: 5 }),
    await h.versionOf('membership', { orgId, userId: 6 }),
  ];
  assert.ok(version5 > 3 && version6 > 1, `versions ${version5}, ${version6} follow the stored 3 and 1`);
  await h.cache.flushed('membership', { orgId, userId: 5 });
  await h.cache.flushed('membership', { orgId, userId: 6 });
  const { rows } = await h.db.pool.query(
    `SELECT user_id, role, visits, to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS since, version::text
     FROM memberships ORDER BY user_id`,
  );
  assert.deepEqual(
    rows.map((r) => ({ ...r, version: exactVersion(r.version) })),
    [
      { user_id: 5, role: 'admin', visits: 10, since: '2021-03-04T03:06:07.089', version: version5 },
      { user_id: 6, role: 'editor', visits: 0, since: '2021-03-04T00:00:00.000', version: version6 },
    ],
  );
});
