// Guarantee 17: every acknowledged event of an append entity becomes one row, numbered in its key's order, its
// key's events travelling in one flush job per dirty period; Guarantees 10 and 11 for events: bad input and a
// full event backlog are refused before anything is written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BacklogFullError, ValidationError } from '@write-behind/core';
import { forwardingStore, type GatedStore, gatedStore } from '@write-behind/testkit';
import {
  assertConsecutive,
  createEventWorld,
  type EventWorld,
  eventCount,
  eventRows,
  events,
  expectedRows,
} from './helpers.ts';

describe('events of an append entity', () => {
  let w: EventWorld;
  before(async () => {
    w = await createEventWorld({ flush: { windowMs: 200 }, sweep: { intervalMs: 300, graceMs: 0 } });
  });
  after(() => w.close());

  test('land one row each, numbered in the order Redis acknowledged them, one flush job per key', async () => {
    const [a, b] = [events(40), events(25)];
    // Concurrent appends to two keys: they share write batches, and each gets the next number of its key.
    const numbers = await Promise.all([
      ...a.map((e) => w.cache.append('videoEvent', 'a', e)),
      ...b.map((e) => w.cache.append('videoEvent', 'b', e)),
    ]);
    // A fresh key's numbering starts from the shard's clock; then each event gets the next number, in call order.
    const firstA = assertConsecutive(numbers.slice(0, a.length), 'a: consecutive in call order');
    const firstB = assertConsecutive(numbers.slice(a.length), 'b: consecutive in call order');
    const jobs = await w.queue.getJobs(['delayed', 'wait']);
    assert.deepEqual(
      jobs.map((j) => j.id).sort(),
      [`videoEvent.a.v${firstA}`, `videoEvent.b.v${firstB}`],
      'one job per dirty key, named by the event that made it dirty',
    );
    const waiting = await w.cache.stats();
    assert.equal(waiting.dirtyKeys, 2);
    assert.equal(waiting.pendingEvents, 65, 'stats counts the events waiting');

    const worker = await w.startWorker();
    await w.cache.flushed('videoEvent', 'a');
    await w.cache.flushed('videoEvent', 'b');
    assert.deepEqual(await eventRows(w.db, 'a'), expectedRows(40, firstA));
    assert.deepEqual(await eventRows(w.db, 'b'), expectedRows(25, firstB));
    assert.equal(worker.counters.eventsInserted, 65);
    assert.ok(worker.counters.statements <= 2, `${worker.counters.statements} statements for 65 rows`);
    // The events left Redis: the key's hash keeps only its numbering.
    const hash = await w.redis.hgetall(w.dataKey('videoEvent', 'a'));
    assert.deepEqual(Object.keys(hash).sort(), ['_a', '_fv', '_j', '_v']);
    assert.equal((await w.cache.stats()).pendingEvents, 0, 'the event backlog is empty again');

    // Later events continue the numbering, in a new dirty period with a new job.
    assert.equal(await w.cache.append('videoEvent', 'a', events(1, 41)[0] as never), firstA + 40);
    assert.equal(await w.jobIdOf('videoEvent', 'a'), `videoEvent.a.v${firstA + 40}`);
    await w.cache.flushed('videoEvent', 'a');
    assert.deepEqual(await eventRows(w.db, 'a'), expectedRows(41, firstA));
    await worker.close();
  });

  test('a key Redis lost (or let expire) continues above the highest number in the database', async () => {
    const numbers: number[] = [];
    for (const e of events(3)) numbers.push(await w.cache.append('videoEvent', 'cold', e));
    const first = assertConsecutive(numbers);
    const worker = await w.startWorker();
    await w.cache.flushed('videoEvent', 'cold');
    await w.redis.del(w.dataKey('videoEvent', 'cold'));
    // Numbered from the shard's clock again, without reading the database: above every number it holds.
    const next = await w.cache.append('videoEvent', 'cold', events(1, 4)[0] as never);
    assert.ok(next > first + 2, `${next} follows ${first + 2}`);
    await w.cache.flushed('videoEvent', 'cold');
    assert.deepEqual(await eventRows(w.db, 'cold'), [...expectedRows(3, first), ...expectedRows(1, next, 4)]);
    await worker.close();
  });

  test('a key whose job was lost is re-enqueued by the sweep', async () => {
    const numbers: number[] = [];
    for (const e of events(5)) numbers.push(await w.cache.append('videoEvent', 'orphan', e));
    const first = assertConsecutive(numbers);
    const jobId = await w.jobIdOf('videoEvent', 'orphan');
    assert.equal(jobId, `videoEvent.orphan.v${first}`);
    await w.queue.remove(jobId);
    const jobs = await w.queue.getJobs(['delayed', 'wait', 'active']);
    assert.deepEqual(
      jobs.filter((j) => j.data?.id === 'orphan'),
      [],
      'the key has no flush job',
    );
    const worker = await w.startWorker();
    await w.cache.drain({ timeoutMs: 15_000 });
    assert.deepEqual(await eventRows(w.db, 'orphan'), expectedRows(5, first));
    await worker.close();
  });

  test('bad input is a ValidationError before anything is written', async () => {
    const before = await eventCount(w.db);
    const keys = await w.redis.keys(`{${w.prefix}:0}:e:videoEvent:*`);
    const bad: [unknown, RegExp][] = [
      [{ type: 'x' }, /needs createdAt/],
      [{ type: 'x', createdAt: new Date(), extra: 1 }, /has no field "extra"/],
      [{ type: 'x'.repeat(33), createdAt: new Date() }, /33 characters long; the limit is 32/],
      [{ type: 'x', createdAt: new Date('nope') }, /valid Date/],
      [{ type: 'x', context: { n: 10n }, createdAt: new Date() }, /JSON/],
      [{ type: 'nul\u0000', createdAt: new Date() }, /NUL/],
      [null, /must be an object/],
    ];
    for (const [event, message] of bad) {
      await assert.rejects(w.cache.append('videoEvent', 'bad', event as never), (error: unknown) => {
        assert.ok(error instanceof ValidationError, String(error));
        assert.match(error.message, message);
        return true;
      });
    }
    await assert.rejects(w.cache.append('videoEvent', '', events(1)[0] as never), ValidationError);
    // Append entities are not read, set or deleted through the cache, and state entities take no events.
    const call = (method: string, ...args: unknown[]) =>
      (w.cache as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]?.apply(
        w.cache,
        args,
      ) as Promise<unknown>;
    for (const [method, ...args] of [
      ['get', 'videoEvent', 'a'],
      ['set', 'videoEvent', 'a', { type: 'x' }],
      ['delete', 'videoEvent', 'a'],
      ['increment', 'videoEvent', 'a', 'type'],
    ] as const) {
      await assert.rejects(call(method, ...args), /videoEvent is an append entity/);
    }
    await assert.rejects(call('append', 'video', 'v', { likes: 1 }), /video is not an append entity/);
    assert.deepEqual(await w.redis.keys(`{${w.prefix}:0}:e:videoEvent:bad`), []);
    assert.deepEqual((await w.redis.keys(`{${w.prefix}:0}:e:videoEvent:*`)).sort(), keys.sort());
    assert.equal(await eventCount(w.db), before);
  });
});

describe('a key with more events than one flush takes', () => {
  let w: EventWorld;
  before(async () => {
    w = await createEventWorld({ flush: { windowMs: 60_000, maxEventsPerBatch: 7, batchSize: 4 } });
  });
  after(() => w.close());

  test('is flushed again at once until it has caught up, not once per window', async () => {
    const hot = assertConsecutive(
      await Promise.all(events(30).map((e) => w.cache.append('videoEvent', 'hot', e))),
    );
    const [warm1, warm2] = await Promise.all(
      ['warm1', 'warm2'].map(async (id) =>
        assertConsecutive(await Promise.all(events(10).map((e) => w.cache.append('videoEvent', id, e)))),
      ),
    );
    const worker = await w.startWorker();
    // Within one 60 s window: only immediate re-runs can insert 50 events 7 per batch (shared by its keys).
    await w.cache.flush({ timeoutMs: 15_000 });
    assert.deepEqual(await eventRows(w.db, 'hot'), expectedRows(30, hot));
    assert.deepEqual(await eventRows(w.db, 'warm1'), expectedRows(10, warm1 as number));
    assert.deepEqual(await eventRows(w.db, 'warm2'), expectedRows(10, warm2 as number));
    assert.ok(worker.counters.statements >= 13, 'statements of at most batchSize (4) rows');
    await worker.close();
  });
});

describe("the acknowledgement of a key's events", () => {
  let w: EventWorld;
  let gate: GatedStore;
  before(async () => {
    w = await createEventWorld({
      flush: { windowMs: 100 },
      wrapStore: (store) => {
        gate = gatedStore(store);
        return gate;
      },
    });
  });
  after(() => w.close());

  test('events appended during a flush stay, whole and in order, when the key is made again without the flushed ones', async () => {
    // More events than Redis's compact hash holds (hash-max-listpack-entries), where an HDEL per event would
    // leave a hashtable behind.
    const [, entries] = (await w.redis.config('GET', 'hash-max-listpack-entries')) as [string, string];
    const n = Number(entries) + 50;
    const first = assertConsecutive(
      await Promise.all(events(n).map((e) => w.cache.append('videoEvent', 'k', e))),
    );
    gate.hold();
    const worker = await w.startWorker();
    await gate.held();
    // The flush's insert of the n is held; these 5 wait for the next flush, in the same hash.
    const later = assertConsecutive(
      await Promise.all(events(5, n + 1).map((e) => w.cache.append('videoEvent', 'k', e))),
    );
    assert.equal(later, first + n);
    gate.release();
    await w.cache.flushed('videoEvent', 'k');
    assert.deepEqual(await eventRows(w.db, 'k'), expectedRows(n + 5, first));
    const key = w.dataKey('videoEvent', 'k');
    assert.deepEqual(Object.keys(await w.redis.hgetall(key)).sort(), ['_a', '_fv', '_j', '_v']);
    assert.equal(
      await w.redis.object('ENCODING', key),
      'listpack',
      'made again small, not emptied field by field',
    );
    assert.equal((await w.cache.stats()).pendingEvents, 0, 'every event taken off the count once');
    // The numbering goes on from the key's own fields.
    assert.equal(await w.cache.append('videoEvent', 'k', events(1, n + 6)[0] as never), first + n + 5);
    await w.cache.flushed('videoEvent', 'k');
    assert.deepEqual(await eventRows(w.db, 'k'), expectedRows(n + 6, first));
    await worker.close();
  });

  test('a hash holding a field it does not know loses only the flushed events, one by one', async () => {
    const first = assertConsecutive(
      await Promise.all(events(20).map((e) => w.cache.append('videoEvent', 'x', e))),
    );
    const key = w.dataKey('videoEvent', 'x');
    // Not one of an append key's own fields: the key is not made again (that would drop it).
    await w.redis.hset(key, '_x', 'kept');
    const worker = await w.startWorker();
    await w.cache.flushed('videoEvent', 'x');
    assert.deepEqual(await eventRows(w.db, 'x'), expectedRows(20, first));
    assert.deepEqual(Object.keys(await w.redis.hgetall(key)).sort(), ['_a', '_fv', '_j', '_v', '_x']);
    assert.equal((await w.cache.stats()).pendingEvents, 0);
    await worker.close();
  });
});

describe('a store that takes no runs of events', () => {
  let w: EventWorld;
  const sent: number[] = [];
  before(async () => {
    w = await createEventWorld({
      flush: { windowMs: 100, batchSize: 7 },
      // A store of its own kind may implement `append` alone: the flush sends it the same events as rows.
      wrapStore: (store) => {
        const rowsOnly = forwardingStore(store, {
          append: (entity, rows) => {
            sent.push(rows.length);
            return store.append?.(entity, rows) ?? Promise.resolve();
          },
        });
        assert.equal(rowsOnly.appendRuns, undefined);
        return rowsOnly;
      },
    });
  });
  after(() => w.close());

  test('is sent rows, in statements of at most batchSize, each event once and in order', async () => {
    const first = assertConsecutive(
      await Promise.all(events(30).map((e) => w.cache.append('videoEvent', 'r', e))),
    );
    const worker = await w.startWorker();
    await w.cache.flushed('videoEvent', 'r');
    assert.deepEqual(await eventRows(w.db, 'r'), expectedRows(30, first));
    assert.equal(
      sent.reduce((a, b) => a + b, 0),
      30,
    );
    assert.ok(
      sent.every((n) => n <= 7),
      `statements of ${sent.join(', ')} rows`,
    );
    await worker.close();
  });
});

describe('the event backlog (Guarantee 10)', () => {
  let w: EventWorld;
  before(async () => {
    w = await createEventWorld({ backlog: { eventLimit: 10 } });
  });
  after(() => w.close());

  test('past backlog.eventLimit, appends get BacklogFullError and change nothing', async () => {
    const numbers: number[] = [];
    for (const e of events(6)) numbers.push(await w.cache.append('videoEvent', 'x', e));
    const first = assertConsecutive(numbers);
    for (const e of events(4)) await w.cache.append('videoEvent', 'y', e);
    const before = await w.redis.hgetall(w.dataKey('videoEvent', 'x'));
    await assert.rejects(w.cache.append('videoEvent', 'x', events(1, 7)[0] as never), (error: unknown) => {
      assert.ok(error instanceof BacklogFullError);
      assert.equal(error.backlog, 'events');
      assert.equal(error.dirtyKeys, 10);
      assert.equal(error.limit, 10);
      assert.match(error.message, /backlog\.eventLimit/);
      return true;
    });
    // A cold key is refused too, and left absent.
    await assert.rejects(w.cache.append('videoEvent', 'z', events(1)[0] as never), BacklogFullError);
    assert.deepEqual(await w.redis.hgetall(w.dataKey('videoEvent', 'x')), before);
    assert.equal(await w.redis.exists(w.dataKey('videoEvent', 'z')), 0);

    const worker = await w.startWorker();
    await w.cache.flush();
    // The refused event took no number: the next one does.
    assert.equal(await w.cache.append('videoEvent', 'x', events(1, 7)[0] as never), first + 6);
    await w.cache.flush();
    assert.deepEqual(await eventRows(w.db, 'x'), expectedRows(7, first));
    await worker.close();
  });
});
