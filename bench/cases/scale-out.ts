// S1: scale-out. The same backlog of distinct dirty keys flushed by 1 and by 2 worker processes, against one
// private redis-server and against a private 3-master Redis Cluster (each master with one replica), all with
// the same 6 shards, so the topology is the only change. For each drain: keys/s, and the CPU per key of each
// worker process, each Redis node and PostgreSQL, and how busy the machine was. From the CPU per key (which
// does not depend on how many cores this machine has, unlike keys/s) a capacity model: keys/s per worker
// core, per Redis core (busiest master), rows/s per PostgreSQL core, and what a given rate needs.
//
// The servers are private (testkit `startRedis`, `startRedisCluster`) so that their INFO cpu is this case's
// alone. PostgreSQL is the shared one: its CPU counts every client of it, an upper bound.
import { createWriteBehind, type WriteBehind } from '@write-behind/core';
import { shardOf } from '@write-behind/core/internal';
import {
  entities,
  mastersOfShards,
  type RedisCluster,
  type RedisServer,
  spreadPrefix,
  startRedis,
  startRedisCluster,
  type WorkerProcess,
  waitFor,
} from '@write-behind/testkit';
import type { Queue } from 'bullmq';
import { type Cluster, Redis } from 'ioredis';
import {
  busiestUsPerKey,
  type CostPerKey,
  type CpuShare,
  capacityRates,
  planCapacity,
  poolShares,
  usPerKey,
} from '../lib/capacity.ts';
import type { BenchContext, CaseResult } from '../lib/context.ts';
import {
  BENCH_BACKLOG_LIMIT,
  type BenchEntities,
  benchLogger,
  benchPrisma,
  startBenchWorker,
} from '../lib/entities.ts';
import { runLoad } from '../lib/load.ts';
import { machineBusyPercent, machineTicks, postgresCpuMicros, processCpuMicros } from '../lib/proc-cpu.ts';
import { markdownTable } from '../lib/report.ts';
import { redisCpuMicros } from '../lib/server-stats.ts';

/** The same shard count on both topologies: on the cluster two shards per master. */
const SHARDS = 6;
const DRAIN_TIMEOUT_MS = 240_000;
const PRELOAD_IN_FLIGHT = 256;
/** Keys each fresh set of workers flushes before the timed drain. */
const WARMUP_KEYS = 3_000;
/** Worked examples of the capacity model, in distinct dirty keys per second. */
const EXAMPLE_RATES = [50_000, 200_000];
/** Share of each core the worked examples plan to use. */
const UTILIZATION = 0.7;

type TopologyName = '1 Redis' | '3-master cluster';

interface RedisNode {
  port: number;
  stats: Redis;
}

interface Topology {
  name: TopologyName;
  /** The connection the preloading cache uses. */
  connection: string | Cluster;
  /** How a worker process reaches it: its own URL or nodes, never the benchmark's shared Redis. */
  worker: { redisUrl: string } | { clusterNodes: { host: string; port: number }[] };
  nodes: RedisNode[];
  /** The master's port of each shard of `prefix`, shard by shard. */
  mastersOfShards(prefix: string): Promise<number[]>;
  /** A prefix of this case whose shards the masters share evenly. */
  prefixFor(base: string): Promise<string>;
  stop(): Promise<void>;
}

interface Arm {
  topology: Topology;
  workers: number;
  prefix: string;
  ids: string[];
  /** Flushed by the fresh workers before the clock starts. */
  warmupIds: string[];
  cache: WriteBehind<BenchEntities>;
  /** The master's port of each shard. */
  shardMasters: number[];
  rounds: Drain[];
}

/** One timed drain. */
interface Drain {
  keys: number;
  ms: number;
  /** One per worker process. */
  workers: CpuShare[];
  /** One per master (ports in `masterPorts` order), keys = the keys of its shards. */
  masters: CpuShare[];
  masterPorts: number[];
  /** All replicas together. */
  replicasUs: number;
  postgresUs?: number;
  rowsWritten: number;
  statements: number;
  machineBusyPct?: number;
}

const REDIS_ARGS = ['--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'];

async function singleTopology(): Promise<Topology> {
  const server: RedisServer = await startRedis(REDIS_ARGS);
  const url = `redis://127.0.0.1:${server.port}`;
  const stats = new Redis(server.port, '127.0.0.1');
  return {
    name: '1 Redis',
    connection: url,
    worker: { redisUrl: url },
    nodes: [{ port: server.port, stats }],
    mastersOfShards: async () => Array.from({ length: SHARDS }, () => server.port),
    prefixFor: async (base) => base,
    async stop() {
      stats.disconnect();
      await server.kill();
    },
  };
}

async function clusterTopology(): Promise<Topology> {
  const cluster: RedisCluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  const connection = cluster.connect();
  const nodes = cluster.nodes.map((n) => ({ port: n.port, stats: new Redis(n.port, '127.0.0.1') }));
  return {
    name: '3-master cluster',
    connection,
    worker: { clusterNodes: cluster.startupNodes },
    nodes,
    mastersOfShards: (prefix) => mastersOfShards(cluster, connection, prefix, SHARDS),
    // Shards spread evenly, so that the busiest master carries a third of the keys, not most of them.
    prefixFor: (base) =>
      spreadPrefix(cluster, connection, SHARDS, { name: (attempt) => `${base}-${attempt}` }),
    async stop() {
      for (const node of nodes) node.stats.disconnect();
      connection.disconnect();
      await cluster.stop();
    },
  };
}

async function nodeCpu(nodes: RedisNode[]): Promise<Map<number, number>> {
  const readings = await Promise.all(
    nodes.map(async (n) => [n.port, await redisCpuMicros(n.stats)] as const),
  );
  return new Map(readings);
}

async function role(node: RedisNode): Promise<'master' | 'replica'> {
  return /^role:master/m.test(await node.stats.info('replication')) ? 'master' : 'replica';
}

/** One increment of each of `ids`; any error fails the case. */
async function preload(arm: Arm, ids: readonly string[]): Promise<void> {
  const load = await runLoad({
    concurrency: PRELOAD_IN_FLIGHT,
    total: ids.length,
    maxMs: 300_000,
    op: (index) => arm.cache.increment('video', ids[index] as string, 'likes'),
  });
  if (load.errors > 0) throw new Error(`S1 preload: ${load.errors} errors, first: ${load.firstError}`);
}

/**
 * One timed drain: the workers start and flush a warm-up set first (a fresh process's first flushes pay for
 * the JIT and the first Prisma query), then the queues pause, the backlog is written, and the clock and the
 * CPU meters run from the moment the queues resume until no key is dirty.
 */
async function drain(ctx: BenchContext, arm: Arm, windowMs: number): Promise<Drain> {
  const queues = arm.cache.queues as Queue[];
  const { topology } = arm;
  const idle = async () => (await arm.cache.stats()).dirtyKeys === 0;
  let children: WorkerProcess[] = [];
  try {
    children = await Promise.all(
      Array.from({ length: arm.workers }, () =>
        startBenchWorker(
          // A cluster's worker ignores the URL for `clusterNodes`.
          { ...ctx, redisUrl: 'redisUrl' in topology.worker ? topology.worker.redisUrl : ctx.redisUrl },
          {
            prefix: arm.prefix,
            shards: SHARDS,
            flush: { windowMs },
            ...('clusterNodes' in topology.worker ? { clusterNodes: topology.worker.clusterNodes } : {}),
          },
        ),
      ),
    );
    await preload(arm, arm.warmupIds);
    await waitFor('S1 warm-up', idle, DRAIN_TIMEOUT_MS, 50);
    // Paused while the backlog is written and until every flush job is due, so only flushing is timed.
    await Promise.all(queues.map((q) => q.pause()));
    await preload(arm, arm.ids);
    const keys = (await arm.cache.stats()).dirtyKeys;
    if (keys !== arm.ids.length)
      throw new Error(`S1: ${keys} dirty keys after the preload, not ${arm.ids.length}`);
    await new Promise((resolve) => setTimeout(resolve, windowMs + 200));

    const roles = await Promise.all(topology.nodes.map(role));
    const pids = children.map((c) => c.process.pid ?? -1);
    const workersBefore = await Promise.all(pids.map(processCpuMicros));
    const redisBefore = await nodeCpu(topology.nodes);
    const postgresBefore = await postgresCpuMicros();
    const machineBefore = await machineTicks();
    const started = performance.now();
    await Promise.all(queues.map((q) => q.resume()));
    const finished = await waitFor(
      `S1 drain, ${topology.name}, ${arm.workers} worker(s)`,
      idle,
      DRAIN_TIMEOUT_MS,
      50,
    );
    const machineAfter = await machineTicks();
    const workersAfter = await Promise.all(pids.map(processCpuMicros));
    const postgresAfter = await postgresCpuMicros();
    const redisAfter = await nodeCpu(topology.nodes);
    const counters = await Promise.all(children.map((c) => c.stop()));

    const keysOfShard = Array.from({ length: SHARDS }, () => 0);
    for (const id of arm.ids) {
      const shard = shardOf('video', id, SHARDS);
      keysOfShard[shard] = (keysOfShard[shard] ?? 0) + 1;
    }
    const used = (port: number) => (redisAfter.get(port) ?? 0) - (redisBefore.get(port) ?? 0);
    const masterPorts = topology.nodes.filter((_, i) => roles[i] === 'master').map((n) => n.port);
    const masters = masterPorts.map((port) => ({
      cpuUs: used(port),
      keys: arm.shardMasters.reduce((n, p, shard) => (p === port ? n + (keysOfShard[shard] ?? 0) : n), 0),
    }));
    const replicasUs = topology.nodes
      .filter((_, i) => roles[i] === 'replica')
      .reduce((n, node) => n + used(node.port), 0);
    // Over the workers' whole life, warm-up included: the same flushes, so the same ratios.
    const total = (name: string) => counters.reduce((n, c) => n + (c[name] ?? 0), 0);
    const rowsPerKey = total('rowsWritten') / Math.max(1, total('keysFlushed'));
    return {
      keys,
      ms: finished - started,
      workers: pids.map((_, i) => {
        const before = workersBefore[i];
        const after = workersAfter[i];
        if (before === undefined || after === undefined) throw new Error('S1: no /proc CPU of a worker');
        return { cpuUs: after - before, keys };
      }),
      masters,
      masterPorts,
      replicasUs,
      ...(postgresBefore !== undefined && postgresAfter !== undefined
        ? { postgresUs: postgresAfter - postgresBefore }
        : {}),
      rowsWritten: keys * rowsPerKey,
      statements: (keys * rowsPerKey) / Math.max(1, total('rowsWritten') / Math.max(1, total('statements'))),
      ...(machineBefore && machineAfter
        ? { machineBusyPct: machineBusyPercent(machineBefore, machineAfter) }
        : {}),
    };
  } finally {
    await Promise.all(children.map((c) => c.stop().catch(() => ({}))));
  }
}

/** An arm's rounds as one drain: CPU, keys and time summed. */
function pooled(arm: Arm): Drain {
  const { rounds } = arm;
  const sum = (pick: (d: Drain) => number) => rounds.reduce((n, d) => n + pick(d), 0);
  const has = rounds.every((d) => d.postgresUs !== undefined);
  const busy = rounds.every((d) => d.machineBusyPct !== undefined);
  const ms = sum((d) => d.ms);
  return {
    keys: sum((d) => d.keys),
    ms,
    workers: poolShares(rounds.map((d) => d.workers)),
    masters: poolShares(rounds.map((d) => d.masters)),
    masterPorts: rounds[0]?.masterPorts ?? [],
    replicasUs: sum((d) => d.replicasUs),
    ...(has ? { postgresUs: sum((d) => d.postgresUs ?? 0) } : {}),
    rowsWritten: sum((d) => d.rowsWritten),
    statements: sum((d) => d.statements),
    ...(busy ? { machineBusyPct: sum((d) => (d.machineBusyPct ?? 0) * d.ms) / ms } : {}),
  };
}

function costOf(d: Drain): CostPerKey {
  return {
    workerUsPerKey: d.workers.reduce((n, w) => n + w.cpuUs, 0) / d.keys,
    redisUsPerKey: busiestUsPerKey(d.masters),
    postgresUsPerRow: d.postgresUs === undefined ? Number.NaN : d.postgresUs / Math.max(1, d.rowsWritten),
    rowsPerKey: d.rowsWritten / d.keys,
  };
}

const fixed = (n: number | undefined, digits = 1) =>
  n === undefined || !Number.isFinite(n) ? '?' : n.toFixed(digits);
const thousands = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : '?');

export async function scaleOut(ctx: BenchContext): Promise<CaseResult[]> {
  const { plan } = ctx;
  const backlog = plan.quick ? 5_000 : 50_000;
  const roundsPerArm = plan.quick ? 1 : 2;
  const prisma = benchPrisma(ctx.db);
  const topologies: Topology[] = [];
  const arms: Arm[] = [];
  try {
    ctx.progress('S1: starting a private redis-server and a private 3-master + 3-replica cluster');
    topologies.push(await singleTopology(), await clusterTopology());
    for (const topology of topologies) {
      for (const workers of [1, 2]) {
        const tag = `s1${arms.length}`;
        const prefix = await topology.prefixFor(`${ctx.prefix}-${tag}`);
        const ids = Array.from({ length: backlog }, (_, i) => `${tag}-${i}`);
        const warmupIds = Array.from({ length: WARMUP_KEYS }, (_, i) => `${tag}-${backlog + i}`);
        // The rows exist, as behind a live table: every drain updates rows, none inserts.
        await ctx.db.pool.query(
          `INSERT INTO "Video" (id) SELECT $2 || g FROM generate_series(0, $1::int - 1) AS g ON CONFLICT DO NOTHING`,
          [backlog + WARMUP_KEYS, `${tag}-`],
        );
        const cache = createWriteBehind<BenchEntities>({
          redis: topology.connection,
          prisma,
          entities,
          prefix,
          shards: SHARDS,
          backlog: { limit: BENCH_BACKLOG_LIMIT },
          flush: { windowMs: plan.windowMs },
          logger: benchLogger,
        });
        arms.push({
          topology,
          workers,
          prefix,
          ids,
          warmupIds,
          cache,
          shardMasters: await topology.mastersOfShards(prefix),
          rounds: [],
        });
      }
    }
    // Alternating arms, the second round in reverse order: this machine's speed drifts over minutes, and
    // the pooled figures of each arm then straddle the same stretch of time.
    for (let round = 0; round < roundsPerArm; round++) {
      const order = round % 2 === 0 ? arms : [...arms].reverse();
      for (const arm of order) {
        ctx.progress(
          `S1 round ${round + 1}/${roundsPerArm}: ${arm.topology.name}, ${arm.workers} worker(s): warm-up, preloading ${backlog.toLocaleString('en')} keys, draining`,
        );
        arm.rounds.push(await drain(ctx, arm, plan.windowMs));
      }
    }
  } finally {
    for (const arm of arms) await arm.cache.close();
    for (const topology of topologies) await topology.stop();
    await prisma.$disconnect();
  }

  const rows = arms.map((arm) => ({ arm, drain: pooled(arm) }));
  const perThousand = (us: number, keys: number) => fixed(us / keys); // µs per key = ms per 1000 keys
  ctx.progress(
    `S1: ${backlog.toLocaleString('en')} distinct dirty keys per drain, ${SHARDS} shards, ${roundsPerArm} drain(s) per row pooled. ` +
      `CPU in ms per 1000 keys (= µs per key). The machine has 2 cores shared by everything: workers, every Redis node, PostgreSQL, the benchmark.\n${markdownTable(
        [
          'topology',
          'workers',
          'keys/s',
          'workers ms/1k keys (each)',
          'Redis ms/1k keys (each master)',
          'replicas ms/1k keys',
          'PostgreSQL ms/1k keys',
          'worker core use',
          'machine busy',
        ],
        rows.map(({ arm, drain: d }) => [
          arm.topology.name,
          String(arm.workers),
          thousands((d.keys / d.ms) * 1000),
          `${perThousand(
            d.workers.reduce((n, w) => n + w.cpuUs, 0),
            d.keys,
          )} (${d.workers.map((w) => perThousand(w.cpuUs, d.keys)).join(' + ')})`,
          d.masters.map((m) => perThousand(m.cpuUs, d.keys)).join(' + '),
          arm.topology.nodes.length > 1 ? perThousand(d.replicasUs, d.keys) : 'none',
          d.postgresUs === undefined ? '?' : perThousand(d.postgresUs, d.keys),
          d.workers.map((w) => `${fixed((w.cpuUs / 1000 / d.ms) * 100, 0)} %`).join(' + '),
          `${fixed(d.machineBusyPct, 0)} %`,
        ]),
      )}`,
  );

  const capacityLines: string[][] = rows.map(({ arm, drain: d }) => {
    const rates = capacityRates(costOf(d));
    return [
      `${arm.topology.name}, ${arm.workers} worker(s)`,
      thousands(rates.keysPerWorkerCore),
      `${thousands(rates.keysPerRedisCore)} (${d.masters.map((m) => fixed(usPerKey(m))).join(' / ')} µs per own key)`,
      thousands(rates.rowsPerPostgresCore),
    ];
  });
  ctx.progress(
    `S1 capacity, from CPU per key (one core of each, fully busy):\n${markdownTable(
      [
        'measured on',
        'keys/s per worker core',
        'keys/s per Redis core (busiest master)',
        'rows/s per PostgreSQL core',
      ],
      capacityLines,
    )}`,
  );
  const clusterArms = arms.filter((a) => a.topology.name === '3-master cluster');
  const clusterCost = costOf(pooledArms(clusterArms.map((a) => pooled(a))));
  const examples = EXAMPLE_RATES.map((rate) => ({
    rate,
    plan: planCapacity(clusterCost, rate, UTILIZATION),
  }));
  ctx.progress(
    `S1 worked examples (cluster cost, pooled over its 1- and 2-worker drains; every component at ${UTILIZATION * 100} %):\n${examples
      .map(
        ({ rate, plan: p }) =>
          `  ${rate.toLocaleString('en')} distinct dirty keys/s: ${fixed(p.workerCores)} worker cores → ${p.workerProcesses} worker processes; ${p.masters} masters; ${fixed(p.postgresCores)} PostgreSQL cores`,
      )
      .join('\n')}`,
  );

  return [
    ...rows.map(({ arm, drain: d }): CaseResult => {
      const cost = costOf(d);
      const workerUs = d.workers.reduce((n, w) => n + w.cpuUs, 0);
      const mastersUs = d.masters.reduce((n, m) => n + m.cpuUs, 0);
      return {
        id: `S1 (${arm.topology.name === '1 Redis' ? '1 Redis' : 'cluster'}, ${arm.workers}w)`,
        title: `flush ${backlog.toLocaleString('en')} distinct dirty keys, ${SHARDS} shards, ${arm.topology.name}, ${arm.workers} worker process${arm.workers > 1 ? 'es' : ''}`,
        count: d.keys,
        countUnit: 'keys',
        rate: (d.keys / d.ms) * 1000,
        rateUnit: 'keys/s',
        cpu: {
          nodeUsPerOp: workerUs / d.keys,
          redisUsPerOp: mastersUs / d.keys,
          ...(d.postgresUs !== undefined ? { postgresUsPerOp: d.postgresUs / d.keys } : {}),
          ...(d.machineBusyPct !== undefined ? { machineBusyPct: d.machineBusyPct } : {}),
        },
        notes: [
          `${arm.rounds.length} drain(s) pooled (${arm.rounds.map((r) => thousands((r.keys / r.ms) * 1000)).join(' and ')} keys/s)`,
          `workers ${d.workers.map((w) => fixed(w.cpuUs / d.keys)).join(' + ')} µs/key; masters ${d.masters.map((m) => fixed(m.cpuUs / d.keys)).join(' + ')} µs/key${arm.topology.nodes.length > 1 ? `; replicas ${fixed(d.replicasUs / d.keys)} µs/key (not in the Redis column)` : ''}`,
          `machine busy ${fixed(d.machineBusyPct, 0)} % of one core (2 cores shared by everything)`,
          `${fixed(d.rowsWritten / Math.max(1, d.statements), 0)} rows per statement`,
        ],
        metrics: {
          ms: d.ms,
          keys: d.keys,
          rowsWritten: d.rowsWritten,
          statements: d.statements,
          workerUsPerKey: cost.workerUsPerKey,
          busiestMasterUsPerOwnKey: cost.redisUsPerKey,
          replicasUsPerKey: d.replicasUs / d.keys,
          postgresUsPerRow: cost.postgresUsPerRow,
          ...Object.fromEntries(d.workers.map((w, i) => [`worker${i}UsPerKey`, w.cpuUs / d.keys])),
          ...Object.fromEntries(d.masters.map((m, i) => [`master${i}UsPerKey`, m.cpuUs / d.keys])),
        },
      };
    }),
    {
      id: 'S1 capacity',
      title: `capacity model from the cluster's CPU per key (${UTILIZATION * 100} % of each core)`,
      notes: [
        `${thousands(capacityRates(clusterCost).keysPerWorkerCore)} keys/s per worker core, ${thousands(capacityRates(clusterCost).keysPerRedisCore)} per Redis core (busiest master), ${thousands(capacityRates(clusterCost).rowsPerPostgresCore)} rows/s per PostgreSQL core`,
        ...examples.map(
          ({ rate, plan: p }) =>
            `${rate.toLocaleString('en')} keys/s: ${p.workerProcesses} worker processes (${fixed(p.workerCores)} cores), ${p.masters} masters, ${fixed(p.postgresCores)} PostgreSQL cores`,
        ),
      ],
      metrics: {
        ...clusterCost,
        ...capacityRates(clusterCost),
        ...Object.fromEntries(
          examples.flatMap(({ rate, plan: p }) => [
            [`workerProcessesAt${rate}`, p.workerProcesses],
            [`mastersAt${rate}`, p.masters],
            [`postgresCoresAt${rate}`, p.postgresCores],
          ]),
        ),
      },
    },
  ];
}

/** Several arms' pooled drains as one (same topology, so the same masters in the same order). */
function pooledArms(drains: Drain[]): Drain {
  const sum = (pick: (d: Drain) => number) => drains.reduce((n, d) => n + pick(d), 0);
  return {
    keys: sum((d) => d.keys),
    ms: sum((d) => d.ms),
    // Per key of the pool: the worker processes' CPU together, whatever their number.
    workers: [{ cpuUs: sum((d) => d.workers.reduce((n, w) => n + w.cpuUs, 0)), keys: sum((d) => d.keys) }],
    masters: poolShares(drains.map((d) => d.masters)),
    masterPorts: drains[0]?.masterPorts ?? [],
    replicasUs: sum((d) => d.replicasUs),
    ...(drains.every((d) => d.postgresUs !== undefined) ? { postgresUs: sum((d) => d.postgresUs ?? 0) } : {}),
    rowsWritten: sum((d) => d.rowsWritten),
    statements: sum((d) => d.statements),
  };
}
