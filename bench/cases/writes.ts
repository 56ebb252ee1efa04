// W1, W2, W3: the write path alone (no worker runs), with the same 64 requests in flight as A, B and C.

import type { WriteBehind } from '@write-behind/core';
import type { PrismaClient } from '@write-behind/db';
import { deleteKeys } from '@write-behind/testkit';
import { type BenchContext, type CaseResult, loadSummary } from '../lib/context.ts';
import { uniform } from '../lib/distributions.ts';
import { type BenchEntities, benchPrisma, createBenchCache } from '../lib/entities.ts';
import type { SlicedCase } from '../lib/interleave.ts';
import { runLoad } from '../lib/load.ts';
import { usedMemory } from '../lib/server-stats.ts';
import { HOT_KEY_SEED, warmKeys } from './baselines.ts';

/** A cache of its own (prefix `<run>-<name>`) for one case, and the teardown that removes its keys. */
function caseCache(ctx: BenchContext, name: string) {
  const prisma: PrismaClient = benchPrisma(ctx.db);
  const prefix = `${ctx.prefix}-${name}`;
  const cache: WriteBehind<BenchEntities> = createBenchCache({ redisUrl: ctx.redisUrl, prisma, prefix });
  return {
    cache,
    async teardown() {
      await cache.close();
      await prisma.$disconnect();
      // Free the memory now: W2 alone can leave hundreds of megabytes of dirty keys and jobs behind.
      await deleteKeys(ctx.redis, prefix);
    },
  };
}

/**
 * W1: cache.increment on the hot keys, the same key sequence as A, B and C. With `inFlight` set, the same
 * at fewer requests in flight (informational).
 */
export function hotIncrements(ctx: BenchContext, inFlight?: number): SlicedCase {
  const { plan } = ctx;
  const id = inFlight ? `W1 @${inFlight}` : 'W1';
  const { cache, teardown } = caseCache(ctx, `w1${inFlight ?? ''}`);
  const nextKey = uniform(plan.hotKeys, HOT_KEY_SEED);
  return {
    id,
    budgetMs: inFlight ? plan.lowConcurrencyMs : plan.closedLoopMs,
    ...(inFlight ? { concurrency: inFlight } : {}),
    setup: () => warmKeys(ctx, plan.hotKeys, (key) => cache.increment('video', `w1-${key}`, 'likes')),
    op: () => cache.increment('video', `w1-${nextKey()}`, 'likes'),
    finish: async (load) => [
      {
        id,
        title: `cache.increment, ${plan.hotKeys} hot keys${inFlight ? `, ${inFlight} in flight` : ''}`,
        ...loadSummary(load),
        notes: [
          inFlight
            ? 'informational: latency with little queueing'
            : 'keys already dirty: 1 script round trip, no enqueue',
        ],
        metrics: {},
      },
    ],
    teardown,
  };
}

/**
 * What W2 and W2a share: a cache of their own, and `write` on keys never seen before (`<name>-<index>`), at most
 * `plan.distinctKeys` of them, once a warm-up on keys outside that set has warmed the JIT and the connections.
 */
function distinctKeysCase(
  ctx: BenchContext,
  name: string,
  write: (cache: WriteBehind<BenchEntities>, key: string) => Promise<unknown>,
) {
  const { plan } = ctx;
  const { cache, teardown } = caseCache(ctx, name);
  const shared = {
    budgetMs: plan.distinctMs,
    maxOps: plan.distinctKeys,
    async setup() {
      await runLoad({
        concurrency: plan.inFlight,
        total: 2000,
        maxMs: 30_000,
        op: (index) => write(cache, `${name}-warm-${index}`),
      });
    },
    op: (index: number) => write(cache, `${name}-${index}`),
    teardown,
  };
  return { cache, shared };
}

/**
 * W2: cache.increment on keys never seen before: each write is a cold key (one batched database load, a
 * second script call) and makes the key dirty (one BullMQ add). Also M1 over the keys it leaves dirty,
 * counting only the memory W2's own slices added.
 */
export function distinctIncrements(ctx: BenchContext): SlicedCase {
  const { plan } = ctx;
  const { cache, shared } = distinctKeysCase(ctx, 'w2', (cache, key) =>
    cache.increment('video', key, 'likes'),
  );
  let memoryDelta = 0;
  let dirtyDelta = 0;
  return {
    id: 'W2',
    ...shared,
    async aroundSlice(slice) {
      const memoryBefore = await usedMemory(ctx.redis);
      const dirtyBefore = (await cache.stats()).dirtyKeys;
      await slice();
      memoryDelta += (await usedMemory(ctx.redis)) - memoryBefore;
      dirtyDelta += (await cache.stats()).dirtyKeys - dirtyBefore;
    },
    finish: async (load): Promise<CaseResult[]> => {
      const bytesPerKey = memoryDelta / dirtyDelta;
      const reachedAll = load.completed >= plan.distinctKeys;
      return [
        {
          id: 'W2',
          title: `cache.increment, ${load.completed.toLocaleString('en')} distinct (cold) keys`,
          ...loadSummary(load),
          notes: [
            reachedAll
              ? `all ${plan.distinctKeys.toLocaleString('en')} keys`
              : `as many as ${plan.distinctMs / 1000} s allow (of ${plan.distinctKeys.toLocaleString('en')})`,
            'each: cold load + 2 scripts + 1 BullMQ add',
          ],
          metrics: { distinctKeys: load.completed },
        },
        {
          id: 'M1 (W2)',
          title: 'Redis used_memory per dirty key, around W2',
          count: dirtyDelta,
          countUnit: 'dirty keys',
          notes: [
            `${formatBytes(bytesPerKey)} per dirty key (${formatBytes(memoryDelta)} for ${dirtyDelta.toLocaleString('en')})`,
          ],
          metrics: { bytesPerKey, usedMemoryDelta: memoryDelta, dirtyKeys: dirtyDelta },
        },
      ];
    },
  };
}

/**
 * W2a: cache.add on keys never seen before: no database read (the sum waits in Redis), one script call shared
 * with the batch, and one BullMQ add per key (it becomes dirty). J is its floor.
 */
export function distinctAdds(ctx: BenchContext): SlicedCase {
  const { shared } = distinctKeysCase(ctx, 'w2a', (cache, key) => cache.add('video', key, 'likes'));
  return {
    id: 'W2a',
    ...shared,
    finish: async (load): Promise<CaseResult[]> => [
      {
        id: 'W2a',
        title: `cache.add, ${load.completed.toLocaleString('en')} distinct (cold) keys`,
        ...loadSummary(load),
        notes: ['each: no database read, 1 script (shared) + 1 BullMQ add'],
        metrics: { distinctKeys: load.completed },
      },
    ],
  };
}

/**
 * W2a write: W2a's adds with their BullMQ add skipped (the cache's queues take jobs and drop them), so the
 * write script's own cost shows beside W2a and J, measured in the same rounds: W2a is about J plus this.
 * Informational; the keys it leaves dirty have no job, and its teardown removes them.
 */
export function distinctAddsWithoutJobs(ctx: BenchContext): SlicedCase {
  const { cache, shared } = distinctKeysCase(ctx, 'w2aw', (cache, key) => cache.add('video', key, 'likes'));
  for (const queue of cache.queues) queue.addBulk = async () => [];
  return {
    id: 'W2a write',
    ...shared,
    finish: async (load): Promise<CaseResult[]> => [
      {
        id: 'W2a write',
        title: `cache.add as W2a, its job add skipped: the write script alone`,
        ...loadSummary(load),
        notes: ['informational: what W2a costs beyond J (W2a ≈ J + this, per operation)'],
        metrics: { distinctKeys: load.completed },
      },
    ],
  };
}

const THEMES = ['light', 'dark', 'sepia'];
const LANGUAGES = ['en', 'fr', 'de', 'ja', 'pt'];

/** W3: cache.set of a whole small record (the settings entity) on 10,000 keys. */
export function settingsWrites(ctx: BenchContext): SlicedCase {
  const { plan } = ctx;
  const { cache, teardown } = caseCache(ctx, 'w3');
  const values = (index: number) => ({
    theme: THEMES[index % THEMES.length] as string,
    language: LANGUAGES[index % LANGUAGES.length] as string,
    notifications: index % 2 === 0,
  });
  const nextKey = uniform(plan.settingsKeys, HOT_KEY_SEED);
  return {
    id: 'W3',
    budgetMs: plan.closedLoopMs,
    // Creates every record once (cold loads), untimed.
    setup: () => warmKeys(ctx, plan.settingsKeys, (key) => cache.set('settings', `u-${key}`, values(key))),
    op: (index) => cache.set('settings', `u-${nextKey()}`, values(index)),
    finish: async (load) => [
      {
        id: 'W3',
        title: `cache.set (3-field record), ${plan.settingsKeys.toLocaleString('en')} keys`,
        ...loadSummary(load),
        notes: ['returns the whole record (HGETALL in the script)'],
        metrics: {},
      },
    ],
    teardown,
  };
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  if (Math.abs(bytes) < 1024 * 10) return `${Math.round(bytes)} B`;
  if (Math.abs(bytes) < 1024 * 1024 * 10) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
