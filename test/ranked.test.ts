// Guarantee 15: `top` and `rank` of a ranked counter match its records across shards, cold keys, deletes,
// restarts, a lost ranking and writes racing its build; and through the faults of guarantees 6 (database
// outage), 7 (worker crash) and 3 (replayed flush jobs). Bad input gets typed errors (guarantee 11).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createWriteBehind,
  type RankedEntry,
  type Store,
  ValidationError,
  type WriteBehind,
} from '@write-behind/core';
import { flushJob, rankingKey, resolveEntities, shardKeys } from '@write-behind/core/internal';
import {
  createWorld,
  entities,
  eventually,
  expectedTop,
  forwardingStore,
  type RankedTestEntities,
  REDIS_URL,
  rankedEntities,
  STALLED,
  spawnWorkerProcess,
  testWorkerConfig,
  type World,
} from '@write-behind/testkit';
import { Redis } from 'ioredis';

type RankedWorld = World<RankedTestEntities>;

const redis = new Redis(REDIS_URL);
after(() => redis.quit());

/** The error a call rejects with (failing the test if it resolves). */
async function rejectionOf(call: Promise<unknown>): Promise<{ code?: string } & Error> {
  try {
    await call;
  } catch (error) {
    return error as { code?: string } & Error;
  }
  assert.fail('the call resolved');
}

/** What `rank` must answer: one plus the records with a strictly higher value. */
function expectedRank(values: ReadonlyMap<string, number>, id: string) {
  const value = values.get(id);
  if (value === undefined) return null;
  return { rank: 1 + [...values.values()].filter((v) => v > value).length, value };
}

/** Every key's `top` and `rank` equal the model's. */
async function assertRanking(cache: WriteBehind<RankedTestEntities>, values: ReadonlyMap<string, number>) {
  assert.deepEqual(await cache.top('video', 'likes', 1000), expectedTop(values, 1000));
  for (const id of values.keys()) {
    assert.deepEqual(await cache.rank('video', 'likes', id), expectedRank(values, id), `rank of ${id}`);
  }
}

/** The ranking keys of `video.likes` on every shard of a world. */
function rankingKeys(world: RankedWorld, shards: number): string[] {
  return Array.from({ length: shards }, (_, s) =>
    rankingKey(shardKeys(world.prefix, s, shards), 'video', 'likes'),
  );
}

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A store that counts `scan` calls and can hold the next one until released. */
function scanProbe() {
  const probe = {
    scans: 0,
    holdAt: -1,
    held: signal(),
    release: signal(),
    wrap: (inner: Store): Store =>
      forwardingStore(inner, {
        async scan(e, afterId, limit) {
          probe.scans++;
          if (probe.scans === probe.holdAt) {
            probe.held.resolve();
            await probe.release.promise;
          }
          return (inner.scan as NonNullable<Store['scan']>)(e, afterId, limit);
        },
      }),
  };
  return probe;
}

describe('top and rank', () => {
  let w: RankedWorld;
  before(async () => {
    w = await createWorld(rankedEntities, { shards: 3 });
  });
  after(() => w.close());

  test('across three shards: the n highest, ties sharing a rank and listed by id descending', async () => {
    const values = new Map<string, number>();
    const writes: Promise<number>[] = [];
    for (let i = 0; i < 30; i++) {
      const id = `v${String(i).padStart(2, '0')}`;
      const value = (i * 7) % 11; // values 0..10, many ties
      values.set(id, value);
      writes.push(w.cache.increment('video', id, 'likes', value));
    }
    await Promise.all(writes);
    for (const key of rankingKeys(w, 3)) assert.ok((await redis.zcard(key)) > 1, `${key} holds members`);

    assert.deepEqual(await w.cache.top('video', 'likes', 5), expectedTop(values, 5));
    await assertRanking(w.cache, values);
    assert.equal(await w.cache.rank('video', 'likes', 'nobody'), null);

    // Decrements move keys down, and a set of the field moves them like an increment.
    await w.cache.increment('video', 'v10', 'likes', -3);
    values.set('v10', (values.get('v10') as number) - 3);
    await w.cache.set('video', 'v03', { likes: 100 });
    values.set('v03', 100);
    await assertRanking(w.cache, values);
    assert.deepEqual((await w.cache.top('video', 'likes', 1))[0], { id: 'v03', value: 100, rank: 1 });
  });

  test('a value near 2^53 keeps every digit: a ranked BigInt counter is exact', async () => {
    await w.cache.set('video', 'huge', { likes: Number.MAX_SAFE_INTEGER - 1 });
    assert.equal(await w.cache.increment('video', 'huge', 'likes'), Number.MAX_SAFE_INTEGER);
    assert.deepEqual((await w.cache.top('video', 'likes', 1))[0], {
      id: 'huge',
      value: Number.MAX_SAFE_INTEGER,
      rank: 1,
    });
    assert.deepEqual(await w.cache.rank('video', 'likes', 'huge'), {
      rank: 1,
      value: Number.MAX_SAFE_INTEGER,
    });
  });
});

describe('building a ranking', () => {
  const worlds: RankedWorld[] = [];
  const caches: { close(): Promise<void> }[] = [];
  after(async () => {
    await Promise.all(caches.map((c) => c.close()));
    await Promise.all(worlds.map((w) => w.close()));
  });

  test('rows written in PostgreSQL before the cache started are ranked on first use, with keys dirty in Redis', async () => {
    const probe = scanProbe();
    const w = await createWorld(rankedEntities, {
      shards: 3,
      limits: { maxLoadBatch: 7 },
      wrapStore: probe.wrap,
    });
    worlds.push(w);
    await w.db.pool.query(
      `INSERT INTO "Video" (id, likes, views) SELECT 'db' || g, g % 13, 0 FROM generate_series(1, 40) g`,
    );
    const values = new Map<string, number>(
      Array.from({ length: 40 }, (_, i) => [`db${i + 1}`, (i + 1) % 13]),
    );
    // Written by a process that does not rank the field yet (no worker: they stay dirty in Redis): db1 is
    // newer in Redis than in the database, redis-only exists only in Redis, db2 is deleted in Redis only.
    const unranked = createWriteBehind({
      redis: REDIS_URL,
      prisma: w.db.prisma,
      prefix: w.prefix,
      shards: 3,
      entities, // the same entities, not ranked
    });
    caches.push(unranked);
    await unranked.increment('video', 'db1', 'likes', 50);
    values.set('db1', 51);
    await unranked.increment('video', 'redis-only', 'likes', 20);
    values.set('redis-only', 20);
    await unranked.delete('video', 'db2');
    values.delete('db2');
    for (const key of rankingKeys(w, 3)) assert.equal(await redis.exists(key), 0, 'nothing ranked yet');

    await assertRanking(w.cache, values);
    assert.equal(probe.scans, Math.ceil(41 / 7), 'one build, paging through the table');
  });

  test('a new cache on the same Redis answers the same without building; a lost ranking is built again', async () => {
    const w = worlds[0] as RankedWorld;
    const expected = await w.cache.top('video', 'likes', 1000);
    const probe = scanProbe();
    const again = createWriteBehind({
      redis: REDIS_URL,
      store: probe.wrap(w.store),
      prefix: w.prefix,
      shards: 3,
      entities: rankedEntities,
    });
    caches.push(again);
    assert.deepEqual(await again.top('video', 'likes', 1000), expected);
    assert.equal(await again.rank('video', 'likes', 'db2'), null);
    assert.equal(probe.scans, 0, 'the ranking was already in Redis');

    // Redis lost the rankings (not the keys): they are built again from the database and Redis's keys.
    await redis.del(...rankingKeys(w, 3));
    assert.deepEqual(await again.top('video', 'likes', 1000), expected);
    assert.ok(probe.scans > 0, 'built again');
    assert.deepEqual(await again.rank('video', 'likes', 'db1'), expectedRankOf(expected, 'db1'));
  });

  test('writes racing the build: increments, deletes and creations on both sides of the page being read', async () => {
    const probe = scanProbe();
    probe.holdAt = 3; // the third page: two are done, the rest to come
    const w = await createWorld(rankedEntities, { limits: { maxLoadBatch: 5 }, wrapStore: probe.wrap });
    worlds.push(w);
    await w.db.pool.query(
      `INSERT INTO "Video" (id, likes) SELECT 'r' || lpad(g::text, 2, '0'), g FROM generate_series(1, 25) g`,
    );
    const topCall = w.cache.top('video', 'likes', 1000);
    await probe.held.promise;
    // r01..r10 were paged already, r11..r15 is the page held, r16..r25 are to come.
    await Promise.all([
      w.cache.increment('video', 'r02', 'likes', 100),
      w.cache.increment('video', 'r12', 'likes', 100),
      w.cache.increment('video', 'r20', 'likes', 100),
      w.cache.delete('video', 'r03'),
      w.cache.delete('video', 'r13'),
      w.cache.delete('video', 'r21'),
      w.cache.increment('video', 'new', 'likes', 7),
    ]);
    probe.release.resolve();
    await topCall;
    const values = new Map<string, number>();
    for (let g = 1; g <= 25; g++) values.set(`r${String(g).padStart(2, '0')}`, g);
    for (const id of ['r02', 'r12', 'r20']) values.set(id, (values.get(id) as number) + 100);
    for (const id of ['r03', 'r13', 'r21']) values.delete(id);
    values.set('new', 7);
    await assertRanking(w.cache, values);
  });
});

test('a delete made and flushed while a build holds the rows it read stays deleted', async () => {
  // The build read r02 from the database (the row still there), then the delete was written and flushed
  // (the row and the key gone) before the build ranked what it read.
  let holdNextLoad = false;
  const held = signal();
  const release = signal();
  const w = await createWorld(rankedEntities, {
    wrapStore: (inner) =>
      forwardingStore(inner, {
        async load(e, ids) {
          const hold = holdNextLoad;
          holdNextLoad = false;
          const loaded = await inner.load(e, ids);
          if (hold) {
            held.resolve();
            await release.promise;
          }
          return loaded;
        },
      }),
  });
  try {
    await w.startWorker();
    await w.db.pool.query(`INSERT INTO "Video" (id, likes) VALUES ('r01', 1), ('r02', 2), ('r03', 3)`);
    holdNextLoad = true;
    const topCall = w.cache.top('video', 'likes', 10);
    await held.promise;
    assert.equal(await w.cache.delete('video', 'r02'), true);
    await w.cache.increment('video', 'r03', 'likes', 10);
    await w.cache.flush();
    assert.equal(await redis.exists(w.dataKey('video', 'r02')), 0, 'the flushed delete left Redis');
    release.resolve();
    await topCall;
    await assertRanking(
      w.cache,
      new Map([
        ['r01', 1],
        ['r03', 13],
      ]),
    );
  } finally {
    release.resolve();
    await w.close();
  }
});

describe('deletes', () => {
  let w: RankedWorld;
  before(async () => {
    w = await createWorld(rankedEntities, { shards: 3 });
  });
  after(() => w.close());

  test('a deleted key leaves the ranking, before and after its flush, and comes back when written again', async () => {
    await w.startWorker();
    const values = new Map([
      ['a', 5],
      ['b', 9],
      ['c', 1],
    ]);
    for (const [id, v] of values) await w.cache.increment('video', id, 'likes', v);
    await assertRanking(w.cache, values);
    assert.equal(await w.cache.delete('video', 'b'), true);
    values.delete('b');
    await assertRanking(w.cache, values);
    assert.equal(await w.cache.rank('video', 'likes', 'b'), null);
    await w.cache.flush();
    await assertRanking(w.cache, values);
    await w.cache.increment('video', 'b', 'likes');
    values.set('b', 1);
    await assertRanking(w.cache, values);
    // A record created without naming the counter ranks at 0, as its row will hold.
    await w.cache.set('video', 'zero', { views: 3 });
    values.set('zero', 0);
    await assertRanking(w.cache, values);
  });

  test('keys evicted by cacheTtlMs stay ranked', async () => {
    const ttl = await createWorld(rankedEntities, { cacheTtlMs: 100 });
    try {
      await ttl.startWorker();
      await ttl.cache.increment('video', 'brief', 'likes', 4);
      await ttl.cache.increment('video', 'other', 'likes', 2);
      await ttl.cache.flush();
      assert.ok(await eventually(async () => (await redis.exists(ttl.dataKey('video', 'brief'))) === 0));
      assert.deepEqual(await ttl.cache.rank('video', 'likes', 'brief'), { rank: 1, value: 4 });
      assert.equal(await ttl.cache.increment('video', 'brief', 'likes'), 5, 'loaded again from the database');
      assert.deepEqual(await ttl.cache.top('video', 'likes', 2), [
        { id: 'brief', value: 5, rank: 1 },
        { id: 'other', value: 2, rank: 2 },
      ]);
    } finally {
      await ttl.close();
    }
  });
});

describe('failures do not disturb a ranking', () => {
  test('guarantee 6: while the database is down, built rankings answer and follow writes; building waits for it', async () => {
    let down = false;
    const refuse = () =>
      Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const w = await createWorld(rankedEntities, {
      wrapStore: (inner) =>
        forwardingStore(inner, {
          load: (e, ids) => (down ? refuse() : inner.load(e, ids)),
          scan: (e, a, l) => (down ? refuse() : (inner.scan as NonNullable<Store['scan']>)(e, a, l)),
          upsert: (e, rows) => (down ? refuse() : inner.upsert(e, rows)),
          delete: (e, rows) => (down ? refuse() : inner.delete(e, rows)),
        }),
    });
    try {
      await w.startWorker();
      const values = new Map([
        ['x', 3],
        ['y', 8],
      ]);
      for (const [id, v] of values) await w.cache.increment('video', id, 'likes', v);
      await assertRanking(w.cache, values);
      down = true;
      await w.cache.increment('video', 'x', 'likes', 10);
      values.set('x', 13);
      await assertRanking(w.cache, values);
      // A cold key cannot be loaded: the write is refused and the ranking unchanged.
      await w.db.pool.query(`INSERT INTO "Video" (id, likes) VALUES ('cold', 50)`);
      assert.equal((await rejectionOf(w.cache.increment('video', 'cold', 'likes')))?.code, 'UNAVAILABLE');
      await assertRanking(w.cache, values);
      // The unbuilt ranking of views cannot be built yet.
      assert.equal((await rejectionOf(w.cache.top('video', 'views', 3)))?.code, 'UNAVAILABLE');
      down = false;
      await w.cache.flush();
      assert.deepEqual(await w.cache.top('video', 'views', 3), [
        { id: 'y', value: 0, rank: 1 },
        { id: 'x', value: 0, rank: 1 },
        { id: 'cold', value: 0, rank: 1 },
      ]);
      assert.deepEqual(await w.cache.rank('video', 'likes', 'x'), { rank: 1, value: 13 });
    } finally {
      await w.close();
    }
  });

  test('guarantee 7 and 3: a worker killed mid-flush and replayed flush jobs leave the ranking as the records', async () => {
    const w = await createWorld(rankedEntities, {});
    try {
      const child = spawnWorkerProcess(testWorkerConfig(w, { store: 'hang-on-upsert' }));
      try {
        await child.waitFor('ready');
        const values = new Map<string, number>();
        for (let k = 0; k < 10; k++) {
          await w.cache.increment('video', `k${k}`, 'likes', k * 3);
          values.set(`k${k}`, k * 3);
        }
        await child.waitFor('upsert-started');
        await w.cache.increment('video', 'k1', 'likes', 100);
        values.set('k1', 103);
        await child.kill();
        await w.startWorker(STALLED);
        await w.cache.flush({ timeoutMs: 20_000 });
        await assertRanking(w.cache, values);

        // Replays of flush jobs already done (an operator's retry, a redelivery) change nothing either.
        const replays = await w.queue.addBulk(
          Array.from(values.keys(), (id, i) => flushJob({ entity: 'video', id }, `replay.${i}`, 0)),
        );
        assert.ok(
          await eventually(async () => {
            const states = await Promise.all(replays.map((job) => w.queue.getJobState(job.id as string)));
            return states.every((state) => state === 'unknown'); // completed and removed
          }),
          'the replayed jobs ran',
        );
        await assertRanking(w.cache, values);
        const { rows } = await w.db.pool.query(`SELECT id, likes::int FROM "Video"`);
        assert.deepEqual(new Map(rows.map((r: { id: string; likes: number }) => [r.id, r.likes])), values);
      } finally {
        await child.kill();
      }
    } finally {
      await w.close();
    }
  });
});

describe('bad input', () => {
  let w: RankedWorld;
  before(async () => {
    w = await createWorld(rankedEntities, {});
  });
  after(() => w.close());

  test('unknown entity or field, a field not ranked, n out of range, a bad id: typed errors', async () => {
    const code = async (call: () => Promise<unknown>) => {
      const error = await rejectionOf(call());
      assert.ok(error instanceof ValidationError, `a ValidationError, got ${error}`);
      return error.code;
    };
    const loose = w.cache as unknown as {
      top(e: unknown, f: unknown, n: unknown): Promise<unknown>;
      rank(e: unknown, f: unknown, id: unknown): Promise<unknown>;
    };
    assert.equal(await code(() => loose.top('nope', 'likes', 3)), 'UNKNOWN_ENTITY');
    assert.equal(await code(() => loose.rank('nope', 'likes', 'a')), 'UNKNOWN_ENTITY');
    assert.equal(await code(() => loose.top('video', 'nope', 3)), 'VALIDATION');
    assert.equal(await code(() => loose.top('settings', 'theme', 3)), 'VALIDATION');
    assert.equal(await code(() => loose.rank('video', 'version', 'a')), 'VALIDATION');
    for (const n of [0, -1, 1001, 1.5, '10', Number.NaN, null]) {
      assert.equal(await code(() => loose.top('video', 'likes', n)), 'VALIDATION', `n = ${String(n)}`);
    }
    for (const id of ['', 42, null, 'a\u0000b', 'x'.repeat(600)]) {
      assert.equal(await code(() => loose.rank('video', 'likes', id)), 'VALIDATION', `id ${String(id)}`);
    }
    assert.deepEqual(await w.cache.top('video', 'likes', 1000), [], 'an empty table has an empty ranking');
  });

  test('ranked on a field that is not a counter, or with a store that cannot scan, is a ConfigurationError', () => {
    const bad = {
      video: { model: 'Video', fields: { likes: { kind: 'integer', nullable: false, ranked: true } } },
    };
    assert.throws(() => resolveEntities(bad as never, undefined, () => ''), {
      code: 'CONFIGURATION',
      message: /only a counter can be ranked/,
    });
    const { scan: _, ...noScan } = forwardingStore(w.store);
    assert.throws(
      () =>
        createWriteBehind({ redis: REDIS_URL, store: noScan, prefix: w.prefix, entities: rankedEntities }),
      { code: 'CONFIGURATION', message: /fields\.likes is ranked, but the store has no scan\(\)/ },
    );
  });
});

function expectedRankOf(top: readonly RankedEntry<string>[], id: string) {
  const entry = top.find((e) => e.id === id);
  return entry ? { rank: entry.rank, value: entry.value } : null;
}
