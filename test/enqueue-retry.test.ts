// Guarantee 8, sooner: a flush job whose enqueue failed after its write was acknowledged (the queue's keys
// unreachable for a moment, as in a failover) is added again once Redis takes it, without waiting for the
// sweep. Here an ACL user that may write the cache's keys but not its queue's stands in for the failure.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { shardKeys } from '@write-behind/core/internal';
import { createWorld, entities, eventually, REDIS_URL, testPrefix, videoRow } from '@write-behind/testkit';
import { Redis } from 'ioredis';

test('a flush job whose enqueue failed is enqueued once Redis takes it, with no sweep', async () => {
  const admin = new Redis(REDIS_URL);
  const user = `wb-enqueue-${randomBytes(4).toString('hex')}`;
  const prefix = testPrefix();
  // Every key of the cache but its BullMQ queue (`{prefix:0}:flush:...`).
  const cacheKeys = ['e:*', 'dirty', 'events', 'w:*', 'rank:*', 'failed', 'clock', 'clean', 'memory'].map(
    (k) => `~{${prefix}:*}:${k}`,
  );
  await admin.acl('SETUSER', user, 'reset', 'on', 'nopass', '+@all', ...cacheKeys);
  const url = new URL(REDIS_URL);
  url.username = user;
  url.password = 'any';
  const world = await createWorld(entities, { redis: url.toString(), prefix, flush: { windowMs: 50 } });
  try {
    await world.cache.increment('video', 'v1', 'likes', 3);
    assert.ok(
      world.logs.some((l) => l.level === 'warn' && l.msg === 'could not enqueue a flush job; retrying it'),
      'the failed enqueue is logged',
    );
    const jobId = await world.jobIdOf('video', 'v1');
    assert.ok(jobId, 'the write made the key dirty');
    const jobKey = `${shardKeys(prefix, 0, 1).jobPrefix}${jobId}`;
    assert.equal(await admin.exists(jobKey), 0, 'no job yet: the enqueue was refused');

    await admin.acl('SETUSER', user, 'allkeys');
    assert.ok(
      await eventually(async () => (await admin.exists(jobKey)) === 1, 10_000, 20),
      'the job is added',
    );
    assert.ok(
      world.logs.some(
        (l) => l.level === 'info' && l.msg === 'flush jobs whose enqueue had failed are enqueued',
      ),
    );
    await world.startWorker({ sweep: false });
    await world.cache.flushed('video', 'v1');
    assert.equal((await videoRow(world.db, 'v1'))?.likes, 3);
  } finally {
    await world.close();
    await admin.acl('DELUSER', user);
    admin.disconnect();
  }
});
