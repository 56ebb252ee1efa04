/*
 * The public API: what the README documents. Tests, benchmarks and tools reach internals through
 * `@write-behind/core/internal`, which makes no promise of stability.
 */
export {
  BacklogFullError,
  ClosedError,
  ConfigurationError,
  IndeterminateError,
  NotFoundError,
  NotReplicatedError,
  TimeoutError,
  UnavailableError,
  ValidationError,
  WriteBehindError,
  type WriteBehindErrorCode,
} from './errors.js';
export type { FlushCounters } from './flush/flush-batcher.js';
export type { FlushWorker } from './flush/worker.js';
export type { DatabaseHealth, Health, HealthOptions, RedisHealth } from './health.js';
export {
  type BacklogOptions,
  DEFAULT_OPTIONS,
  DEFAULT_WORKER_OPTIONS,
  type DurabilityLevel,
  type FlushOptions,
  type FlushWorkerOptions,
  type LimitsOptions,
  type Logger,
  type ReplicationOptions,
  type SweepOptions,
  type WaitOptionsDefaults,
  type WriteBehindOptions,
  type WritesOptions,
} from './options.js';
export { type RunFlushWorkerOptions, runFlushWorker } from './run-worker.js';
export type { FieldValue } from './schema/codec.js';
export type { ColumnType } from './schema/column-types.js';
export {
  type AppendEntityNames,
  type AppendInput,
  type AppendSpec,
  boolean,
  type CheckedEntities,
  type CounterFields,
  type CounterOptions,
  counter,
  type DecimalLike,
  dateTime,
  decimal,
  type EntityDefinition,
  type EntityDefinitions,
  type EntityInput,
  type EntityValues,
  enumeration,
  type FieldKind,
  type FieldSpec,
  type IdOf,
  integer,
  type JsonCompatible,
  type JsonValue,
  json,
  type KeyKind,
  type KeyParts,
  number,
  type ParentSpec,
  type RankedCounterSpec,
  type RankedFields,
  type StateEntityNames,
  string,
} from './schema/fields.js';
export type { PrismaClientLike } from './store/prisma-store.js';
// The whole store contract: what a custom store implements.
export type * from './store/store.js';
export { tombstoneTableSql } from './store/verify.js';
export {
  createWriteBehind,
  type RankedEntry,
  type RankPosition,
  type ShardStats,
  type Stats,
  type WaitOptions,
  WriteBehind,
  type WriteOptions,
} from './write-behind.js';
