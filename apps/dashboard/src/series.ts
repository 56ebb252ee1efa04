/**
 * The overview's chart data: the dashboard samples the cache's backlog (`cache.stats()`) and its activity
 * counters (running totals in Redis, summed over every process: see `@write-behind/core/operator`) every
 * `intervalMs`, keeps the last `windowMs`, and turns the samples into series: levels as they are, counters as
 * rates per second between one sample and the next. The pure part (`seriesOf`) is unit-tested.
 */
import type { ShardActivity } from '@write-behind/core/operator';

/** One shard at one instant. */
export interface ShardSample {
  lagMs: number;
  dirtyKeys: number;
  failedKeys: number;
  /** Keys and estimated bytes under the memory budget (0 without one). */
  keys: number;
  bytes: number;
  activity: ShardActivity;
}

export interface Sample {
  /** When it was read (ms since the epoch). */
  at: number;
  shards: ShardSample[];
}

/** Values per series name: `all` (every shard) and, with several shards, one per shard (`'0'`, `'1'`, …). */
export type SeriesSet = Record<string, (number | null)[]>;

/** What `GET /api/series` answers: columns for uPlot, one value per sample time. */
export interface SeriesPayload {
  intervalMs: number;
  windowMs: number;
  shards: number;
  /** Sample times, ms since the epoch. */
  at: number[];
  series: {
    lagSeconds: SeriesSet;
    dirtyKeys: SeriesSet;
    failedKeys: SeriesSet;
    acknowledgedPerSecond: SeriesSet;
    rowsWrittenPerSecond: SeriesSet;
    flushFailuresPerSecond: SeriesSet;
    /** Per refusal code, all shards together. */
    refusedPerSecond: SeriesSet;
    memoryKeys: SeriesSet;
    memoryBytes: SeriesSet;
  };
}

type Level = (shard: ShardSample) => number;
type Counter = (shard: ShardSample) => number;

/** A counter's rate per second between two samples; null for the first sample or after a reset. */
function rate(previous: Sample | undefined, sample: Sample, read: (s: Sample) => number): number | null {
  if (!previous) return null;
  const seconds = (sample.at - previous.at) / 1000;
  const delta = read(sample) - read(previous);
  if (seconds <= 0 || delta < 0) return null;
  return delta / seconds;
}

const sum = (sample: Sample, read: Level) => sample.shards.reduce((n, s) => n + read(s), 0);
const max = (sample: Sample, read: Level) => sample.shards.reduce((n, s) => Math.max(n, read(s)), 0);

/**
 * The series of `samples` (oldest first) whose time is after `since` (all when undefined); rates of the first
 * of them use the sample before, when there is one. Pure.
 */
export function seriesOf(
  samples: readonly Sample[],
  { since, intervalMs, windowMs }: { since?: number; intervalMs: number; windowMs: number },
): SeriesPayload {
  const shards = Math.max(0, ...samples.map((s) => s.shards.length));
  const first = since === undefined ? 0 : samples.findIndex((s) => s.at > since);
  const chosen = first < 0 ? [] : samples.slice(first);
  const before = (i: number) => (first + i > 0 ? samples[first + i - 1] : undefined);

  const levelSet = (read: Level, whole: (s: Sample, r: Level) => number): SeriesSet => {
    const set: SeriesSet = { all: chosen.map((s) => whole(s, read)) };
    if (shards > 1) {
      for (let shard = 0; shard < shards; shard++) {
        set[String(shard)] = chosen.map((s) => {
          const one = s.shards[shard];
          return one ? read(one) : null;
        });
      }
    }
    return set;
  };
  const rateSet = (read: Counter): SeriesSet => {
    const set: SeriesSet = { all: chosen.map((s, i) => rate(before(i), s, (x) => sum(x, read))) };
    if (shards > 1) {
      for (let shard = 0; shard < shards; shard++) {
        set[String(shard)] = chosen.map((s, i) =>
          rate(before(i), s, (x) => (x.shards[shard] ? read(x.shards[shard] as ShardSample) : 0)),
        );
      }
    }
    return set;
  };
  const codes = [
    ...new Set(samples.flatMap((s) => s.shards.flatMap((shard) => Object.keys(shard.activity.refused)))),
  ].sort();
  const refusedPerSecond: SeriesSet = Object.fromEntries(
    codes.map((code) => [
      code,
      chosen.map((s, i) => rate(before(i), s, (x) => sum(x, (sh) => sh.activity.refused[code] ?? 0))),
    ]),
  );

  return {
    intervalMs,
    windowMs,
    shards,
    at: chosen.map((s) => s.at),
    series: {
      lagSeconds: levelSet((s) => s.lagMs / 1000, max),
      dirtyKeys: levelSet((s) => s.dirtyKeys, sum),
      failedKeys: levelSet((s) => s.failedKeys, sum),
      acknowledgedPerSecond: rateSet((s) => s.activity.acknowledged),
      rowsWrittenPerSecond: rateSet((s) => s.activity.rowsWritten),
      flushFailuresPerSecond: rateSet((s) => s.activity.rowsRefused),
      refusedPerSecond,
      memoryKeys: levelSet((s) => s.keys, sum),
      memoryBytes: levelSet((s) => s.bytes, sum),
    },
  };
}

/**
 * Reads a sample every `intervalMs` and keeps the last `windowMs` of them. A failed read (Redis away) is
 * skipped: the chart shows a gap. Its timer does not keep the process alive.
 */
export class Sampler {
  readonly intervalMs: number;
  readonly windowMs: number;
  readonly #read: () => Promise<Sample>;
  readonly #samples: Sample[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    read: () => Promise<Sample>,
    { intervalMs, windowMs }: { intervalMs: number; windowMs: number },
  ) {
    this.#read = read;
    this.intervalMs = intervalMs;
    this.windowMs = windowMs;
  }

  start(): this {
    if (!this.#timer && !this.#stopped) void this.#tick();
    return this;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #tick(): Promise<void> {
    try {
      const sample = await this.#read();
      this.#samples.push(sample);
      const oldest = sample.at - this.windowMs;
      while ((this.#samples[0]?.at ?? oldest) < oldest) this.#samples.shift();
    } catch (error) {
      // A closed cache ends the sampling for good; anything else (Redis away) skips one sample.
      if ((error as { code?: unknown })?.code === 'CLOSED') this.#stopped = true;
    }
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), this.intervalMs);
    this.#timer.unref();
  }

  /** The series since `since` (ms), or of the whole window. */
  series(since?: number): SeriesPayload {
    return seriesOf(this.#samples, {
      ...(since === undefined ? {} : { since }),
      intervalMs: this.intervalMs,
      windowMs: this.windowMs,
    });
  }
}
