import assert from 'node:assert/strict';
import type { EntityDefinitions, PrismaClientLike } from '@write-behind/core';
import {
  createWriteBehind,
  DEFAULT_OPTIONS,
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
  type ResolvedEntity,
  resolveEntities,
  shardKeys,
} from '@write-behind/core/internal';
import type { PrismaClient } from '@write-behind/db';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { entities, type TestEntities } from './entities.ts';
import {
  cleanupRedis,
  createTestDatabase,
  type Disconnectable,
  REDIS_URL,
  type TestDatabase,
  type TestSchema,
  testPrefix,
} from './env.ts';
import { spawnWorkerProcess, type WorkerProcess, type WorkerProcessConfig } from './worker-process.ts';

/** The harness's flush timing, short so that tests wait little; worker processes of a test use it too. */
export const HARNESS_FLUSH = { windowMs: 100, backoffMs: 50 };
/** Short enough that a dead worker's jobs are recovered in about two seconds. */
export const STALLED = { lockDurationMs: 1000, stalledIntervalMs: 500 };

/**
 * The config of a worker process on a test world's prefix and schema: the harness's flush timing and the
 * short lock of {@link STALLED}, so that its jobs are recovered soon after it is killed.
 */
export function testWorkerConfig(
  world: { prefix: string; db: Pick<TestDatabase, 'url'> },
  config: Partial<WorkerProcessConfig> = {},
): WorkerProcessConfig {
  return {
    prefix: world.prefix,
    databaseUrl: world.db.url,
    flush: HARNESS_FLUSH,
    ...config,
    worker: { ...STALLED, ...config.worker },
  };
}

/** What every test world has, whatever its schema: see {@link createWorld}. */
export interface World<E extends EntityDefinitions, P extends Disconnectable = PrismaClient> {
  cache: WriteBehind<E>;
  db: TestDatabase<P>;
  prefix: string;
  /** The store the cache uses (wrapped when `wrapStore` was given). */
  store: Store;
  /** An entity as the store sees it (resolved against the Prisma schema), for calling the store directly. */
  resolvedEntity(name: keyof E & string): ResolvedEntity;
  /** The flush queue (a world has one shard). */
  queue: Queue;
  /** A connection of its own, with the library's scripts, for assertions on Redis. */
  redis: Redis;
  logs: { level: string; msg: string; obj: object }[];
  /** The Redis data key of a canonical id. */
  dataKey(entity: string, id: string): string;
  /** The id of the key's current flush job, as the Lua scripts make it; null when it has none. */
  jobIdOf(entity: string, id: string): Promise<string | null>;
  startWorker(options?: FlushWorkerOptions): Promise<FlushWorker>;
  close(): Promise<void>;
}

export interface WorldOptions<E extends EntityDefinitions>
  extends Partial<Omit<WriteBehindOptions<E>, 'entities'>> {
  /** Wraps the Prisma store, to count, hold or fail its calls. */
  wrapStore?: (store: Store) => Store;
}

/**
 * One isolated world: a fresh schema with `schema`'s migrations (the demo's by default), a key prefix of its
 * own, a cache of `entities` over it with a recording logger, and flush workers on demand.
 */
export async function createWorld<const E extends EntityDefinitions, P extends Disconnectable = PrismaClient>(
  entities: E,
  options: WorldOptions<E> & { schema?: TestSchema<P> } = {},
): Promise<World<E, P>> {
  const { wrapStore, schema, ...rest } = options;
  const db = (await (schema ? createTestDatabase(schema) : createTestDatabase())) as TestDatabase<P>;
  // A prefix the test chose (on a cluster, one whose shards spread over every master) is the world's too.
  const prefix = rest.prefix ?? testPrefix();
  const base = new PrismaStore(db.prisma as unknown as PrismaClientLike, {
    tombstoneTable: DEFAULT_OPTIONS.tombstoneTable,
  });
  const store = wrapStore ? wrapStore(base) : base;
  const logs: World<E, P>['logs'] = [];
  const logger: Logger = {
    info: (obj, msg = '') => logs.push({ level: 'info', msg, obj }),
    warn: (obj, msg = '') => logs.push({ level: 'warn', msg, obj }),
    error: (obj, msg = '') => logs.push({ level: 'error', msg, obj }),
  };
  const cache = createWriteBehind<E>({
    redis: REDIS_URL,
    entities,
    prefix,
    logger,
    ...rest,
    store,
    flush: { ...HARNESS_FLUSH, ...rest.flush },
  });
  const workers: FlushWorker[] = [];
  const resolved = resolveEntities(entities, base.dataModel, encodeField);
  const redis = new Redis(REDIS_URL);
  defineScripts(redis);
  const shard = shardKeys(prefix, 0, 1);
  const key = (entity: string, id: string) => dataKey(shard, entity, id);
  return {
    cache,
    db,
    prefix,
    store,
    resolvedEntity: (name) => resolved.get(name) as ResolvedEntity,
    queue: cache.queues[0] as Queue,
    redis,
    logs,
    dataKey: key,
    jobIdOf: (entity, id) => redis.wbJobId(key(entity, id), shard.dataKeyPrefixLength),
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

/** The demo schema's world, as most integration tests use it. */
export interface Harness extends World<TestEntities> {
  resolved: { video: ResolvedEntity; settings: ResolvedEntity };
  /** The Redis data key of a key (the harness has one shard). */
  key(entity: string, id: string): string;
  /**
   * A flush worker in a child process on this prefix and schema ({@link testWorkerConfig} with `config`), to
   * SIGKILL mid-flush; `close()` kills it if the test has not.
   */
  spawnWorkerProcess(config?: Partial<WorkerProcessConfig>): WorkerProcess;
}

export type HarnessOptions = WorldOptions<TestEntities>;

/** One isolated world per test on the demo schema: its own schema, key prefix, cache, and workers on demand. */
export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const world = await createWorld(entities, options);
  const processes: WorkerProcess[] = [];
  return {
    ...world,
    resolved: { video: world.resolvedEntity('video'), settings: world.resolvedEntity('settings') },
    key: world.dataKey,
    spawnWorkerProcess(config = {}) {
      const child = spawnWorkerProcess(testWorkerConfig(world, config));
      processes.push(child);
      return child;
    },
    async close() {
      await Promise.all(processes.map((child) => child.kill()));
      await world.close();
    },
  };
}

/** A cache on a schema and key prefix of its own, with no worker: see {@link createTestCache}. */
export interface TestCache<E extends EntityDefinitions> {
  cache: WriteBehind<E>;
  db: TestDatabase;
  prefix: string;
  /** Closes the cache, deletes its keys and drops its schema. */
  close(): Promise<void>;
}

/**
 * A cache of `options.entities` over Prisma on a fresh schema and key prefix, with no worker: where a test
 * needs other entities or options than the harness's (the demo's entities behind an app, several shards).
 */
export async function createTestCache<const E extends EntityDefinitions>(
  options: Omit<WriteBehindOptions<E>, 'redis' | 'prisma' | 'store' | 'prefix'>,
): Promise<TestCache<E>> {
  const db = await createTestDatabase();
  const prefix = testPrefix();
  const cache = createWriteBehind<E>({ redis: REDIS_URL, prisma: db.prisma, prefix, ...options });
  return {
    cache,
    db,
    prefix,
    async close() {
      await cache.close();
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

/**
 * Reads a settings row straight from PostgreSQL. Its version comes from the shard's clock (about 1.8e15): read
 * as text, beyond `::int`, and exact as a number below 2^53.
 */
export async function settingsRow(
  db: TestDatabase,
  id: string,
): Promise<{ theme: string; language: string; notifications: boolean; version: number } | undefined> {
  const { rows } = await db.pool.query(
    'SELECT theme, language, notifications, version::text FROM user_settings WHERE user_id = $1',
    [id],
  );
  const row = rows[0];
  if (!row) return undefined;
  const version = Number(row.version);
  assert.ok(Number.isSafeInteger(version), `version ${row.version}`);
  return { ...row, version };
}

/**
 * Counts the row writes (inserts and updates) of each video from now on, by a trigger on "Video"; returns how
 * many a video has had. How a test sees that a rerun, a retry or a replay wrote nothing.
 */
export async function countVideoRowWrites(db: TestDatabase): Promise<(id: string) => Promise<number>> {
  await db.pool.query(`
    CREATE TABLE row_writes (id text);
    CREATE FUNCTION log_row_write() RETURNS trigger AS $$
      BEGIN INSERT INTO row_writes (id) VALUES (NEW.id); RETURN NEW; END $$ LANGUAGE plpgsql;
    CREATE TRIGGER video_row_writes AFTER INSERT OR UPDATE ON "Video" FOR EACH ROW EXECUTE FUNCTION log_row_write();
  `);
  return async (id) => {
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM row_writes WHERE id = $1',
      [id],
    );
    return rows[0]?.n ?? 0;
  };
}
