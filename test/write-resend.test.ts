// Guarantee 13: a write whose outcome the connection lost is sent again until Redis answers, applied once, and a
// rejected write tells the truth: `UnavailableError` only when Redis never ran it, `IndeterminateError` ("may
// have been applied") when no answer came within `writes.resolveTimeoutMs`. Between the cache and a private
// Redis sits a link that loses one call of the write script (its reply, or the call itself) and then refuses
// connections, so that ioredis gives up on the call after its reconnects (`redisMaxRetriesPerRequest`) and the
// library's own resend is what answers. A replica, reached through a proxy that can hold it back, checks that a
// batch answered from the replies Redis kept still waits for its replica.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { IndeterminateError, NotReplicatedError, UnavailableError } from '@write-behind/core';
import { scriptSource, shardKeys, writeProtocol, writerKey } from '@write-behind/core/internal';
import {
  createWorld,
  entities,
  eventually,
  type ProxiedReplication,
  startProxiedReplication,
  type TestEntities,
  testPrefix,
  type World,
} from '@write-behind/testkit';
import { Redis } from 'ioredis';

/**
 * A TCP link to Redis that, once armed, watches for a call of the write script and loses it: its reply (the
 * call reaches Redis, the reply never comes back) or the call itself. Then the link goes down: its connections
 * are reset and new ones refused (nothing listens), until `restore()`.
 */
interface Link {
  url: string;
  readonly isDown: boolean;
  /** Calls of the write script seen, the lost one included. */
  readonly writeCalls: number;
  loseNextReply(): void;
  loseNextCall(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** The write script as it travels: by hash, or by source after NOSCRIPT. */
const WRITE_SHA = createHash('sha1').update(scriptSource('wbWrite')).digest('hex');
const WRITE_SOURCE_MARK = 'Applies a batch of writes to keys of one shard';

async function startLink(targetPort: number): Promise<Link> {
  let plan: 'pass' | 'lose-reply' | 'lose-call' = 'pass';
  let down = false;
  let writeCalls = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    let muted = false;
    let tail = '';
    client.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('latin1');
      tail = text.slice(-64);
      if (text.includes(WRITE_SHA) || text.includes(WRITE_SOURCE_MARK)) {
        writeCalls++;
        const losing = plan;
        plan = 'pass';
        if (losing === 'lose-call') return goDown();
        if (losing === 'lose-reply') {
          upstream.write(chunk);
          muted = true;
          // Time for Redis to run it; its reply is dropped meanwhile.
          setTimeout(goDown, 100);
          return;
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!muted) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const goDown = () => {
    if (down) return;
    down = true;
    server.close();
    for (const socket of sockets) socket.resetAndDestroy();
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    get isDown() {
      return down;
    },
    get writeCalls() {
      return writeCalls;
    },
    loseNextReply() {
      plan = 'lose-reply';
    },
    loseNextCall() {
      plan = 'lose-call';
    },
    async restore() {
      if (!down) return;
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      down = false;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      if (!down) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A private primary and its replica, whose link to the primary is `replication.link`. */
let replication: ProxiedReplication;
let primary: Redis;
let replica: Redis;
before(async () => {
  replication = await startProxiedReplication();
  const { servers } = replication;
  primary = new Redis({ port: servers.primary.port, host: '127.0.0.1' });
  replica = new Redis({ port: servers.replica.port, host: '127.0.0.1' });
});
after(async () => {
  primary?.disconnect();
  replica?.disconnect();
  await replication?.stop();
});

interface ThroughLink {
  world: World<TestEntities>;
  link: Link;
  /** The likes of a video as the primary holds them. */
  likes: (id: string) => Promise<number>;
}

/**
 * Runs `body` with a cache on the private primary through a link of its own, then closes the cache and the
 * link (restored first, so that the close does not wait on a link that is down). Resolves to what `body` did.
 */
async function throughLink<T>(
  resolveTimeoutMs: number,
  body: (cache: ThroughLink) => Promise<T>,
): Promise<T> {
  const link = await startLink(replication.servers.primary.port);
  const world = await createWorld(entities, {
    redis: link.url,
    flush: { windowMs: 60_000 },
    writes: { resolveTimeoutMs },
    replication: { replicas: 1, timeoutMs: 300 },
  });
  const likes = async (id: string) => Number(await primary.hget(world.dataKey('video', id), 'likes'));
  try {
    return await body({ world, link, likes });
  } finally {
    await link.restore();
    await world.close();
    await link.close();
  }
}

/** Long enough for ioredis to give up on a call after its reconnects are refused (retries 50 + 100 + 150 ms). */
const IOREDIS_GIVES_UP_MS = 1000;

/**
 * Adds 5 likes to `id` through a link that loses the reply, once Redis applied it: what the write rejects with
 * (`undefined` if it resolves), and after how long.
 */
async function replyLostWrite(
  { world, link }: ThroughLink,
  id: string,
): Promise<{ error: unknown; afterMs: number }> {
  link.loseNextReply();
  const started = Date.now();
  const error = await world.cache.increment('video', id, 'likes', 5).catch((e: unknown) => e);
  return { error, afterMs: Date.now() - started };
}

test('a reply lost as the link went down: the batch is sent again once the link is back, applied once', () =>
  throughLink(10_000, async ({ world, link, likes }) => {
    assert.equal(await world.cache.increment('video', 'r', 'likes', 10), 10);
    link.loseNextReply();
    const write = world.cache.increment('video', 'r', 'likes', 5);
    assert.ok(await eventually(async () => (await likes('r')) === 15), 'Redis applied the write');
    await sleep(IOREDIS_GIVES_UP_MS);
    assert.ok(link.isDown);
    await link.restore();
    assert.equal(await write, 15, 'answered with the reply Redis kept');
    assert.ok(link.writeCalls >= 3, `the batch went out again (${link.writeCalls} write calls)`);
    assert.equal(await likes('r'), 15, 'applied once');
    assert.equal(await world.cache.increment('video', 'r', 'likes'), 16);
  }));

test('a call lost before Redis saw it: sent again once the link is back, and applied then, once', () =>
  throughLink(10_000, async ({ world, link, likes }) => {
    assert.equal(await world.cache.increment('video', 'q', 'likes', 10), 10);
    link.loseNextCall();
    const write = world.cache.increment('video', 'q', 'likes', 5);
    await sleep(IOREDIS_GIVES_UP_MS);
    assert.ok(link.isDown);
    assert.equal(await likes('q'), 10, 'not applied while the link is down');
    await link.restore();
    assert.equal(await write, 15);
    assert.equal(await likes('q'), 15, 'applied once');
  }));

test('without resending (resolveTimeoutMs 0), the same lost reply is an IndeterminateError at once', () =>
  throughLink(0, async (cache) => {
    const { world, likes } = cache;
    await world.cache.increment('video', 'z', 'likes', 10);
    const { error, afterMs } = await replyLostWrite(cache, 'z');
    assert.ok(error instanceof IndeterminateError, `got ${String(error)}`);
    assert.ok(afterMs < IOREDIS_GIVES_UP_MS, `after ${afterMs} ms`);
    assert.equal(await likes('z'), 15, 'it was applied: the error said it may have been');
  }));

test('the link down past the deadline: IndeterminateError, and the counter shows the write applied at most once', (t) =>
  throughLink(1000, async (cache) => {
    const { world, link, likes } = cache;
    // Reply lost: Redis applied it.
    await world.cache.increment('video', 'a', 'likes', 10);
    const { error, afterMs: replyLostAfter } = await replyLostWrite(cache, 'a');
    assert.ok(error instanceof IndeterminateError, `got ${String(error)}`);
    assert.equal(error.code, 'UNKNOWN_RESULT');
    assert.match(error.message, /may have applied/);
    assert.ok(replyLostAfter >= 1000, `rejected after ${replyLostAfter} ms, within writes.resolveTimeoutMs`);
    assert.ok(link.isDown, 'while the link was still down');
    await link.restore();
    // Once the connection is back, whatever was still queued in it has gone out.
    assert.equal(await world.cache.increment('video', 'other', 'likes'), 1);
    await sleep(200);
    assert.equal(await likes('a'), 15, 'the write was applied, once');

    // Call lost: Redis had not applied it; a resend still queued when the error came may apply it now, once.
    link.loseNextCall();
    const started = Date.now();
    const callLost = await world.cache.increment('video', 'a', 'likes', 5).catch((e: unknown) => e);
    assert.ok(callLost instanceof IndeterminateError, `got ${String(callLost)}`);
    await link.restore();
    assert.equal(await world.cache.increment('video', 'other', 'likes'), 2);
    await sleep(200);
    const after = await likes('a');
    assert.ok(after === 15 || after === 20, `applied at most once: ${after}`);
    t.diagnostic(
      `reply lost: IndeterminateError after ${replyLostAfter} ms, applied once; call lost: IndeterminateError after ` +
        `${Date.now() - started} ms, ${after === 20 ? 'applied once by a resend queued in the connection' : 'not applied'}`,
    );
    assert.equal(await world.cache.increment('video', 'a', 'likes'), after + 1);
  }));

test('Redis unreachable before the write went out: UnavailableError, without waiting for the deadline', () =>
  throughLink(10_000, async ({ world, link, likes }) => {
    await world.cache.increment('video', 'u', 'likes', 10);
    link.loseNextCall();
    // That call is lost; this one finds the link down, waits in ioredis's offline queue and is never sent.
    const lost = world.cache.increment('video', 'u', 'likes', 1);
    assert.ok(await eventually(() => link.isDown));
    const started = Date.now();
    const error = await world.cache
      .increment('video', 'never', 'likes', 1, { durability: 'memory' })
      .catch((e: unknown) => e);
    assert.ok(error instanceof UnavailableError, `got ${String(error)}`);
    assert.equal(error.code, 'UNAVAILABLE');
    assert.match(error.message, /not applied/);
    assert.ok(Date.now() - started < 3000, `after ${Date.now() - started} ms`);
    await link.restore();
    assert.equal(await lost, 11, 'the lost call, sent again, applied once');
    assert.equal(await likes('u'), 11);
    assert.equal(
      await primary.exists(world.dataKey('video', 'never')),
      0,
      'the refused write changed nothing',
    );
  }));

test("'replicas': a batch answered from the replies Redis kept still waits for its replica", async () => {
  const key = await throughLink(10_000, async ({ world, link, likes }) => {
    const key = world.dataKey('video', 'd');
    try {
      assert.equal(await world.cache.increment('video', 'd', 'likes', 10, { durability: 'replicas' }), 10);
      replication.link.hold();
      link.loseNextReply();
      const write = world.cache.increment('video', 'd', 'likes', 5, { durability: 'replicas' });
      const settled = write.catch((e: unknown) => e);
      assert.ok(await eventually(async () => (await likes('d')) === 15), 'the primary applied it');
      await sleep(IOREDIS_GIVES_UP_MS);
      await link.restore();
      // The batch is answered from the replies kept, and the WAIT behind it must still count it: the replica,
      // held back, does not hold it.
      const error = await settled;
      assert.ok(error instanceof NotReplicatedError, `got ${String(error)}`);
      assert.equal(error.confirmed, 0);
      assert.equal(await replica.hget(key, 'likes'), '10', 'the replica lacks it');
      assert.equal(await likes('d'), 15, 'applied once');
    } finally {
      replication.link.release();
    }
    return key;
  });
  assert.ok(
    await eventually(async () => (await replica.hget(key, 'likes')) === '15'),
    'then the replica has it',
  );
});

/** A call of the write script: writer `writer`'s batch `batch`, one increment of `video` `x` by 1. */
function scriptCall(prefix: string, writer: string, batch: number, now = Date.now()) {
  const { incrementCall, writeArguments, writeKeys } = writeProtocol;
  const shard = shardKeys(prefix, 0, 1);
  const data = `${shard.tag}:e:video:x`;
  const calls = [incrementCall(data, 'likes', 1, -1_000_000, 1_000_000)];
  const keys = writeKeys(shard, writerKey(shard, writer), calls);
  const header = {
    now,
    backlogLimit: 0,
    cacheTtlMs: 0,
    batch,
    keptReplies: 1024,
    writerTtlMs: WRITER_TTL_MS,
    maxKeys: 0,
    maxBytes: 0,
    rankingCap: 0,
  };
  const argv: [string, number, ...(string | number)[]] = [
    scriptSource('wbWrite'),
    keys.length,
    ...keys,
    ...writeArguments(shard, header, calls),
  ];
  return { data, state: writerKey(shard, writer), argv };
}
const WRITER_TTL_MS = 3_600_000;

/** Status and value of the script's reply to its one write. */
const answer = (reply: unknown) => (reply as unknown[][])[0]?.slice(0, 2);

test('the write script: a batch resent after later ones is applied if it never was, answered if it was', async () => {
  const { WriteStatus } = writeProtocol;
  const prefix = testPrefix();
  const run = async (writer: string, batch: number) =>
    answer(await primary.eval(...scriptCall(prefix, writer, batch).argv));
  const { data, state } = scriptCall(prefix, 'w', 1);
  await primary.hset(data, '_v', '1', '_fv', '1', 'likes', '0');
  assert.deepEqual(await run('w', 1), [WriteStatus.OK, '1']);
  assert.deepEqual(await run('w', 3), [WriteStatus.OK, '2']);
  // Batch 2 never reached this server (lost with a failed master, say) and 3 overtook it: applied now.
  assert.deepEqual(await run('w', 2), [WriteStatus.OK, '3']);
  // Sent again, each is answered with its own replies and changes nothing.
  assert.deepEqual(await run('w', 2), [WriteStatus.OK, '3']);
  assert.deepEqual(await run('w', 3), [WriteStatus.OK, '2']);
  assert.deepEqual(await run('w', 1), [WriteStatus.OK, '1']);
  assert.equal(await primary.hget(data, 'likes'), '3');
  assert.equal(await primary.hget(state, 'n'), '3', 'the highest batch applied');
  assert.equal(await primary.hget(state, 'f'), '1', 'the first batch the state saw');

  // A writer whose state began at batch 5 (its earlier state lost) cannot tell about an earlier batch.
  assert.deepEqual(await run('late', 5), [WriteStatus.OK, '4']);
  assert.deepEqual(await run('late', 3), [WriteStatus.UNKNOWN]);
  assert.equal(await primary.hget(data, 'likes'), '4', 'nothing applied for the batch of unknown outcome');
});

test("the write script: a writer's state is renewed while its writer writes, not on every batch", async () => {
  const prefix = testPrefix();
  const start = Date.now();
  const { state } = scriptCall(prefix, 'w', 1);
  await primary.eval(...scriptCall(prefix, 'w', 1, start).argv);
  assert.equal(await primary.hget(state, 't'), String(start));
  await primary.pexpire(state, 10_000);
  // Within a quarter of its lifetime of the last renewal: not renewed (the expiry stays as set).
  await primary.eval(...scriptCall(prefix, 'w', 2, start + WRITER_TTL_MS / 4 - 1).argv);
  assert.ok((await primary.pttl(state)) <= 10_000);
  // A quarter of its lifetime later: renewed, by the writer's clock.
  await primary.eval(...scriptCall(prefix, 'w', 3, start + WRITER_TTL_MS / 4).argv);
  assert.ok((await primary.pttl(state)) > WRITER_TTL_MS - 60_000);
  assert.equal(await primary.hget(state, 't'), String(start + WRITER_TTL_MS / 4));
});

test('the write script: a batch answered from the replies kept is a write, so a WAIT behind it counts it', async () => {
  const prefix = testPrefix();
  const call = scriptCall(prefix, 'w', 1);
  await primary.hset(call.data, '_v', '1', '_fv', '1', 'likes', '0');
  // The replica confirms everything so far (it acknowledges once a second), then is held back.
  const caughtUp = async () => {
    const offset = /master_repl_offset:(\d+)/.exec(await primary.info('replication'))?.[1];
    return new RegExp(`slave0:.*offset=${offset},`).test(await primary.info('replication'));
  };
  assert.ok(await eventually(caughtUp, 5000, 100), 'the replica caught up');
  replication.link.hold();
  // A connection opened before the batch is applied elsewhere, as a Cluster client's connection to a replica
  // that a failover then promotes: Redis counts a WAIT on it from its own last write, or its opening.
  const earlier = new Redis({ port: replication.servers.primary.port, host: '127.0.0.1' });
  try {
    await earlier.ping();
    assert.deepEqual(answer(await primary.eval(...call.argv)), [writeProtocol.WriteStatus.OK, '1']);
    const [[, replayed], [, confirmed]] = (await earlier
      .pipeline()
      .eval(...call.argv)
      .call('WAIT', 1, 200)
      .exec()) as [[null, unknown], [null, number]];
    assert.deepEqual(answer(replayed), [writeProtocol.WriteStatus.OK, '1'], 'answered, not applied again');
    assert.equal(confirmed, 0, 'the held-back replica does not hold the batch, and WAIT says so');
  } finally {
    replication.link.release();
    earlier.disconnect();
  }
});
