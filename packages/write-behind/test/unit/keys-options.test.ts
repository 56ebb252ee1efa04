import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigurationError } from '../../src/errors.ts';
import { dataKey, parseDataKey, shardKeys, shardOf } from '../../src/keys.ts';
import {
  DEFAULT_OPTIONS,
  DEFAULT_WORKER_OPTIONS,
  resolveOptions,
  resolveWorkerOptions,
} from '../../src/options.ts';
import { counter } from '../../src/schema/fields.ts';
import type { Store } from '../../src/store/store.ts';

test('data keys share the shard hash tag and parse back whatever the id holds', () => {
  const shard = shardKeys('app', 3, 4);
  for (const id of ['plain', 'a:b:c', '{evil}', 'ü🎉', ':']) {
    const key = dataKey(shard, 'video', id);
    assert.ok(key.startsWith('{app:3}:e:video:'));
    assert.deepEqual(parseDataKey(shard, key), { entity: 'video', id });
  }
  assert.equal(shard.dirty, '{app:3}:dirty');
  assert.equal(shard.queueName, 'flush-3', 'each shard has a queue name of its own');
  assert.equal(shard.jobPrefix, '{app:3}:flush-3:');
  assert.equal(shardKeys('app', 0, 1).queueName, 'flush', 'one shard: the plain name');
});

test('sharding is stable and spreads keys', () => {
  assert.equal(shardOf('video', 'x', 1), 0);
  assert.equal(shardOf('video', 'x', 8), shardOf('video', 'x', 8));
  const used = new Set(Array.from({ length: 200 }, (_, i) => shardOf('video', `k${i}`, 8)));
  assert.equal(used.size, 8);
});

test('options: defaults merged, bad values quoted', () => {
  const store = {} as Store;
  const entities = { video: { model: 'Video', fields: { likes: counter() } } };
  const resolved = resolveOptions({ redis: 'redis://x', store, entities, flush: { windowMs: 5 } });
  assert.equal(resolved.flush.windowMs, 5);
  assert.equal(resolved.flush.batchSize, DEFAULT_OPTIONS.flush.batchSize);
  assert.equal(resolved.prefix, 'wb');
  assert.throws(() => resolveOptions({ redis: 'redis://x', store, entities, shards: 0 }), ConfigurationError);
  assert.throws(
    () => resolveOptions({ redis: 'redis://x', store, entities, flush: { batchSize: 1.5 } }),
    /flush.batchSize .* got 1.5/,
  );
  assert.throws(
    () => resolveOptions({ redis: 'redis://x', entities }),
    /`prisma` \(a Prisma Client\) or `store` is required/,
  );
});

test("worker options: defaults merged, the cache's shards and concurrency by default, bad values quoted", () => {
  const resolved = resolveWorkerOptions({ closeTimeoutMs: 5 }, { shards: 3, concurrency: 40 });
  assert.deepEqual(resolved, {
    ...DEFAULT_WORKER_OPTIONS,
    shards: [0, 1, 2],
    concurrency: 40,
    closeTimeoutMs: 5,
  });
  assert.throws(
    () => resolveWorkerOptions({ shards: [3] }, { shards: 3, concurrency: 1 }),
    /worker shards\[\] must be an integer from 0 to 2, got 3/,
  );
  assert.throws(
    () => resolveWorkerOptions({ lockDurationMs: -1 }, { shards: 1, concurrency: 1 }),
    /worker lockDurationMs .* got -1/,
  );
  assert.throws(
    () => resolveWorkerOptions({ sweep: 'yes' as unknown as boolean }, { shards: 1, concurrency: 1 }),
    /worker sweep must be true or false/,
  );
});
