// A Redis stopped for a few seconds fills no log: each repeated error of the worker, the queues and the cache's
// connection is one line when it starts (and one per 10 s while it lasts), then one closing line with how many
// it stood for. Before, an 8 s outage printed 34 whole "flush worker error" objects.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWriteBehind, type Logger } from '@write-behind/core';
import {
  createTestDatabase,
  entities,
  eventually,
  type RedisServer,
  startRedis,
  type TestDatabase,
  testPrefix,
  withNode,
} from '@write-behind/testkit';

const OUTAGE_MS = 6000;
/** `LOG_REPEAT_INTERVAL_MS`: how long a repeated line must stop before its closing line. */
const REPEAT_INTERVAL_MS = 10_000;
const REDIS_ARGS = ['--save', '', '--appendonly', 'no'];

let db: TestDatabase;
let first: RedisServer;
let second: { child: ChildProcess; dir: string } | undefined;

before(async () => {
  db = await createTestDatabase();
  first = await startRedis(REDIS_ARGS);
});
after(async () => {
  await first.kill();
  if (second) {
    second.child.kill('SIGKILL');
    await rm(second.dir, { recursive: true, force: true });
  }
  await db.drop();
});

/** Starts redis-server again on `port` (startRedis picks a port of its own) and waits for its PONG. */
async function restartRedis(port: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wb-redis-again-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...REDIS_ARGS], {
    cwd: dir,
    stdio: 'ignore',
  });
  second = { child, dir };
  assert.ok(
    await eventually(() =>
      withNode(port, async (redis) => (await redis.ping()) === 'PONG').catch(() => false),
    ),
    'redis-server restarted',
  );
}

interface Line {
  level: 'info' | 'warn' | 'error';
  msg: string;
  obj: Record<string, unknown>;
  at: number;
}

test('a Redis outage of a few seconds: each repeated error is a line at its start and one at its end', async () => {
  const lines: Line[] = [];
  const record = (level: Line['level']) => (obj: object, msg?: string) =>
    lines.push({ level, msg: msg ?? '', obj: obj as Record<string, unknown>, at: Date.now() });
  const logger: Logger = { info: record('info'), warn: record('warn'), error: record('error') };
  const cache = createWriteBehind({
    redis: `redis://127.0.0.1:${first.port}`,
    prisma: db.prisma,
    prefix: testPrefix(),
    entities,
    logger,
    flush: { windowMs: 50 },
  });
  const worker = cache.createWorker({ sweep: false });
  try {
    await worker.ready;
    await cache.increment('video', 'v1', 'likes');
    await cache.flushed('video', 'v1');

    const stoppedAt = Date.now();
    await first.kill();
    await sleep(OUTAGE_MS);
    await restartRedis(first.port);
    const backAt = Date.now();
    assert.ok(
      await eventually(
        () =>
          cache.increment('video', 'v2', 'likes').then(
            () => true,
            () => false,
          ),
        20_000,
      ),
      'the cache writes again',
    );
    await cache.flushed('video', 'v2');
    // Every repeated line closes once it has been quiet for an interval.
    await sleep(REPEAT_INTERVAL_MS + 1000);

    const outage = lines.filter((l) => l.at >= stoppedAt && l.level !== 'info');
    const byMessage = new Map<string, Line[]>();
    for (const line of outage) byMessage.set(line.msg, [...(byMessage.get(line.msg) ?? []), line]);
    const summary = [...byMessage].map(([msg, ls]) => ({
      msg,
      lines: ls.length,
      stoodFor: ls.reduce((n, l) => n + (typeof l.obj.repeated === 'number' ? l.obj.repeated : 1), 0),
    }));
    console.log(`# outage of ${backAt - stoppedAt} ms logged: ${JSON.stringify(summary)}`);

    const workerErrors = byMessage.get('flush worker error') ?? [];
    assert.ok(workerErrors.length > 0, 'the worker saw the outage');
    for (const [msg, ls] of byMessage) {
      if (!['flush worker error', 'flush queue error', 'Redis connection error'].includes(msg)) continue;
      // One line per distinct error at its start and one when it ended; the outage is shorter than an
      // interval, so no line in between.
      const distinct = new Set(ls.map((l) => JSON.stringify([(l.obj.err as Error)?.message, l.level])));
      assert.ok(ls.length <= 2 * distinct.size, `${msg}: ${ls.length} lines for ${distinct.size} errors`);
      for (const line of ls.filter((l) => l.obj.ended === true)) {
        assert.ok(line.at > backAt, `${msg}: closed after the outage`);
        assert.ok(line.at - stoppedAt >= REPEAT_INTERVAL_MS, `${msg}: closed after a quiet interval`);
      }
    }
    const folded = summary.filter((s) => s.stoodFor > s.lines);
    assert.ok(folded.length > 0, `some lines stand for several errors: ${JSON.stringify(summary)}`);
  } finally {
    await worker.close();
    await cache.close();
  }
});
