// Guarantee 14, graceful shutdown: a closing worker takes no new jobs, finishes the flush in flight, then disconnects.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHarness, type GatedStore, gatedStore, type Harness, videoRow } from '@write-behind/testkit';

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
