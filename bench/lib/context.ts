import type { TestDatabase } from '@write-behind/testkit';
import type { Redis } from 'ioredis';
import { percentile } from './histogram.ts';
import type { LoadResult } from './load.ts';
import type { CpuPerOp } from './server-stats.ts';

// The cases wait with the polling helper the tests use; re-exported for those that import it from here.
export { waitFor } from '@write-behind/testkit';

/** How much work each case does. `--quick` shrinks everything for a smoke test. */
export interface Plan {
  quick: boolean;
  /** Requests in flight for every load generator (A, B, C, W*, C1, L1). */
  inFlight: number;
  /** Hot keys of A, B, C and W1 (uniform). */
  hotKeys: number;
  /** Measured time of each of A, B, C, W1 and W3, spread over `rounds` interleaved slices. */
  closedLoopMs: number;
  /** Distinct keys W2 tries to write, and its measured time (also interleaved). */
  distinctKeys: number;
  distinctMs: number;
  /** Measured time of A and W1 at 8 requests in flight (informational: latency without queueing). */
  lowConcurrencyMs: number;
  /** Interleaved rounds of A, B, C, W1, W2, W3 (see lib/interleave.ts). */
  rounds: number;
  /** W3's keys. */
  settingsKeys: number;
  /** Dirty keys F1 preloads and flushes (per round). */
  flushKeys: number;
  /** Requests in flight while preloading F1 (a fast path, not a measured latency). */
  preloadInFlight: number;
  /** Worker concurrency of F1 and of the no-op ceiling (the library's default `flush.concurrency`). */
  workerConcurrency: number;
  /** C1 keys, Zipf exponent, duration. */
  coalescingKeys: number;
  zipfS: number;
  coalescingMs: number;
  /** L1 keys and duration. */
  lagKeys: number;
  lagMs: number;
  /** flush.windowMs of F1, C1 and L1 (the library default). */
  windowMs: number;
}

export function createPlan(quick: boolean): Plan {
  return {
    quick,
    inFlight: 64,
    hotKeys: 1000,
    closedLoopMs: quick ? 1_500 : 12_000,
    distinctKeys: quick ? 10_000 : 1_000_000,
    distinctMs: quick ? 3_000 : 60_000,
    lowConcurrencyMs: quick ? 1_000 : 6_000,
    rounds: quick ? 2 : 6,
    settingsKeys: quick ? 2_000 : 10_000,
    flushKeys: quick ? 5_000 : 200_000,
    preloadInFlight: 256,
    workerConcurrency: 500,
    coalescingKeys: 100,
    zipfS: 1.1,
    coalescingMs: quick ? 2_000 : 10_000,
    lagKeys: quick ? 2_000 : 10_000,
    lagMs: quick ? 2_000 : 10_000,
    windowMs: 1000,
  };
}

export interface BenchContext {
  plan: Plan;
  redisUrl: string;
  /** A connection for the benchmark's own bookkeeping: memory, stats, cleanup. Not used by loads. */
  redis: Redis;
  db: TestDatabase;
  /** This run's key prefix; each case uses `<prefix>-<case>`. */
  prefix: string;
  progress(line: string): void;
}

/** One row of the results table; `metrics` carries everything else for the JSON file. */
export interface CaseResult {
  id: string;
  title: string;
  count?: number;
  countUnit?: string;
  rate?: number;
  rateUnit?: string;
  p50Ms?: number;
  p99Ms?: number;
  p999Ms?: number;
  errors?: number;
  firstError?: string;
  /** CPU per operation (or per key, per job): this process (or the worker processes) and Redis. */
  cpu?: CpuPerOp;
  notes: string[];
  metrics: Record<string, number>;
}

const NS_PER_MS = 1e6;

/** The common fields of a load's row: count, rate, latency percentiles in ms, CPU per operation. */
export function loadSummary(
  load: LoadResult & { cpu?: CpuPerOp },
  countUnit = 'ops',
  rateUnit = 'ops/s',
): Partial<CaseResult> {
  return {
    ...(load.cpu ? { cpu: load.cpu } : {}),
    count: load.completed,
    countUnit,
    rate: load.opsPerSec,
    rateUnit,
    p50Ms: percentile(load.latency, 0.5) / NS_PER_MS,
    p99Ms: percentile(load.latency, 0.99) / NS_PER_MS,
    p999Ms: percentile(load.latency, 0.999) / NS_PER_MS,
    errors: load.errors,
    ...(load.firstError ? { firstError: load.firstError } : {}),
  };
}
