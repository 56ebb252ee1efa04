// Guarantee 15 for `add`: a ranked counter moved by adds to keys Redis does not hold in whole (no read) still
// ranks by its total (stored value plus what was added), whether the ranking was built before the adds, is
// built after them, or is being built while they land.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  createWorld,
  expectedTop,
  forwardingStore,
  type RankedTestEntities,
  rankedEntities,
  type World,
} from '@write-behind/testkit';

type RankedWorld = World<RankedTestEntities>;
const worlds: RankedWorld[] = [];
after(() => Promise.all(worlds.map((w) => w.close())));

/** Stored rows `s0..s9` with views 10, 20, ... 100, which Redis does not hold. */
async function storedRows(w: RankedWorld): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  for (let i = 0; i < 10; i++) values.set(`s${i}`, 10 * (i + 1));
  await w.db.pool.query(`INSERT INTO "Video" (id, views) SELECT unnest($1::text[]), unnest($2::bigint[])`, [
    [...values.keys()],
    [...values.values()],
  ]);
  return values;
}

/** Adds to stored keys (jumping some over others) and to new ones; returns the totals. */
async function addAll(w: RankedWorld, values: Map<string, number>): Promise<void> {
  const adds: [string, number][] = [
    ['s0', 95],
    ['s3', 1],
    ['s3', 1],
    ['new1', 55],
    ['new2', 200],
    ['s9', -50],
  ];
  for (const [id, by] of adds) {
    await w.cache.add('video', id, 'views', by);
    values.set(id, (values.get(id) ?? 0) + by);
  }
}

describe('adds to a ranked counter without reads', () => {
  test('a ranking built before the adds follows them at once', async () => {
    const w = await createWorld(rankedEntities, { flush: { windowMs: 50 } });
    worlds.push(w);
    const values = await storedRows(w);
    assert.deepEqual(await w.cache.top('video', 'views', 20), expectedTop(values, 20), 'built from the rows');
    await addAll(w, values);
    assert.deepEqual(await w.cache.top('video', 'views', 20), expectedTop(values, 20), 'before any flush');
    assert.deepEqual(await w.cache.rank('video', 'views', 's0'), { rank: 2, value: 105 });
    const worker = await w.startWorker();
    await w.cache.flush();
    assert.deepEqual(await w.cache.top('video', 'views', 20), expectedTop(values, 20), 'after the flush');
    await worker.close();
  });

  test('a ranking built after the adds counts them, flushed or not', async () => {
    const w = await createWorld(rankedEntities, { flush: { windowMs: 50 } });
    worlds.push(w);
    const values = await storedRows(w);
    await addAll(w, values);
    assert.deepEqual(
      await w.cache.top('video', 'views', 20),
      expectedTop(values, 20),
      'built with adds pending',
    );

    const again = await createWorld(rankedEntities, { flush: { windowMs: 50 } });
    worlds.push(again);
    const second = await storedRows(again);
    await addAll(again, second);
    const worker = await again.startWorker();
    // Flushed sums and what the database holds agree: the partial keys left Redis with their flush.
    await again.cache.flush();
    assert.deepEqual(
      await again.cache.top('video', 'views', 20),
      expectedTop(second, 20),
      'built after the flush',
    );
    await worker.close();
  });

  test('adds landing while the ranking is built are counted once', async () => {
    let hold: (() => void) | undefined;
    let held: (() => void) | undefined;
    const reading = new Promise<void>((resolve) => {
      held = resolve;
    });
    const w = await createWorld(rankedEntities, {
      flush: { windowMs: 50 },
      // The build's read of stored values waits, after its first pass entered the keys as placeholders.
      wrapStore: (base) =>
        forwardingStore(base, {
          async load(entity, ids) {
            if (hold === undefined) {
              const gate = new Promise<void>((resolve) => {
                hold = resolve;
              });
              held?.();
              await gate;
            }
            return base.load(entity, ids);
          },
        }),
    });
    worlds.push(w);
    const values = await storedRows(w);
    await w.cache.add('video', 's1', 'views', 5);
    values.set('s1', 25);
    const top = w.cache.top('video', 'views', 20);
    await reading;
    // The build holds its read: these adds land on placeholders, and on a key it has not read yet.
    await addAll(w, values);
    hold?.();
    assert.deepEqual(await top, expectedTop(values, 20));
    assert.deepEqual(await w.cache.top('video', 'views', 20), expectedTop(values, 20));
  });
});
