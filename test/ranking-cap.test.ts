// Rankings under a memory budget (issue 27): each shard's ranking keeps only its highest
// `memory.rankingEntries` entries, and still answers `top` and `rank` exactly: records it left out order below
// its floor; an `add` to a key it lacks is placed once that key's flush commits; deletes that leave it short
// of a `top` make it build again; a build that began before such a reset does not seal it.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { rankingKey, shardKeys } from '@write-behind/core/internal';
import { Operator } from '@write-behind/core/operator';
import {
  createWorld,
  expectedTop,
  forwardingStore,
  idsInShards,
  type RankedTestEntities,
  rankedEntities,
  type World,
} from '@write-behind/testkit';

type RankedWorld = World<RankedTestEntities>;
const worlds: RankedWorld[] = [];
after(() => Promise.all(worlds.map((w) => w.close())));

const CAP = 5;
const ROWS = 30;

/**
 * A world whose rankings keep CAP entries (a budget of keys large enough never to evict). `failLoads` loads of
 * the store fail once armed: see the test of a flush that fails between its commit and the placement.
 */
async function cappedWorld(shards = 1, failLoads?: { armed: number; failed: number }): Promise<RankedWorld> {
  const w = await createWorld(rankedEntities, {
    shards,
    flush: { windowMs: 50 },
    memory: { maxKeys: 1_000_000, rankingEntries: CAP },
    wrapStore: (base) =>
      forwardingStore(base, {
        async load(entity, ids) {
          if (failLoads && failLoads.armed > 0) {
            failLoads.armed--;
            failLoads.failed++;
            throw Object.assign(new Error('connect ECONNREFUSED (simulated)'), { code: 'ECONNREFUSED' });
          }
          return base.load(entity, ids);
        },
      }),
  });
  worlds.push(w);
  return w;
}

/** Stored rows `r0..r29` with views 10, 20, ... 300, which Redis does not hold. */
async function storedRows(w: RankedWorld): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  for (let i = 0; i < ROWS; i++) values.set(`r${i}`, 10 * (i + 1));
  await w.db.pool.query(`INSERT INTO "Video" (id, views) SELECT unnest($1::text[]), unnest($2::bigint[])`, [
    [...values.keys()],
    [...values.values()],
  ]);
  return values;
}

/** Entries of each shard's ranking of views, the built mark and placeholders (-inf) left out. */
async function rankedCounts(w: RankedWorld, shards = 1): Promise<number[]> {
  return Promise.all(
    Array.from({ length: shards }, (_, s) =>
      w.redis.zcount(rankingKey(shardKeys(w.prefix, s, shards), 'video', 'views'), '(-inf', '+inf'),
    ),
  );
}

describe('a capped ranking', () => {
  test('keeps its highest entries and answers top and rank exactly; a write moves a key in or out', async () => {
    const w = await cappedWorld();
    const values = await storedRows(w);
    assert.deepEqual(
      await w.cache.top('video', 'views', CAP),
      expectedTop(values, CAP),
      'built from the rows',
    );
    assert.deepEqual(await rankedCounts(w), [CAP], 'the rest was trimmed');
    assert.deepEqual(await w.cache.rank('video', 'views', 'r29'), { rank: 1, value: 300 });
    assert.equal(await w.cache.rank('video', 'views', 'r0'), null, 'below the kept entries');

    // A write that knows the total (an increment reads the row) places a key at once, whichever way it moves.
    await w.cache.increment('video', 'r0', 'views', 1000);
    values.set('r0', 1010);
    await w.cache.increment('video', 'r29', 'views', -295);
    values.set('r29', 5);
    assert.deepEqual(await w.cache.top('video', 'views', CAP), expectedTop(values, CAP));
    assert.deepEqual(await w.cache.rank('video', 'views', 'r0'), { rank: 1, value: 1010 });
    assert.equal(await w.cache.rank('video', 'views', 'r29'), null);
    assert.ok(((await rankedCounts(w))[0] ?? 0) <= CAP);
  });

  test('an add to a key it lacks places the key once its flush commits, at its total', async () => {
    const w = await cappedWorld();
    const values = await storedRows(w);
    await w.cache.top('video', 'views', CAP);
    // r1 (stored 20) and a new id jump to the top without a read; r2 stays below the floor.
    await w.cache.add('video', 'r1', 'views', 1000);
    await w.cache.add('video', 'new', 'views', 500);
    await w.cache.add('video', 'r2', 'views', 1);
    values.set('r1', 1020).set('new', 500).set('r2', 31);
    const worker = await w.startWorker();
    await w.cache.flush();
    assert.deepEqual(await w.cache.top('video', 'views', CAP), expectedTop(values, CAP));
    assert.deepEqual(await w.cache.rank('video', 'views', 'r1'), { rank: 1, value: 1020 });
    for (const id of ['r1', 'new', 'r2']) {
      const key = `${shardKeys(w.prefix, 0, 1).tag}:e:video:${id}`;
      assert.equal(await w.redis.hexists(key, '_r'), 0, `${id} is no longer waiting to be placed`);
    }
    // Adds to a key the ranking holds move it at once, flushed or not.
    await w.cache.add('video', 'r1', 'views', -1015);
    values.set('r1', 5);
    assert.deepEqual(await w.cache.top('video', 'views', CAP), expectedTop(values, CAP));
    await w.cache.flush();
    assert.deepEqual(await w.cache.top('video', 'views', CAP), expectedTop(values, CAP));
    assert.ok(((await rankedCounts(w))[0] ?? 0) <= CAP);
    await worker.close();
  });

  test('a flush that fails between its commit and the placement places the key on its rerun, adding once', async () => {
    const failLoads = { armed: 0, failed: 0 };
    const w = await cappedWorld(1, failLoads);
    const values = await storedRows(w);
    await w.cache.top('video', 'views', CAP);
    await w.cache.add('video', 'r3', 'views', 2000);
    values.set('r3', 2040);
    // The sums commit, then the read that places the key fails, as when the worker dies there.
    failLoads.armed = 1;
    const worker = await w.startWorker();
    await w.cache.flush({ timeoutMs: 60_000 });
    assert.equal(failLoads.failed, 1, 'the placement failed once');
    assert.deepEqual(await w.cache.top('video', 'views', CAP), expectedTop(values, CAP));
    const { rows } = await w.db.pool.query(`SELECT views::int AS views FROM "Video" WHERE id = 'r3'`);
    assert.equal(rows[0]?.views, 2040, 'the sum was added once');
    await worker.close();
  });

  test('deletes that leave it short of a top make it build again', async () => {
    const w = await cappedWorld();
    const values = await storedRows(w);
    await w.cache.top('video', 'views', CAP);
    for (const id of ['r29', 'r28', 'r27']) {
      assert.equal(await w.cache.delete('video', id), true);
      values.delete(id);
    }
    assert.deepEqual(await rankedCounts(w), [CAP - 3]);
    // The deletes are still pending in Redis: the new build takes them from there.
    assert.deepEqual(await w.cache.top('video', 'views', CAP), expectedTop(values, CAP));
    assert.deepEqual(await rankedCounts(w), [CAP]);
    const worker = await w.startWorker();
    await w.cache.flush();
    assert.deepEqual(await w.cache.top('video', 'views', CAP), expectedTop(values, CAP));
    await worker.close();
  });

  test('on several shards, top merges each shard’s kept entries and rank is exact above every floor', async () => {
    const w = await cappedWorld(3);
    const values = await storedRows(w);
    assert.deepEqual(await w.cache.top('video', 'views', CAP), expectedTop(values, CAP));
    for (const n of await rankedCounts(w, 3)) assert.ok(n <= CAP, `a shard keeps ${n} entries`);
    assert.deepEqual(await w.cache.rank('video', 'views', 'r28'), { rank: 2, value: 290 });
    assert.equal(await w.cache.rank('video', 'views', 'r0'), null);
  });

  test("the operator's inspection places a key as rank does, also below another shard's floor", async () => {
    const w = await cappedWorld(3);
    // Ten high values on shard 0 (it keeps 5: its floor is the sixth), three low ones on shard 1 (kept, no
    // floor): those rank below records shard 0 no longer holds, so they have no place.
    const high = idsInShards('video', { inShards: [0], shards: 3, count: 10 }, (i) => `h${i}`);
    const low = idsInShards('video', { inShards: [1], shards: 3, count: 3 }, (i) => `l${i}`);
    const values = new Map([
      ...high.map((id, i) => [id, 100 * (i + 1)] as const),
      ...low.map((id, i) => [id, i + 1] as const),
    ]);
    await w.db.pool.query(`INSERT INTO "Video" (id, views) SELECT unnest($1::text[]), unnest($2::bigint[])`, [
      [...values.keys()],
      [...values.values()],
    ]);
    assert.deepEqual(await w.cache.top('video', 'views', CAP), expectedTop(values, CAP));
    const operator = new Operator(w.cache);
    for (const id of values.keys()) {
      const story = await operator.inspect('video', id);
      const views = story.rankings.find((r) => r.field === 'views');
      assert.equal(views?.rank ?? null, (await w.cache.rank('video', 'views', id))?.rank ?? null, id);
      if (low.includes(id)) assert.deepEqual([views?.score, views?.rank], [values.get(id), null], id);
    }
  });

  test('a top asking for more than the kept entries is a validation error', async () => {
    const w = await cappedWorld();
    await assert.rejects(w.cache.top('video', 'views', CAP + 1), {
      name: 'ValidationError',
      message: /from 1 to 5 \(the rankings keep 5 entries: memory.rankingEntries\)/,
    });
  });

  test('a build that began before a reset does not seal the ranking', async () => {
    const w = await cappedWorld();
    await storedRows(w);
    await w.cache.top('video', 'views', CAP);
    const ranking = rankingKey(shardKeys(w.prefix, 0, 1), 'video', 'views');
    const generation = (await w.redis.hget(`${ranking}:floor`, 'g')) ?? '';
    const build = (mode: string, arg: string) =>
      w.redis.wbRankingBuild(
        1,
        ranking,
        'views',
        mode,
        String(shardKeys(w.prefix, 0, 1).dataKeyPrefixLength),
        '0',
        arg,
      );
    assert.equal(await build('reset', String(CAP)), 0, 'a ranking holding what a top asks is not reset');
    await w.redis.zremrangebyrank(ranking, -2, -1);
    assert.equal(await build('reset', String(CAP)), 1, 'short: reset');
    assert.equal(await w.redis.exists(ranking), 0);
    assert.equal(await build('seal', generation), 0, 'the earlier build cannot seal it');
    assert.equal(await w.redis.zscore(ranking, ''), null, 'still unbuilt');
    const values = new Map([...Array(ROWS).keys()].map((i) => [`r${i}`, 10 * (i + 1)]));
    assert.deepEqual(await w.cache.top('video', 'views', CAP), expectedTop(values, CAP), 'built again');
  });
});

describe('a write the budget refuses', () => {
  test('leaves the rankings as they were', async () => {
    const w = await createWorld(rankedEntities, { memory: { maxKeys: 1 } });
    worlds.push(w);
    await w.cache.add('video', 'held', 'views', 1);
    // The one key the budget allows is dirty: a new key is refused, and must not be scored either.
    await assert.rejects(w.cache.add('video', 'refused', 'views', 7), { name: 'BacklogFullError' });
    const ranking = rankingKey(shardKeys(w.prefix, 0, 1), 'video', 'views');
    assert.equal(await w.redis.zscore(ranking, 'refused'), null);
    assert.equal(await w.redis.zscore(ranking, 'held'), '1');
  });
});

describe('a budget without a ranking cap', () => {
  test('rankingEntries 0 ranks every record, as without a budget', async () => {
    const w = await createWorld(rankedEntities, { memory: { maxKeys: 1_000_000, rankingEntries: 0 } });
    worlds.push(w);
    const values = await storedRows(w);
    assert.deepEqual(await w.cache.top('video', 'views', 10), expectedTop(values, 10));
    assert.deepEqual(await rankedCounts(w), [ROWS]);
    assert.deepEqual(await w.cache.rank('video', 'views', 'r0'), { rank: ROWS, value: 10 });
  });
});
