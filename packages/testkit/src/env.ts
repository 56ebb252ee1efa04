// The servers the tests, the benchmark and the chaos scripts run against, and the isolation each of them gets
// there: a fresh key prefix in Redis and a fresh schema in PostgreSQL, both removed afterwards.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createPrismaClient, type PrismaClient } from '@write-behind/db';
import { Redis } from 'ioredis';
import pg from 'pg';
import { applyMigrations } from './migrations.mjs';

/** The servers: the same variables and defaults as `npm test` (an empty variable counts as unset). */
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
const MIGRATIONS_DIR = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

/** `label` followed by `hexDigits` random hex digits: a name no other run uses. */
export function uniqueName(label: string, hexDigits = 12): string {
  return `${label}${randomUUID().replaceAll('-', '').slice(0, hexDigits)}`;
}

/** A fresh key prefix: every test's Redis keys and queues live under it. */
export function testPrefix(): string {
  return uniqueName('t');
}

/** The connection string of `base` (`DATABASE_URL`) with `search_path` set to one schema. */
export function schemaUrl(schema: string, base = DATABASE_URL): string {
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/** What a test database needs of a Prisma Client. */
export interface Disconnectable {
  $disconnect(): Promise<void>;
}

export interface TestDatabase<P extends Disconnectable = PrismaClient> {
  schema: string;
  /** `DATABASE_URL` on this schema. */
  url: string;
  /** For assertions and setup: plain SQL on the schema. */
  pool: pg.Pool;
  prisma: P;
  drop(): Promise<void>;
}

/** Another Prisma schema than the demo's: its migrations folder and a client generated from it. */
export interface TestSchema<P extends Disconnectable> {
  migrationsDir: string;
  createPrisma(url: string): P;
}

/**
 * A schema of its own with the project's migrations applied (or those of `testSchema`, with its client),
 * dropped by `drop()`.
 */
export async function createTestDatabase(): Promise<TestDatabase>;
export async function createTestDatabase<P extends Disconnectable>(
  testSchema: TestSchema<P>,
): Promise<TestDatabase<P>>;
export async function createTestDatabase(
  testSchema: TestSchema<Disconnectable> = {
    migrationsDir: MIGRATIONS_DIR,
    createPrisma: createPrismaClient,
  },
): Promise<TestDatabase<Disconnectable>> {
  const schema = uniqueName('wbt_');
  await applyMigrations({ connectionString: DATABASE_URL, schema, migrationsDir: testSchema.migrationsDir });
  const url = schemaUrl(schema);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const prisma = testSchema.createPrisma(url);
  return {
    schema,
    url,
    pool,
    prisma,
    async drop() {
      await prisma.$disconnect();
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
    },
  };
}

/**
 * The SCAN pattern of every key under `prefix`, whatever the shard: each shard's keys start with its hash tag
 * `{<prefix>:<shard>}` (see `shardKeys`). `prefix` may itself end in `*`, to match every prefix that starts
 * with it.
 */
export function prefixPattern(prefix: string): string {
  return `{${prefix}:*`;
}

/**
 * The keys matching `pattern`, a page (one SCAN reply, about `count` keys looked at) at a time: never KEYS,
 * which blocks a shared server. A page may be empty; a key may come twice if it changes meanwhile.
 */
export async function* scanPages(redis: Redis, pattern: string, count = 1000): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', count);
    cursor = next;
    yield keys;
  } while (cursor !== '0');
}

/** Every key matching `pattern` ({@link scanPages}), for tests that check what the cache left behind. */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of scanPages(redis, pattern)) keys.push(...page);
  return keys;
}

/** Deletes every Redis key under `prefix` (data, indexes, queues; see {@link prefixPattern}). Returns how many. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  for await (const keys of scanPages(redis, prefixPattern(prefix), 5000)) {
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  }
  return deleted;
}

/** {@link deleteKeys} over a connection of its own to `REDIS_URL`. */
export async function cleanupRedis(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await deleteKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}
