// A, B and C: what the write-behind cache is measured against, on W1's keys and distribution.
import type { PrismaClient } from '@write-behind/db';
import { deleteKeys } from '@write-behind/testkit';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { type BenchContext, loadSummary } from '../lib/context.ts';
import { uniform } from '../lib/distributions.ts';
import { benchPrisma, createBenchCache } from '../lib/entities.ts';
import type { SlicedCase } from '../lib/interleave.ts';
import { runLoad } from '../lib/load.ts';

/** The seed of the hot-key sequence shared by A, B, C and W1. */
export const HOT_KEY_SEED = 7;
/** Prisma pool size for B (write-through): more connections than cores, so group commit can work. */
const WRITE_THROUGH_POOL = 16;

/** Touches every one of `keys` keys once, untimed, so the timed run sees only warm keys (and a warm JIT). */
export async function warmKeys(
  ctx: BenchContext,
  keys: number,
  op: (key: number) => Promise<unknown>,
): Promise<void> {
  const load = await runLoad({ concurrency: ctx.plan.inFlight, total: keys, maxMs: 120_000, op });
  if (load.errors > 0) throw new Error(`warm-up: ${load.errors} errors, first: ${load.firstError}`);
}

/**
 * A: raw INCR through ioredis, on a connection of its own: the ceiling of any Redis-backed write. With
 * `inFlight` set, the same at fewer requests in flight (informational: latency without queueing).
 */
export function rawIncr(ctx: BenchContext, inFlight?: number, autoPipelining = false): SlicedCase {
  const { plan } = ctx;
  // With auto-pipelining, ioredis sends the commands of one event-loop turn in one write: what a user would
  // pick as the fastest plain client.
  const redis = new Redis(ctx.redisUrl, { enableAutoPipelining: autoPipelining });
  const id = autoPipelining ? 'A autopipe' : inFlight ? `A @${inFlight}` : 'A';
  const tag = `{${ctx.prefix}-a${inFlight ?? ''}${autoPipelining ? 'p' : ''}}`;
  const nextKey = uniform(plan.hotKeys, HOT_KEY_SEED);
  return {
    id,
    budgetMs: inFlight ? plan.lowConcurrencyMs : plan.closedLoopMs,
    ...(inFlight ? { concurrency: inFlight } : {}),
    setup: () => warmKeys(ctx, plan.hotKeys, (key) => redis.incr(`${tag}:video:${key}`)),
    op: () => redis.incr(`${tag}:video:${nextKey()}`),
    finish: async (load) => [
      {
        id,
        title: `raw INCR (ioredis${autoPipelining ? ', enableAutoPipelining' : ''}), ${plan.hotKeys} keys${inFlight ? `, ${inFlight} in flight` : ''}`,
        ...loadSummary(load),
        notes: [
          inFlight
            ? 'informational: latency with little queueing'
            : autoPipelining
              ? "the fastest plain client: one socket write per turn, as the cache's own batches"
              : 'the ceiling',
        ],
        metrics: {},
      },
    ],
    teardown: async () => redis.disconnect(),
  };
}

/** B: write-through, one UPDATE per request through Prisma ($executeRaw), rows created beforehand. */
export function writeThrough(ctx: BenchContext): SlicedCase {
  const { plan } = ctx;
  let prisma: PrismaClient | undefined;
  const update = (key: number) =>
    (prisma as PrismaClient).$executeRaw`UPDATE "Video" SET likes = likes + 1 WHERE id = ${`b-${key}`}`;
  const nextKey = uniform(plan.hotKeys, HOT_KEY_SEED);
  return {
    id: 'B',
    budgetMs: plan.closedLoopMs,
    async setup() {
      await ctx.db.pool.query(
        `INSERT INTO "Video" (id) SELECT 'b-' || g FROM generate_series(0, $1::int - 1) AS g ON CONFLICT DO NOTHING`,
        [plan.hotKeys],
      );
      prisma = benchPrisma(ctx.db, WRITE_THROUGH_POOL);
      await warmKeys(ctx, plan.hotKeys, update);
    },
    op: () => update(nextKey()),
    finish: async (load) => [
      {
        id: 'B',
        title: `write-through UPDATE (Prisma $executeRaw), ${plan.hotKeys} rows`,
        ...loadSummary(load),
        notes: [`Prisma pool of ${WRITE_THROUGH_POOL}`],
        metrics: { poolSize: WRITE_THROUGH_POOL },
      },
    ],
    teardown: async () => prisma?.$disconnect(),
  };
}

/** C: the naive write-behind: INCR, then queue.add with one job id per key (a no-op while the job waits). */
export function naiveQueue(ctx: BenchContext): SlicedCase {
  const { plan } = ctx;
  const redis = new Redis(ctx.redisUrl);
  const tag = `{${ctx.prefix}-c}`;
  const queue = new Queue('naive', { connection: redis, prefix: tag });
  const write = async (key: number) => {
    await redis.incr(`${tag}:video:${key}`);
    await queue.add('flush', { key }, { jobId: `video.${key}`, removeOnComplete: true });
  };
  const nextKey = uniform(plan.hotKeys, HOT_KEY_SEED);
  return {
    id: 'C',
    budgetMs: plan.closedLoopMs,
    setup: () => warmKeys(ctx, plan.hotKeys, write),
    op: () => write(nextKey()),
    finish: async (load) => [
      {
        id: 'C',
        title: `naive INCR + queue.add (job id per key), ${plan.hotKeys} keys`,
        ...loadSummary(load),
        notes: ['2 round trips per write; no versions, no batching'],
        metrics: {},
      },
    ],
    async teardown() {
      await queue.close();
      redis.disconnect();
    },
  };
}

/**
 * J: BullMQ's add alone, the floor of W2's work: every W2 write makes a new key dirty, and a dirty key needs
 * its flush job. Each operation adds one job shaped exactly like the library's (its queue's default options,
 * delayed by the window, an id of its own), and the adds of one event-loop turn go as one `addBulk`, as the
 * library sends them. No Redis state, no database: whatever W2 does on top of this costs more.
 */
export function bullmqAdds(ctx: BenchContext): SlicedCase {
  const { plan } = ctx;
  const prisma = benchPrisma(ctx.db);
  const prefix = `${ctx.prefix}-j`;
  const cache = createBenchCache({ redisUrl: ctx.redisUrl, prisma, prefix });
  const queue = cache.queues[0] as Queue;
  let pending: { index: number; done: () => void; fail: (error: unknown) => void }[] = [];
  const send = () => {
    const batch = pending;
    pending = [];
    queue
      .addBulk(
        batch.map(({ index }) => ({
          name: 'flush',
          data: { entity: 'video', id: `j-${index}` },
          opts: { jobId: `video.j-${index}.v1`, delay: plan.windowMs },
        })),
      )
      .then(
        () => {
          for (const b of batch) b.done();
        },
        (error: unknown) => {
          for (const b of batch) b.fail(error);
        },
      );
  };
  const add = (index: number) =>
    new Promise<void>((done, fail) => {
      if (pending.length === 0) setImmediate(send);
      pending.push({ index, done, fail });
    });
  return {
    id: 'J',
    budgetMs: plan.closedLoopMs,
    setup: () => warmKeys(ctx, 2000, (key) => add(-1 - key)),
    op: add,
    finish: async (load) => [
      {
        id: 'J',
        title: 'BullMQ addBulk of flush-shaped jobs alone, one per operation',
        ...loadSummary(load),
        notes: ["W2's floor: the job a new dirty key needs, batched per turn as the library does"],
        metrics: {},
      },
    ],
    async teardown() {
      await cache.close();
      await prisma.$disconnect();
      await deleteKeys(ctx.redis, prefix);
    },
  };
}
