// The operator's tools over a cache, as a public entry of its own (`@write-behind/core/operator`): a key's
// whole story, its actions (flush now, retry, discard), failed jobs grouped by cause and retried in batches,
// the activity counters charts read, and all of it as an express router. Apart from the main entry so that
// only users who mount the router need `express`.
export {
  ACTIVITY_FIELDS,
  type ActivityField,
  parseActivity,
  type ShardActivity,
} from './activity.js';
// Every cause tool: the grouping of failed jobs is the operator's own vocabulary.
export * from './operator/causes.js';
export { type CliIo, formatFailures, formatInspection, processIo, runCli, USAGE } from './operator/cli.js';
export { canonicalIdOf, type KeyPartInfo, operatorId, typedIdOf } from './operator/ids.js';
export {
  type ActionResult,
  type DatabaseSide,
  type EntityInfo,
  type FailureReport,
  type JobInfo,
  type KeyInspection,
  type KeyState,
  Operator,
  OperatorError,
  type OperatorErrorCode,
  type RankingInfo,
  type RedisSide,
  type RetryProgress,
} from './operator/operator.js';
export {
  DEFAULT_OPERATOR_OPTIONS,
  type OperatorOptions,
  type OperatorRouterOptions,
  resolveOperatorOptions,
} from './operator/options.js';
export { createOperatorRouter, type RetryRun } from './operator/router.js';
