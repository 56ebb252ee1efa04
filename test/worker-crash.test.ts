// Guarantee 7: a worker killed mid-flush loses nothing (BullMQ's stalled-job check runs the job again
// elsewhere), and a flush that committed but was never acknowledged is not applied twice.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  countVideoRowWrites,
  crashAfterCommit,
  createHarness,
  type Harness,
  REDIS_URL,
  STALLED,
  settingsRow,
  videoRow,
} from '@write-behind/testkit';
import { Redis } from 'ioredis';

const redis = new Redis(REDIS_URL);
after(() => redis.quit());

/** The key's version in Redis: what the flush of its last write stores. */
async function redisVersion(h: Harness, entity: string, id: string): Promise<number> {
  return Number(await redis.hget(h.key(entity, id), '_v'));
}

describe('a worker SIGKILLed in the middle of a flush', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({ flush: { windowMs: 100, backoffMs: 50 } });
  });
  after(async () => {
    await h.close();
  });

  test('loses nothing and doubles nothing: another worker flushes every final value', async () => {
    const child = h.spawnWorkerProcess({ store: 'hang-on-upsert' });
    await child.waitFor('ready');

    const expected = new Map<string, number>();
    const writes: Promise<unknown>[] = [];
    for (let k = 0; k < 20; k++) {
      for (let i = 0; i < 5; i++) writes.push(h.cache.increment('video', `k${k}`, 'likes', k + 1));
      expected.set(`k${k}`, 5 * (k + 1));
    }
    writes.push(h.cache.set('settings', 'u1', { language: 'de', notifications: false }));
    writes.push(
      h.cache.set('settings', 'u2', { language: 'fr' }).then(() => h.cache.delete('settings', 'u2')),
    );
    await Promise.all(writes);

    await child.waitFor('upsert-started');
    // Writes to keys whose flush is in flight: the killed job must not lose them either.
    for (let k = 0; k < 20; k += 4) {
      await h.cache.increment('video', `k${k}`, 'likes', 1000);
      expected.set(`k${k}`, (expected.get(`k${k}`) as number) + 1000);
    }
    await child.kill();

    // The dead worker holds its jobs as active, and none of its flush reached the database.
    assert.ok(
      ((await h.queue.getJobCounts('active')).active ?? 0) >= 1,
      'the killed worker left active jobs',
    );
    for (const id of expected.keys()) assert.equal(await videoRow(h.db, id), undefined);
    assert.equal((await h.cache.stats()).dirtyKeys, 22);

    await h.startWorker({ ...STALLED, sweep: false });
    await h.cache.drain({ timeoutMs: 20_000 });

    for (const [id, likes] of expected) {
      const row = await videoRow(h.db, id);
      assert.deepEqual(
        row,
        { likes, views: 0, version: await redisVersion(h, 'video', id) },
        `video ${id} in the database`,
      );
      assert.equal((await h.cache.get('video', id))?.likes, likes, `video ${id} in Redis`);
    }
    assert.deepEqual(await settingsRow(h.db, 'u1'), {
      theme: 'light',
      language: 'de',
      notifications: false,
      version: await redisVersion(h, 'settings', 'u1'),
    });
    assert.equal(await settingsRow(h.db, 'u2'), undefined, 'the delete landed');
    const counts = await h.queue.getJobCounts('failed', 'active', 'wait', 'delayed');
    assert.deepEqual(counts, { failed: 0, active: 0, wait: 0, delayed: 0 });
    assert.equal((await h.cache.stats()).failedKeys, 0);
  });
});

describe('a worker SIGKILLed after its upsert committed, before the acknowledgement', () => {
  let h: Harness;
  let rowWrites: (id: string) => Promise<number>;
  before(async () => {
    h = await createHarness({ flush: { windowMs: 100, backoffMs: 50 } });
    rowWrites = await countVideoRowWrites(h.db);
  });
  after(async () => {
    await h.close();
  });

  test('the rerun of its job writes no row again', async () => {
    const child = h.spawnWorkerProcess({ store: 'hang-after-upsert' });
    await child.waitFor('ready');
    for (let i = 0; i < 7; i++) await h.cache.increment('video', 'once', 'likes', 3);
    const version = await redisVersion(h, 'video', 'once');
    await child.waitFor('upsert-committed');
    await child.kill();
    assert.deepEqual(await videoRow(h.db, 'once'), { likes: 21, views: 0, version });
    assert.equal((await h.cache.stats()).dirtyKeys, 1, 'the flush was never acknowledged');

    await h.startWorker({ ...STALLED, sweep: false });
    await h.cache.drain({ timeoutMs: 20_000 });
    assert.deepEqual(await videoRow(h.db, 'once'), { likes: 21, views: 0, version });
    assert.equal(await redisVersion(h, 'video', 'once'), version, 'nothing wrote the key meanwhile');
    assert.equal(await rowWrites('once'), 1, 'the rerun found the row current and wrote nothing');
    assert.equal((await h.cache.get('video', 'once'))?.likes, 21);
    assert.equal((await h.queue.getJobCounts('failed')).failed, 0);
  });
});

describe('a flush that committed, then failed before its acknowledgement', () => {
  let h: Harness;
  const crash = crashAfterCommit('upsert');
  let rowWrites: (id: string) => Promise<number>;
  before(async () => {
    h = await createHarness({ flush: { windowMs: 100, backoffMs: 50 }, wrapStore: crash.wrapStore });
    rowWrites = await countVideoRowWrites(h.db);
  });
  after(() => h.close());

  test('is retried, and the database ends equal to Redis: no increment applied twice', async () => {
    await h.startWorker();
    crash.remaining = 1;
    let total = 0;
    for (let i = 0; i < 9; i++) total = await h.cache.increment('video', 'retried', 'likes', 4);
    assert.equal(total, 36);
    await h.cache.flushed('video', 'retried', { timeoutMs: 15_000 });
    assert.equal(crash.crashed, 1, 'the upsert committed and then failed once');

    const redis = await h.cache.get('video', 'retried');
    assert.deepEqual(await videoRow(h.db, 'retried'), {
      likes: redis?.likes,
      views: 0,
      version: await redisVersion(h, 'video', 'retried'),
    });
    assert.equal(redis?.likes, 36);
    assert.equal(await rowWrites('retried'), 1, 'the retry found the row current and wrote nothing');
    assert.ok(
      h.logs.some((l) => l.level === 'warn' && l.msg.includes('it will be retried')),
      'the job failed once and was retried',
    );
    assert.equal((await h.queue.getJobCounts('failed')).failed, 0);
    assert.equal((await h.cache.stats()).failedKeys, 0);
  });
});
