// What a chaos run reports, and the table `npm run chaos` prints.
import type { Counts } from './counts.ts';
import type { Mismatch } from './model.ts';
import type { ChaosOptions } from './options.ts';
import type { KillRecovery, RecoverySummary } from './recovery-tracker.ts';
import type { WorkerLogs } from './worker-logs.ts';

/** Log lines of the cache and the draining worker; warnings counted by message. */
export interface LogCounts {
  warn: number;
  error: number;
  errorSamples: string[];
  warnings: Counts;
}

export interface ChaosReport {
  options: ChaosOptions;
  loadMs: number;
  acknowledged: number;
  acknowledgedByKind: Counts;
  rejected: Counts;
  /** Reads during the load whose value differed from the model (the client owns the key, so it must not). */
  readMismatches: number;
  throughput: number;
  faults: Counts;
  faultsTotal: number;
  drainMs: number;
  drainError?: string;
  /** Video, settings and comment rows in PostgreSQL. */
  rowsChecked: number;
  /** Of those, comment rows. */
  commentRows: number;
  /** Video, settings and comment keys compared with the model, in PostgreSQL and in Redis. */
  keysChecked: number;
  /** Acknowledged events compared with the event rows, and those rows. */
  eventsChecked: number;
  eventRows: number;
  /** Keys and appends whose outcome the client could not know, left out of the comparison (see model.ts). */
  unsure: { keys: number; events: number };
  /** Every difference from the model: PostgreSQL, Redis, reads during the load, contradicting answers. */
  mismatches: number;
  mismatchSamples: Mismatch[];
  /** Jobs left in BullMQ's failed set (their keys may still have been flushed by a later job). */
  failedJobs: number;
  /**
   * Of those, jobs that stalled more often than allowed (their workers killed twice while holding them): by
   * design, the sweep enqueues their keys again, and the rows' check says whether they landed. Every other
   * failed job fails the run: the load asks the database for nothing it must refuse (a comment on a video it
   * lacks, a video's delete under a comment), so such a job is a failure of the flush's order, or of another
   * kind.
   */
  stalledJobs: number;
  /** By `<entity>: <reason>`. */
  failedReasons: Counts;
  /** The first failed jobs other than the stalled ones: `<entity> <id>: <reason>`. */
  failedSamples: string[];
  /**
   * The flush counters (`FlushCounters`: `rowsDeferred`, `rowsRejected`, `keysFlushed`...) of the load's
   * workers that were stopped at its end and of the drainer, summed; a killed worker's die with it.
   */
  flushCounters: Counts;
  /**
   * What the load's worker processes logged, killed ones included: warnings and errors by message, and the
   * lines of flush jobs that failed but for stalling (a row the database refused, even if a retry landed it).
   */
  workerLogs: WorkerLogs;
  /** Keys still dirty after the drain (at most 20), with their flush job's state. */
  stuckKeys: string[];
  /** Only when keys were stuck: PostgreSQL mismatches after retrying every failed job and draining again. */
  mismatchesAfterRetry?: number;
  /** Per kill: from the kill to the last key its active jobs held reaching PostgreSQL. */
  recovery: RecoverySummary;
  logs: LogCounts;
}

export function formatReport(r: ChaosReport): string {
  return [
    `load held           ${r.throughput} acknowledged ops/s for ${(r.loadMs / 1000).toFixed(1)} s (${r.options.clients} clients)`,
    `acknowledged        ${r.acknowledged} ${JSON.stringify(r.acknowledgedByKind)}`,
    `not acknowledged    ${JSON.stringify(r.rejected)}`,
    `faults injected     ${r.faultsTotal} ${JSON.stringify(r.faults)}`,
    `drain               ${r.drainMs} ms${r.drainError ? ` FAILED: ${r.drainError}` : ''}`,
    `recovery after kill ${formatRecovery(r.recovery)}`,
    ...r.recovery.samples.map(formatKill),
    `rows checked        ${r.rowsChecked} rows in PostgreSQL (${r.commentRows} comments), ${r.keysChecked} keys against the model (PostgreSQL and Redis)`,
    `events checked      ${r.eventRows} event rows in PostgreSQL against ${r.eventsChecked} acknowledged appends in ${r.options.streams} streams`,
    `outcome unknown     ${r.unsure.keys} keys, ${r.unsure.events} appends (left out of the check)`,
    `failed jobs         ${r.failedJobs} (${r.stalledJobs} stalled twice, the sweep's by design; ${r.failedJobs - r.stalledJobs} other) ${JSON.stringify(r.failedReasons)}`,
    ...r.failedSamples.map((sample) => `  failed: ${sample}`),
    `flush counters      ${formatCounters(r.flushCounters)} (workers stopped at the end and the drainer; killed ones' are lost)`,
    ...r.stuckKeys.map((k) => `  still dirty: ${k}`),
    `library log lines   warn ${r.logs.warn} ${JSON.stringify(r.logs.warnings)}, error ${r.logs.error}`,
    `worker log lines    ${JSON.stringify(r.workerLogs.counts)}`,
    ...r.workerLogs.failedJobLines.map((line) => `  ${line}`),
    `read mismatches     ${r.readMismatches}`,
    `MISMATCHES          ${r.mismatches}`,
    ...(r.mismatchesAfterRetry === undefined
      ? []
      : [`after retrying the failed jobs by hand: ${r.mismatchesAfterRetry} PostgreSQL mismatches`]),
    ...r.mismatchSamples
      .slice(0, 10)
      .map(
        (m) =>
          `  ${m.where} ${m.entity} ${m.id}: expected ${JSON.stringify(m.expected)}, got ${JSON.stringify(m.actual)}`,
      ),
  ].join('\n');
}

function formatCounters(counters: Counts): string {
  const shown = ['keysFlushed', 'rowsDeferred', 'rowsRejected', 'outages'];
  return shown.map((name) => `${name} ${counters[name] ?? 0}`).join(', ');
}

/**
 * Whether a run found nothing wrong: no mismatch, a complete drain, no failed job but those that stalled too
 * often (see {@link ChaosReport.stalledJobs}), and no flush job of a worker that failed but for stalling (a
 * row the database refused spends an attempt of its job even when a retry lands it later).
 */
export function chaosPassed(r: ChaosReport): boolean {
  return (
    r.mismatches === 0 &&
    !r.drainError &&
    r.failedJobs === r.stalledJobs &&
    (r.flushCounters.rowsRejected ?? 0) === 0 &&
    r.workerLogs.failedJobLines.length === 0
  );
}

function formatKill(k: KillRecovery): string {
  const s = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`);
  const restalled = k.restalled > 0 ? `; ${k.restalled} stalled a second time: ${s(k.restalledMs)}` : '';
  return `  kill at ${(k.atMs / 1000).toFixed(1)} s (${k.kind}, ${k.keys} keys held): ${k.landed ? s(k.recoveryMs) : 'never landed'}${restalled}${k.duringOutage ? ' (outage)' : ''}`;
}

function formatRecovery(r: RecoverySummary): string {
  const ms = (n: number | undefined) => (n === undefined ? '—' : `${(n / 1000).toFixed(2)} s`);
  return [
    `${r.kills} of ${r.killsTotal} kills found the worker holding keys`,
    `median ${ms(r.medianMs)}, max ${ms(r.maxMs)} over the ${r.kills - r.outageKills} clear of the outage`,
    `${r.outageKills} during the outage (max ${ms(r.outageMaxMs)})`,
    ...(r.restalledMaxMs === undefined
      ? []
      : [`keys whose job stalled a second time (the sweep's): up to ${ms(r.restalledMaxMs)}`]),
    ...(r.notLanded > 0 ? [`${r.notLanded} with a key never landed`] : []),
  ].join('; ');
}
