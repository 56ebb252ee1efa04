// Guarantee 8: a process that dies between the Redis write and the enqueue leaves a dirty key with no job;
// the sweep re-enqueues it, so no key stays dirty for ever. A key whose job failed for good is left to the
// operator, and lands once its job is retried.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SWEEP_JOB } from '@write-behind/core/internal';
import { createHarness, eventually, forwardingStore, type Harness, videoRow } from '@write-behind/testkit';

const SWEEP_MS = 300;

/** Removes a key's flush job, as if the enqueue never happened. */
async function orphan(h: Harness, entity: string, id: string): Promise<void> {
  const jobId = await h.jobIdOf(entity, id);
  assert.ok(jobId && (await h.queue.getJob(jobId)), `${jobId} was enqueued`);
  await h.queue.remove(jobId);
  assert.equal(await h.queue.getJob(jobId), undefined, `${jobId} is gone`);
}

/** The version of the key's last write, as Redis holds it (it comes from the shard's clock). */
async function versionInRedis(h: Harness, entity: string, id: string): Promise<number> {
  const text = await h.redis.hget(h.key(entity, id), '_v');
  assert.ok(text !== null && Number.isSafeInteger(Number(text)), `version ${text}`);
  return Number(text);
}

async function flushJobsFor(h: Harness, id: string) {
  const jobs = await h.queue.getJobs(['wait', 'delayed', 'active', 'prioritized']);
  return jobs.filter((j) => j.name === 'flush' && j.data.id === id);
}

/**
 * A harness of its own for the describe block that calls it, sweeping every SWEEP_MS with no grace: made before
 * its tests, closed after them; the function returned gives it to a test.
 */
function sweepingWorld(): () => Harness {
  let world: Harness | undefined;
  before(async () => {
    world = await createHarness({ flush: { windowMs: 50 }, sweep: { intervalMs: SWEEP_MS, graceMs: 0 } });
  });
  after(() => world?.close());
  return () => world as Harness;
}

describe('a dirty key whose job was never enqueued', () => {
  const harness = sweepingWorld();

  test('is re-enqueued by the sweep and reaches the database', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) await h.cache.increment('video', 'lost', 'likes', 6);
    await h.cache.set('settings', 'lost-user', { language: 'pt' });
    const versions = {
      video: await versionInRedis(h, 'video', 'lost'),
      settings: await versionInRedis(h, 'settings', 'lost-user'),
    };
    await orphan(h, 'video', 'lost');
    await orphan(h, 'settings', 'lost-user');
    const before = await h.cache.stats();
    assert.equal(before.dirtyKeys, 2);
    assert.equal((await h.queue.getJobCounts('wait', 'delayed')).delayed, 0, 'no flush job left');

    await h.startWorker();
    await h.cache.drain({ timeoutMs: 15_000 });
    assert.deepEqual(await videoRow(h.db, 'lost'), { likes: 18, views: 0, version: versions.video });
    const { rows } = await h.db.pool.query(
      'SELECT language, version::text FROM user_settings WHERE user_id = $1',
      ['lost-user'],
    );
    assert.deepEqual(rows[0], { language: 'pt', version: String(versions.settings) });
    const reEnqueued = h.logs
      .filter((l) => l.msg.includes('sweep re-enqueued'))
      .reduce((n, l) => n + ((l.obj as { keys?: number }).keys ?? 0), 0);
    assert.equal(reEnqueued, 2, 'the sweep reported the two orphans');
  });
});

describe('a dirty-index entry whose key Redis lost', () => {
  const harness = sweepingWorld();

  test('leaves the index when its flush finds nothing, so a drain ends', async () => {
    const h = harness();
    // Redis evicting or losing the hash alone (a maxmemory policy, an operator's DEL): the write is lost, as
    // promised, but its index entry must not hold the backlog up for ever. One key keeps its job, one has none.
    await h.cache.increment('video', 'evicted', 'likes', 2);
    await h.cache.increment('video', 'evicted-orphan', 'likes', 3);
    await orphan(h, 'video', 'evicted-orphan');
    await h.redis.del(h.key('video', 'evicted'), h.key('video', 'evicted-orphan'));
    assert.equal((await h.cache.stats()).dirtyKeys, 2);

    await h.startWorker();
    await h.cache.drain({ timeoutMs: 15_000 });
    assert.equal(await videoRow(h.db, 'evicted'), undefined, 'nothing was written for the lost key');
    assert.equal(await videoRow(h.db, 'evicted-orphan'), undefined);
    assert.equal(
      await h.cache.increment('video', 'evicted', 'likes', 1),
      1,
      'with no row, the key starts from nothing',
    );
  });
});

describe('a sweep whose next run was lost', () => {
  const harness = sweepingWorld();

  test('is scheduled again by the running worker, and finds a key whose job was lost', async () => {
    const h = harness();
    await h.startWorker();
    // As when the worker that took the last run died before scheduling the next: no sweep job left at all.
    const sweepJobs = async () =>
      (await h.queue.getJobs(['active', 'wait', 'delayed', 'prioritized'])).filter(
        (j) => j.name === SWEEP_JOB,
      );
    const broken = await eventually(async () => {
      const next = (await h.queue.getJobScheduler(SWEEP_JOB))?.next;
      if (next === undefined) return false;
      // BullMQ refuses to remove a scheduler's job: it goes as Redis would lose it.
      const jobId = `repeat:${SWEEP_JOB}:${next}`;
      await h.redis.zrem(h.queue.keys.delayed as string, jobId);
      await h.redis.lrem(h.queue.keys.wait as string, 0, jobId);
      await h.redis.del(h.queue.toKey(jobId));
      return (await sweepJobs()).length === 0;
    });
    assert.ok(broken, 'the sweep had no job left, for a moment');

    await h.cache.increment('video', 'after-break', 'likes', 4);
    await orphan(h, 'video', 'after-break');
    await h.cache.drain({ timeoutMs: 15_000 });
    assert.equal((await videoRow(h.db, 'after-break'))?.likes, 4);
  });
});

describe('a dirty key whose job failed for good', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({
      flush: { windowMs: 50, attempts: 1 },
      sweep: { intervalMs: SWEEP_MS, graceMs: 0 },
    });
    await h.db.pool.query(`ALTER TABLE "Video" ADD CONSTRAINT likes_below_1000 CHECK (likes < 1000)`);
  });
  after(() => h.close());

  test('is left to the operator by the sweep, and lands after the fix and a retry', async () => {
    await h.cache.increment('video', 'poison', 'likes', 5000);
    const failing = await versionInRedis(h, 'video', 'poison');
    // A control: an orphan the sweep must pick up, proving that the sweep runs over this dirty index.
    await h.cache.increment('video', 'control', 'likes', 3);
    await orphan(h, 'video', 'control');

    await h.startWorker();
    assert.ok(
      await eventually(async () => (await h.queue.getJobCounts('failed')).failed === 1),
      'the poison job failed for good',
    );
    const [failed] = await h.queue.getFailed();
    assert.ok(failed);
    assert.equal(failed.id, `video.poison.v${failing}`);
    assert.match(failed.failedReason, /likes_below_1000/);
    assert.ok(await eventually(async () => (await h.cache.stats()).failedKeys === 1), 'the key is marked');

    // Written again after the failure: still dirty, so no new job; a sweep that ignored the failed marker
    // would now enqueue a job of a new id (video.poison.v<its version>), which BullMQ would accept.
    assert.equal(await h.cache.increment('video', 'poison', 'likes', 1), 5001);
    const current = await versionInRedis(h, 'video', 'poison');
    assert.ok(current > failing, `the new write's version ${current} follows ${failing}`);
    assert.ok(
      await eventually(async () => (await videoRow(h.db, 'control'))?.likes === 3),
      'the sweep re-enqueued the control orphan',
    );

    // Several sweeps pass: the poison key stays dirty, with no new job, its failed job untouched.
    const from = Date.now();
    const deadline = from + 10_000;
    for (;;) {
      assert.deepEqual(
        (await flushJobsFor(h, 'poison')).map((j) => j.id),
        [],
        'the sweep re-enqueued a key whose job is in the failed set',
      );
      assert.equal((await h.queue.getJobCounts('failed')).failed, 1);
      const stats = await h.cache.stats();
      assert.equal(stats.dirtyKeys, 1);
      assert.equal(stats.failedKeys, 1);
      const scheduler = await h.queue.getJobScheduler('sweep');
      if ((scheduler?.next ?? 0) > from + 3 * SWEEP_MS) break;
      assert.ok(Date.now() < deadline, `the sweep did not run (next: ${scheduler?.next})`);
      await sleep(50);
    }
    assert.equal(await videoRow(h.db, 'poison'), undefined);

    // The operator fixes the cause and retries: the job writes the key's current state.
    await h.db.pool.query(`ALTER TABLE "Video" DROP CONSTRAINT likes_below_1000`);
    await failed.retry();
    await h.cache.flushed('video', 'poison', { timeoutMs: 15_000 });
    assert.deepEqual(await videoRow(h.db, 'poison'), { likes: 5001, views: 0, version: current });
    assert.ok(await eventually(async () => (await h.cache.stats()).failedKeys === 0), 'marker cleared');
    const stats = await h.cache.stats();
    assert.equal(stats.dirtyKeys, 0);
    assert.equal((await h.queue.getJobCounts('failed')).failed, 0);
  });
});

describe('dirty keys whose jobs are running', () => {
  let h: Harness;
  let releaseUpserts: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    releaseUpserts = resolve;
  });
  let upsertsStarted = 0;
  before(async () => {
    h = await createHarness({
      flush: { windowMs: 50 },
      sweep: { intervalMs: SWEEP_MS, graceMs: 0 },
      wrapStore: (inner) =>
        forwardingStore(inner, {
          async upsert(e, rows) {
            upsertsStarted++;
            await held;
            return inner.upsert(e, rows);
          },
        }),
    });
  });
  after(async () => {
    releaseUpserts();
    await h.close();
  });

  // The sweep finds a key's job by the id the write script gave it; both come from one Lua include, whose
  // escaping (`%` and `:`, which BullMQ refuses) these ids exercise.
  test('are left alone by the sweep, whatever their ids hold', async () => {
    // Each id and its job id's prefix; the suffix is the version that made the key dirty.
    const escaped: [string, string][] = [
      ['a:b', 'video.a%3Ab.v'],
      ['50%', 'video.50%25.v'],
      ['100%3A', 'video.100%253A.v'],
      ['with space', 'video.with space.v'],
      ['é:ü', 'video.é%3Aü.v'],
      ['x.v1', 'video.x.v1.v'],
    ];
    const ids = escaped.map(([id]) => id);
    const versions = new Map<string, number>();
    for (const id of ids) {
      await h.cache.increment('video', id, 'likes', 2);
      versions.set(id, await versionInRedis(h, 'video', id));
    }
    await h.startWorker();
    const expected = escaped.map(([id, prefix]) => `${prefix}${versions.get(id)}`).sort();
    const activeIds = async () => (await h.queue.getJobs(['active'])).map((j) => j.id).sort();
    assert.ok(
      await eventually(async () => JSON.stringify(await activeIds()) === JSON.stringify(expected)),
      `every key is held in an active flush job: ${JSON.stringify(await activeIds())}`,
    );
    // Active first, then batched: the upsert starts a moment after the jobs become active.
    assert.ok(await eventually(() => upsertsStarted > 0), 'the flush reached the store');

    const from = Date.now();
    const deadline = from + 10_000;
    for (;;) {
      const scheduler = await h.queue.getJobScheduler('sweep');
      if ((scheduler?.next ?? 0) > from + 3 * SWEEP_MS) break;
      assert.ok(Date.now() < deadline, `the sweep did not run (next: ${scheduler?.next})`);
      await sleep(50);
    }
    assert.deepEqual(
      h.logs.filter((l) => l.msg.includes('sweep re-enqueued')),
      [],
      'the sweep took a running job for missing',
    );
    const waiting = await h.queue.getJobs(['wait', 'delayed']);
    assert.deepEqual(
      waiting.filter((j) => j.name === 'flush').map((j) => j.id),
      [],
      'no second flush job',
    );

    releaseUpserts();
    await h.cache.drain({ timeoutMs: 15_000 });
    for (const id of ids) {
      assert.deepEqual(await videoRow(h.db, id), { likes: 2, views: 0, version: versions.get(id) });
    }
  });
});
