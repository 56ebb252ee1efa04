// Guarantee 22: what `add` acknowledged is applied once: through a worker killed before or after its commit,
// a flush that committed but failed before its acknowledgement, two workers running one job after a lost
// lock, an operator replaying an old job, and Redis losing the key while its flush runs (a write Redis loses
// may be lost; nothing is applied twice). The sums of a key Redis never held go to PostgreSQL as
// `views = views + sum`, guarded by the key's version.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  countVideoRowWrites,
  createHarness,
  eventually,
  forwardingStore,
  gatedStore,
  type Harness,
  STALLED,
  videoRow,
} from '@write-behind/testkit';

/** Adds `by` to a key's views `times` times, one after another; returns the total added. */
async function addViews(h: Harness, id: string, times: number, by: number): Promise<number> {
  for (let i = 0; i < times; i++) await h.cache.add('video', id, 'views', by);
  return times * by;
}

describe('worker processes killed or frozen mid-flush', () => {
  let h: Harness;
  let rowWrites: (id: string) => Promise<number>;
  before(async () => {
    h = await createHarness({ flush: { windowMs: 100, backoffMs: 50 } });
    await h.db.pool.query(
      `INSERT INTO "Video" (id, likes, views) VALUES ('k1', 5, 1000), ('k2', 5, 1000), ('k3', 5, 1000)`,
    );
    // Counted from here: the rows above exist before the first flush.
    rowWrites = await countVideoRowWrites(h.db);
  });
  after(() => h.close());

  test('killed before its commit: another worker applies the sums once', async () => {
    const child = h.spawnWorkerProcess({ store: 'hang-on-add' });
    await child.waitFor('ready');
    const added = await addViews(h, 'k1', 6, 2);
    await child.waitFor('add-started');
    // Added while the killed flush holds the first sums: they wait in Redis for the next flush.
    const later = await addViews(h, 'k1', 3, 100);
    await child.kill();
    assert.equal((await videoRow(h.db, 'k1'))?.views, 1000);

    const survivor = await h.startWorker({ ...STALLED, sweep: false });
    await h.cache.drain({ timeoutMs: 30_000 });
    await survivor.close();
    assert.equal((await videoRow(h.db, 'k1'))?.views, 1000 + added + later);
    assert.equal((await videoRow(h.db, 'k1'))?.likes, 5);
  });

  test('killed after its commit, before the acknowledgement: the rerun adds nothing again', async () => {
    const child = h.spawnWorkerProcess({ store: 'hang-after-add' });
    await child.waitFor('ready');
    const added = await addViews(h, 'k2', 7, 3);
    await child.waitFor('add-committed');
    await child.kill();
    assert.equal((await videoRow(h.db, 'k2'))?.views, 1000 + added, 'the sums were committed');
    assert.equal((await h.cache.stats()).dirtyKeys, 1, 'and never acknowledged');

    const survivor = await h.startWorker({ ...STALLED, sweep: false });
    await h.cache.drain({ timeoutMs: 30_000 });
    await survivor.close();
    assert.equal((await videoRow(h.db, 'k2'))?.views, 1000 + added);
    assert.equal(await rowWrites('k2'), 1, 'the rerun found the row at its version and wrote nothing');
  });

  // Reading the row makes the key whole, and the row already holds the committed sums: nothing of the key is
  // dirty any more, though its killed job still stands for it. A refused write changes nothing else.
  const nearMax = Number.MAX_SAFE_INTEGER - 10;
  for (const [id, reader, readThen] of [
    [
      'k4',
      'a read',
      async (h: Harness) => assert.equal((await h.cache.get('video', 'k4'))?.views, nearMax + 1),
    ],
    [
      'k5',
      'a refused increment',
      (h: Harness) =>
        assert.rejects(h.cache.increment('video', 'k5', 'views', 100), { code: 'COUNTER_OVERFLOW' }),
    ],
  ] as const) {
    test(`killed after its commit, then ${reader} loads the row: the key is clean at once`, async () => {
      await h.db.pool.query(`INSERT INTO "Video" (id, likes, views) VALUES ($1, 5, $2)`, [id, nearMax]);
      const child = h.spawnWorkerProcess({ store: 'hang-after-add' });
      await child.waitFor('ready');
      await h.cache.add('video', id, 'views', 1);
      await child.waitFor('add-committed');
      await readThen(h);
      assert.equal((await h.cache.stats()).dirtyKeys, 0, 'the row holds all the key had');
      await child.kill();

      const survivor = await h.startWorker({ ...STALLED, sweep: false });
      await h.cache.drain({ timeoutMs: 30_000 });
      await survivor.close();
      assert.equal((await videoRow(h.db, id))?.views, nearMax + 1);
      assert.equal(await h.cache.increment('video', id, 'views', 1), nearMax + 2, 'Redis holds it whole');
    });
  }

  test('two workers run one job after a lost lock: the sums are applied once', async () => {
    // A frozen worker's lock lapses, and another worker takes its job while the first still holds the sums.
    const first = h.spawnWorkerProcess({ store: 'hold-add', worker: STALLED });
    await first.waitFor('ready');
    const added = await addViews(h, 'k3', 4, 5);
    await first.waitFor('add-started');
    first.freeze();
    const second = h.spawnWorkerProcess({ worker: STALLED });
    await second.waitFor('ready');
    assert.ok(
      await eventually(async () => (await videoRow(h.db, 'k3'))?.views === 1000 + added, 30_000),
      'the second worker applied the sums',
    );
    // The first worker wakes and sends the same sums, at the same version.
    first.thaw();
    first.go();
    await h.cache.drain({ timeoutMs: 30_000 });
    await first.stop();
    await second.stop();
    assert.equal((await videoRow(h.db, 'k3'))?.views, 1000 + added);
    assert.equal(await rowWrites('k3'), 1, "the first worker's late statement changed nothing");
  });
});

describe('in one process', () => {
  let h: Harness;
  let failAfterCommit = 0;
  const gate = { current: undefined as ReturnType<typeof gatedStore> | undefined };
  before(async () => {
    h = await createHarness({
      flush: { windowMs: 100, backoffMs: 20 },
      wrapStore: (base) => {
        const gated = gatedStore(
          forwardingStore(base, {
            async add(entity, rows) {
              await base.add?.(entity, rows);
              if (failAfterCommit > 0) {
                failAfterCommit--;
                throw new Error('the connection closed after the commit (staged)');
              }
            },
          }),
        );
        gate.current = gated;
        return gated;
      },
    });
  });
  after(() => h.close());

  test('a flush that committed, then failed before its acknowledgement, is retried without adding twice', async () => {
    const worker = await h.startWorker();
    failAfterCommit = 1;
    const added = await addViews(h, 'c1', 5, 7);
    await h.cache.flushed('video', 'c1', { timeoutMs: 20_000 });
    assert.equal((await videoRow(h.db, 'c1'))?.views, added);
    assert.equal(failAfterCommit, 0, 'the staged failure happened');
    await worker.close();
  });

  test('an operator replaying an old job adds nothing again', async () => {
    const worker = await h.startWorker();
    const added = await addViews(h, 'c2', 3, 4);
    await h.cache.flushed('video', 'c2');
    await h.queue.add('flush', { entity: 'video', id: 'c2' }, { jobId: 'video.c2.replayed' });
    await h.cache.flush();
    assert.ok(
      await eventually(async () => (await h.queue.getJobCounts('completed', 'active', 'wait')).wait === 0),
    );
    assert.equal((await videoRow(h.db, 'c2'))?.views, added);
    await worker.close();
  });

  test('Redis losing the key while its flush runs: nothing is applied twice', async () => {
    const worker = await h.startWorker();
    const gated = gate.current as ReturnType<typeof gatedStore>;
    gated.hold();
    const first = await addViews(h, 'lost', 4, 10);
    await gated.held();
    // The flush holds the first sums; Redis loses the key, and later adds start a new one.
    await h.redis.del(h.key('video', 'lost'));
    const second = await addViews(h, 'lost', 2, 1);
    gated.release();
    await h.cache.drain({ timeoutMs: 30_000 });
    const views = (await videoRow(h.db, 'lost'))?.views;
    // Both flushes carry their own version; whichever commits first, the second applies only if newer.
    assert.ok(
      views === first + second || views === second,
      `views ${views}: the sums of both flushes, or (the older one coming last) of the newer one alone`,
    );
    await worker.close();
  });

  test('a key made by adds alone reads whole: the stored value plus what is pending, in flight or not', async () => {
    await h.db.pool.query(`INSERT INTO "Video" (id, likes, views) VALUES ('r', 1, 500)`);
    const gated = gate.current as ReturnType<typeof gatedStore>;
    const worker = await h.startWorker();
    gated.hold();
    await addViews(h, 'r', 2, 10);
    await gated.held();
    // Sums in flight (taken by the held flush) and pending (added after it) both count, once.
    await addViews(h, 'r', 1, 3);
    assert.deepEqual(await h.cache.get('video', 'r'), { likes: 1, views: 523 });
    assert.equal(await h.cache.increment('video', 'r', 'views', 7), 530);
    gated.release();
    await h.cache.drain({ timeoutMs: 30_000 });
    assert.equal((await videoRow(h.db, 'r'))?.views, 530);
    assert.deepEqual(await h.cache.get('video', 'r'), { likes: 1, views: 530 });
    await worker.close();
  });
});
