// Guarantee 4 (expired keys), cacheTtlMs: clean keys expire from Redis and come back from the database; dirty keys never expire.
// A Redis of its own, with keyspace notifications on (the shared one's configuration is left alone): a key's
// expiry is seen as the events Redis sends when it is set and when the key expires, not as a remaining TTL
// read at some moment, which a loaded machine can read too late.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createHarness,
  eventually,
  type Harness,
  type RedisServer,
  startRedis,
  videoRow,
} from '@write-behind/testkit';
import { Redis } from 'ioredis';

const CACHE_TTL_MS = 300;

let server: RedisServer;
let url: string;
let redis: Redis;
let subscriber: Redis;
/** Keyspace events (`expire`, `expired`, `persist`, `del`, ...) per key, in the order Redis sent them. */
const events = new Map<string, string[]>();

before(async () => {
  // K: keyspace channel; g: generic commands (EXPIRE/PEXPIRE, PERSIST, DEL); x: expirations.
  server = await startRedis(['--save', '', '--appendonly', 'no', '--notify-keyspace-events', 'Kgx']);
  url = `redis://127.0.0.1:${server.port}`;
  redis = new Redis(url);
  subscriber = new Redis(url);
  await subscriber.psubscribe('__keyspace@0__:*');
  subscriber.on('pmessage', (_pattern, channel: string, event: string) => {
    const key = channel.slice('__keyspace@0__:'.length);
    events.set(key, [...(events.get(key) ?? []), event]);
  });
});
after(async () => {
  subscriber?.disconnect();
  redis?.disconnect();
  await server?.kill();
});

const eventsOf = (key: string) => events.get(key) ?? [];

test('a flushed key expires, then reloads from the database with its value and version', async () => {
  const h = await createHarness({ redis: url, cacheTtlMs: CACHE_TTL_MS, flush: { windowMs: 50 } });
  try {
    const key = h.key('video', 'ttl');
    await h.cache.increment('video', 'ttl', 'likes', 41);
    assert.equal(await redis.pttl(key), -1, 'a dirty key has no expiry');
    await h.startWorker();
    await h.cache.flushed('video', 'ttl');
    const flushed = await videoRow(h.db, 'ttl');
    assert.equal(flushed?.likes, 41);
    assert.ok(
      await eventually(() => eventsOf(key).includes('expired'), 30_000),
      `it expired (events: ${eventsOf(key).join(', ')})`,
    );
    const [set, expired] = [eventsOf(key).indexOf('expire'), eventsOf(key).indexOf('expired')];
    assert.ok(set >= 0 && set < expired, `the flush gave the clean key an expiry (events: ${eventsOf(key)})`);

    assert.equal(await h.cache.increment('video', 'ttl', 'likes'), 42);
    assert.equal(await redis.pttl(key), -1, 'the reloaded key, written, has no expiry');
    await h.cache.flushed('video', 'ttl');
    const row = await videoRow(h.db, 'ttl');
    assert.equal(row?.likes, 42);
    assert.equal(row?.views, 0);
    assert.ok(row && flushed && row.version > flushed.version, 'the version went on from the stored one');
  } finally {
    await h.close();
  }
});

test('a key filled by a read expires too, unless a write makes it dirty first', async () => {
  const h: Harness = await createHarness({ redis: url, cacheTtlMs: CACHE_TTL_MS, flush: { windowMs: 50 } });
  try {
    await h.db.pool.query(`INSERT INTO "Video" (id, likes, version) VALUES ('read', 5, 1), ('kept', 5, 1)`);
    // Filled by a read, clean: it gets an expiry and expires.
    const read = h.key('video', 'read');
    assert.equal((await h.cache.get('video', 'read'))?.likes, 5);
    assert.ok(
      await eventually(() => eventsOf(read).includes('expired'), 30_000),
      `it expired (events: ${eventsOf(read).join(', ')})`,
    );
    assert.ok(eventsOf(read).indexOf('expire') < eventsOf(read).indexOf('expired'), 'the fill set an expiry');

    // An increment of a warm, clean key takes the fast path; it too makes the key dirty and permanent. The
    // increment may come after the key expired (a slow machine): then it reloads, and the check is the same.
    const kept = h.key('video', 'kept');
    assert.equal((await h.cache.get('video', 'kept'))?.likes, 5);
    assert.equal(await h.cache.increment('video', 'kept', 'likes'), 6);
    assert.equal(await redis.pttl(kept), -1, 'a dirty key has no expiry');
    if (!eventsOf(kept).includes('expired')) {
      assert.ok(
        eventsOf(kept).includes('persist'),
        `the write removed the expiry (events: ${eventsOf(kept)})`,
      );
    }
  } finally {
    await h.close();
  }
});
