// Guarantee 13: a write whose reply is lost (the link dies after Redis applied it) is sent again by ioredis after the
// reconnect. It must not be applied a second time, and its caller still gets its answer (lua/write.lua keeps
// each writer's recent replies).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { scriptSource, shardKeys, writeProtocol, writerKey } from '@write-behind/core/internal';
import {
  createHarness,
  eventually,
  type Harness,
  type PgProxy,
  REDIS_URL,
  startProxyTo,
} from '@write-behind/testkit';
import { Redis } from 'ioredis';

let h: Harness;
let proxy: PgProxy;
let direct: Redis;

before(async () => {
  proxy = await startProxyTo(REDIS_URL);
  // The library opens its own connection, through the proxy.
  h = await createHarness({ redis: proxy.url(REDIS_URL), flush: { windowMs: 60_000 } });
  direct = new Redis(REDIS_URL);
});
after(async () => {
  await h.close();
  direct.disconnect();
  await proxy.close();
});

test('writes Redis applied but whose replies never came are answered after the reconnect, not applied again', async () => {
  const key = (id: string) => h.key('video', id);
  assert.equal(await h.cache.increment('video', 'lost', 'likes', 10), 10);
  await h.cache.set('settings', 'lost', { theme: 'dark', language: 'en' });

  proxy.muteReplies();
  // Several batches in flight when the link dies: increments of one key, and a set.
  const lost = Promise.all([
    ...Array.from({ length: 20 }, () => h.cache.increment('video', 'lost', 'likes', 5)),
    h.cache.set('settings', 'lost', { language: 'fr' }),
  ]);
  // Redis applied them all; the client is still waiting for the answers.
  assert.ok(await eventually(async () => (await direct.hget(key('lost'), 'likes')) === '110'));
  proxy.cut();
  proxy.restore();

  const answers = await lost;
  assert.deepEqual(
    answers
      .slice(0, 20)
      .map(Number)
      .sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => 15 + 5 * i),
  );
  assert.deepEqual(answers[20], { theme: 'dark', language: 'fr', notifications: true });
  assert.equal(await direct.hget(key('lost'), 'likes'), '110');
  assert.equal(await h.cache.increment('video', 'lost', 'likes'), 111);
});

test('a resent batch older than the replies kept changes nothing and answers "outcome unknown"', async () => {
  const { incrementCall, WriteStatus, writeArguments, writeKeys } = writeProtocol;
  const data = h.key('video', 'old');
  const shard = shardKeys(h.prefix, 0, 1);
  await direct.hset(data, '_v', '1', '_fv', '1', 'likes', '7');
  // Keeps 2 replies; batches 1, 2 and 3 leave only 2 and 3 kept.
  const calls = [incrementCall(data, 'likes', 1, -1000, 1000)];
  const keys = writeKeys(shard, writerKey(shard, 'test'), calls);
  const run = (batch: number) =>
    direct.eval(
      scriptSource('wbWrite'),
      keys.length,
      ...keys,
      ...writeArguments(
        shard,
        {
          now: Date.now(),
          backlogLimit: 0,
          cacheTtlMs: 0,
          batch,
          keptReplies: 2,
          writerTtlMs: 60_000,
          maxKeys: 0,
          maxBytes: 0,
          rankingCap: 0,
        },
        calls,
      ),
    );
  const answers: unknown[] = [];
  for (const batch of [1, 2, 3]) answers.push(await run(batch));
  assert.equal(await direct.hget(data, 'likes'), '10');
  assert.deepEqual(await run(2), answers[1], 'a kept reply is answered again');
  assert.equal((answers[1] as [number, string][])[0]?.[1], '9');
  assert.deepEqual(await run(1), [[WriteStatus.UNKNOWN]]);
  assert.equal(await direct.hget(data, 'likes'), '10');
});
