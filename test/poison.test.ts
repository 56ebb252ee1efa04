// Guarantee 9: a row the database refuses fails only its own job, after the last attempt, with its error
// kept; the rest of its batch is written (the batch is split); after the cause is fixed a retry succeeds.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHarness, eventually, type Harness, videoRow } from '@write-behind/testkit';

let h: Harness;
before(async () => {
  h = await createHarness({ flush: { windowMs: 200, attempts: 2, backoffMs: 20 } });
  await h.db.pool.query(`ALTER TABLE "Video" ADD CONSTRAINT likes_below_million CHECK (likes < 1000000)`);
});
after(() => h.close());

test('one poison key fails alone; its neighbours in the batch land; a retry after the fix succeeds', async () => {
  const worker = await h.startWorker();
  // Written together, so their jobs fall due together and share batches with the poison key.
  await Promise.all([
    ...Array.from({ length: 40 }, (_, i) => h.cache.increment('video', `ok${i}`, 'likes', i + 1)),
    h.cache.increment('video', 'poison', 'likes', 2_000_000),
    ...Array.from({ length: 40 }, (_, i) => h.cache.increment('video', `ok${i + 40}`, 'likes', i + 41)),
  ]);

  assert.ok(
    await eventually(async () => (await h.queue.getJobCounts()).failed === 1),
    'the poison job failed for good',
  );
  assert.ok(
    await eventually(async () => (await h.cache.stats()).dirtyKeys === 1),
    'every other key was flushed',
  );
  for (let i = 0; i < 80; i++) assert.equal((await videoRow(h.db, `ok${i}`))?.likes, i + 1);
  assert.equal(await videoRow(h.db, 'poison'), undefined);

  const [failed] = await h.queue.getFailed();
  assert.ok(failed);
  assert.equal(failed.data.id, 'poison');
  assert.equal(failed.attemptsMade, 2);
  assert.match(failed.failedReason, /likes_below_million/);
  // The database's message once, with its SQLSTATE; the driver's wrapping and the stack are not repeated.
  assert.equal(
    failed.failedReason,
    'the database refused video "poison": new row for relation "Video" violates check constraint "likes_below_million" (23514)',
  );
  const lines = h.logs.filter((l) => /flush job failed/.test(l.msg));
  assert.equal(lines.length, 2, 'one line per attempt');
  for (const line of lines) {
    assert.deepEqual(Object.keys(line.obj).sort(), [
      'attemptsMade',
      'dbCode',
      'entity',
      'id',
      'jobId',
      'reason',
    ]);
    assert.equal((line.obj as { dbCode: string }).dbCode, '23514');
    assert.ok(JSON.stringify(line.obj).length < 300, `a short line: ${JSON.stringify(line.obj)}`);
  }
  // Splitting cost a few statements per attempt, far fewer than one per key.
  assert.ok(worker.counters.statements <= 40, `statements: ${worker.counters.statements}`);
  const stats = await h.cache.stats();
  assert.equal(stats.failedKeys, 1);
  assert.equal(stats.dirtyKeys, 1);

  // Other writes keep flowing while the poison key waits.
  await h.cache.increment('video', 'later', 'views', 3);
  await h.cache.flushed('video', 'later');
  assert.equal((await videoRow(h.db, 'later'))?.views, 3);

  // The operator fixes the data, then retries the job: it writes the key's current state.
  await h.cache.increment('video', 'poison', 'likes', -1_999_000);
  await h.db.pool.query(`ALTER TABLE "Video" DROP CONSTRAINT likes_below_million`);
  await failed.retry();
  await h.cache.flushed('video', 'poison');
  assert.equal((await videoRow(h.db, 'poison'))?.likes, 1000);
  assert.equal((await h.cache.stats()).failedKeys, 0);
});
