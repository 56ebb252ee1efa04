// What write/tracked-command.ts reads from ioredis, which does not publish it: a command counts a send each time
// ioredis writes it to a connection, and none while it waits in an offline queue. If an upgrade of ioredis
// changes when it serializes a command, this fails, and the write path could call a write that went out "not
// applied" (an UnavailableError that lies) or one that never did "unknown".
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, freePort, type PgProxy, REDIS_URL, startPgProxy } from '@write-behind/testkit';
import { Redis } from 'ioredis';
import { pipelineTracked, sendTracked, trackedCommand } from '../src/write/tracked-command.ts';

let proxy: PgProxy;
before(async () => {
  const target = new URL(REDIS_URL);
  proxy = await startPgProxy({ host: target.hostname, port: Number(target.port || 6379) });
});
after(async () => {
  await proxy.close();
});

const key = `tracked-command-test:${process.pid}`;
const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => assert.fail('expected the command to fail'),
    (error: Error) => error,
  );

test('a command on a ready connection is written once', async () => {
  const redis = new Redis(REDIS_URL);
  try {
    await redis.ping();
    const command = trackedCommand(redis, 'set', [key, 'v']);
    assert.equal(await sendTracked(redis, command), 'OK');
    assert.equal(command.sends, 1);
    const get = trackedCommand(redis, 'get', [key]);
    assert.equal(await sendTracked(redis, get), 'v', 'replies are decoded as text');
    await redis.del(key);
  } finally {
    redis.disconnect();
  }
});

test('in a pipeline, written once with the pipeline', async () => {
  const redis = new Redis(REDIS_URL);
  try {
    const command = trackedCommand(redis, 'set', [key, 'p']);
    const pipeline = redis.pipeline();
    pipelineTracked(pipeline, command);
    pipeline.get(key);
    assert.deepEqual(await pipeline.exec(), [
      [null, 'OK'],
      [null, 'p'],
    ]);
    assert.equal(command.sends, 1);
    await redis.del(key);
  } finally {
    redis.disconnect();
  }
});

test('a command queued while Redis cannot be reached, then failed: never written', async () => {
  // Nothing listens on this port: every connection attempt is refused, the command waits in the offline queue
  // until ioredis gives up on it.
  const redis = new Redis({ port: await freePort(), maxRetriesPerRequest: 1, retryStrategy: () => 20 });
  redis.on('error', () => {});
  try {
    const command = trackedCommand(redis, 'set', [key, 'never']);
    const error = await failureOf(sendTracked(redis, command));
    assert.match(error.message, /max retries per request/);
    assert.equal(command.sends, 0);
  } finally {
    redis.disconnect();
  }
  const offline = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false });
  try {
    const command = trackedCommand(offline, 'set', [key, 'never']);
    const error = await failureOf(sendTracked(offline, command));
    assert.match(error.message, /enableOfflineQueue/);
    assert.equal(command.sends, 0);
  } finally {
    offline.disconnect();
  }
});

test('written, then the connection closed before the reply: written once, rejected', async () => {
  const redis = new Redis(proxy.url(REDIS_URL), { retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.ping();
    proxy.muteReplies();
    const command = trackedCommand(redis, 'set', [key, 'lost reply']);
    const failure = failureOf(sendTracked(redis, command));
    assert.ok(await eventually(async () => (await direct((r) => r.get(key))) === 'lost reply'));
    proxy.cut();
    const error = await failure;
    assert.match(error.message, /Connection is closed/);
    assert.equal(command.sends, 1);
  } finally {
    proxy.restore();
    redis.disconnect();
    await direct((r) => r.del(key));
  }
});

test('written, the connection lost, and resent by ioredis after the reconnect: written twice', async () => {
  const redis = new Redis(proxy.url(REDIS_URL), { retryStrategy: () => 20 });
  redis.on('error', () => {});
  try {
    await redis.ping();
    proxy.muteReplies();
    const command = trackedCommand(redis, 'incr', [key]);
    const reply = sendTracked(redis, command);
    assert.ok(await eventually(async () => (await direct((r) => r.get(key))) === '1'));
    proxy.cut();
    proxy.restore();
    assert.equal(await reply, 2, 'sent again and applied again: INCR has no guard, the write script has');
    assert.equal(command.sends, 2);
  } finally {
    redis.disconnect();
    await direct((r) => r.del(key));
  }
});

async function direct<T>(call: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(REDIS_URL);
  try {
    return await call(redis);
  } finally {
    redis.disconnect();
  }
}
