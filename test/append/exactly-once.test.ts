// Guarantee 17: an event is inserted exactly once, whatever happens to its flush: a replayed job, a flush that
// committed and then failed, a worker SIGKILLed before or after its insert committed, a database outage.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Store } from '@write-behind/core';
import { PrismaStore } from '@write-behind/core/internal';
import { createPrismaClient, type PrismaClient } from '@write-behind/db';
import {
  crashAfterCommit,
  DATABASE_URL,
  eventually,
  forwardingStore,
  type PgProxy,
  STALLED,
  schemaUrl,
  spawnWorkerProcess,
  startProxyTo,
  testWorkerConfig,
  type WorkerProcess,
} from '@write-behind/testkit';
import {
  assertConsecutive,
  createEventWorld,
  type EventWorld,
  eventRows,
  events,
  expectedRows,
} from './helpers.ts';

/** Appends `list` to one key one after the other; returns the first number, checking the rest follow it. */
async function appendInOrder(w: EventWorld, id: string, list: ReturnType<typeof events>): Promise<number> {
  const numbers: number[] = [];
  for (const e of list) numbers.push(await w.cache.append('videoEvent', id, e));
  return assertConsecutive(numbers, id);
}

/** Counts the rows PostgreSQL really inserted per video (a skipped conflicting row fires no row trigger). */
async function countInserts(w: EventWorld): Promise<(videoId: string) => Promise<number>> {
  await w.db.pool.query(`
    CREATE TABLE event_inserts (video_id text);
    CREATE FUNCTION log_event_insert() RETURNS trigger AS $$
      BEGIN INSERT INTO event_inserts VALUES (NEW.video_id); RETURN NEW; END $$ LANGUAGE plpgsql;
    CREATE TRIGGER video_event_inserts AFTER INSERT ON video_event FOR EACH ROW EXECUTE FUNCTION log_event_insert();
  `);
  return async (videoId) => {
    const { rows } = await w.db.pool.query(
      'SELECT count(*)::int AS n FROM event_inserts WHERE video_id = $1',
      [videoId],
    );
    return rows[0].n;
  };
}

describe('replayed and retried flushes', () => {
  let w: EventWorld;
  const crash = crashAfterCommit('append');
  let inserts: (videoId: string) => Promise<number>;
  before(async () => {
    w = await createEventWorld({ flush: { windowMs: 50, backoffMs: 20 }, wrapStore: crash.wrapStore });
    inserts = await countInserts(w);
  });
  after(() => w.close());

  test('a flush that committed but was not acknowledged is retried without inserting a row twice', async () => {
    await w.startWorker();
    crash.remaining = 2;
    const first = await appendInOrder(w, 'retried', events(12));
    await w.cache.flushed('videoEvent', 'retried', { timeoutMs: 15_000 });
    assert.equal(crash.remaining, 0, 'the insert committed and then failed twice');
    assert.deepEqual(await eventRows(w.db, 'retried'), expectedRows(12, first));
    assert.equal(await inserts('retried'), 12, 'each row inserted once; the retries skipped them');
  });

  test('a replayed job (an operator retrying an old one) inserts nothing again', async () => {
    const first = await appendInOrder(w, 'replayed', events(5));
    await w.cache.flushed('videoEvent', 'replayed');
    const job = await w.queue.add(
      'flush',
      { entity: 'videoEvent', id: 'replayed' },
      { jobId: `videoEvent.replayed.v${first}-replay` },
    );
    assert.ok(
      await eventually(async () => (await w.queue.getJobState(job.id as string)) === 'unknown'),
      'the replayed job ran',
    );
    // The replay and a second wave of events: only the new events are inserted.
    assert.equal(await appendInOrder(w, 'replayed', events(3, 6)), first + 5, 'the numbering goes on');
    await w.cache.flushed('videoEvent', 'replayed');
    assert.deepEqual(await eventRows(w.db, 'replayed'), expectedRows(8, first));
    assert.equal(await inserts('replayed'), 8);
  });
});

describe('a worker SIGKILLed (Guarantee 7 for events)', () => {
  let w: EventWorld;
  let inserts: (videoId: string) => Promise<number>;
  const children: WorkerProcess[] = [];
  before(async () => {
    w = await createEventWorld({ flush: { windowMs: 100, backoffMs: 50 } });
    inserts = await countInserts(w);
  });
  after(async () => {
    await Promise.all(children.map((c) => c.kill()));
    await w.close();
  });
  const spawn = (store: 'hang-on-append' | 'hang-after-append') => {
    const child = spawnWorkerProcess(testWorkerConfig(w, { entities: 'events', store }));
    children.push(child);
    return child;
  };

  test('after its insert committed, before the acknowledgement: the rerun inserts no row again', async () => {
    const child = spawn('hang-after-append');
    await child.waitFor('ready');
    // In one turn, so one script call: the first flush takes all twenty or none, however slow the machine.
    const first = assertConsecutive(
      await Promise.all(events(20).map((e) => w.cache.append('videoEvent', 'after', e))),
    );
    await child.waitFor('append-committed');
    // Events appended while the flush hangs belong to the next flush.
    assert.equal(await appendInOrder(w, 'after', events(4, 21)), first + 20, 'the numbering goes on');
    await child.kill();
    assert.equal((await eventRows(w.db, 'after')).length, 20, 'the first flush committed');
    assert.equal((await w.cache.stats()).dirtyKeys, 1, 'and was never acknowledged');

    const worker = await w.startWorker({ ...STALLED, sweep: false });
    await w.cache.drain({ timeoutMs: 20_000 });
    assert.deepEqual(await eventRows(w.db, 'after'), expectedRows(24, first));
    assert.equal(await inserts('after'), 24, 'the 20 committed rows were not inserted again');
    assert.equal((await w.queue.getJobCounts('failed')).failed, 0);
    await worker.close();
  });

  test('before its insert: the job runs again elsewhere and every event lands', async () => {
    const child = spawn('hang-on-append');
    await child.waitFor('ready');
    // In one turn, as above; each key's appends in call order.
    const firsts = new Map<string, number>();
    await Promise.all(
      ['k1', 'k2', 'k3'].map(async (id) => {
        const numbers = await Promise.all(events(10).map((e) => w.cache.append('videoEvent', id, e)));
        firsts.set(id, assertConsecutive(numbers, id));
      }),
    );
    await child.waitFor('append-started');
    await child.kill();
    for (const id of ['k1', 'k2', 'k3']) assert.deepEqual(await eventRows(w.db, id), []);

    const worker = await w.startWorker({ ...STALLED, sweep: false });
    await w.cache.drain({ timeoutMs: 20_000 });
    for (const id of ['k1', 'k2', 'k3']) {
      assert.deepEqual(await eventRows(w.db, id), expectedRows(10, firsts.get(id) ?? Number.NaN), id);
      assert.equal(await inserts(id), 10);
    }
    await worker.close();
  });
});

describe('a database outage (Guarantee 6 for events)', () => {
  let w: EventWorld;
  let proxy: PgProxy;
  let prisma: PrismaClient;
  before(async () => {
    proxy = await startProxyTo(DATABASE_URL);
    let inner: Store | undefined;
    w = await createEventWorld({
      flush: { windowMs: 100, backoffMs: 50, attempts: 2, outageBackoffMs: 100, maxOutageBackoffMs: 500 },
      // The schema check uses the direct connection; flushes and cold loads go through the proxy.
      wrapStore: (base) =>
        forwardingStore(
          () => {
            if (!inner) throw new Error('the proxied store is not built yet');
            return inner;
          },
          { dataModel: base.dataModel, verify: (entities) => base.verify(entities) },
        ),
    });
    prisma = createPrismaClient(schemaUrl(w.db.schema, proxy.url(DATABASE_URL)), { max: 4 });
    inner = new PrismaStore(prisma, { tombstoneTable: 'write_behind_tombstone' });
  });
  after(async () => {
    proxy.restore();
    await w.close();
    await prisma.$disconnect();
    await proxy.close();
  });

  test('appends are acknowledged, spend no attempt, and land once it is back', async () => {
    const worker = await w.startWorker({ sweep: false });
    const first = await w.cache.append('videoEvent', 'o', events(1)[0] as never);
    await w.cache.flushed('videoEvent', 'o');

    proxy.cut();
    assert.equal(await appendInOrder(w, 'o', events(30, 2)), first + 1, 'the numbering goes on');
    // A key Redis does not hold takes its numbering from the shard's clock, without reading the database.
    const cold = await w.cache.append('videoEvent', 'cold', events(1)[0] as never);
    assert.ok(cold > first + 30, `${cold} is above every number the shard gave before`);
    assert.ok(
      await eventually(async () => worker.counters.outages >= 2, 10_000),
      'flushes were tried and paused',
    );
    assert.equal((await w.queue.getJobCounts('failed')).failed, 0, 'no attempt was spent');
    assert.equal((await eventRows(w.db, 'o')).length, 1);
    assert.deepEqual(await eventRows(w.db, 'cold'), []);

    proxy.restore();
    await w.cache.drain({ timeoutMs: 20_000 });
    assert.deepEqual(await eventRows(w.db, 'o'), expectedRows(31, first));
    assert.deepEqual(await eventRows(w.db, 'cold'), expectedRows(1, cold));
    assert.equal((await w.queue.getJobCounts('failed')).failed, 0);
    await worker.close();
  });
});
