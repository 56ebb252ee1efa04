// R1: what faster recovery from a killed worker costs in Redis commands. BullMQ's stalled-job check and lock
// renewals run more often with a shorter lock and check interval; this counts every Redis command (those inside
// Lua scripts too, from INFO commandstats) with BullMQ's old defaults (lock 30 s, check 30 s) and the library's
// defaults, side by side: at idle (a worker running, no writes), under a paced write load, and under the same
// load with a slow database (flushes held 1.5 s, so that running jobs need their locks renewed).
//
// Each setting gets a private redis-server (testkit `startRedis`), so the counts are its alone; both run at
// once, each with its own cache and flush worker in this process, on the same PostgreSQL schema (different ids).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createWriteBehind,
  DEFAULT_OPTIONS,
  DEFAULT_WORKER_OPTIONS,
  type FlushWorker,
  type WriteBehind,
} from '@write-behind/core';
import { PrismaStore } from '@write-behind/core/internal';
import type { PrismaClient } from '@write-behind/db';
import { entities, forwardingStore, type RedisServer, startRedis } from '@write-behind/testkit';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import type { BenchContext, CaseResult } from '../lib/context.ts';
import { type BenchEntities, benchLogger, benchPrisma } from '../lib/entities.ts';
import { runLoad } from '../lib/load.ts';
import { markdownTable } from '../lib/report.ts';

const IDLE_MS = 30_000;
const LOAD_MS = 10_000;
/** Acknowledged increments per second, per setting, over KEYS keys. */
const RATE = 800;
const KEYS = 2000;
/** How long each flush statement is held in the slow-database phase: longer than a quarter of the new lock. */
const SLOW_UPSERT_MS = 1500;
const DRAIN_TIMEOUT_MS = 30_000;

interface Setting {
  label: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
}

const SETTINGS: Setting[] = [
  { label: 'BullMQ defaults (lock 30 s, check 30 s)', lockDurationMs: 30_000, stalledIntervalMs: 30_000 },
  {
    label: `library defaults (lock ${DEFAULT_WORKER_OPTIONS.lockDurationMs / 1000} s, check ${DEFAULT_WORKER_OPTIONS.stalledIntervalMs / 1000} s)`,
    lockDurationMs: DEFAULT_WORKER_OPTIONS.lockDurationMs,
    stalledIntervalMs: DEFAULT_WORKER_OPTIONS.stalledIntervalMs,
  },
];

const PHASES = ['idle', 'load', 'slow database'] as const;
type Phase = (typeof PHASES)[number];

/** Per phase: Redis commands per second, script calls per second, stalled jobs seen. */
interface PhaseCost {
  commandsPerSec: number;
  scriptCallsPerSec: number;
  stalled: number;
}

interface Arm {
  setting: Setting;
  server: RedisServer;
  stats: Redis;
  cache: WriteBehind<BenchEntities>;
  worker: FlushWorker;
  events: QueueEvents;
  stalled: number;
  slow: { on: boolean };
  costs: Partial<Record<Phase, PhaseCost>>;
}

/** Calls per command from INFO commandstats (commands run by Lua scripts included). */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1] as string, Number(match[2]));
  }
  return calls;
}

/** The benchmark's own commands, left out of the counts: INFO (this case) and XREAD (its QueueEvents). */
const OWN_COMMANDS = new Set(['info', 'xread']);

function costBetween(
  before: Map<string, number>,
  after: Map<string, number>,
  seconds: number,
): Omit<PhaseCost, 'stalled'> {
  let commands = 0;
  let scriptCalls = 0;
  for (const [name, calls] of after) {
    const delta = calls - (before.get(name) ?? 0);
    if (OWN_COMMANDS.has(name)) continue;
    commands += delta;
    if (name === 'evalsha' || name === 'eval') scriptCalls += delta;
  }
  return { commandsPerSec: commands / seconds, scriptCallsPerSec: scriptCalls / seconds };
}

async function startArm(ctx: BenchContext, prisma: PrismaClient, setting: Setting, index: number) {
  const server = await startRedis(['--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction']);
  const redisUrl = `redis://127.0.0.1:${server.port}`;
  const slow = { on: false };
  const inner = new PrismaStore(prisma, { tombstoneTable: DEFAULT_OPTIONS.tombstoneTable });
  const store = forwardingStore(inner, {
    upsert: async (entity, rows) => {
      if (slow.on) await sleep(SLOW_UPSERT_MS);
      return inner.upsert(entity, rows);
    },
  });
  const prefix = `${ctx.prefix}-r1-${index}`;
  const cache = createWriteBehind<BenchEntities>({
    redis: redisUrl,
    store,
    entities,
    prefix,
    logger: benchLogger,
  });
  const worker = cache.createWorker({
    lockDurationMs: setting.lockDurationMs,
    stalledIntervalMs: setting.stalledIntervalMs,
    // The sweep runs every 30 s whatever the lock: left out, so that a 30 s window holds no run of it.
    sweep: false,
  });
  await worker.ready;
  const queue = cache.queues[0];
  if (!queue) throw new Error('R1: the cache has no queue');
  const events = new QueueEvents(queue.name, {
    prefix: queue.opts.prefix,
    connection: { host: '127.0.0.1', port: server.port },
  });
  await events.waitUntilReady();
  const arm: Arm = {
    setting,
    server,
    stats: new Redis(server.port, '127.0.0.1'),
    cache,
    worker,
    events,
    stalled: 0,
    slow,
    costs: {},
  };
  events.on('stalled', () => {
    arm.stalled++;
  });
  return arm;
}

async function measure(arms: Arm[], phase: Phase, durationMs: number, during: (arm: Arm) => Promise<void>) {
  const before = await Promise.all(arms.map((arm) => commandCalls(arm.stats)));
  const stalledBefore = arms.map((arm) => arm.stalled);
  const started = performance.now();
  await Promise.all(arms.map((arm) => during(arm)));
  const remaining = durationMs - (performance.now() - started);
  if (remaining > 0) await sleep(remaining);
  const seconds = (performance.now() - started) / 1000;
  const after = await Promise.all(arms.map((arm) => commandCalls(arm.stats)));
  arms.forEach((arm, i) => {
    arm.costs[phase] = {
      ...costBetween(before[i] as Map<string, number>, after[i] as Map<string, number>, seconds),
      stalled: arm.stalled - (stalledBefore[i] as number),
    };
  });
}

function pacedLoad(arm: Arm, seed: number): Promise<unknown> {
  let state = seed;
  const nextKey = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state % KEYS;
  };
  return runLoad({
    concurrency: 64,
    total: Math.round((RATE * LOAD_MS) / 1000),
    maxMs: LOAD_MS,
    ratePerSec: RATE,
    op: () => arm.cache.increment('video', `r1-${arm.setting.lockDurationMs}-${nextKey()}`, 'likes'),
  });
}

export async function recoveryCost(ctx: BenchContext): Promise<CaseResult[]> {
  const prisma = benchPrisma(ctx.db);
  const arms: Arm[] = [];
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const loopMaxMs: Partial<Record<Phase, number>> = {};
  const phase = async (name: Phase, durationMs: number, during: (arm: Arm) => Promise<void>) => {
    ctx.progress(`R1: ${name}, ${durationMs / 1000} s`);
    loop.reset();
    loop.enable();
    await measure(arms, name, durationMs, during);
    loop.disable();
    loopMaxMs[name] = loop.max / 1e6;
  };
  try {
    for (const [i, setting] of SETTINGS.entries()) arms.push(await startArm(ctx, prisma, setting, i));
    await phase('idle', IDLE_MS, async () => {});
    await phase('load', LOAD_MS, async (arm) => {
      await pacedLoad(arm, 7);
    });
    await Promise.all(arms.map((arm) => arm.cache.drain({ timeoutMs: DRAIN_TIMEOUT_MS })));
    for (const arm of arms) arm.slow.on = true;
    await phase('slow database', LOAD_MS, async (arm) => {
      await pacedLoad(arm, 13);
    });
  } finally {
    for (const arm of arms) {
      arm.slow.on = false;
      await arm.events.close();
      await arm.worker.close();
      await arm.cache.close();
      arm.stats.disconnect();
      await arm.server.kill();
    }
    await prisma.$disconnect();
  }

  const [old, current] = arms as [Arm, Arm];
  const rate = (cost: PhaseCost | undefined) => (cost ? cost.commandsPerSec : Number.NaN);
  const fixed = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
  ctx.progress(
    `R1: Redis commands per second (INFO commandstats, scripts' commands included)\n${markdownTable(
      ['phase', old.setting.label, current.setting.label, 'stalled jobs (old / new)', 'max event-loop delay'],
      PHASES.map((name) => [
        name,
        `${fixed(rate(old.costs[name]))} (${fixed(old.costs[name]?.scriptCallsPerSec ?? Number.NaN)} script calls)`,
        `${fixed(rate(current.costs[name]))} (${fixed(current.costs[name]?.scriptCallsPerSec ?? Number.NaN)} script calls)`,
        `${old.costs[name]?.stalled ?? '?'} / ${current.costs[name]?.stalled ?? '?'}`,
        `${fixed(loopMaxMs[name] ?? Number.NaN)} ms`,
      ]),
    )}`,
  );
  return PHASES.map((name) => {
    const before = old.costs[name];
    const after = current.costs[name];
    const metrics: Record<string, number> = { eventLoopMaxMs: loopMaxMs[name] ?? Number.NaN };
    for (const [key, cost] of [
      ['old', before],
      ['new', after],
    ] as const) {
      if (!cost) continue;
      metrics[`${key}CommandsPerSec`] = cost.commandsPerSec;
      metrics[`${key}ScriptCallsPerSec`] = cost.scriptCallsPerSec;
      metrics[`${key}Stalled`] = cost.stalled;
    }
    return {
      id: `R1 (${name})`,
      title: `Redis commands/s, ${name}${name === 'idle' ? '' : ` at ${RATE} increments/s`}: lock/check 30 s/30 s vs ${DEFAULT_WORKER_OPTIONS.lockDurationMs / 1000} s/${DEFAULT_WORKER_OPTIONS.stalledIntervalMs / 1000} s`,
      ...(after ? { rate: after.commandsPerSec, rateUnit: 'cmds/s (new)' } : {}),
      notes: [
        `30 s/30 s: ${fixed(rate(before))} cmds/s; new: ${fixed(rate(after))} cmds/s (${rate(after) >= rate(before) ? '+' : ''}${fixed(rate(after) - rate(before))})`,
        `stalled jobs ${before?.stalled ?? '?'} / ${after?.stalled ?? '?'}`,
        `max event-loop delay ${fixed(loopMaxMs[name] ?? Number.NaN)} ms`,
      ],
      metrics,
    };
  });
}
