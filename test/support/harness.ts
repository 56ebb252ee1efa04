import type { ResolvedEntity } from '@write-behind/core';
import {
  createWriteBehind,
  type FlushWorker,
  type FlushWorkerOptions,
  type Logger,
  type Store,
  type WriteBehind,
  type WriteBehindOptions,
} from '@write-behind/core';
import {
  dataKey,
  defineScripts,
  encodeField,
  PrismaStore,
  resolveEntities,
  shardKeys,
} from '@write-behind/core/internal';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { entities, type TestEntities } from './entities.ts';
import { cleanupRedis, createTestDatabase, REDIS_URL, type TestDatabase, testPrefix } from './env.ts';

export { entities, type TestEntities } from './entities.ts';

export interface Harness {
  cache: WriteBehind<TestEntities>;
  db: TestDatabase;
  prefix: string;
  store: Store;
  /** The entities as the store sees them (resolved against the Prisma schema), for calling the store directly. */
  resolved: { video: ResolvedEntity; settings: ResolvedEntity };
  /** The flush queue (shard 0). */
  queue: Queue;
  logs: { level: string; msg: string; obj: object }[];
  /** The Redis data key of a key (the harness has one shard). */
  key(entity: string, id: string): string;
  /** The id of the key's current flush job, as the Lua scripts make it; null when it has none. */
  jobIdOf(entity: string, id: string): Promise<string | null>;
  startWorker(options?: FlushWorkerOptions): Promise<FlushWorker>;
  close(): Promise<void>;
}

export interface HarnessOptions extends Partial<Omit<WriteBehindOptions<TestEntities>, 'entities'>> {
  /** Wraps the Prisma store, to hold or fail writes. */
  wrapStore?: (store: Store) => Store;
}

/** One isolated world per test: its own schema, its own key prefix, its cache, and workers on demand. */
export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const db = await createTestDatabase();
  const prefix = testPrefix();
  const base = new PrismaStore(db.prisma, { tombstoneTable: 'write_behind_tombstone' });
  const store = options.wrapStore ? options.wrapStore(base) : base;
  const logs: Harness['logs'] = [];
  const logger: Logger = {
    info: (obj, msg = '') => logs.push({ level: 'info', msg, obj }),
    warn: (obj, msg = '') => logs.push({ level: 'warn', msg, obj }),
    error: (obj, msg = '') => logs.push({ level: 'error', msg, obj }),
  };
  const { wrapStore: _, ...rest } = options;
  const cache = createWriteBehind<TestEntities>({
    redis: REDIS_URL,
    entities,
    prefix,
    logger,
    ...rest,
    store,
    flush: { windowMs: 100, backoffMs: 50, ...rest.flush },
  });
  const workers: FlushWorker[] = [];
  const resolved = resolveEntities(entities, base.dataModel, encodeField);
  const redis = new Redis(REDIS_URL);
  defineScripts(redis);
  const key = (entity: string, id: string) => dataKey(shardKeys(prefix, 0, 1), entity, id);
  return {
    cache,
    db,
    prefix,
    store,
    resolved: {
      video: resolved.get('video') as ResolvedEntity,
      settings: resolved.get('settings') as ResolvedEntity,
    },
    queue: cache.queues[0] as Queue,
    logs,
    key,
    jobIdOf: (entity, id) => redis.wbJobId(key(entity, id)),
    async startWorker(workerOptions = {}) {
      const worker = cache.createWorker({ closeTimeoutMs: 2000, ...workerOptions });
      workers.push(worker);
      await worker.ready;
      return worker;
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await cache.close();
      redis.disconnect();
      await cleanupRedis(prefix);
      await db.drop();
    },
  };
}

/** Reads a video row straight from PostgreSQL. */
export async function videoRow(
  db: TestDatabase,
  id: string,
): Promise<{ likes: number; views: number; version: number } | undefined> {
  const { rows } = await db.pool.query(
    'SELECT likes::int8::text, views::text, version::text FROM "Video" WHERE id = $1',
    [id],
  );
  const row = rows[0];
  return row
    ? { likes: Number(row.likes), views: Number(row.views), version: Number(row.version) }
    : undefined;
}
