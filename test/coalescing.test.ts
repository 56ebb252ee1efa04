// Guarantee 1: many increments of one key become one database write per flush window.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  countVideoRowWrites,
  createHarness,
  eventually,
  type Harness,
  videoRow,
} from '@write-behind/testkit';

let h: Harness;
let rowWrites: (id: string) => Promise<number>;
before(async () => {
  h = await createHarness({ flush: { windowMs: 1500 } });
  rowWrites = await countVideoRowWrites(h.db);
});
after(() => h.close());

test('10,000 increments of one key land as the exact total with at most one row write per window', async () => {
  await h.startWorker();
  const started = Date.now();
  const results: number[] = [];
  for (let i = 0; i < 100; i++) {
    results.push(
      ...(await Promise.all(Array.from({ length: 100 }, () => h.cache.increment('video', 'hot', 'likes')))),
    );
  }
  const elapsed = Date.now() - started;
  // Each increment returned a distinct new value: 1..10000.
  assert.deepEqual(
    [...results].sort((a, b) => a - b),
    Array.from({ length: 10_000 }, (_, i) => i + 1),
  );
  await h.cache.flushed('video', 'hot', { timeoutMs: 15_000 });
  assert.equal((await videoRow(h.db, 'hot'))?.likes, 10_000);

  const writes = await rowWrites('hot');
  const windows = Math.ceil(elapsed / 1500) + 1;
  assert.ok(writes >= 1 && writes <= windows, `expected at most ${windows} row writes, saw ${writes}`);
  assert.equal(await h.cache.get('video', 'hot').then((v) => v?.likes), 10_000);
  assert.ok(await eventually(async () => (await h.cache.stats()).dirtyKeys === 0));
});
