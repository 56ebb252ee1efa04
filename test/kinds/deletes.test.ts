// Deletes for every key kind: the row goes, a tombstone keyed by the canonical id stays; a key recreated after
// its delete is written again; an upsert older than the delete never brings the row back.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FieldValue } from '@write-behind/core';
import {
  createKindsHarness,
  type EntityName,
  exactVersion,
  type KindsHarness,
  tombstoneVersion,
} from './harness.ts';

let h: KindsHarness;
before(async () => {
  h = await createKindsHarness({ flush: { windowMs: 50 } });
  await h.startWorker();
});
after(() => h.close());

interface KeyCase {
  name: string;
  entity: EntityName;
  /** The id as the caller passes it, and the canonical text the tombstone must be keyed by. */
  ids: { live: unknown; stale: unknown };
  canonical: { live: string; stale: string };
  /** Creates or recreates a key through the cache. */
  write(id: unknown): Promise<unknown>;
  /** The version of a key's row, or undefined when there is none (by canonical id). */
  rowVersion(canonical: string): Promise<number | undefined>;
  /** Every field's value, for calling the store directly. */
  values: Record<string, FieldValue>;
}

/** A row's version, selected as text: versions come from the shard's clock, beyond `::int`. */
async function version(sql: string, params: unknown[]): Promise<number | undefined> {
  const { rows } = await h.db.pool.query<{ version: string }>(sql, params);
  return rows[0] && exactVersion(rows[0].version);
}

// biome-ignore lint/suspicious/noExplicitAny: the cases hold ids of four entities; each is that entity's own.
const cache = () => h.cache as any;

// The ids as users pass them (numbers, bigints, UUIDs in upper case, objects) and the canonical texts.
const ORG = '3F2504E0-4F89-11D3-9A0C-0305E82C3301';
const org = ORG.toLowerCase();
const cases: KeyCase[] = [
  {
    name: 'player (Int key)',
    entity: 'player',
    ids: { live: -42, stale: 43 },
    canonical: { live: '-42', stale: '43' },
    write: (id) => cache().set('player', id, { name: 'p', ratio: 1 }),
    rowVersion: (id) => version('SELECT version::text FROM players WHERE id = $1', [Number(id)]),
    values: {
      score: 1,
      xp: 2,
      name: 'stale',
      level: null,
      ratio: 0,
      accuracy: null,
      balance: '1.5',
      bonus: null,
      active: true,
      lastSeen: new Date(0),
      birthday: null,
      prefs: { stale: true },
      tier: 'PRO',
    },
  },
  {
    name: 'device (UUID key)',
    entity: 'device',
    ids: { live: ORG, stale: 'C56A4180-65AA-42EC-A945-5FD21DEC0538' },
    canonical: { live: org, stale: 'c56a4180-65aa-42ec-a945-5fd21dec0538' },
    write: (id) => cache().increment('device', id, 'pings'),
    rowVersion: (id) => version('SELECT version::text FROM "Device" WHERE id = $1', [id]),
    values: { pings: 5, label: 'stale' },
  },
  {
    name: 'ledger (BigInt key)',
    entity: 'ledger',
    ids: { live: 2n ** 60n, stale: 2n ** 60n + 1n },
    canonical: { live: String(2n ** 60n), stale: String(2n ** 60n + 1n) },
    write: (id) => cache().increment('ledger', id, 'entries'),
    rowVersion: (id) => version('SELECT version::text FROM "Ledger" WHERE id = $1', [id]),
    values: { entries: 5, memo: 'stale' },
  },
  {
    name: 'membership (composite key)',
    entity: 'membership',
    ids: { live: { orgId: ORG, userId: 1 }, stale: { orgId: ORG, userId: 2 } },
    canonical: { live: `${org}/1`, stale: `${org}/2` },
    write: (id) => cache().set('membership', id, { role: 'r', since: new Date(0) }),
    rowVersion: (id) => {
      const [orgId, userId] = id.split('/');
      return version('SELECT version::text FROM memberships WHERE org_id = $1 AND user_id = $2', [
        orgId,
        userId,
      ]);
    },
    values: { role: 'stale', visits: 5, since: new Date(0) },
  },
];

for (const c of cases) {
  test(`${c.name}: a delete removes the row and leaves a tombstone under the canonical id; a recreate follows it`, async () => {
    assert.equal(h.canonical(c.entity, c.ids.live as never), c.canonical.live);
    // Versions come from the shard's clock: each write's, as Redis holds it, is what its flush stores.
    const versionInRedis = () => h.versionOf(c.entity, c.ids.live as never);
    await c.write(c.ids.live);
    const created = await versionInRedis();
    await cache().flushed(c.entity, c.ids.live);
    assert.equal(await c.rowVersion(c.canonical.live), created);

    assert.equal(await cache().delete(c.entity, c.ids.live), true);
    const deleted = await versionInRedis();
    assert.ok(deleted > created, `the delete's version ${deleted} follows ${created}`);
    assert.equal(await cache().get(c.entity, c.ids.live), null);
    await cache().flushed(c.entity, c.ids.live);
    assert.equal(await c.rowVersion(c.canonical.live), undefined, 'the row is gone');
    assert.equal(await tombstoneVersion(h.db, c.entity, c.canonical.live), deleted);
    assert.equal(await cache().delete(c.entity, c.ids.live), false, 'nothing left to delete');

    // Recreated: the row comes back above the delete's version, the tombstone stays as it was.
    await c.write(c.ids.live);
    const recreated = await versionInRedis();
    assert.ok(recreated > deleted, `the recreate's version ${recreated} follows the delete's ${deleted}`);
    await cache().flushed(c.entity, c.ids.live);
    assert.equal(await c.rowVersion(c.canonical.live), recreated);
    assert.equal(await tombstoneVersion(h.db, c.entity, c.canonical.live), deleted);
  });

  test(`${c.name}: an upsert older than the delete does not bring the row back`, async () => {
    const entity = h.resolved[c.entity];
    const id = c.canonical.stale;
    await h.store.upsert(entity, [{ id, version: 1, values: c.values }]);
    assert.equal(await c.rowVersion(id), 1);
    await h.store.delete(entity, [{ id, version: 2 }]);
    // A stale flush of version 1 arriving late (a worker that stalled, a replayed job).
    await h.store.upsert(entity, [{ id, version: 1, values: c.values }]);
    assert.equal(await c.rowVersion(id), undefined);
    assert.deepEqual((await h.store.load(entity, [id])).get(id), { version: 2 });
    // Through the cache, the cold key starts above the delete's version, so its write lands.
    assert.equal(await cache().get(c.entity, c.ids.stale), null);
    await c.write(c.ids.stale);
    const written = await h.versionOf(c.entity, c.ids.stale as never);
    assert.ok(written > 2, `the write's version ${written} follows the delete's 2`);
    await cache().flushed(c.entity, c.ids.stale);
    assert.equal(await c.rowVersion(id), written, 'a write newer than the delete creates the row again');
  });
}
