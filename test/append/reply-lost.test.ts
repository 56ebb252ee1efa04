// Guarantee 13 for events: appends whose replies were lost (the link died after Redis applied them) are
// sent again by ioredis after the reconnect; each is answered with the number it got, none is appended twice.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, type PgProxy, REDIS_URL, startProxyTo } from '@write-behind/testkit';
import { Redis } from 'ioredis';
import { createEventWorld, type EventWorld, eventRows, events, expectedRows } from './helpers.ts';

let w: EventWorld;
let proxy: PgProxy;
let direct: Redis;

before(async () => {
  proxy = await startProxyTo(REDIS_URL);
  // The library opens its own connection, through the proxy.
  w = await createEventWorld({ redis: proxy.url(REDIS_URL), flush: { windowMs: 60_000 } });
  direct = new Redis(REDIS_URL);
});
after(async () => {
  await w.close();
  direct.disconnect();
  await proxy.close();
});

test('appends Redis applied but whose replies never came are answered after the reconnect, once', async () => {
  const key = w.dataKey('videoEvent', 'lost');
  const all = events(21);
  const first = await w.cache.append('videoEvent', 'lost', all[0] as never);
  assert.equal(await direct.hget(key, '_v'), String(first));

  proxy.muteReplies();
  const lost = Promise.all(all.slice(1).map((e) => w.cache.append('videoEvent', 'lost', e)));
  // Redis applied them all; the client is still waiting for the answers.
  assert.ok(await eventually(async () => (await direct.hget(key, '_v')) === String(first + 20)));
  proxy.cut();
  proxy.restore();

  assert.deepEqual(
    await lost,
    Array.from({ length: 20 }, (_, i) => first + 1 + i),
    'each answered with the number Redis gave it',
  );
  assert.equal(await direct.hget(key, '_v'), String(first + 20), 'nothing appended twice');
  assert.equal(await w.cache.append('videoEvent', 'lost', events(1, 22)[0] as never), first + 21);

  const worker = await w.startWorker();
  await w.cache.flush();
  assert.deepEqual(await eventRows(w.db, 'lost'), expectedRows(22, first));
  await worker.close();
});
