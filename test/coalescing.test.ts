// Guarantee 1: many increments of one key become one database write per flush window.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHarness, eventually, type Harness, videoRow } from '@write-behind/testkit';

let h: Harness;
before(async () => {
  h = await createHarness({ flush: { windowMs: 1500 } });
  // Count real row writes: a trigger logs every insert and update of a video row.
  await h.db.pool.query(`
    CREATE TABLE row_writes (id text, at timestamptz DEFAULT clock_timestamp());
    CREATE FUNCTION log_row_write() RETURNS trigger AS $$
      BEGIN INSERT INTO row_writes (id) VALUES (NEW.id); RETURN NEW; END $$ LANGUAGE plpgsql;
    CREATE TRIGGER video_row_writes AFTER INSERT OR UPDATE ON "Video" FOR EACH ROW EXECUTE FUNCTION log_row_write();
  `);
});
after(() => h.close());

test('10,000 increments of one key land as the exact total with at most one row write per window', async () => {
  await h.startWorker();
  const started = Date.now();
  const results: number[] = [];
  for (let i = 0; i < 100; i++) {
    results.push(
      ...(await Promise.all(Array.from({ length: 100 }, () => h.cache.increment('video', 'hot', 'likes')))),
    );
  }
  const elapsed = Date.now() - started;
  // Each increment returned a distinct new value: 1..10000.
  assert.deepEqual(
    [...results].sort((a, b) => a - b),
    Array.from({ length: 10_000 }, (_, i) => i + 1),
  );
  await h.cache.flushed('video', 'hot', { timeoutMs: 15_000 });
  assert.equal((await videoRow(h.db, 'hot'))?.likes, 10_000);

  const { rows } = await h.db.pool.query('SELECT count(*)::int AS n FROM row_writes WHERE id = $1', ['hot']);
  const windows = Math.ceil(elapsed / 1500) + 1;
  assert.ok(
    rows[0].n >= 1 && rows[0].n <= windows,
    `expected at most ${windows} row writes, saw ${rows[0].n}`,
  );
  assert.equal(await h.cache.get('video', 'hot').then((v) => v?.likes), 10_000);
  assert.ok(await eventually(async () => (await h.cache.stats()).dirtyKeys === 0));
});
