// Guarantee 20: a row the database refuses never holds up anything else. An append key's refused event is set
// aside as a failed job of its own (the events after it flow), a retry from Bull Board inserts it once the
// cause is fixed, and a poisoned key with a large backlog costs the worker a bounded batch, not its backlog.
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import { ValidationError } from '@write-behind/core';
import { eventually, videoRow } from '@write-behind/testkit';
import { createEventWorld, type EventWorld } from './helpers.ts';

let w: EventWorld;
before(async () => {
  w = await createEventWorld({ flush: { windowMs: 100, maxBatchBytes: 4 * 1024 * 1024 } });
  await w.db.pool.query(`ALTER TABLE video_event ADD CONSTRAINT no_poison CHECK (type <> 'poison')`);
});
after(() => w.close());

const BIG = 1000;
const PAD = 'x'.repeat(60_000);

test('an event with JSON that jsonb refuses is refused at write time, and nothing is written', async () => {
  const probe = { type: 't', context: { k: '\ud800' }, createdAt: new Date() };
  await assert.rejects(w.cache.append('videoEvent', 'probe', probe), ValidationError);
  assert.equal(await w.redis.exists(w.dataKey('videoEvent', 'probe')), 0);
  assert.equal((await w.cache.stats()).pendingEvents, 0);
});

test('a refused event is set aside; the 1,000 events of 60 kB behind it and every other key flow', async () => {
  const at = new Date(1_700_000_000_000);
  const first = await w.cache.append('videoEvent', 'p', { type: 'poison', context: null, createdAt: at });
  for (let i = 0; i < BIG; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, k) =>
        w.cache.append('videoEvent', 'p', { type: `big${i + k}`, context: { pad: PAD }, createdAt: at }),
      ),
    );
  }

  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 50);
  const worker = await w.startWorker();
  // Other keys written meanwhile flush as usual, in batches beside the big one.
  for (let i = 0; i < 20; i++) await w.cache.increment('video', `other${i}`, 'likes', i + 1);
  await w.cache.flush({ timeoutMs: 120_000 });
  clearInterval(sampler);
  delay.disable();

  const { rows } = await w.db.pool.query<{ n: number; min: string }>(
    "SELECT count(*)::int AS n, min(seq)::text AS min FROM video_event WHERE video_id = 'p'",
  );
  assert.equal(rows[0]?.n, BIG, 'every event after the refused one is a row');
  assert.ok(Number(rows[0]?.min) > first, 'the refused event is not');
  for (let i = 0; i < 20; i++) assert.equal((await videoRow(w.db, `other${i}`))?.likes, i + 1);

  const stats = await w.cache.stats();
  assert.equal(stats.dirtyKeys, 0, 'the key is clean: nothing of it waits');
  assert.equal(stats.pendingEvents, 0);
  assert.equal(stats.refusedEvents, 1);
  assert.ok(await eventually(async () => (await w.queue.getJobCounts('failed')).failed === 1));
  const [job] = await w.queue.getFailed();
  assert.ok(job);
  assert.equal(job.name, 'refused-event');
  assert.deepEqual(job.data, { entity: 'videoEvent', id: 'p', sequence: first });
  assert.match(job.failedReason, /no_poison.*\(23514\)/);
  assert.equal(
    w.logs.filter((l) => /lost its lock/.test(l.msg)).length,
    0,
    'no flush job lost its lock to a stalled worker',
  );
  const set = w.logs.filter((l) => /the database refused an event/.test(l.msg));
  assert.equal(set.length, 1, 'one warning for the refused event');
  // Informational: what the poisoned backlog cost this process.
  console.log(
    `worker and load in one process: RSS +${Math.round((rssPeak - rssBefore) / 2 ** 20)} MiB at peak, ` +
      `event loop delay max ${Math.round(delay.max / 1e6)} ms, ${worker.counters.statements} statements`,
  );
  assert.ok(rssPeak - rssBefore < 1024 * 2 ** 20, 'the worker held a bounded batch, not the whole backlog');

  // The operator fixes the cause and retries the job: the event is inserted under its own number.
  await w.db.pool.query('ALTER TABLE video_event DROP CONSTRAINT no_poison');
  await job.retry();
  assert.ok(await eventually(async () => (await w.cache.stats()).refusedEvents === 0, 20_000));
  const { rows: poison } = await w.db.pool.query<{ type: string }>(
    'SELECT type FROM video_event WHERE video_id = $1 AND seq = $2',
    ['p', first],
  );
  assert.deepEqual(poison, [{ type: 'poison' }]);
  assert.ok(
    await eventually(async () => (await w.queue.getJob(job.id as string)) === undefined),
    'its job completed (completed jobs are not kept)',
  );
  await worker.close();
});
