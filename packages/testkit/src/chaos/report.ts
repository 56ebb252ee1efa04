// What a chaos run reports, and the table `npm run chaos` prints.
import type { Counts } from './counts.ts';
import type { Mismatch } from './model.ts';
import type { ChaosOptions } from './options.ts';
import type { KillRecovery, RecoverySummary } from './recovery-tracker.ts';

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
  /** Video and settings rows in PostgreSQL. */
  rowsChecked: number;
  /** Video and settings keys compared with the model, in PostgreSQL and in Redis. */
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
  failedReasons: Counts;
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
    `rows checked        ${r.rowsChecked} rows in PostgreSQL, ${r.keysChecked} keys against the model (PostgreSQL and Redis)`,
    `events checked      ${r.eventRows} event rows in PostgreSQL against ${r.eventsChecked} acknowledged appends in ${r.options.streams} streams`,
    `outcome unknown     ${r.unsure.keys} keys, ${r.unsure.events} appends (left out of the check)`,
    `failed jobs         ${r.failedJobs} ${JSON.stringify(r.failedReasons)}`,
    ...r.stuckKeys.map((k) => `  still dirty: ${k}`),
    `library log lines   warn ${r.logs.warn} ${JSON.stringify(r.logs.warnings)}, error ${r.logs.error}`,
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
