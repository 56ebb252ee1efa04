// The operator's tools (`@write-behind/core/operator`) against real Redis and PostgreSQL: a key's story when
// clean, dirty, deleted and failed; flush now, retry and discard; failures grouped by cause and retried in
// batches; the activity counters the dashboard's charts read.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { PrismaClientLike } from '@write-behind/core';
import { Operator, OperatorError } from '@write-behind/core/operator';
import {
  createWorld,
  eventually,
  type GatedStore,
  gatedStore,
  rankedEntities,
  videoEvent,
  videoRow,
  type World,
} from '@write-behind/testkit';

const entities = { ...rankedEntities, videoEvent };
const CONSTRAINT = 'operator_test_refuse';

let world: World<typeof entities>;
let gate: GatedStore;
let operator: Operator;

before(async () => {
  world = await createWorld(entities, {
    // One attempt: a refused row fails its job at once, for the operator.
    flush: { windowMs: 400, attempts: 1, backoffMs: 20 },
    wrapStore: (store) => {
      gate = gatedStore(store);
      return gate;
    },
  });
  // The world's cache writes through a store of its own (gated): the operator reads rows with the client.
  operator = new Operator(world.cache, {
    retryBatchSize: 20,
    retryBatchTimeoutMs: 10_000,
    database: world.db.prisma as unknown as PrismaClientLike,
  });
  await world.startWorker();
});
after(() => world.close());

/** Refuses new writes of videos whose id is like `pattern` (NOT VALID: rows already there stay). */
async function refuse(pattern: string): Promise<void> {
  await world.db.pool.query(
    `ALTER TABLE "Video" ADD CONSTRAINT ${CONSTRAINT} CHECK (id NOT LIKE '${pattern}') NOT VALID`,
  );
}
async function allow(): Promise<void> {
  await world.db.pool.query(`ALTER TABLE "Video" DROP CONSTRAINT ${CONSTRAINT}`);
}

test('a clean key: Redis and the database agree, no job', async () => {
  await world.cache.increment('video', 'clean-1', 'likes', 5);
  await world.cache.flushed('video', 'clean-1');
  const story = await operator.inspect('video', 'clean-1');
  assert.equal(story.state, 'clean');
  assert.deepEqual(story.redis.values, { likes: 5, views: 0 });
  assert.equal(story.redis.dirty, false);
  assert.deepEqual(story.database.row, { likes: 5, views: 0 });
  assert.equal(story.database.version, story.redis.version);
  assert.equal(story.job, null);
  assert.deepEqual(
    story.rankings.map((r) => ({ field: r.field, score: r.score })),
    [
      { field: 'likes', score: 5 },
      { field: 'views', score: 0 },
    ],
  );
});

test('a key Redis does not hold: the row alone', async () => {
  await world.db.pool.query(`INSERT INTO "Video" (id, likes, views, version) VALUES ('cold-1', 7, 1, 3)`);
  const story = await operator.inspect('video', 'cold-1');
  assert.equal(story.state, 'not-cached');
  assert.equal(story.redis.present, false);
  assert.deepEqual(story.database.row, { likes: 7, views: 1 });
  assert.equal(story.database.version, 3);
  assert.equal(await world.redis.exists(world.dataKey('video', 'cold-1')), 0, 'inspecting loaded nothing');
});

test('a dirty key: its delayed job and when it runs; flush now promotes it', async () => {
  const before = Date.now();
  await world.cache.increment('video', 'dirty-1', 'likes', 2);
  const story = await operator.inspect('video', 'dirty-1');
  assert.equal(story.state, 'dirty');
  assert.equal(story.redis.dirty, true);
  assert.ok(story.redis.dirtySince !== null && story.redis.dirtySince >= before - 5);
  assert.equal(story.database.row, null);
  assert.equal(story.job?.state, 'delayed');
  assert.equal(story.job?.id, await world.jobIdOf('video', 'dirty-1'));
  assert.ok((story.job?.nextRunAt ?? 0) > Date.now(), 'it runs at the end of its window');

  const flushed = await operator.flushNow('video', 'dirty-1');
  assert.equal(flushed.outcome, 'promoted');
  await world.cache.flushed('video', 'dirty-1', { timeoutMs: 5000 });
  assert.equal((await videoRow(world.db, 'dirty-1'))?.likes, 2);
  assert.equal((await operator.flushNow('video', 'dirty-1')).outcome, 'clean');
});

test('a deleted key: the tombstone in Redis, then in the database', async () => {
  await world.cache.increment('video', 'deleted-1', 'likes', 1);
  await world.cache.flushed('video', 'deleted-1');
  await world.cache.delete('video', 'deleted-1');
  const pending = await operator.inspect('video', 'deleted-1');
  assert.equal(pending.redis.deleted, true);
  assert.equal(pending.redis.dirty, true);
  assert.equal(pending.redis.values, null);
  assert.deepEqual(pending.database.row, { likes: 1, views: 0 });
  await world.cache.flushed('video', 'deleted-1');
  const done = await operator.inspect('video', 'deleted-1');
  assert.equal(done.database.row, null);
  assert.equal(done.database.tombstone?.version, pending.redis.version);
});

test('a failed key: the database refused it; fixed and retried, it lands', async () => {
  await refuse('failed-%');
  try {
    await world.cache.increment('video', 'failed-1', 'likes', 4);
    assert.ok(await eventually(async () => (await operator.inspect('video', 'failed-1')).state === 'failed'));
    const story = await operator.inspect('video', 'failed-1');
    assert.equal(story.job?.state, 'failed');
    assert.equal(story.job?.error?.code, '23514');
    assert.equal(
      story.job?.error?.message,
      `new row for relation "Video" violates check constraint "${CONSTRAINT}"`,
    );
    assert.equal(story.failures.length, 1);
    await assert.rejects(operator.flushNow('video', 'failed-1'), { code: 'JOB_FAILED' });
    const report = await operator.failures();
    const group = report.groups.find((g) => g.entity === 'video' && g.cause.code === '23514');
    assert.equal(group?.count, 1);
    assert.equal(
      group?.cause.message,
      `new row for relation "Video" violates check constraint "${CONSTRAINT}"`,
    );
  } finally {
    await allow();
  }
  const retried = await operator.retry('video', 'failed-1');
  assert.equal(retried.outcome, 'retried');
  await world.cache.flushed('video', 'failed-1', { timeoutMs: 5000 });
  const story = await operator.inspect('video', 'failed-1');
  assert.equal(story.state, 'clean');
  assert.deepEqual(story.database.row, { likes: 4, views: 0 });
  await assert.rejects(operator.retry('video', 'failed-1'), { code: 'NOTHING_TO_RETRY' });
});

test('discard drops what Redis holds (its failed job too), and the next read loads the row', async () => {
  await world.cache.increment('video', 'discard-1', 'likes', 10);
  await world.cache.flushed('video', 'discard-1');
  await refuse('discard-%');
  try {
    await world.cache.increment('video', 'discard-1', 'likes', 90);
    assert.ok(
      await eventually(async () => (await operator.inspect('video', 'discard-1')).state === 'failed'),
    );
    const jobId = (await operator.inspect('video', 'discard-1')).job?.id as string;
    const result = await operator.discard('video', 'discard-1');
    assert.equal(result.outcome, 'discarded');
    assert.ok(result.jobIds.includes(jobId), `removed ${JSON.stringify(result.jobIds)}`);
    const story = await operator.inspect('video', 'discard-1');
    assert.equal(story.state, 'not-cached');
    assert.equal(story.job, null);
    assert.deepEqual(story.failures, []);
    assert.equal(await world.queue.getJob(jobId), undefined);
    assert.equal(
      await world.redis.hexists(`{${world.prefix}:0}:failed`, world.dataKey('video', 'discard-1')),
      0,
    );
    // The ranking holds the row's value again, not the discarded 100.
    assert.equal(story.rankings.find((r) => r.field === 'likes')?.score, 10);
    assert.deepEqual(await world.cache.get('video', 'discard-1'), { likes: 10, views: 0 });
    assert.equal((await world.cache.stats()).failedKeys, 0);
  } finally {
    await allow();
  }
});

test('discard refuses while a flush of the key runs', async () => {
  gate.hold();
  try {
    await world.cache.increment('video', 'busy-1', 'likes', 1);
    await operator.flushNow('video', 'busy-1');
    await gate.held();
    await assert.rejects(operator.discard('video', 'busy-1'), (error: unknown) => {
      assert.ok(error instanceof OperatorError);
      assert.equal(error.code, 'FLUSH_RUNNING');
      return true;
    });
    assert.equal((await operator.inspect('video', 'busy-1')).state, 'flushing');
  } finally {
    gate.release();
  }
  await world.cache.flushed('video', 'busy-1');
  assert.equal((await videoRow(world.db, 'busy-1'))?.likes, 1);
});

test('an append key: its waiting events', async () => {
  gate.hold();
  try {
    const at = new Date('2026-01-01T00:00:00Z');
    const first = await world.cache.append('videoEvent', 'ev-1', { type: 'click', createdAt: at });
    await world.cache.append('videoEvent', 'ev-1', { type: 'play', context: { x: 1 }, createdAt: at });
    const story = await operator.inspect('videoEvent', 'ev-1');
    assert.equal(story.redis.events?.waiting, 2);
    assert.equal(story.redis.events?.first, first);
    assert.deepEqual(
      story.redis.events?.sample.map((e) => e.values.type),
      ['click', 'play'],
    );
    assert.deepEqual(story.database.events, { count: 0, lastSequence: null });
  } finally {
    gate.release();
  }
});

test('failures grouped by cause; 50 keys of one cause retried in batches', async () => {
  await refuse('group-%');
  const ids = Array.from({ length: 50 }, (_, i) => `group-${i}`);
  try {
    await Promise.all(ids.map((id, i) => world.cache.increment('video', id, 'likes', i + 1)));
    assert.ok(
      await eventually(async () => {
        const group = (await operator.failures()).groups.find((g) => g.cause.code === '23514');
        return group?.count === 50;
      }, 20_000),
      'the 50 jobs failed',
    );
    const group = (await operator.failures()).groups.find((g) => g.cause.code === '23514');
    assert.equal(group?.keys, 50);
    assert.equal(group?.sample.length, 20);
    assert.ok((group?.firstSeen ?? 0) <= (group?.lastSeen ?? 0));
  } finally {
    await allow();
  }
  const batches: number[] = [];
  const report = await operator.retryFailures(
    { cause: '23514', entity: 'video' },
    { onBatch: (p) => batches.push(p.retried) },
  );
  assert.deepEqual(batches, [20, 40, 50], 'three batches of at most 20, one after the other');
  assert.equal(report.selected, 50);
  assert.equal(report.flushed, 50);
  assert.equal(report.failedAgain, 0);
  for (const [i, id] of ids.entries()) assert.equal((await videoRow(world.db, id))?.likes, i + 1);
  const left = (await operator.failures()).groups.filter((g) => g.entity === 'video');
  assert.equal(left.length, 0, JSON.stringify(left));
});

test('ids are checked against the key; an unknown entity is refused', async () => {
  await assert.rejects(operator.inspect('nope', 'x'), { code: 'UNKNOWN_ENTITY' });
  await assert.rejects(operator.inspect('video', ''), { code: 'VALIDATION' });
});

test('the activity counters count acknowledged writes, refusals by code and rows written', async () => {
  const before = await operator.activity();
  await world.cache.increment('video', 'activity-1', 'likes', Number.MAX_SAFE_INTEGER);
  await assert.rejects(world.cache.increment('video', 'activity-1', 'likes', 1), {
    code: 'COUNTER_OVERFLOW',
  });
  await world.cache.flushed('video', 'activity-1');
  const total = (shards: Awaited<ReturnType<Operator['activity']>>) => shards[0];
  assert.ok(
    await eventually(async () => {
      const now = total(await operator.activity());
      const then = total(before);
      return Boolean(
        now &&
          then &&
          now.acknowledged >= then.acknowledged + 1 &&
          (now.refused.COUNTER_OVERFLOW ?? 0) === (then.refused.COUNTER_OVERFLOW ?? 0) + 1 &&
          now.rowsWritten >= then.rowsWritten + 1,
      );
    }, 5000),
    `counters moved: ${JSON.stringify({ before, after: await operator.activity() })}`,
  );
});
