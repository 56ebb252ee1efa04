import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TurnBatcher } from '../../src/turn-batcher.ts';

/** A batcher over a fake server that answers each item with item * 10 and records every call. */
function recording(options: { maxItems: number; spread?: number }) {
  const calls: number[][] = [];
  const batcher = new TurnBatcher<number, number>(
    async (items) => {
      calls.push([...items]);
      await new Promise((resolve) => setImmediate(resolve));
      return items.map((n) => n * 10);
    },
    { schedule: 'tick', ...options },
  );
  return { batcher, calls };
}

test('the items of one turn go in one call, and each caller gets its own answer', async () => {
  const { batcher, calls } = recording({ maxItems: 100 });
  const answers = await Promise.all([1, 2, 3, 4, 5].map((n) => batcher.submit(n)));
  assert.deepEqual(answers, [10, 20, 30, 40, 50]);
  assert.deepEqual(calls, [[1, 2, 3, 4, 5]]);
  // A later turn is a call of its own.
  assert.equal(await batcher.submit(6), 60);
  assert.deepEqual(calls.at(-1), [6]);
});

test('a full batch goes out at once; the rest of the turn follows in order', async () => {
  const { batcher, calls } = recording({ maxItems: 3 });
  const answers = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((n) => batcher.submit(n)));
  assert.deepEqual(answers, [10, 20, 30, 40, 50, 60, 70]);
  assert.deepEqual(calls, [[1, 2, 3], [4, 5, 6], [7]]);
});

test('spread: a batch goes out once it holds its share of the callers waiting', async () => {
  const { batcher, calls } = recording({ maxItems: 32, spread: 4 });
  // Twelve callers in one turn: the first goes alone (nobody else waits yet), then the share grows with
  // the callers waiting, so several batches are in flight at once instead of one.
  await Promise.all(Array.from({ length: 12 }, (_, i) => batcher.submit(i)));
  assert.ok(calls.length > 1, `expected several batches, got ${JSON.stringify(calls)}`);
  assert.deepEqual(
    calls.flat(),
    Array.from({ length: 12 }, (_, i) => i),
  );
  assert.deepEqual(calls[0], [0]);
  // Once everything is answered nobody waits, so a lone caller again goes alone.
  calls.length = 0;
  await batcher.submit(99);
  assert.deepEqual(calls, [[99]]);
});

test('a failed call fails its own callers only', async () => {
  let call = 0;
  const batcher = new TurnBatcher<number, number>(
    async (items) => {
      call++;
      if (call === 1) throw new Error('connection reset');
      return items;
    },
    { maxItems: 2, schedule: 'tick' },
  );
  const results = await Promise.allSettled([1, 2, 3].map((n) => batcher.submit(n)));
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
    ['connection reset', 'connection reset', 3],
  );
});

test('a server that answers the wrong number of items fails the whole batch rather than misanswer it', async () => {
  const batcher = new TurnBatcher<number, number>(async (items) => items.slice(1), {
    maxItems: 10,
    schedule: 'immediate',
  });
  const results = await Promise.allSettled([1, 2].map((n) => batcher.submit(n)));
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.match((result.reason as Error).message, /a batch of 2 got 1 answers/);
  }
});

test('settled waits for every item handed in', async () => {
  const { batcher } = recording({ maxItems: 2 });
  let answered = 0;
  for (const n of [1, 2, 3]) void batcher.submit(n).then(() => answered++);
  await batcher.settled();
  assert.equal(answered, 3);
});
