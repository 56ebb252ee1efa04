// Guarantee 21: `add`, a whole-record `set` and `append` never read the database: acknowledged from Redis
// alone for keys Redis never held, also while PostgreSQL is unreachable; once it is back every row is exact
// (the sum of the acknowledged adds, every event once in order, the last whole set).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createProxiedWorld, eventEntities, type ProxiedWorld, videoRow } from '@write-behind/testkit';

let w: ProxiedWorld<typeof eventEntities>;
before(async () => {
  w = await createProxiedWorld(eventEntities, { flush: { windowMs: 100 }, sweep: { intervalMs: 500 } });
});
after(() => w.close());

const THEMES = ['light', 'dark', 'sepia'];

test('adds, whole sets and appends to new keys need no read, and land exactly after a 10 s outage', async () => {
  const worker = await w.startWorker();
  // Rows that exist before: an add continues from them without reading them.
  await w.db.pool.query(`INSERT INTO "Video" (id, likes, views) VALUES ('stored', 49000, 7)`);
  const loadsBefore = w.loads();

  w.proxy.cut();
  const views = new Map<string, number>();
  const settings = new Map<string, { theme: string; language: string; notifications: boolean }>();
  /** Per stream, per round: the numbers its appends got (a round's writes run at once, rounds one after another). */
  const events = new Map<string, number[][]>();
  const until = Date.now() + 10_000;
  for (let round = 0; Date.now() < until; round++) {
    const writes: Promise<unknown>[] = [];
    for (let k = 0; k < 20; k++) {
      const video = k === 0 ? 'stored' : `v${(round * 7 + k) % 60}`;
      const by = (round % 3) + 1;
      writes.push(
        w.cache.add('video', video, 'views', by).then(() => views.set(video, (views.get(video) ?? 0) + by)),
      );
      const user = `u${(round * 3 + k) % 40}`;
      const values = {
        theme: THEMES[round % 3] as string,
        language: `l${round}`,
        notifications: k % 2 === 0,
      };
      // Sets of one user in one round would race each other: one per user per round.
      if (k < 10) writes.push(w.cache.set('settings', user, values).then(() => settings.set(user, values)));
      const stream = `s${k % 5}`;
      const event = {
        type: `r${round}`,
        context: { round, k },
        createdAt: new Date(1_700_000_000_000 + round),
      };
      writes.push(
        w.cache.append('videoEvent', stream, event).then((seq) => {
          const rounds = events.get(stream) ?? [];
          rounds[round] = [...(rounds[round] ?? []), seq];
          events.set(stream, rounds);
        }),
      );
    }
    await Promise.all(writes);
  }
  assert.equal(w.loads(), loadsBefore, 'not one key was read from the database');
  assert.ok(worker.counters.outages >= 1, 'the worker found the database unreachable');
  w.proxy.restore();
  await w.cache.flush({ timeoutMs: 60_000 });

  assert.equal((await videoRow(w.db, 'stored'))?.views, 7 + (views.get('stored') ?? 0));
  assert.equal(
    (await videoRow(w.db, 'stored'))?.likes,
    49000,
    'a column nothing was added to keeps its value',
  );
  for (const [video, sum] of views)
    if (video !== 'stored') assert.equal((await videoRow(w.db, video))?.views, sum);
  for (const [user, values] of settings) {
    const { rows } = await w.db.pool.query(
      'SELECT theme, language, notifications FROM user_settings WHERE user_id = $1',
      [user],
    );
    assert.deepEqual(rows[0], values, user);
  }
  for (const [stream, rounds] of events) {
    const numbers = rounds.flat();
    const { rows } = await w.db.pool.query<{ seq: string }>(
      'SELECT seq::text FROM video_event WHERE video_id = $1 ORDER BY seq',
      [stream],
    );
    assert.deepEqual(
      rows.map((r) => Number(r.seq)),
      [...numbers].sort((a, b) => a - b),
      `${stream}: every acknowledged event once`,
    );
    for (let r = 1; r < rounds.length; r++) {
      const before = Math.max(...(rounds[r - 1] ?? []));
      assert.ok(
        Math.min(...(rounds[r] ?? [])) > before,
        `${stream}: a later round's events have higher numbers`,
      );
    }
  }
  assert.equal((await w.queue.getJobCounts('failed')).failed, 0);

  // Read afterwards, a key made by adds alone is whole: the stored value plus everything added.
  assert.deepEqual(await w.cache.get('video', 'stored'), {
    likes: 49000,
    views: 7 + (views.get('stored') ?? 0),
  });
  await worker.close();
});
