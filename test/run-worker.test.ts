// Guarantee 14: a flush worker in the user's own process (`runFlushWorker`): same entities and prefix as the app, and a
// SIGTERM that drains the flushes in flight before the process exits 0. Nothing acknowledged is lost: what
// the stopped worker did not take, the next one flushes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { counter, createWriteBehind, type WriteBehind } from '@write-behind/core';
import {
  cleanupRedis,
  createTestDatabase,
  eventually,
  REDIS_URL,
  type TestDatabase,
  testPrefix,
} from '@write-behind/testkit';

const entities = { video: { model: 'Video', fields: { likes: counter(), views: counter() } } } as const;
let db: TestDatabase;
let prefix: string;
let cache: WriteBehind<typeof entities>;
before(async () => {
  db = await createTestDatabase();
  prefix = testPrefix();
  cache = createWriteBehind({
    redis: REDIS_URL,
    prisma: db.prisma,
    prefix,
    entities,
    flush: { windowMs: 0 },
  });
});
after(async () => {
  await cache.close();
  await cleanupRedis(prefix);
  await db.drop();
});

function startWorkerProcess() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/run-flush-worker.mts'], {
    env: { ...process.env, REDIS_URL, DATABASE_URL: db.url, WB_PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { child, output: () => output };
}

test('runFlushWorker flushes, and on SIGTERM drains what is in flight and exits 0', async () => {
  const first = startWorkerProcess();
  assert.ok(await eventually(() => first.output().includes('ready'), 30_000), 'the worker process got ready');
  const writes: Promise<number>[] = [];
  for (let round = 0; round < 20; round++) {
    for (let k = 0; k < 50; k++) writes.push(cache.increment('video', `k${k}`, 'likes'));
  }
  await Promise.all(writes);
  // Stopped while keys are still being flushed.
  first.child.kill('SIGTERM');
  const [code] = (await once(first.child, 'exit')) as [number | null];
  assert.equal(code, 0, `the worker exited 0 (output: ${first.output()})`);
  assert.match(first.output(), /drained/);
  assert.equal((await cache.queues[0]?.getJobCounts('active'))?.active, 0, 'no job was left active');

  const second = startWorkerProcess();
  try {
    await cache.drain({ timeoutMs: 30_000 });
    const { rows } = await db.pool.query<{ n: number; total: number }>(
      'SELECT count(*)::int AS n, sum(likes)::int AS total FROM "Video"',
    );
    assert.deepEqual(rows[0], { n: 50, total: 1000 }, 'every acknowledged increment reached PostgreSQL once');
  } finally {
    second.child.kill('SIGTERM');
    await once(second.child, 'exit');
  }
});
