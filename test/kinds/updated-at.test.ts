// The columns a flush owns: an undeclared `@updatedAt` column is set on insert and moves on every flush that
// writes the row (and only then); undeclared columns (`createdAt`, the nullable `notes`) are never touched.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createKindsHarness, type KindsHarness, playerRow } from './harness.ts';

let h: KindsHarness;
before(async () => {
  h = await createKindsHarness({ flush: { windowMs: 50 } });
  await h.startWorker();
});
after(() => h.close());

const time = (iso: string | undefined) => new Date(iso ?? Number.NaN).getTime();

test('player: @updatedAt is set on insert and changes on each later flush; a replayed flush leaves it', async () => {
  const started = Date.now();
  await h.cache.set('player', 1, { name: 'first', ratio: 0 });
  const firstVersion = await h.versionOf('player', 1);
  await h.cache.flushed('player', 1);
  const inserted = await playerRow(h.db, 1);
  assert.ok(inserted);
  const first = time(inserted.updatedAt);
  // Prisma stores @updatedAt as UTC wall time; allow for the clock's and the rounding's slack.
  assert.ok(first >= started - 1000 && first <= Date.now() + 1000, `updated_at ${inserted.updatedAt}`);

  await h.cache.set('player', 1, { name: 'second' });
  await h.cache.flushed('player', 1);
  const second = time((await playerRow(h.db, 1))?.updatedAt);
  assert.ok(second > first, `updated_at moved from ${first} to ${second}`);

  await h.cache.increment('player', 1, 'score');
  await h.cache.flushed('player', 1);
  const afterIncrement = await playerRow(h.db, 1);
  const third = time(afterIncrement?.updatedAt);
  assert.ok(third > second, `updated_at moved from ${second} to ${third}`);

  // A replay of an older version (the first flush's) writes nothing, so it does not touch updated_at either.
  await h.store.upsert(h.resolved.player, [
    {
      id: '1',
      version: firstVersion,
      values: { ...(await h.cache.get('player', 1)), name: 'stale' },
    },
  ]);
  assert.deepEqual(await playerRow(h.db, 1), afterIncrement);
});

test('player: a row written by SQL gets a new updated_at from its first flush', async () => {
  await h.db.pool.query(
    `INSERT INTO players (id, name, updated_at, version) VALUES (2, 'by SQL', '2020-01-01 00:00:00', 1)`,
  );
  await h.cache.increment('player', 2, 'score');
  await h.cache.flushed('player', 2);
  const row = await playerRow(h.db, 2);
  assert.ok(time(row?.updatedAt) > time('2021-01-01T00:00:00Z'), `updated_at ${row?.updatedAt}`);
});

test('player: undeclared columns (createdAt, the nullable notes) keep what SQL put there across flushes', async () => {
  await h.cache.set('player', 3, { name: 'owned', ratio: 0 });
  await h.cache.flushed('player', 3);
  const inserted = await playerRow(h.db, 3);
  assert.ok(inserted);
  assert.equal(inserted.notes, null, 'a nullable column the entity does not declare is left NULL on insert');
  assert.ok(inserted.createdAt, 'createdAt took its database default');

  await h.db.pool.query(
    `UPDATE players SET notes = 'written by hand', created_at = '2001-02-03 04:05:06.789' WHERE id = 3`,
  );
  await h.cache.set('player', 3, { name: 'changed', balance: '3.5' });
  await h.cache.increment('player', 3, 'xp', 5);
  await h.cache.flushed('player', 3);
  const changed = await playerRow(h.db, 3);
  assert.deepEqual(
    [changed?.name, changed?.balance, changed?.xp, changed?.notes, changed?.createdAt],
    ['changed', '3.50', '5', 'written by hand', '2001-02-03T04:05:06.789Z'],
  );
});
