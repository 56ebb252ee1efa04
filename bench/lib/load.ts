import { setTimeout as sleep } from 'node:timers/promises';
import { createHistogram, type Histogram, record } from './histogram.ts';

export interface LoadOptions {
  /** Requests in flight: this many lanes, each awaiting one operation at a time (a closed loop). */
  concurrency: number;
  /** Operations to run at most. */
  total: number;
  /** Stop starting operations after this long, even if `total` is not reached. */
  maxMs: number;
  /**
   * Paced mode: operation i is not started before `start + i / ratePerSec`. The schedule catches up after a
   * stall rather than drifting, so the average rate holds. Undefined: as fast as the lanes go.
   */
  ratePerSec?: number;
  /** The operation; `index` runs from 0 up, each exactly once. */
  op(index: number): Promise<unknown>;
}

export interface LoadResult {
  completed: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  opsPerSec: number;
  /** Per-operation latency in nanoseconds (process.hrtime.bigint around each awaited operation). */
  latency: Histogram;
}

/** Runs `op` with a fixed number of requests in flight and records each one's latency. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { concurrency, total, maxMs, ratePerSec, op } = options;
  const latency = createHistogram();
  let next = 0;
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const deadline = start + maxMs;
  const intervalMs = ratePerSec ? 1000 / ratePerSec : 0;

  const lane = async (): Promise<void> => {
    for (;;) {
      if (next >= total || performance.now() >= deadline) return;
      const index = next++;
      if (intervalMs > 0) {
        const wait = start + index * intervalMs - performance.now();
        if (wait >= 1) await sleep(wait);
      }
      const began = process.hrtime.bigint();
      try {
        await op(index);
        record(latency, Number(process.hrtime.bigint() - began));
        completed++;
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const elapsedMs = performance.now() - start;
  return {
    completed,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    elapsedMs,
    opsPerSec: (completed / elapsedMs) * 1000,
    latency,
  };
}
