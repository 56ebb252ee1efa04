import type { BenchContext, CaseResult } from './context.ts';
import { createHistogram, merge } from './histogram.ts';
import { type LoadResult, runLoad } from './load.ts';
import { type CpuPerOp, startCpuMeter } from './server-stats.ts';

/**
 * A closed-loop case that can be run in slices. The machine is shared (other engineers run tests on the same
 * two cores), so the load on it drifts during a run; running A, B, C, W1, W2 and W3 in interleaved slices
 * (A B C W1 W2 W3, A B C W1 W2 W3, ...) exposes every case to the same drift, which keeps their ratios honest.
 */
export interface SlicedCase {
  id: string;
  /** Total measured time over all slices. */
  budgetMs: number;
  /** Requests in flight. @defaultValue `plan.inFlight` (64) */
  concurrency?: number;
  /** Most operations over all slices (W2: the number of distinct keys). */
  maxOps?: number;
  /** Untimed: connections, rows, warm-up. */
  setup(): Promise<void>;
  /** One operation; `index` counts up across slices, each value used once. */
  op(index: number): Promise<unknown>;
  /** Wraps each timed slice, for bookkeeping that must exclude the other cases (W2's memory). */
  aroundSlice?(slice: () => Promise<void>): Promise<void>;
  /** The rows, from the merged slices. */
  finish(load: LoadResult & { cpu: CpuPerOp }): Promise<CaseResult[]>;
  teardown(): Promise<void>;
}

interface Progress {
  load: LoadResult;
  nodeMicros: number;
  redisMicros: number;
  /** Undefined once any slice could not measure it. */
  postgresMicros: number | undefined;
  started: number;
}

/** Runs the cases' slices round-robin; a case whose setup or slice fails becomes a FAILED row. */
export async function runInterleaved(
  ctx: BenchContext,
  cases: readonly SlicedCase[],
  rounds: number,
): Promise<CaseResult[]> {
  const failed = new Map<string, string>();
  const progress = new Map<string, Progress>();
  const ready: SlicedCase[] = [];
  for (const c of cases) {
    ctx.progress(`${c.id}: setting up`);
    try {
      await c.setup();
      ready.push(c);
      progress.set(c.id, {
        load: {
          completed: 0,
          errors: 0,
          elapsedMs: 0,
          opsPerSec: 0,
          latency: createHistogram(),
        },
        nodeMicros: 0,
        redisMicros: 0,
        postgresMicros: 0,
        started: 0,
      });
    } catch (error) {
      failed.set(c.id, messageOf(error));
    }
  }

  for (let round = 0; round < rounds; round++) {
    ctx.progress(
      `round ${round + 1}/${rounds}: ${ready
        .filter((c) => !failed.has(c.id))
        .map((c) => c.id)
        .join(' ')}`,
    );
    for (const c of ready) {
      const state = progress.get(c.id) as Progress;
      const remaining = (c.maxOps ?? Number.MAX_SAFE_INTEGER) - state.started;
      if (failed.has(c.id) || remaining <= 0) continue;
      const slice = async () => {
        const meter = await startCpuMeter(ctx.redis);
        const offset = state.started;
        const load = await runLoad({
          concurrency: c.concurrency ?? ctx.plan.inFlight,
          total: remaining,
          maxMs: c.budgetMs / rounds,
          op: (index) => c.op(offset + index),
        });
        const cpu = await meter.stop(1);
        state.started += load.completed + load.errors;
        state.nodeMicros += cpu.nodeUsPerOp;
        state.redisMicros += cpu.redisUsPerOp;
        state.postgresMicros =
          state.postgresMicros === undefined || cpu.postgresUsPerOp === undefined
            ? undefined
            : state.postgresMicros + cpu.postgresUsPerOp;
        const total = state.load;
        total.completed += load.completed;
        total.errors += load.errors;
        if (load.firstError) total.firstError ??= load.firstError;
        total.elapsedMs += load.elapsedMs;
        merge(total.latency, load.latency);
      };
      try {
        await (c.aroundSlice ? c.aroundSlice(slice) : slice());
      } catch (error) {
        failed.set(c.id, messageOf(error));
      }
    }
  }

  const rows: CaseResult[] = [];
  for (const c of cases) {
    const state = progress.get(c.id);
    const failure = failed.get(c.id);
    try {
      if (failure || !state) {
        rows.push({ id: c.id, title: c.id, notes: [`FAILED: ${failure ?? 'no result'}`], metrics: {} });
      } else {
        const { load } = state;
        load.opsPerSec = load.elapsedMs > 0 ? (load.completed / load.elapsedMs) * 1000 : 0;
        const ops = Math.max(1, load.completed);
        rows.push(
          ...(await c.finish({
            ...load,
            cpu: {
              nodeUsPerOp: state.nodeMicros / ops,
              redisUsPerOp: state.redisMicros / ops,
              ...(state.postgresMicros === undefined ? {} : { postgresUsPerOp: state.postgresMicros / ops }),
            },
          })),
        );
      }
    } finally {
      await c.teardown().catch((error: unknown) => ctx.progress(`${c.id} teardown: ${messageOf(error)}`));
    }
  }
  return rows;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
