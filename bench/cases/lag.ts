// L1: how long an acknowledged write takes to reach its row, at half of W1's throughput with a worker running,
// and how long the backlog takes to drain once the load stops. A second phase repeats it at half the rate the
// first one achieved, to show the lag of a system that keeps up (informational, no target).
import type { WriteBehind } from '@write-behind/core';
import type { TestDatabase } from '@write-behind/testkit';
import { type BenchContext, type CaseResult, loadSummary, waitFor } from '../lib/context.ts';
import { uniform } from '../lib/distributions.ts';
import { type BenchEntities, startFlushingCache } from '../lib/entities.ts';
import { createHistogram, percentile, record } from '../lib/histogram.ts';
import { type LoadResult, runLoad } from '../lib/load.ts';

/** One acknowledged write in this many is followed to PostgreSQL. */
const SAMPLE_EVERY = 20;
const POLL_INTERVAL_MS = 10;
const DRAIN_TIMEOUT_MS = 60_000;

interface Sample {
  id: string;
  /** The counter value the increment returned: the row holds this write once `likes >= value`. */
  value: number;
  ackedAt: number;
}

export async function lag(ctx: BenchContext, ratePerSec: number): Promise<CaseResult[]> {
  const { plan, db } = ctx;
  const prefix = `${ctx.prefix}-l1`;
  const { cache, close } = await startFlushingCache(ctx, prefix);
  try {
    // Load every key once and let it flush, so the timed run starts from a warm, clean cache.
    await runLoad({
      concurrency: plan.inFlight,
      total: plan.lagKeys,
      maxMs: 120_000,
      op: (index) => cache.increment('video', `l1-${index}`, 'likes'),
    });
    await cache.flush({ timeoutMs: DRAIN_TIMEOUT_MS });
    const first = await lagPhase(ctx, db, cache, ratePerSec, 13);
    const main = lagRow(ctx, 'L1', `lag at ½ W1`, ratePerSec, first);
    const sustainable = first.load.opsPerSec / 2;
    ctx.progress(`L1: again at ${Math.round(sustainable)} ops/s (half of what the first phase achieved)`);
    const second = await lagPhase(ctx, db, cache, sustainable, 17);
    return [main, lagRow(ctx, 'L1 (½ achieved)', 'lag at ½ of the rate L1 achieved', sustainable, second)];
  } finally {
    await close();
  }
}

interface LagPhase {
  load: LoadResult;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  samples: number;
  drainMs: number;
}

/** Paced increments on the lag keys while a poller follows every SAMPLE_EVERY-th write to its row. */
async function lagPhase(
  ctx: BenchContext,
  db: TestDatabase,
  cache: WriteBehind<BenchEntities>,
  ratePerSec: number,
  seed: number,
): Promise<LagPhase> {
  const { plan } = ctx;
  const pending: Sample[] = [];
  const lagNs = createHistogram();
  let loadRunning = true;
  let pollError: unknown;
  const poll = async () => {
    // Polls PostgreSQL for the sampled rows until the load has stopped and every sample has landed.
    while (loadRunning || pending.length > 0) {
      if (pending.length > 0) {
        const ids = [...new Set(pending.map((s) => s.id))];
        const { rows } = await db.pool.query<{ id: string; likes: string }>(
          'SELECT id, likes::text FROM "Video" WHERE id = ANY($1::text[])',
          [ids],
        );
        const now = performance.now();
        const likes = new Map(rows.map((r) => [r.id, Number(r.likes)]));
        for (let i = pending.length - 1; i >= 0; i--) {
          const sample = pending[i] as Sample;
          if ((likes.get(sample.id) ?? 0) >= sample.value) {
            record(lagNs, Math.round((now - sample.ackedAt) * 1e6));
            pending.splice(i, 1);
          }
        }
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  };
  const poller = poll().catch((error: unknown) => {
    pollError = error;
    pending.length = 0;
  });

  const nextKey = uniform(plan.lagKeys, seed);
  let load: LoadResult;
  let drainMs: number;
  try {
    load = await runLoad({
      concurrency: plan.inFlight,
      total: Number.MAX_SAFE_INTEGER,
      maxMs: plan.lagMs,
      ratePerSec,
      op: async (index) => {
        const id = `l1-${nextKey()}`;
        const value = await cache.increment('video', id, 'likes');
        if (index % SAMPLE_EVERY === 0) pending.push({ id, value, ackedAt: performance.now() });
      },
    });
    const stoppedAt = performance.now();
    drainMs =
      (await waitFor('L1 drain', async () => (await cache.stats()).dirtyKeys === 0, DRAIN_TIMEOUT_MS, 5)) -
      stoppedAt;
    await waitFor('L1 samples', async () => pending.length === 0, DRAIN_TIMEOUT_MS);
  } finally {
    loadRunning = false;
    pending.length = 0;
    await poller;
  }
  if (pollError) throw pollError;
  return {
    load,
    lagP50Ms: percentile(lagNs, 0.5) / 1e6,
    lagP99Ms: percentile(lagNs, 0.99) / 1e6,
    lagMaxMs: lagNs.max / 1e6,
    samples: lagNs.total,
    drainMs,
  };
}

function lagRow(
  ctx: BenchContext,
  id: string,
  what: string,
  ratePerSec: number,
  phase: LagPhase,
): CaseResult {
  const { plan } = ctx;
  const { load } = phase;
  return {
    id,
    title: `${what}: ${Math.round(ratePerSec).toLocaleString('en')} ops/s on ${plan.lagKeys.toLocaleString('en')} keys, ${plan.lagMs / 1000} s, window ${plan.windowMs} ms`,
    ...loadSummary(load),
    notes: [
      `achieved ${Math.round(load.opsPerSec).toLocaleString('en')} of ${Math.round(ratePerSec).toLocaleString('en')} ops/s`,
      `ack→row p50 ${phase.lagP50Ms.toFixed(0)} ms, p99 ${phase.lagP99Ms.toFixed(0)} ms, max ${phase.lagMaxMs.toFixed(0)} ms (${phase.samples} samples, polled every ${POLL_INTERVAL_MS} ms)`,
      `drain after the load stops: ${phase.drainMs.toFixed(0)} ms`,
    ],
    metrics: {
      targetRate: ratePerSec,
      achievedRate: load.opsPerSec,
      lagP50Ms: phase.lagP50Ms,
      lagP99Ms: phase.lagP99Ms,
      lagMaxMs: phase.lagMaxMs,
      lagSamples: phase.samples,
      drainMs: phase.drainMs,
    },
  };
}
