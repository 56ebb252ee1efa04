// Guarantee 11: bad input gets a typed error that says what was wrong, and changes nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ConfigurationError,
  counter,
  createWriteBehind,
  NotFoundError,
  ValidationError,
} from '@write-behind/core';
import { createHarness, type Harness, REDIS_URL } from '@write-behind/testkit';
import { Redis } from 'ioredis';

let h: Harness;
let redis: Redis;
before(async () => {
  h = await createHarness({ limits: { maxIdBytes: 64, maxValueBytes: 1024 } });
  redis = new Redis(REDIS_URL);
});
after(async () => {
  redis.disconnect();
  await h.close();
});

// biome-ignore lint/suspicious/noExplicitAny: the point is to call the API with what TypeScript would refuse.
const cache = () => h.cache as any;

const cases: [string, () => Promise<unknown>, RegExp, string?][] = [
  [
    'unknown entity',
    () => cache().increment('nope', 'x', 'likes'),
    /unknown entity "nope"/,
    'UNKNOWN_ENTITY',
  ],
  ['empty id', () => cache().increment('video', '', 'likes'), /non-empty string/],
  ['non-string id', () => cache().get('video', 42), /non-empty string/],
  [
    'oversize id',
    () => cache().increment('video', 'x'.repeat(65), 'likes'),
    /65 bytes long; the limit is 64/,
  ],
  ['lone surrogate in id', () => cache().increment('video', 'a\ud800', 'likes'), /surrogate/],
  ['unknown counter', () => cache().increment('video', 'x', 'shares'), /not a counter/],
  ['increment of a non-counter', () => cache().increment('settings', 'x', 'theme'), /not a counter/],
  ['fractional increment', () => cache().increment('video', 'x', 'likes', 1.5), /safe integer, got 1.5/],
  ['NaN increment', () => cache().increment('video', 'x', 'likes', Number.NaN), /got NaN/],
  [
    'infinite increment',
    () => cache().increment('video', 'x', 'likes', Number.POSITIVE_INFINITY),
    /got Infinity/,
  ],
  ['string increment', () => cache().increment('video', 'x', 'likes', '1'), /safe integer/],
  ['huge increment', () => cache().increment('video', 'x', 'likes', 2 ** 60), /safe integer/],
  ['values not an object', () => cache().set('settings', 'x', 'dark'), /must be an object/],
  ['values an array', () => cache().set('settings', 'x', ['dark']), /must be an object/],
  ['empty values', () => cache().set('settings', 'x', {}), /at least one field/],
  ['unknown field', () => cache().set('settings', 'x', { colour: 'red' }), /no field "colour"/],
  [
    'wrong type',
    () => cache().set('settings', 'x', { notifications: 'yes' }),
    /settings.notifications must be a boolean/,
  ],
  ['null for a required field', () => cache().set('settings', 'x', { theme: null }), /must not be null/],
  ['oversize value', () => cache().set('settings', 'x', { language: 'y'.repeat(2000) }), /the limit is 1024/],
  ['counter set to a fraction', () => cache().set('video', 'x', { likes: 0.5 }), /integer/],
];

for (const [name, call, message, code = 'VALIDATION'] of cases) {
  test(`rejects ${name}`, async () => {
    await assert.rejects(call(), (err: unknown) => {
      assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${err}`);
      assert.equal(err.code, code);
      assert.match(err.message, message);
      return true;
    });
  });
}

test('a counter cannot leave the safe integer range; the value is unchanged', async () => {
  await h.cache.increment('video', 'big', 'likes', Number.MAX_SAFE_INTEGER - 1);
  await assert.rejects(h.cache.increment('video', 'big', 'likes', 2), (err: unknown) => {
    assert.ok(err instanceof ValidationError);
    assert.equal(err.code, 'COUNTER_OVERFLOW');
    return true;
  });
  assert.equal((await h.cache.get('video', 'big'))?.likes, Number.MAX_SAFE_INTEGER - 1);
});

test('a partial set cannot create a record missing a required field', async () => {
  await assert.rejects(h.cache.set('settings', 'new', { theme: 'dark' }), (err: unknown) => {
    assert.ok(err instanceof NotFoundError);
    assert.match(err.message, /must name language/);
    return true;
  });
  assert.equal(await h.cache.get('settings', 'new'), null);
});

test('nothing was written by any rejected call', async () => {
  // Only the overflow test's key (and its queue entries) exist: the pattern matches every data key.
  assert.deepEqual(await redis.keys(h.key('*', '*')), [h.key('video', 'big')]);
  assert.equal((await h.cache.stats()).dirtyKeys, 1);
});

test('ids with separators and braces address their own key only', async () => {
  await h.cache.increment('video', 'a:b', 'likes');
  await h.cache.increment('video', '{x}:e:settings:y', 'likes', 5);
  assert.equal((await h.cache.get('video', 'a:b'))?.likes, 1);
  assert.equal(await h.cache.get('settings', 'y'), null);
  assert.equal((await h.cache.get('video', '{x}:e:settings:y'))?.likes, 5);
});

test('bad options are refused with a message naming the option', () => {
  const base = {
    redis: REDIS_URL,
    prisma: h.db.prisma,
    entities: { v: { model: 'Video', fields: { likes: counter() } } },
  };
  assert.throws(() => createWriteBehind({ ...base, prefix: 'a{b}' }), ConfigurationError);
  assert.throws(
    () => createWriteBehind({ ...base, flush: { windowMs: -1 } }),
    /flush.windowMs must be an integer/,
  );
  assert.throws(
    () => createWriteBehind({ ...base, backlog: { policy: 'drop' as 'reject' } }),
    /backlog.policy/,
  );
  assert.throws(() => createWriteBehind({ ...base, entities: {} }), /at least one entity/);
  assert.throws(
    () =>
      createWriteBehind({ ...base, entities: { 'a:b': { model: 'Video', fields: { likes: counter() } } } }),
    /entity name/,
  );
});
