import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigurationError } from '../src/errors.ts';
import { dataKey, flushJobId, parseDataKey, shardKeys, shardOf } from '../src/keys.ts';
import { DEFAULT_OPTIONS, resolveOptions } from '../src/options.ts';
import { boolean, checkValue, counter, decodeValue, encodeValue, number, string } from '../src/schema.ts';
import type { Store } from '../src/store/store.ts';

test('data keys share the shard hash tag and parse back whatever the id holds', () => {
  const shard = shardKeys('app', 3);
  for (const id of ['plain', 'a:b:c', '{evil}', 'ü🎉', ':']) {
    const key = dataKey(shard, 'video', id);
    assert.ok(key.startsWith('{app:3}:e:video:'));
    assert.deepEqual(parseDataKey(shard, key), { entity: 'video', id });
  }
  assert.equal(shard.dirty, '{app:3}:dirty');
  assert.equal(shard.jobPrefix, '{app:3}:flush:');
});

test('job ids carry no colon and differ per version', () => {
  const id = flushJobId('video', 'a:b', 7);
  assert.equal(id, 'video.a%3Ab.v7');
  // Only `%` and `:` are encoded: injective, and the id stays readable in Bull Board.
  assert.equal(flushJobId('video', '50%: off', '3.s99'), 'video.50%25%3A off.v3.s99');
  assert.notEqual(flushJobId('video', '%3A', 1), flushJobId('video', ':', 1));
  assert.notEqual(flushJobId('video', 'a', 1), flushJobId('video', 'a', 2));
});

test('sharding is stable and spreads keys', () => {
  assert.equal(shardOf('video', 'x', 1), 0);
  assert.equal(shardOf('video', 'x', 8), shardOf('video', 'x', 8));
  const used = new Set(Array.from({ length: 200 }, (_, i) => shardOf('video', `k${i}`, 8)));
  assert.equal(used.size, 8);
});

test('values round-trip through the Redis encoding, null distinct from "null"', () => {
  const cases = [
    [string({ nullable: true }), 'null'],
    [string({ nullable: true }), null],
    [string(), ''],
    [boolean(), false],
    [number(), -1.25],
    [counter(), 42],
  ] as const;
  for (const [spec, value] of cases) assert.equal(decodeValue(spec, encodeValue(spec, value)), value);
  assert.equal(decodeValue(counter(), undefined), 0);
  assert.equal(decodeValue(string({ default: 'light' }), undefined), 'light');
});

test('checkValue names the field and the bad value', () => {
  assert.throws(
    () => checkValue('s', 'theme', string({ maxLength: 3 }), 'long'),
    /s.theme is 4 characters long; the limit is 3/,
  );
  assert.throws(() => checkValue('s', 'n', number(), Number.NaN), /finite number, got NaN/);
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
  assert.throws(
    () =>
      resolveOptions({
        redis: 'redis://x',
        store,
        entities: { v: { model: 'V', fields: { version: counter() } } },
      }),
    /must not include "version"/,
  );
});
