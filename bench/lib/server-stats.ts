// What the servers did during a measurement: Redis's memory and CPU, PostgreSQL's CPU when it runs on this
// machine, and how busy the machine was.
import type { Redis } from 'ioredis';
import { machineBusyPercent, machineTicks, postgresCpuMicros } from './proc-cpu.ts';

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
