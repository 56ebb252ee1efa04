// Replays for every key kind: an upsert with the same or an older version changes nothing, and a flush that
// committed but failed before its acknowledgement is retried without applying an increment twice.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FieldValue } from '@write-behind/core';
import { crashAfterCommit } from '@write-behind/testkit';
import { createKindsHarness, type EntityName, type KindsHarness, playerRow } from './harness.ts';

let h: KindsHarness;
const crash = crashAfterCommit('upsert');
before(async () => {
  h = await createKindsHarness({ flush: { windowMs: 50, backoffMs: 20 }, wrapStore: crash.wrapStore });
});
after(() => h.close());

const player = (score: number, balance: string): Record<string, FieldValue> => ({
  score,
  xp: score * 10,
  name: `v${score}`,
  level: null,
  ratio: 0.5,
  accuracy: null,
  balance,
  bonus: null,
  active: true,
  lastSeen: new Date(score * 1000),
  birthday: null,
  prefs: { score },
  tier: 'FREE',
});

const replays: {
  name: string;
  entity: EntityName;
  id: string;
  values(n: number): Record<string, FieldValue>;
  read(): Promise<unknown>;
}[] = [
  {
    name: 'player (Int key)',
    entity: 'player',
    id: '5',
    values: (n) => player(n, `${n}.25`),
    read: async () => {
      const row = await playerRow(h.db, 5);
      return row && [row.score, row.xp, row.name, row.balance, row.lastSeen, row.prefs, row.version];
    },
  },
  {
    name: 'device (UUID key)',
    entity: 'device',
    id: 'f47ac10b-58cc-4372-a567-0e02b2c3d479',
    values: (n) => ({ pings: n, label: `v${n}` }),
    read: () =>
      row(
        `SELECT pings::int, label, version::int FROM "Device" WHERE id = 'f47ac10b-58cc-4372-a567-0e02b2c3d479'`,
      ),
  },
  {
    name: 'ledger (BigInt key)',
    entity: 'ledger',
    id: '-9223372036854775808',
    values: (n) => ({ entries: n, memo: `v${n}` }),
    read: () => row('SELECT entries::int, memo, version::int FROM "Ledger" WHERE id = -9223372036854775808'),
  },
  {
    name: 'membership (composite key)',
    entity: 'membership',
    id: 'f47ac10b-58cc-4372-a567-0e02b2c3d479/9',
    values: (n) => ({ role: `v${n}`, visits: n, since: new Date(n * 1000) }),
    read: () =>
      row(
        'SELECT role, visits, extract(epoch FROM since)::int AS since, version::int FROM memberships WHERE user_id = 9',
      ),
  },
];

async function row(sql: string): Promise<unknown> {
  const { rows } = await h.db.pool.query(sql);
  return rows[0] && Object.values(rows[0]);
}

for (const r of replays) {
  test(`${r.name}: replaying an upsert with the same or an older version changes nothing`, async () => {
    const entity = h.resolved[r.entity];
    await h.store.upsert(entity, [{ id: r.id, version: 5, values: r.values(50) }]);
    const written = await r.read();
    assert.ok(written, 'the first upsert wrote the row');
    await h.store.upsert(entity, [{ id: r.id, version: 5, values: r.values(999) }]);
    assert.deepEqual(await r.read(), written, 'the same version again');
    await h.store.upsert(entity, [{ id: r.id, version: 3, values: r.values(30) }]);
    assert.deepEqual(await r.read(), written, 'an older version');
    await h.store.upsert(entity, [{ id: r.id, version: 6, values: r.values(60) }]);
    assert.notDeepEqual(await r.read(), written, 'a newer version does apply');
  });
}

test('player (Int key), ledger (BigInt key), membership (composite key): a flush that committed but was not acknowledged does not apply increments twice', async () => {
  await h.startWorker();
  const membership = { orgId: '7c9e6679-7425-40de-944b-e07fc1f90ae7', userId: 4 };
  await h.cache.set('player', 6, { name: 'once', ratio: 0 });
  await h.cache.set('membership', membership, { role: 'once', since: new Date(0) });
  for (let i = 0; i < 7; i++) {
    await Promise.all([
      h.cache.increment('player', 6, 'score', 3),
      h.cache.increment('player', 6, 'xp', 1_000_000_000_000),
      h.cache.increment('ledger', 6n, 'entries', 3),
      h.cache.increment('membership', membership, 'visits', 3),
    ]);
  }
  crash.remaining = 3;
  await Promise.all([
    h.cache.flushed('player', 6, { timeoutMs: 10_000 }),
    h.cache.flushed('ledger', 6n, { timeoutMs: 10_000 }),
    h.cache.flushed('membership', membership, { timeoutMs: 10_000 }),
  ]);
  assert.equal(crash.remaining, 0, 'flushes failed after committing');
  const stored = await playerRow(h.db, 6);
  assert.deepEqual([stored?.score, stored?.xp], [21, '7000000000000']);
  const { rows } = await h.db.pool.query(
    `SELECT (SELECT entries::int FROM "Ledger" WHERE id = 6) AS entries,
            (SELECT visits FROM memberships WHERE user_id = 4) AS visits`,
  );
  assert.deepEqual(rows[0], { entries: 21, visits: 21 });
  assert.equal((await h.cache.get('player', 6))?.score, 21);
  assert.equal((await h.cache.get('membership', membership))?.visits, 21);
});
