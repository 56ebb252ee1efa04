// `@write-behind/testkit/chaos`: the consistency checker under faults that `npm run chaos` (scripts/chaos/run.ts)
// and test/chaos.test.ts run, and the pieces the other chaos scripts share (durations on the command line).
export { CHAOS_USAGE, type ChaosCommand, parseChaosArgs, parseDuration, parseNumber } from './args.ts';
export {
  type ChaosEvent,
  type ChaosKeys,
  ChaosModel,
  type CommentRecord,
  type EventRow,
  type Mismatch,
  type SettingsRecord,
  type VideoRecord,
} from './model.ts';
export { type ChaosOptions, DEFAULT_CHAOS, resolveChaosOptions } from './options.ts';
export { type KillRecovery, type RecoverySummary, RecoveryTracker, summarize } from './recovery-tracker.ts';
export { type ChaosReport, chaosPassed, formatReport, type LogCounts } from './report.ts';
export { runChaos } from './run.ts';
export type { WorkerLogs } from './worker-logs.ts';
