// Guarantee 7 (twice): a flush job whose worker dies twice (BullMQ maxStalledCount 1) is moved to the failed set with "job stalled
// more than allowable limit". The key is still dirty and nothing else writes it: it must still reach
// PostgreSQL: the sweep re-enqueues it under a fresh job id, and removes the failed job, which needs nothing
// from an operator.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHarness, type Harness, STALLED, videoRow } from '@write-behind/testkit';

let h: Harness;
before(async () => {
  h = await createHarness({
    flush: { windowMs: 100, backoffMs: 50 },
    sweep: { intervalMs: 300, graceMs: 300 },
  });
});
after(async () => {
  await h.close();
});

test('a job stalled twice still gets its key flushed', async () => {
  assert.equal(await h.cache.increment('video', 'twice', 'likes', 5), 5);
  // The version this write got from the shard's clock: the one the row must end with.
  const version = Number(await h.redis.hget(h.key('video', 'twice'), '_v'));
  for (let round = 0; round < 2; round++) {
    const child = h.spawnWorkerProcess({ store: 'hang-on-upsert' });
    await child.waitFor('upsert-started');
    await child.kill();
  }
  // A healthy worker with a fast stalled check: it finds the job stalled a second time and fails it.
  await h.startWorker(STALLED);
  let drained = true;
  try {
    await h.cache.drain({ timeoutMs: 15_000 });
  } catch {
    drained = false;
  }
  const failed = await h.queue.getFailed();
  const reasons = failed.map((j) => j.failedReason);
  assert.ok(
    drained,
    `drain finished (failed jobs: ${JSON.stringify(failed.map((j) => j.id))} ${JSON.stringify(reasons)})`,
  );
  const sweeps = h.logs.filter((l) => l.msg.includes('sweep re-enqueued'));
  assert.ok(
    sweeps.some((l) => (l.obj as { stalledJobsRemoved?: number }).stalledJobsRemoved === 1),
    `the job failed by stalling, as the test intends, and the sweep removed it: ${JSON.stringify(sweeps)}`,
  );
  assert.ok(
    h.logs.some((l) => l.level === 'warn' && l.msg.includes('failed by stalling too often')),
    'the failure is logged as a stall, for the sweep',
  );
  assert.ok(!h.logs.some((l) => l.msg.includes('it will be retried')), 'not as a retry that never comes');
  assert.deepEqual(failed, [], 'no failed job is left for an operator');
  assert.deepEqual(await videoRow(h.db, 'twice'), { likes: 5, views: 0, version });
});
