// Guarantee 5 and per-key order: deletes reach the database; put/delete/put keep their order; a delete is
// never overtaken by an older put.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHarness, type Harness, settingsRow } from '@write-behind/testkit';

let h: Harness;
before(async () => {
  h = await createHarness({ flush: { windowMs: 300 } });
  await h.startWorker();
});
after(() => h.close());

// Versions come from the shard's clock (microseconds, about 1.8e15): too large for `::int`, below 2^53, so
// they are read as text; tests compare them with the version Redis gave a write, or with each other.
async function tombstone(entity: string, id: string): Promise<number | undefined> {
  const { rows } = await h.db.pool.query(
    'SELECT version::text FROM write_behind_tombstone WHERE entity = $1 AND key = $2',
    [entity, id],
  );
  return rows[0] && exact(rows[0].version);
}
/** The version of the key's last write, as Redis holds it. */
async function versionInRedis(entity: string, id: string): Promise<number> {
  return exact(await h.redis.hget(h.key(entity, id), '_v'));
}
/** Waits for the flush of user `id`'s settings, then checks that its row holds `settings` at `version`. */
async function assertFlushedRow(
  id: string,
  settings: { theme: string; language: string; notifications: boolean },
  version: number,
): Promise<void> {
  await h.cache.flushed('settings', id);
  assert.deepEqual(await settingsRow(h.db, id), { ...settings, version });
}
function exact(text: string | null): number {
  const number = Number(text);
  assert.ok(text !== null && Number.isSafeInteger(number), `version ${text}`);
  return number;
}

test('a delete reaches the database and is remembered', async () => {
  await h.cache.set('settings', 'u1', { theme: 'dark', language: 'en', notifications: false });
  const created = await versionInRedis('settings', 'u1');
  await assertFlushedRow('u1', { theme: 'dark', language: 'en', notifications: false }, created);
  assert.equal(await h.cache.delete('settings', 'u1'), true);
  const deleted = await versionInRedis('settings', 'u1');
  assert.ok(deleted > created, `the delete's version ${deleted} follows ${created}`);
  assert.equal(await h.cache.get('settings', 'u1'), null);
  await h.cache.flushed('settings', 'u1');
  assert.equal(await settingsRow(h.db, 'u1'), undefined);
  assert.equal(await tombstone('settings', 'u1'), deleted);
  assert.equal(await h.cache.get('settings', 'u1'), null, 'a read after the flushed delete loads nothing');
  assert.equal(await h.cache.delete('settings', 'u1'), false, 'deleting twice deletes nothing');
});

test('set then delete inside one window ends deleted', async () => {
  await h.cache.set('settings', 'u2', { language: 'fr' });
  await h.cache.delete('settings', 'u2');
  await h.cache.flushed('settings', 'u2');
  assert.equal(await settingsRow(h.db, 'u2'), undefined);
});

test('delete then set inside one window ends with the new record, defaults for fields not named', async () => {
  await h.db.pool.query(
    `INSERT INTO user_settings (user_id, theme, language, notifications, version) VALUES ('u3', 'dark', 'de', false, 3)`,
  );
  await h.cache.delete('settings', 'u3');
  const created = await h.cache.set('settings', 'u3', { language: 'it' });
  assert.deepEqual(created, { theme: 'light', language: 'it', notifications: true });
  const version = await versionInRedis('settings', 'u3');
  assert.ok(version > 3, `version ${version} follows the stored 3`);
  await assertFlushedRow('u3', { theme: 'light', language: 'it', notifications: true }, version);
});

test('put, delete, put across windows keep their order', async () => {
  await h.cache.set('settings', 'u4', { language: 'en' });
  await h.cache.flushed('settings', 'u4');
  const created = await versionInRedis('settings', 'u4');
  await h.cache.delete('settings', 'u4');
  const deleted = await versionInRedis('settings', 'u4');
  assert.ok(deleted > created, `the delete's version ${deleted} follows ${created}`);
  await h.cache.flushed('settings', 'u4');
  assert.equal(await settingsRow(h.db, 'u4'), undefined);
  assert.equal(await tombstone('settings', 'u4'), deleted);
  await h.cache.set('settings', 'u4', { language: 'pt', theme: 'dark' });
  const recreated = await versionInRedis('settings', 'u4');
  assert.ok(recreated > deleted, `the second put's version ${recreated} follows the delete's ${deleted}`);
  await assertFlushedRow('u4', { theme: 'dark', language: 'pt', notifications: true }, recreated);
});

test('a put older than a delete cannot bring the row back', async () => {
  const settings = h.resolved.settings;
  await h.store.upsert(settings, [
    { id: 'u5', version: 1, values: { theme: 'a', language: 'b', notifications: true } },
  ]);
  await h.store.delete(settings, [{ id: 'u5', version: 2 }]);
  // A stale flush of version 1 arriving late, e.g. from a worker that stalled.
  await h.store.upsert(settings, [
    { id: 'u5', version: 1, values: { theme: 'a', language: 'b', notifications: true } },
  ]);
  assert.equal(await settingsRow(h.db, 'u5'), undefined);
  // A put newer than the delete does create it again, and a cold load starts above the delete's version.
  const loaded = await h.store.load(settings, ['u5']);
  assert.deepEqual(loaded.get('u5'), { version: 2 });
  const created = await h.cache.set('settings', 'u5', { language: 'x' });
  assert.equal(created.language, 'x');
  const version = await versionInRedis('settings', 'u5');
  assert.ok(version > 2, `version ${version} follows the delete's 2`);
  await h.cache.flushed('settings', 'u5');
  assert.equal((await settingsRow(h.db, 'u5'))?.version, version);
});

test('a stale delete cannot remove a newer row', async () => {
  const video = h.resolved.video;
  await h.store.upsert(video, [{ id: 'd6', version: 4, values: { likes: 4, views: 0 } }]);
  await h.store.delete(video, [{ id: 'd6', version: 3 }]);
  const { rows } = await h.db.pool.query(`SELECT likes::int FROM "Video" WHERE id = 'd6'`);
  assert.equal(rows[0]?.likes, 4);
});

test('an increment after a delete creates the record again, from zero', async () => {
  assert.equal(await h.cache.increment('video', 'd7', 'likes', 3), 3);
  await h.cache.flushed('video', 'd7');
  assert.equal(await h.cache.delete('video', 'd7'), true);
  assert.equal(await h.cache.increment('video', 'd7', 'likes', 2), 2);
  assert.deepEqual(await h.cache.get('video', 'd7'), { likes: 2, views: 0 });
  await h.cache.flushed('video', 'd7');
  const { rows } = await h.db.pool.query(`SELECT likes::int, views::int FROM "Video" WHERE id = 'd7'`);
  assert.deepEqual(rows[0], { likes: 2, views: 0 });
});
