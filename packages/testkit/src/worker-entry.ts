// The child side of `worker-process.ts`: a flush worker (or BullMQ's no-op ceiling) in a process of its own,
// started by `spawnWorkerProcess` with a `WorkerProcessConfig` in WB_WORKER_CONFIG.
//
// Messages to the parent: { type: 'event', event: 'ready' } once the worker is connected, the events of the
// configured store fault (`upsert-started`, `upsert-committed`), and on { type: 'stop' } the worker's
// counters ({ type: 'counters' }, with `cpuMicros`, the CPU used since ready), after which it exits. It stays
// up until then, or until it is killed. Warnings and errors of the library go to stderr.
import { createWriteBehind, DEFAULT_OPTIONS, type Store, type StoreEntity } from '@write-behind/core';
import { PrismaStore, shardKeys } from '@write-behind/core/internal';
import { createPrismaClient } from '@write-behind/db';
import { Worker } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { chaosEntities, entities, eventEntities, type TestEntities } from './entities.ts';
import { REDIS_URL } from './env.ts';
import { forwardingStore } from './forwarding-store.ts';
import { stderrLogger } from './stderr-logger.ts';
import {
  type FromWorker,
  type ToWorker,
  WORKER_CONFIG_VARIABLE,
  type WorkerEvent,
  type WorkerProcessConfig,
} from './worker-process.ts';

const configText = process.env[WORKER_CONFIG_VARIABLE];
if (!configText)
  throw new Error(`worker-entry.ts needs ${WORKER_CONFIG_VARIABLE} (start it with spawnWorkerProcess)`);
const config = JSON.parse(configText) as WorkerProcessConfig;
const redisUrl = config.redisUrl ?? REDIS_URL;

const send = (message: FromWorker) => process.send?.(message);
const report = (event: WorkerEvent) => send({ type: 'event', event });

const logger = stderrLogger(`worker ${process.pid}`);

/** Settles when the parent sends `go` (the `hold-add` store waits for it). */
let release: () => void = () => {};
const go = new Promise<void>((resolve) => {
  release = resolve;
});
/** Whether a `hang-after-` store hangs after a commit yet: at once, or with `hangAfterGo` once `go` came. */
let armed = !config.hangAfterGo;
void go.then(() => {
  armed = true;
});

/**
 * The configured store wrapped around a Prisma store; `undefined` for the plain one, which the cache builds
 * itself from `prisma`, as the apps do.
 */
function configuredStore(inner: Store): Store | undefined {
  const never = new Promise<never>(() => {});
  let reported = false;
  const once = (event: WorkerEvent) => {
    if (!reported) report(event);
    reported = true;
  };
  type HeldWrite = 'upsert' | 'append' | 'add';
  // The write's arguments pass through untouched, whatever its rows' type.
  type Write = (entity: StoreEntity, rows: never) => Promise<void>;
  /** The store's methods of a write: events go as runs, or as rows (see `Store.appendRuns`). */
  const methodsOf = (write: HeldWrite) =>
    write === 'append' ? (['append', 'appendRuns'] as const) : [write];
  const overriding = (write: HeldWrite, make: (method: keyof Store) => Write): Store =>
    forwardingStore(inner, Object.fromEntries(methodsOf(write).map((method) => [method, make(method)])));
  /** `write` never settles: reports `<write>-started` on the first call. */
  const hangOn = (write: HeldWrite): Store =>
    overriding(write, () => () => {
      once(`${write}-started`);
      return never;
    });
  /** `write` commits, then, once armed, never settles: reports `<write>-committed` on the first such call. */
  const hangAfter = (write: HeldWrite): Store =>
    overriding(write, (method) => async (entity, rows) => {
      await (inner[method] as Write | undefined)?.call(inner, entity, rows);
      if (!armed) return;
      once(`${write}-committed`);
      return never;
    });
  switch (config.store ?? 'prisma') {
    case 'prisma':
      return undefined;
    case 'hang-on-upsert':
      return hangOn('upsert');
    case 'hang-after-upsert':
      return hangAfter('upsert');
    case 'hang-on-append':
      return hangOn('append');
    case 'hang-after-append':
      return hangAfter('append');
    case 'hang-on-add':
      return hangOn('add');
    case 'hang-after-add':
      return hangAfter('add');
    case 'hold-add':
      return forwardingStore(inner, {
        add: async (entity, rows) => {
          once('add-started');
          await go;
          return inner.add?.(entity, rows);
        },
      });
    case 'discard-writes':
      return forwardingStore(inner, { upsert: async () => {}, delete: async () => {} });
    default:
      throw new Error(`unknown store ${JSON.stringify(config.store)}`);
  }
}

/** Starts the worker; resolves with how to stop it, returning its counters. */
async function start(): Promise<() => Promise<Record<string, number>>> {
  const { concurrency, lockDurationMs, stalledIntervalMs } = config.worker ?? {};
  if ((config.mode ?? 'flush') === 'noop') {
    const shard = shardKeys(config.prefix, 0, 1);
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    let processed = 0;
    const worker = new Worker(
      shard.queueName,
      async () => {
        processed++;
      },
      {
        connection,
        prefix: shard.tag,
        ...(concurrency ? { concurrency } : {}),
        ...(lockDurationMs ? { lockDuration: lockDurationMs } : {}),
        ...(stalledIntervalMs ? { stalledInterval: stalledIntervalMs } : {}),
      },
    );
    await worker.waitUntilReady();
    return async () => {
      await worker.close();
      connection.disconnect();
      return { processed };
    };
  }
  if (!config.databaseUrl) throw new Error('a flush worker process needs databaseUrl');
  const prisma = createPrismaClient(config.databaseUrl);
  const store = configuredStore(new PrismaStore(prisma, { tombstoneTable: DEFAULT_OPTIONS.tombstoneTable }));
  // A Cluster passed in is the caller's to close, unlike a URL.
  const cluster = config.clusterNodes ? new Cluster(config.clusterNodes) : undefined;
  const cache = createWriteBehind<TestEntities>({
    redis: cluster ?? redisUrl,
    ...(config.shards ? { shards: config.shards } : {}),
    // Each set is a superset of the one before: its worker flushes every job the smaller one's would.
    entities: { demo: entities, events: eventEntities, chaos: chaosEntities }[config.entities ?? 'demo'],
    prefix: config.prefix,
    ...(store ? { store } : { prisma }),
    ...(config.flush ? { flush: config.flush } : {}),
    logger,
  });
  const worker = cache.createWorker({
    ...config.worker,
    // Recovery must come from BullMQ's stalled-job check alone, and in the benchmark the sweep's scan of a
    // large dirty index would only add noise.
    sweep: false,
  });
  await worker.ready;
  return async () => {
    await worker.close();
    await cache.close();
    cluster?.disconnect();
    await prisma.$disconnect();
    return { ...worker.counters };
  };
}

// A parent that is gone cannot stop or kill this worker any more: go with it rather than linger.
process.once('disconnect', () => process.exit(0));
const stop = await start();
// CPU from here on is the worker's work, not start-up (tsx compiling, connecting).
const cpuAtReady = process.cpuUsage();
process.on('message', (message: ToWorker) => {
  if (message.type === 'go') release();
  if (message.type !== 'stop') return;
  const cpu = process.cpuUsage(cpuAtReady);
  void stop().then((counters) => {
    send({ type: 'counters', counters: { ...counters, cpuMicros: cpu.user + cpu.system } });
    process.disconnect?.();
    process.exit(0);
  });
});
report('ready');
