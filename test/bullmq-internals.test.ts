// What the flush worker reads of BullMQ that BullMQ does not publish (flush/bullmq-internals.ts), checked
// against the installed BullMQ: an upgrade that moves any of it fails here, by name, before a worker relies on
// a wrong reading.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { bullmqInternals } from '@write-behind/core/internal';
import { deleteKeys, eventually, REDIS_URL } from '@write-behind/testkit';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

const prefix = `{bi-${randomUUID().slice(0, 8)}}`;
let redis: Redis;
const queues: Queue[] = [];
const workers: Worker[] = [];
const connections: Redis[] = [];
/** A worker's connection; BullMQ leaves a connection it was given open when the worker closes. */
const connection = () => {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  connections.push(client);
  return client;
};
/** A queue of its own per test: no other test's worker takes its jobs. */
const newQueue = (name: string) => {
  const queue = new Queue(name, { connection: redis, prefix });
  queues.push(queue);
  return queue;
};

before(() => {
  redis = new Redis(REDIS_URL);
});
after(async () => {
  await Promise.all(workers.map((w) => w.close(true)));
  await Promise.all(queues.map((q) => q.close()));
  await deleteKeys(redis, prefix);
  for (const client of [...connections, redis]) client.disconnect();
});

/** A job that never finishes while the test runs. */
const hang = () => new Promise<void>(() => {});

test('the wait list and delayed set keys, and a delayed score decoded to its due time', async () => {
  const queue = newQueue('keys');
  const { wait, delayed } = bullmqInternals.waitAndDelayedKeys(queue);
  await queue.add('now', {}, { jobId: 'now' });
  const later = await queue.add('later', {}, { jobId: 'later', delay: 60_000 });
  assert.equal(await redis.llen(wait), 1, 'the waiting job is in the wait list');
  const score = await redis.zscore(delayed, 'later');
  assert.ok(score, 'the delayed job is in the delayed set');
  assert.equal(bullmqInternals.dueAtOfDelayedScore(Number(score)), later.timestamp + 60_000);
  await queue.obliterate({ force: true });
});

test("a worker's lock manager and blocking connection are where the forced close reaches them", async () => {
  newQueue('conn');
  const worker = new Worker('conn', hang, { connection: connection(), prefix, autorun: false });
  workers.push(worker);
  void worker.run();
  await worker.waitUntilReady();
  assert.equal(typeof bullmqInternals.lockManagerOf(worker)?.close, 'function');
  const client = await bullmqInternals.blockingConnectionOf(worker)?.client;
  assert.ok(client && typeof client.disconnect === 'function', 'its blocking client');
});

test('a lost lock is reported as the error whose text names the job', async () => {
  const queue = newQueue('lock');
  const errors: Error[] = [];
  const worker = new Worker('lock', hang, { connection: connection(), prefix, lockDuration: 400 });
  workers.push(worker);
  worker.on('error', (error) => errors.push(error));
  const job = await queue.add('lost', {}, { jobId: 'lost' });
  assert.ok(await eventually(async () => (await job.getState()) === 'active'));
  await redis.del(`${prefix}:lock:lost:lock`);
  assert.ok(
    await eventually(() => errors.some((e) => bullmqInternals.lockRenewalFailedJobId(e) === 'lost'), 10_000),
    `errors: ${errors.map((e) => e.message).join('; ')}`,
  );
  assert.equal(bullmqInternals.lockRenewalFailedJobId(new Error('something else')), undefined);
  await worker.close(true);
});

test('a job that stalls more than allowed fails with the reason the sweep looks for', async () => {
  const queue = newQueue('stall');
  const holder = new Worker('stall', hang, { connection: connection(), prefix, lockDuration: 60_000 });
  workers.push(holder);
  const job = await queue.add('stall', {}, { jobId: 'stall' });
  assert.ok(await eventually(async () => (await job.getState()) === 'active'));
  await holder.close(true);
  // Its holder is gone without releasing it: the stalled-job check takes it.
  // Its lock lapsed; and the holder's own stalled-check pause (30 s by default), which every worker of the
  // queue shares, is over.
  await redis.del(`${prefix}:stall:stall:lock`, `${prefix}:stall:stalled-check`);
  const checker = new Worker('stall', hang, {
    connection: connection(),
    prefix,
    stalledInterval: 100,
    maxStalledCount: 0,
  });
  workers.push(checker);
  assert.ok(await eventually(async () => (await job.getState()) === 'failed', 15_000));
  const failed = await queue.getJob('stall');
  assert.match(failed?.failedReason ?? '', new RegExp(bullmqInternals.STALLED_REASON));
});
