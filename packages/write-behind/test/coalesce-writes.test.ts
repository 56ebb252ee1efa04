import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { coalesceWrites } from '../src/flush/coalesce-writes.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
let redis: Redis;

before(async () => {
  redis = new Redis(REDIS_URL);
  await redis.ping();
});
after(() => redis.disconnect());

/** Counts the socket writes (one `_write` or `_writev` call each) made while `send` runs and its replies arrive. */
async function socketWrites(send: () => Promise<unknown>): Promise<{ writes: number; chunks: number }> {
  const stream = redis.stream as unknown as {
    _write: (...args: unknown[]) => void;
    _writev: (chunks: unknown[], ...rest: unknown[]) => void;
  };
  const { _write, _writev } = stream;
  const seen = { writes: 0, chunks: 0 };
  stream._write = function (this: unknown, ...args: unknown[]) {
    seen.writes++;
    seen.chunks++;
    return _write.apply(this, args);
  };
  stream._writev = function (this: unknown, chunks: unknown[], ...rest: unknown[]) {
    seen.writes++;
    seen.chunks += chunks.length;
    return _writev.call(this, chunks, ...rest);
  };
  try {
    await send();
  } finally {
    stream._write = _write;
    stream._writev = _writev;
  }
  return seen;
}

/** 100 commands, each sent a few promise callbacks later, as BullMQ sends one per settled job. */
async function sendFromPromiseCallbacks(): Promise<void> {
  const replies = await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      await Promise.resolve();
      await Promise.resolve();
      return redis.echo(`m${i}`);
    }),
  );
  assert.deepEqual(
    replies,
    Array.from({ length: 100 }, (_, i) => `m${i}`),
  );
}

test('without coalescing, commands sent from promise callbacks leave in many socket writes', async () => {
  const { writes, chunks } = await socketWrites(sendFromPromiseCallbacks);
  assert.equal(chunks, 100);
  assert.ok(writes > 1, `${writes} writes`);
});

test('coalesceWrites sends what the promise callbacks queued now send in one socket write, then uncorks', async () => {
  const { writes, chunks } = await socketWrites(async () => {
    coalesceWrites(redis);
    await sendFromPromiseCallbacks();
  });
  assert.equal(chunks, 100);
  assert.equal(writes, 1);
  assert.equal(redis.stream.writableCorked, 0);
  // The connection works as before afterwards.
  assert.equal(await redis.echo('after'), 'after');
});

test('coalesceWrites on a corked stream adds no cork of its own', async () => {
  coalesceWrites(redis);
  coalesceWrites(redis);
  assert.equal(redis.stream.writableCorked, 1);
  assert.equal(await redis.echo('x'), 'x');
  assert.equal(redis.stream.writableCorked, 0);
});
