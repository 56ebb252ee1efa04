// `npm run bench [-- --quick] [-- --only=A,W1,...]`: every case of issue 4, side by side, in one run on the
// same Redis and PostgreSQL. Prints Markdown tables and writes the same figures to bench/results/<time>.json.
//
// Uses REDIS_URL and DATABASE_URL (defaults: local Redis, local PostgreSQL as `postgres`). Creates its own
// PostgreSQL schema and Redis key prefix and removes both at the end. Other engineers' keys are never touched.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTestDatabase, DATABASE_URL, deleteKeys, REDIS_URL, uniqueName } from '@write-behind/testkit';
import { redactUrl } from '@write-behind/testkit/redact-url';
import { Redis } from 'ioredis';
import { appendEvents } from './cases/append.ts';
import { bullmqAdds, naiveQueue, rawIncr, writeThrough } from './cases/baselines.ts';
import { coalescing } from './cases/coalescing.ts';
import { dashboardCost } from './cases/dashboard-cost.ts';
import { durabilityCost } from './cases/durability.ts';
import { flushThroughput } from './cases/flush.ts';
import { lag } from './cases/lag.ts';
import { listpackMemory } from './cases/memory-listpack.ts';
import { rankedIncrements, rankedTop } from './cases/ranked.ts';
import { recoveryCost } from './cases/recovery-cost.ts';
import { relatedFlush } from './cases/related-flush.ts';
import { scaleOut } from './cases/scale-out.ts';
import {
  distinctAdds,
  distinctAddsWithoutJobs,
  distinctIncrements,
  hotIncrements,
  settingsWrites,
} from './cases/writes.ts';
import { type BenchContext, type CaseResult, createPlan } from './lib/context.ts';
import { runInterleaved, type SlicedCase } from './lib/interleave.ts';
import { resultsTable, targetsTable } from './lib/report.ts';
import { redisInfo } from './lib/server-stats.ts';
import { evaluateTargets } from './lib/targets.ts';

/** Requests in flight of the informational low-concurrency runs of A and W1. */
const LOW_IN_FLIGHT = 8;
const CASES = [
  'A',
  'B',
  'C',
  'J',
  'W1',
  'W2',
  'W2A',
  'W3',
  'F1',
  'F2',
  'C1',
  'L1',
  'R1',
  'O1',
  'R2',
  'E1',
  'D1',
  'S1',
] as const;
type CaseId = (typeof CASES)[number];

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  process.stdout.write(
    `npm run bench [-- --quick] [-- --only=${CASES.join(',')}]\n` +
      '  --quick  small counts, under a minute: a smoke test, not figures to quote\n' +
      '  --only   run some cases (L1 also runs W1: its rate is half of W1)\n',
  );
  process.exit(0);
}
const selected = new Set<CaseId>(
  flags.only ? (flags.only.split(',').map((s) => s.trim().toUpperCase()) as CaseId[]) : CASES,
);
for (const id of selected) {
  if (!CASES.includes(id)) {
    process.stderr.write(`--only: unknown case ${JSON.stringify(id)}; cases: ${CASES.join(', ')}\n`);
    process.exit(2);
  }
}
if (selected.has('L1')) selected.add('W1');

const plan = createPlan(flags.quick);
const started = Date.now();
const progress = (line: string) =>
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

const redis = new Redis(REDIS_URL);
// This run's key prefix; every case adds its own suffix (`<run>-w1`), all under `{<run>`.
const prefix = uniqueName('bench', 8);
const db = await createTestDatabase();
progress(`schema ${db.schema} and prefix {${prefix}*; ${plan.quick ? 'quick' : 'full'} run`);
const ctx: BenchContext = { plan, redisUrl: REDIS_URL, redis, db, prefix, progress };

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  progress('interrupted: cleaning up (Ctrl-C again to leave the schema and keys behind)');
  void cleanup().finally(() => process.exit(130));
});

async function cleanup(): Promise<void> {
  // Every case's prefix (`<run>-<case>`), in case one was interrupted before its own cleanup.
  await deleteKeys(redis, `${prefix}*`).catch(() => 0);
  await db.drop().catch(() => {});
  redis.disconnect();
}

const results: CaseResult[] = [];
/** Runs one case; a failure becomes a row saying so, and the other cases still run. */
async function run<T>(id: CaseId, label: string, body: () => Promise<T>): Promise<T | undefined> {
  if (!selected.has(id) || interrupted) return undefined;
  progress(`${id}: ${label}`);
  try {
    return await body();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    progress(`${id} failed: ${message}`);
    results.push({ id, title: label, notes: [`FAILED: ${message}`], metrics: {} });
    return undefined;
  }
}
const keep = (result: CaseResult | undefined) => {
  if (result) results.push(result);
  return result;
};
/** {@link run} for a case that makes several rows: keeps them all. */
async function runRows(id: CaseId, label: string, body: () => Promise<CaseResult[]>): Promise<void> {
  for (const row of (await run(id, label, body)) ?? []) keep(row);
}

const machine = {
  nproc: os.cpus().length,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  node: process.version,
  redis: await redisInfo(redis, 'redis_version'),
  postgres:
    (await db.pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ??
    'unknown',
  loadAverageAtStart: os.loadavg().map((n) => Math.round(n * 100) / 100),
};

try {
  const factories: [CaseId, (c: BenchContext) => SlicedCase][] = [
    ['A', (c) => rawIncr(c)],
    ['A', (c) => rawIncr(c, undefined, true)],
    ['B', writeThrough],
    ['C', naiveQueue],
    ['J', bullmqAdds],
    ['W1', (c) => hotIncrements(c)],
    ['W2', distinctIncrements],
    ['W2A', distinctAdds],
    ['W2A', distinctAddsWithoutJobs],
    ['W3', settingsWrites],
    // The cost of a ranking: the same increments on an unranked and a ranked counter, side by side.
    ['R2', (c) => rankedIncrements(c, false)],
    ['R2', (c) => rankedIncrements(c, true)],
    ['R2', rankedTop],
    // Informational: the latency of A and W1 when requests barely queue (Little's law: at 64 in flight the
    // mean latency is 64 / throughput, whatever the code does).
    ['A', (c) => rawIncr(c, LOW_IN_FLIGHT)],
    ['W1', (c) => hotIncrements(c, LOW_IN_FLIGHT)],
  ];
  const sliced = factories.filter(([id]) => selected.has(id)).map(([, create]) => create(ctx));
  if (sliced.length > 0) {
    progress(`${sliced.map((c) => c.id).join(', ')}: ${plan.rounds} interleaved rounds`);
    for (const row of await runInterleaved(ctx, sliced, plan.rounds)) keep(row);
  }
  const w1 = results.find((r) => r.id === 'W1');
  const f1 = await run('F1', 'flush throughput', () => flushThroughput(ctx));
  if (f1)
    for (const row of [
      f1.flush,
      f1.ceiling,
      f1.flushTwo,
      f1.ceilingTwo,
      f1.ceilingShape,
      f1.flushDiscard,
      f1.memory,
    ])
      keep(row);
  keep(await run('F1', 'M1 on a Redis tuned for small hashes', () => listpackMemory(ctx)));
  await runRows('F2', 'flush of parent + child keys vs as many unrelated keys', () => relatedFlush(ctx));
  keep(await run('C1', 'coalescing', () => coalescing(ctx)));
  if (w1?.rate) {
    const rate = w1.rate / 2;
    await runRows('L1', 'lag at half of W1', () => lag(ctx, rate));
  }
  await runRows('E1', 'append entities: acked events, flush rows, plain INSERT', () => appendEvents(ctx));
  await runRows('R1', 'Redis commands of the lock and stalled-check settings', () => recoveryCost(ctx));
  await runRows('O1', "the dashboard's own Redis commands, with the overview open and without", () =>
    dashboardCost(ctx),
  );
  await runRows('D1', "durability 'memory' vs 'replicas' vs 'fsync'", () => durabilityCost(ctx));
  await runRows('S1', 'scale-out: 1 Redis vs a 3-master cluster, 1 and 2 worker processes', () =>
    scaleOut(ctx),
  );
} finally {
  progress('cleaning up');
  await cleanup();
}

const targets = evaluateTargets(results, plan.windowMs);
const elapsedS = Math.round((Date.now() - started) / 1000);
const report = {
  startedAt: new Date(started).toISOString(),
  elapsedS,
  mode: plan.quick ? 'quick' : 'full',
  command: `npm run bench${plan.quick ? ' -- --quick' : ''}${flags.only ? ` -- --only=${flags.only}` : ''}`,
  machine: { ...machine, loadAverageAtEnd: os.loadavg().map((n) => Math.round(n * 100) / 100) },
  servers: { redis: redactUrl(REDIS_URL), database: redactUrl(DATABASE_URL) },
  plan,
  results,
  targets,
};

const dir = fileURLToPath(new URL('./results/', import.meta.url));
await mkdir(dir, { recursive: true });
const file = `${dir}${report.startedAt.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}-${report.mode}.json`;
await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);

process.stdout.write(
  [
    '',
    `## Results (${report.mode} run, ${elapsedS} s)`,
    '',
    `${machine.nproc} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}, Redis ${machine.redis}, ` +
      `PostgreSQL ${machine.postgres}; load average ${machine.loadAverageAtStart.join(' ')} at start, ` +
      `${report.machine.loadAverageAtEnd.join(' ')} at the end (the machine is shared).`,
    '',
    resultsTable(results),
    '',
    '## Targets (ratios from this run)',
    '',
    targetsTable(targets),
    '',
    `Figures written to ${file}`,
    '',
  ].join('\n'),
);
