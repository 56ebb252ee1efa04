import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createPrismaClient, type PrismaClient } from '@write-behind/db';
import { Redis } from 'ioredis';
import pg from 'pg';
import { applyMigrations } from '../../scripts/lib/migrations.mjs';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

/** A fresh key prefix: every test's Redis keys and queues live under it. */
export function testPrefix(): string {
  return `t${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

/** The connection string of `DATABASE_URL` with `search_path` set to one schema. */
export function schemaUrl(schema: string, base = DATABASE_URL): string {
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

export interface TestDatabase {
  schema: string;
  url: string;
  /** For assertions: plain SQL on the test's schema. */
  pool: pg.Pool;
  prisma: PrismaClient;
  drop(): Promise<void>;
}

/** A schema of its own with the project's migrations applied, dropped by `drop()`. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const schema = `wbt_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await applyMigrations({
    connectionString: DATABASE_URL,
    schema,
    migrationsDir: MIGRATIONS_DIR,
    log: () => {},
  });
  const url = schemaUrl(schema);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const prisma = createPrismaClient(url);
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

/** Deletes every Redis key under a prefix (data, index and queues). */
export async function cleanupRedis(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Polls `check` until it is true or the deadline passes; returns whether it became true. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
  intervalMs = 25,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
