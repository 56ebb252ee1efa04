// Soak: `npm run soak -- --duration 10m --rate 400`. Holds a steady write rate (increments and sets over a
// few thousand keys) against one flush worker in a child process for a long time, and reports the worker's
// RSS and Redis used_memory at the start and the end, BullMQ completed/failed counts and the flush lag
// (age of the oldest unflushed write), so leaks and a growing backlog show.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { createWriteBehind } from '@write-behind/core';
import {
  cleanupRedis,
  createTestDatabase,
  entities,
  REDIS_URL,
  startWorkerProcess,
  type TestEntities,
  testPrefix,
  testWorkerConfig,
} from '@write-behind/testkit';
import { parseDuration, parseNumber } from '@write-behind/testkit/chaos';
import { Redis } from 'ioredis';
import { readFlags } from '../lib/command-line.ts';

export interface SoakOptions {
  durationMs: number;
  /** Target writes per second. */
  rate: number;
  keys: number;
  sampleEveryMs: number;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}

async function usedMemoryMb(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Math.round(Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 104857.6) / 10;
}

export async function runSoak(partial: Partial<SoakOptions> = {}) {
  const o: SoakOptions = { durationMs: 120_000, rate: 400, keys: 3000, sampleEveryMs: 10_000, ...partial };
  const db = await createTestDatabase();
  const prefix = testPrefix();
  const cache = createWriteBehind<TestEntities>({
    redis: REDIS_URL,
    entities,
    prisma: db.prisma,
    prefix,
    flush: { windowMs: 100 },
    logger: { info() {}, warn() {}, error() {} },
  });
  const worker = await startWorkerProcess(testWorkerConfig({ prefix, db }));
  const pid = worker.process.pid as number;
  const redis = new Redis(REDIS_URL);
  const samples: { t: number; workerRssMb: number; redisUsedMb: number; lagMs: number; dirty: number }[] = [];
  const sample = async (t: number) => {
    const stats = await cache.stats();
    samples.push({
      t: Math.round(t / 1000),
      workerRssMb: rssMb(pid),
      redisUsedMb: await usedMemoryMb(redis),
      lagMs: stats.oldestDirtyAgeMs,
      dirty: stats.dirtyKeys,
    });
    process.stderr.write(`[soak] ${JSON.stringify(samples.at(-1))}\n`);
  };
  await sample(0);
  const start = Date.now();
  let acknowledged = 0;
  let refused = 0;
  let maxLagMs = 0;
  let nextSample = start + o.sampleEveryMs;
  const languages = ['en', 'de', 'fr'];
  // Paced in ticks of 50 ms: rate/20 writes per tick, all in flight at once.
  for (let tick = 0; Date.now() - start < o.durationMs; tick++) {
    const due = start + tick * 50;
    if (due > Date.now()) await sleep(due - Date.now());
    const batch = Math.max(1, Math.round(o.rate / 20));
    await Promise.all(
      Array.from({ length: batch }, async (_, i) => {
        const k = (tick * batch + i) % o.keys;
        try {
          if (k % 4 === 0) await cache.set('settings', `u${k}`, { language: languages[k % 3] as string });
          else await cache.increment('video', `v${k}`, k % 2 ? 'likes' : 'views', 1);
          acknowledged++;
        } catch {
          refused++;
        }
      }),
    );
    if (Date.now() >= nextSample) {
      nextSample += o.sampleEveryMs;
      await sample(Date.now() - start);
      maxLagMs = Math.max(maxLagMs, samples.at(-1)?.lagMs ?? 0);
    }
  }
  const loadMs = Date.now() - start;
  await sample(loadMs);
  const drainStart = Date.now();
  await cache.drain({ timeoutMs: 60_000 });
  const drainMs = Date.now() - drainStart;
  const counts = await cache.queues[0]?.getJobCounts('completed', 'failed', 'delayed', 'wait', 'active');
  const report = {
    options: o,
    loadMs,
    acknowledged,
    refused,
    rate: Math.round((acknowledged / loadMs) * 1000),
    start: samples[0],
    end: samples.at(-1),
    maxLagMs,
    drainMs,
    jobs: counts,
    samples,
  };
  await worker.stop();
  redis.disconnect();
  await cache.close();
  await cleanupRedis(prefix);
  await db.drop();
  return report;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { options } = readFlags<SoakOptions>({
    duration: ['durationMs', parseDuration],
    rate: ['rate', parseNumber],
    keys: ['keys', parseNumber],
    'sample-every': ['sampleEveryMs', parseDuration],
  });
  const report = await runSoak(options);
  const { samples: _, ...summary } = report;
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  process.exit(0);
}
