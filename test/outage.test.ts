// Guarantee 6: while the database is unreachable, writes to cached keys are still acknowledged, keys stay
// dirty, no job spends an attempt or reaches the failed set; once it is back every final value lands.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type FlushOptions, UnavailableError } from '@write-behind/core';
import {
  createProxiedWorld,
  entities,
  eventually,
  type ProxiedWorld,
  settingsRow,
  type TestEntities,
  videoRow,
} from '@write-behind/testkit';

/** Probes of the unreachable database the first test watches: several outage pauses, not one. */
const OUTAGE_PROBES = 3;
const SWEEP_MS = 300;
/** For waits on something that happens within a second or two on an idle machine. */
const GENEROUS_MS = 30_000;

type World = ProxiedWorld<TestEntities>;

/** The demo schema's world, its store reaching PostgreSQL through a proxy the tests cut. */
function createWorld(flush: FlushOptions): Promise<World> {
  return createProxiedWorld(entities, { flush, sweep: { intervalMs: SWEEP_MS } });
}

/**
 * How long the outage pause still holds the queue, in ms (0: not paused). The pause is BullMQ's
 * `queue.rateLimit(ms)`, which sets the limiter's count to MAX_SAFE_INTEGER for `ms`; asking for the TTL only at
 * that count leaves out the limiter's ordinary counting window (up to a second after any job starts, while the
 * library's global rate limit is set), which `getRateLimitTtl()` alone reports once that limit is lifted.
 */
function pausedForMs(h: World): Promise<number> {
  return h.queue.getRateLimitTtl(Number.MAX_SAFE_INTEGER);
}

describe('a database outage', () => {
  let h: World;
  before(async () => {
    h = await createWorld({
      windowMs: 100,
      backoffMs: 50,
      attempts: 2,
      outageBackoffMs: 100,
      maxOutageBackoffMs: 500,
    });
  });
  after(() => h.close());

  test('writes are acknowledged, spend no attempt, and all land after it', async () => {
    const { proxy } = h;
    // No sweep here (a later suite runs one during an outage): this test is about flush jobs alone.
    const worker = await h.startWorker({ sweep: false });

    // Every key the outage writes to is cached first: a write to a cached key needs no database.
    await Promise.all([
      h.cache.increment('video', 'a', 'likes', 5),
      h.cache.increment('video', 'b', 'likes', 7),
      h.cache.increment('video', 'c', 'likes', 1),
      h.cache.increment('video', 'doomed', 'views', 3),
      h.cache.set('settings', 'u1', { language: 'en' }),
    ]);
    await h.cache.drain({ timeoutMs: 15_000 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => videoRow(h.db, id)));
    assert.equal(a?.likes, 5);
    assert.equal((await videoRow(h.db, 'doomed'))?.views, 3);
    const u1 = await settingsRow(h.db, 'u1');
    assert.equal(u1?.language, 'en');

    proxy.cut();
    const outagesBefore = worker.counters.outages;

    // Writes are acknowledged by Redis alone.
    for (let i = 1; i <= 10; i++) {
      assert.equal(await h.cache.increment('video', 'a', 'likes'), 5 + i);
      assert.equal(await h.cache.increment('video', 'b', 'views', 2), 2 * i);
    }
    assert.equal(await h.cache.increment('video', 'c', 'likes', -1), 0);
    assert.deepEqual(await h.cache.set('settings', 'u1', { theme: 'dark', notifications: false }), {
      theme: 'dark',
      language: 'en',
      notifications: false,
    });
    assert.equal(await h.cache.delete('video', 'doomed'), true);
    // A key Redis does not hold cannot be written: its total is in the unreachable database.
    await assert.rejects(h.cache.increment('video', 'cold', 'likes'), UnavailableError);
    assert.equal((await h.cache.stats()).dirtyKeys, 5);

    // Several probes of the database, each followed by an outage pause: the condition must hold all along,
    // not just at the end.
    const deadline = Date.now() + GENEROUS_MS;
    for (;;) {
      const counts = await h.queue.getJobCounts('failed');
      if (counts.failed !== 0) {
        const failed = await h.queue.getFailed();
        assert.fail(
          `jobs reached the failed set during the outage: ${JSON.stringify(
            failed.map((j) => ({
              name: j.name,
              id: j.id,
              attemptsMade: j.attemptsMade,
              reason: j.failedReason,
            })),
          )}`,
        );
      }
      assert.equal((await h.cache.stats()).dirtyKeys, 5, 'every written key stays dirty');
      const probes = worker.counters.outages - outagesBefore;
      if (probes >= OUTAGE_PROBES) break;
      assert.ok(
        Date.now() < deadline,
        `the worker probed the database only ${probes} times in ${GENEROUS_MS} ms of outage`,
      );
      await sleep(100);
    }
    const pending = await h.queue.getJobs(['wait', 'delayed', 'active', 'prioritized']);
    const flushJobs = pending.filter((j) => j.name === 'flush');
    assert.equal(flushJobs.length, 5, 'each dirty key still has its flush job');
    for (const job of flushJobs) {
      assert.equal(job.attemptsMade, 0, `job ${job.id} spent an attempt: ${job.stacktrace?.join('\n')}`);
    }
    assert.equal((await h.cache.stats()).failedKeys, 0);

    proxy.restore();
    await h.cache.drain({ timeoutMs: 20_000 });

    // The final values, each at a version newer than the one flushed before the outage.
    const after = await Promise.all(['a', 'b', 'c'].map((id) => videoRow(h.db, id)));
    const expected = [
      { likes: 15, views: 0 },
      { likes: 7, views: 20 },
      { likes: 0, views: 0 },
    ];
    [a, b, c].forEach((before, i) => {
      const row = after[i];
      assert.deepEqual(row && { likes: row.likes, views: row.views }, expected[i]);
      assert.ok(row && before && row.version > before.version, `${['a', 'b', 'c'][i]} at a newer version`);
    });
    assert.equal(await videoRow(h.db, 'doomed'), undefined, 'the delete landed');
    assert.equal(await videoRow(h.db, 'cold'), undefined, 'the refused write left nothing behind');
    const { version, ...settings } = (await settingsRow(h.db, 'u1')) ?? { version: 0 };
    assert.deepEqual(settings, { theme: 'dark', language: 'en', notifications: false });
    assert.ok(u1 && version > u1.version, 'the settings at a newer version');
    assert.equal((await h.queue.getJobCounts('failed')).failed, 0);
    // The cache and the database agree after the outage, and new writes flow again.
    assert.equal((await h.cache.get('video', 'a'))?.likes, 15);
    await h.cache.increment('video', 'cold', 'likes', 4);
    assert.ok(await eventually(async () => (await videoRow(h.db, 'cold'))?.likes === 4));
  });
});

describe('a database whose connections are reset in the middle of a flush', () => {
  let h: World;
  before(async () => {
    // One attempt: a flush wrongly counted as the row's failure goes straight to the failed set.
    h = await createWorld({ windowMs: 100, attempts: 1, outageBackoffMs: 100, maxOutageBackoffMs: 500 });
  });
  after(() => h.close());

  test('treats ECONNRESET under its statement as an outage, not as a bad row', async () => {
    const { proxy } = h;
    const worker = await h.startWorker({ sweep: false });
    await h.cache.increment('video', 'mid', 'likes', 1);
    await h.cache.drain({ timeoutMs: 15_000 });

    // The flush's statement leaves on a pooled connection and is never answered; then every connection is
    // reset (as by a failing load balancer or firewall), and new ones too while the outage lasts.
    proxy.freeze();
    await h.cache.increment('video', 'mid', 'likes', 9);
    assert.ok(
      await eventually(() => proxy.swallowedQueries > 0, GENEROUS_MS),
      'the flush sent its statement into the frozen link',
    );
    proxy.cut({ reset: true });
    assert.ok(
      await eventually(
        async () => worker.counters.outages >= 3 || ((await h.queue.getJobCounts('failed')).failed ?? 0) > 0,
        GENEROUS_MS,
      ),
      `the worker neither probed again nor failed the job (outages: ${worker.counters.outages})`,
    );

    const [failed] = await h.queue.getFailed();
    assert.ok(
      !failed,
      `the flush failed for good on a reset connection: ${failed?.failedReason}\n${failed?.stacktrace?.join('\n')}`,
    );
    assert.equal((await h.cache.stats()).failedKeys, 0);
    proxy.restore();
    await h.cache.drain({ timeoutMs: 20_000 });
    assert.equal((await videoRow(h.db, 'mid'))?.likes, 10);
  });
});

describe('a database outage during which the sweep runs', () => {
  let h: World;
  before(async () => {
    h = await createWorld({ windowMs: 100, outageBackoffMs: 100, maxOutageBackoffMs: 500 });
  });
  after(() => h.close());

  test('sends no sweep job to the failed set', async () => {
    const { proxy } = h;
    await h.startWorker();
    await h.cache.increment('video', 'swept', 'likes', 2);
    await h.cache.drain({ timeoutMs: 15_000 });
    await h.cache.increment('video', 'swept', 'likes', 3);
    proxy.cut();
    const cutAt = Date.now();
    // Bounded poll: the failed set stays empty until at least three sweeps fell due during the outage.
    const deadline = Date.now() + GENEROUS_MS;
    for (;;) {
      const failed = await h.queue.getFailed();
      assert.deepEqual(
        failed.map((j) => ({ name: j.name, id: j.id, reason: j.failedReason })),
        [],
        'a job reached the failed set during the outage',
      );
      const scheduler = await h.queue.getJobScheduler('sweep');
      if ((scheduler?.next ?? 0) > cutAt + 3 * SWEEP_MS) break;
      assert.ok(Date.now() < deadline, `the sweep did not run during the outage (next: ${scheduler?.next})`);
      await sleep(50);
    }
    proxy.restore();
    await h.cache.drain({ timeoutMs: 20_000 });
    assert.equal((await videoRow(h.db, 'swept'))?.likes, 5);
  });
});

describe('a short database blip', () => {
  const OUTAGE_BACKOFF_MS = 200;
  const MAX_OUTAGE_BACKOFF_MS = 5000;
  let h: World;
  before(async () => {
    h = await createWorld({
      windowMs: 100,
      // Long enough that every job due at once shares one batch, that is one probe of the database.
      batchLingerMs: 50,
      outageBackoffMs: OUTAGE_BACKOFF_MS,
      maxOutageBackoffMs: MAX_OUTAGE_BACKOFF_MS,
    });
  });
  after(() => h.close());

  test('pauses flushing for the first outage pause, not the longest, and logs it', async () => {
    const { proxy } = h;
    const ids = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    const warm = await h.startWorker({ sweep: false });
    await Promise.all(ids.map((id) => h.cache.increment('video', id, 'likes')));
    await h.cache.drain({ timeoutMs: 15_000 });
    await warm.close();

    proxy.cut();
    await Promise.all(ids.map((id) => h.cache.increment('video', id, 'likes')));
    // All six jobs due now, for one worker to take together.
    await h.queue.promoteJobs();
    const worker = await h.startWorker({ sweep: false });
    assert.ok(
      await eventually(() => worker.counters.outages >= 1, 10_000),
      'the worker tried to flush during the blip',
    );
    proxy.restore();

    // Watch the pause in Redis (the queue's rate limit) until the keys land: it must be the pause of the
    // probes that failed, doubling from outageBackoffMs, never one grown to maxOutageBackoffMs.
    let longestPauseMs = 0;
    let drained = false;
    const drain = h.cache.drain({ timeoutMs: GENEROUS_MS }).finally(() => {
      drained = true;
    });
    while (!drained) {
      longestPauseMs = Math.max(longestPauseMs, await pausedForMs(h));
      await sleep(20);
    }
    await drain;
    const failedProbes = worker.counters.outages;
    // outageBackoff(probes): doubling from the base, capped, ±25 % jitter.
    const allowedMs = Math.min(MAX_OUTAGE_BACKOFF_MS, OUTAGE_BACKOFF_MS * 2 ** (failedProbes - 1)) * 1.25;
    assert.ok(
      allowedMs < MAX_OUTAGE_BACKOFF_MS * 0.75,
      `the blip lasted ${failedProbes} probes: its pause cannot be told from the longest`,
    );
    assert.ok(
      longestPauseMs <= allowedMs,
      `a ${failedProbes}-probe blip paused flushing for ${longestPauseMs} ms (at most ${allowedMs} ms expected)`,
    );
    for (const id of ids) assert.equal((await videoRow(h.db, id))?.likes, 2);
    const [first] = h.logs.filter((l) => l.msg.includes('database unreachable'));
    assert.ok(first, `the outage was not logged (${failedProbes} failed probe)`);
    const { pauseMs } = first.obj as { pauseMs: number };
    assert.ok(
      pauseMs <= OUTAGE_BACKOFF_MS * 1.25,
      `the first pause was ${pauseMs} ms, not about ${OUTAGE_BACKOFF_MS} ms`,
    );
  });
});

describe('an outage pause', () => {
  const PAUSE_MS = 2500;
  let h: World;
  before(async () => {
    // A fixed pause (base and cap equal, ±25 % jitter), long enough to watch a second worker wait it out.
    h = await createWorld({ windowMs: 50, outageBackoffMs: PAUSE_MS, maxOutageBackoffMs: PAUSE_MS });
  });
  after(() => h.close());

  test('holds every worker of the queue, also one that saw no failure, and is lifted once flushing works', async () => {
    const { proxy } = h;
    const warm = await h.startWorker({ sweep: false });
    await h.cache.increment('video', 'early', 'likes');
    await h.cache.drain({ timeoutMs: GENEROUS_MS });
    // A worker that starts with no outage leaves the queue without a global limit.
    assert.equal(await h.queue.getGlobalRateLimit(), null);
    await warm.close();
    // Two workers from before the outage: one meets it, the other sees no failure, and both must wait. Both
    // are new: a worker lifts the pause with its first successful flush, and after the outage it met.
    const workers = [await h.startWorker({ sweep: false }), await h.startWorker({ sweep: false })];

    proxy.cut();
    await h.cache.increment('video', 'early', 'likes');
    assert.ok(
      await eventually(() => workers.some((worker) => worker.counters.outages >= 1), GENEROUS_MS),
      'a worker met the outage',
    );
    // The database is back at once, but the pause stands.
    proxy.restore();
    const batches = () => workers.reduce((sum, worker) => sum + worker.counters.batches, 0);
    const batchesBeforePause = batches();
    const witness = workers.find((worker) => worker.counters.outages === 0);
    assert.ok(witness, 'one worker met no failure (the other met it once, before the database came back)');
    // The outage is counted as the pause is sent, so the pause may land a moment later.
    assert.ok(await eventually(async () => (await pausedForMs(h)) > 0, GENEROUS_MS), 'the queue is paused');
    assert.notEqual(await h.queue.getGlobalRateLimit(), null, 'every worker heeds the pause');
    await h.cache.increment('video', 'late', 'likes', 3);

    // While the queue's rate limit stands (read after the rest, so it stood when they were read), nothing is
    // flushed, by either worker: 'early' went back to the queue as the pause began, and 'late' is due.
    let observedWhilePaused = 0;
    for (;;) {
      const flushedBatches = batches();
      const late = await videoRow(h.db, 'late');
      if ((await pausedForMs(h)) <= 0) break;
      assert.equal(flushedBatches, batchesBeforePause, 'a worker flushed during the pause');
      assert.equal(late, undefined, "'late' was flushed during the pause");
      observedWhilePaused++;
      await sleep(50);
    }
    assert.ok(observedWhilePaused > 0, 'the pause was seen standing');
    assert.equal(witness.counters.outages, 0, 'the witness met no failure');

    await h.cache.drain({ timeoutMs: GENEROUS_MS });
    assert.equal((await videoRow(h.db, 'late'))?.likes, 3);
    assert.equal((await videoRow(h.db, 'early'))?.likes, 2);
    assert.ok(
      await eventually(async () => (await h.queue.getGlobalRateLimit()) === null, GENEROUS_MS),
      'the pause was not lifted after a successful flush',
    );
  });
});
