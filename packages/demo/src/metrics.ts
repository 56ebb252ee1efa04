import type { FlushCounters, Stats } from '@write-behind/core';
import type { Queue } from 'bullmq';
import { Counter, Gauge, type Registry } from 'prom-client';

/** The job states reported per queue. */
export const JOB_STATES = ['waiting', 'delayed', 'active', 'failed', 'completed'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** What the backlog metrics read: a write-behind cache fits. */
export interface BacklogSource {
  stats(): Promise<Stats>;
  readonly queues: Queue[];
}

export interface BacklogSnapshot {
  /** When it was read (ms since the epoch). */
  at: number;
  dirtyKeys: number;
  /** Age of the oldest unflushed write, ms (0 when everything is flushed). */
  lagMs: number;
  /** Keys whose flush job failed for good and waits for an operator. */
  failedKeys: number;
  /** Events of append entities acknowledged and not yet inserted. */
  pendingEvents: number;
  queues: { queue: string; counts: Record<JobState, number> }[];
}

/**
 * Reads the backlog (one `stats()` and one job count per queue), sharing one read among the callers of a
 * short period: a scrape collects several gauges, and each must not cost its own Redis round trips.
 */
export function backlogReader(source: BacklogSource, maxAgeMs = 250): () => Promise<BacklogSnapshot> {
  let last: { at: number; snapshot: Promise<BacklogSnapshot> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at > maxAgeMs) {
      const snapshot = readBacklog(source);
      last = { at: now, snapshot };
      // A failed read must not be served again to the next caller.
      snapshot.catch(() => {
        if (last?.snapshot === snapshot) last = undefined;
      });
    }
    return last.snapshot;
  };
}

async function readBacklog(source: BacklogSource): Promise<BacklogSnapshot> {
  const [stats, queues] = await Promise.all([
    source.stats(),
    Promise.all(
      source.queues.map(async (queue) => {
        const raw = await queue.getJobCounts(...JOB_STATES);
        const counts = Object.fromEntries(JOB_STATES.map((s) => [s, raw[s] ?? 0])) as Record<
          JobState,
          number
        >;
        return { queue: queue.qualifiedName, counts };
      }),
    ),
  ]);
  return {
    at: Date.now(),
    dirtyKeys: stats.dirtyKeys,
    lagMs: stats.oldestDirtyAgeMs,
    failedKeys: stats.failedKeys,
    pendingEvents: stats.pendingEvents,
    queues,
  };
}

/**
 * Gauges of the backlog, read at scrape time. The values are global (they live in Redis), so every process
 * exporting them reports the same numbers: aggregate with `max`, not `sum`.
 */
export function registerBacklogMetrics(registry: Registry, read: () => Promise<BacklogSnapshot>): void {
  const registers = [registry];
  new Gauge({
    name: 'write_behind_dirty_keys',
    help: 'Keys written to Redis and not yet flushed to the database.',
    registers,
    async collect() {
      this.set((await read()).dirtyKeys);
    },
  });
  new Gauge({
    name: 'write_behind_lag_seconds',
    help: 'Age of the oldest unflushed write (0 when everything is flushed).',
    registers,
    async collect() {
      this.set((await read()).lagMs / 1000);
    },
  });
  new Gauge({
    name: 'write_behind_failed_keys',
    help: 'Keys whose flush job failed for good and waits for an operator (retry it in Bull Board).',
    registers,
    async collect() {
      this.set((await read()).failedKeys);
    },
  });
  new Gauge({
    name: 'write_behind_pending_events',
    help: 'Events of append entities acknowledged and not yet inserted (bounded by the event backlog limit).',
    registers,
    async collect() {
      this.set((await read()).pendingEvents);
    },
  });
  new Gauge({
    name: 'write_behind_queue_jobs',
    help: 'Flush jobs by queue and state.',
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      this.reset();
      for (const { queue, counts } of (await read()).queues) {
        for (const state of JOB_STATES) this.set({ queue, state }, counts[state]);
      }
    },
  });
  new Gauge({
    name: 'write_behind_queue_backlog_jobs',
    help: 'Flush jobs waiting or delayed, over all queues: the number to autoscale workers on.',
    registers,
    async collect() {
      const { queues } = await read();
      this.set(queues.reduce((n, q) => n + q.counts.waiting + q.counts.delayed, 0));
    },
  });
}

const FLUSH_COUNTERS: { field: keyof FlushCounters; name: string; help: string }[] = [
  { field: 'batches', name: 'write_behind_flush_batches_total', help: 'Flush batches run.' },
  {
    field: 'statements',
    name: 'write_behind_flush_statements_total',
    help: 'SQL statements run by flushes.',
  },
  { field: 'rowsWritten', name: 'write_behind_flush_rows_written_total', help: 'Rows written or deleted.' },
  { field: 'keysFlushed', name: 'write_behind_flush_keys_total', help: 'Keys flushed (the flush rate).' },
  {
    field: 'rowsRejected',
    name: 'write_behind_flush_rows_rejected_total',
    help: 'Rows the database refused (their jobs fail and are retried).',
  },
  {
    field: 'rowsDeferred',
    name: 'write_behind_flush_rows_deferred_total',
    help: 'Rows that waited for a related row pending in the cache (a parent, or a child whose delete is pending): not written, no attempt spent.',
  },
  {
    field: 'outages',
    name: 'write_behind_flush_outages_total',
    help: 'Flushes that found the database unreachable (the queue pauses).',
  },
];

/** Counters of one flush worker process, from its running totals (`worker.counters`). */
export function registerFlushMetrics(registry: Registry, counters: Readonly<FlushCounters>): void {
  for (const { field, name, help } of FLUSH_COUNTERS) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        // The worker keeps the totals; a prom-client counter can only add, so restate the total.
        this.reset();
        this.inc(counters[field]);
      },
    });
  }
}
