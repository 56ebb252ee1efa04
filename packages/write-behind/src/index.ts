export type { Context } from './context.js';
export {
  BacklogFullError,
  ClosedError,
  ConfigurationError,
  NotFoundError,
  TimeoutError,
  UnavailableError,
  ValidationError,
  WriteBehindError,
  type WriteBehindErrorCode,
} from './errors.js';
export type { FlushCounters, FlushOutcome } from './flush/batcher.js';
export { FlushWorker, type FlushWorkerOptions } from './flush/worker.js';
export { dataKey, flushJobId, QUEUE_NAME, shardKeys, shardOf } from './keys.js';
export {
  type BacklogOptions,
  DEFAULT_OPTIONS,
  type FlushOptions,
  type LimitsOptions,
  type Logger,
  resolveOptions,
  type SweepOptions,
  type WriteBehindOptions,
} from './options.js';
export {
  boolean,
  counter,
  type EntityDefinition,
  type EntityDefinitions,
  type EntityValues,
  type FieldKind,
  type FieldSpec,
  integer,
  MAX_COUNTER,
  number,
  string,
} from './schema.js';
export {
  type PrismaClientLike,
  PrismaStore,
  type PrismaStoreOptions,
  prismaStore,
} from './store/prisma-store.js';
export type { DeleteRow, LoadedKey, Store, StoreEntity, UpsertRow } from './store/store.js';
export {
  createWriteBehind,
  type ShardStats,
  type Stats,
  type WaitOptions,
  WriteBehind,
} from './write-behind.js';
