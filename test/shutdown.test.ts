// Guarantee 14, graceful shutdown: a closing worker takes no new jobs, finishes the flush in flight, then
// disconnects; with Redis unreachable it still returns, within about twice its closeTimeoutMs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createHarness,
  createWorld,
  entities,
  type GatedStore,
  gatedStore,
  type Harness,
  startRedis,
  videoRow,
  withTimeout,
} from '@write-behind/testkit';

let h: Harness;
let store: GatedStore;
before(async () => {
  h = await createHarness({ flush: { windowMs: 50 }, wrapStore: (s) => (store = gatedStore(s)) });
});
after(() => h.close());

test('close() drains the flush in flight and takes no new job', async () => {
  store.hold();
  const worker = await h.startWorker();
  await h.cache.increment('video', 'inflight', 'likes', 4);
  await store.held();
  let closed = false;
  const closing = worker.close().then(() => {
    closed = true;
  });
  // While closing, a new dirty key gets a job, which this worker must not take.
  await h.cache.increment('video', 'after-close', 'likes');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(closed, false, 'close waits for the flush in flight');
  store.release();
  await closing;
  assert.equal((await videoRow(h.db, 'inflight'))?.likes, 4);
  assert.equal(await videoRow(h.db, 'after-close'), undefined);
  const counts = await h.queue.getJobCounts();
  assert.equal(counts.active, 0);
  assert.equal(
    (counts.delayed ?? 0) + (counts.waiting ?? 0),
    2,
    'the new job (and the sweep) wait for the next worker',
  );

  await h.startWorker();
  await h.cache.flushed('video', 'after-close');
  assert.equal((await videoRow(h.db, 'after-close'))?.likes, 1);
});

test('close() returns while Redis is unreachable and a flush is in flight', async () => {
  // BullMQ's own graceful close waits for its blocking connection to end, which it never does here.
  const server = await startRedis(['--save', '', '--appendonly', 'no']);
  let gate: GatedStore | undefined;
  const world = await createWorld(entities, {
    redis: `redis://127.0.0.1:${server.port}`,
    flush: { windowMs: 50 },
    wrapStore: (s) => (gate = gatedStore(s)),
  });
  try {
    const worker = await world.startWorker({ closeTimeoutMs: 500 });
    gate?.hold();
    await world.cache.increment('video', 'held', 'likes');
    await gate?.held();
    await server.kill();
    await withTimeout(worker.close(), 10_000, 'close() with Redis down');
    assert.ok(
      world.logs.some((l) => l.level === 'warn' && /still running at close timeout/.test(l.msg)),
      'the abandoned flush is logged',
    );
  } finally {
    gate?.release();
    await server.kill();
    await world.close();
  }
});
