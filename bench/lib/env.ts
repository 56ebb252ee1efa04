import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createPrismaClient, type PrismaClient } from '@write-behind/db';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { applyMigrations } from '../../scripts/lib/migrations.mjs';
import { machineBusyPercent, machineTicks, postgresCpuMicros } from './proc-cpu.ts';

/** The servers: the same variables and defaults as `npm test`. */
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

/** A fresh key prefix for this run; every case adds its own suffix (`<run>-w1`), all under `{<run>`. */
export function runPrefix(): string {
  return `bench${randomUUID().replaceAll('-', '').slice(0, 8)}`;
}

/** The connection string of `DATABASE_URL` with `search_path` set to one schema. */
export function schemaUrl(schema: string, base = DATABASE_URL): string {
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

export interface BenchDatabase {
  schema: string;
  url: string;
  /** Plain SQL on the schema: setup, row-write triggers, lag polling. */
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** A schema of its own with the project's migrations applied (as `createTestDatabase` does), dropped by `drop()`. */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const schema = `wbbench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await applyMigrations({ connectionString: DATABASE_URL, schema, migrationsDir: MIGRATIONS_DIR });
  const url = schemaUrl(schema);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  return {
    schema,
    url,
    pool,
    async drop() {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
    },
  };
}

/** A Prisma Client on the bench schema (adapter-pg), as the apps build one. */
export function benchPrisma(db: BenchDatabase, max = 10): PrismaClient {
  return createPrismaClient(db.url, { max });
}

/** Deletes every key whose name starts with `{<prefix>` (data, indexes, queues). Returns how many. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** Redis `used_memory`, in bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match) throw new Error('INFO memory has no used_memory line');
  return Number(match[1]);
}

/** CPU time Redis has used since it started (user + system), in microseconds: `INFO cpu`. */
export async function redisCpuMicros(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return Math.round((field('used_cpu_user') + field('used_cpu_sys')) * 1e6);
}

/**
 * Measures the servers' CPU per operation: Redis's and, when it runs on this machine, PostgreSQL's. Both
 * include every other client of those servers, so on a shared machine they are upper bounds. Also how busy
 * the whole machine was meanwhile.
 */
export async function startServerCpuMeter(
  redis: Redis,
): Promise<{ stop(ops: number): Promise<Omit<CpuPerOp, 'nodeUsPerOp'>> }> {
  const redisStart = await redisCpuMicros(redis);
  const postgresStart = await postgresCpuMicros();
  const machineStart = await machineTicks();
  return {
    async stop(ops) {
      const machineEnd = await machineTicks();
      const redisUsed = (await redisCpuMicros(redis)) - redisStart;
      const postgresEnd = await postgresCpuMicros();
      return {
        redisUsPerOp: redisUsed / ops,
        ...(postgresStart !== undefined && postgresEnd !== undefined
          ? { postgresUsPerOp: (postgresEnd - postgresStart) / ops }
          : {}),
        ...(machineStart && machineEnd
          ? { machineBusyPct: machineBusyPercent(machineStart, machineEnd) }
          : {}),
      };
    },
  };
}

/** {@link startServerCpuMeter}, plus this process's CPU (process.cpuUsage): the load generator and the library. */
export async function startCpuMeter(redis: Redis): Promise<{ stop(ops: number): Promise<CpuPerOp> }> {
  const node = process.cpuUsage();
  const servers = await startServerCpuMeter(redis);
  return {
    async stop(ops) {
      const used = process.cpuUsage(node);
      return { nodeUsPerOp: (used.user + used.system) / ops, ...(await servers.stop(ops)) };
    },
  };
}

export interface CpuPerOp {
  nodeUsPerOp: number;
  redisUsPerOp: number;
  /** Absent when PostgreSQL does not run on this machine. Resolution: 10 ms of CPU per measurement. */
  postgresUsPerOp?: number;
  /**
   * Not per operation: how busy the whole machine was over the measurement, in percent of one core (see
   * `machineBusyPercent`). Absent without /proc/stat.
   */
  machineBusyPct?: number;
}

/** One value from `INFO server` (redis_version, ...). */
export async function redisInfo(redis: Redis, field: string): Promise<string> {
  const info = await redis.info('server');
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? 'unknown';
}
