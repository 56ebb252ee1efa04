// A flush worker (or BullMQ's no-op ceiling) in its own process, driven by `bench/run.ts` over IPC.
//
// Environment (set by bench/lib/child.ts):
//   BENCH_MODE          'flush': cache.createWorker() on the cache under BENCH_PREFIX
//                       'flush-discard': the same, its upserts and deletes discarded (a diagnostic)
//                       'noop':  a bare BullMQ Worker whose processor does nothing, on the same queue layout
//   BENCH_REDIS_URL, BENCH_DB_URL, BENCH_PREFIX
//   BENCH_WINDOW_MS     flush.windowMs of the cache (flush mode)
//   BENCH_CONCURRENCY   jobs in flight (both modes)
// Messages to the parent: { type: 'ready' }, then { type: 'counters', counters } (with `cpuMicros`, the CPU
// used since ready) on { type: 'stop' }, after
// which the process exits. The parent decides when the work is done (dirty keys or queue counts at 0).
import { shardKeys } from '@write-behind/core/internal';
import { createPrismaClient } from '@write-behind/db';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createBenchCache } from './lib/entities.ts';

type ChildMessage = { type: 'stop' };

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`bench/worker-process.ts needs ${name}`);
  return value;
}

const send = (message: object) => process.send?.(message);
const mode = required('BENCH_MODE');
const redisUrl = required('BENCH_REDIS_URL');
const prefix = required('BENCH_PREFIX');
const concurrency = Number(required('BENCH_CONCURRENCY'));

let stop: () => Promise<object>;

if (mode === 'flush' || mode === 'flush-discard') {
  const prisma = createPrismaClient(required('BENCH_DB_URL'));
  const cache = createBenchCache({
    redisUrl,
    prisma,
    prefix,
    flush: { windowMs: Number(required('BENCH_WINDOW_MS')) },
    discardWrites: mode === 'flush-discard',
  });
  // No sweep: a run lasts seconds, and the sweep's scan of a large dirty index would only add noise.
  const worker = cache.createWorker({ concurrency, sweep: false });
  await worker.ready;
  stop = async () => {
    await worker.close();
    await cache.close();
    await prisma.$disconnect();
    return { ...worker.counters };
  };
} else if (mode === 'noop') {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  let processed = 0;
  const worker = new Worker(
    shardKeys(prefix, 0, 1).queueName,
    async () => {
      processed++;
    },
    { connection, prefix: shardKeys(prefix, 0, 1).tag, concurrency },
  );
  await worker.waitUntilReady();
  stop = async () => {
    await worker.close();
    connection.disconnect();
    return { processed };
  };
} else {
  throw new Error(`BENCH_MODE must be 'flush', 'flush-discard' or 'noop', got ${JSON.stringify(mode)}`);
}

// CPU from here on is the worker's work, not start-up (tsx compiling, connecting).
const cpuAtReady = process.cpuUsage();
process.on('message', (message: ChildMessage) => {
  if (message.type !== 'stop') return;
  const cpu = process.cpuUsage(cpuAtReady);
  void stop().then((counters) => {
    send({ type: 'counters', counters: { ...counters, cpuMicros: cpu.user + cpu.system } });
    process.disconnect?.();
    process.exit(0);
  });
});
send({ type: 'ready' });
