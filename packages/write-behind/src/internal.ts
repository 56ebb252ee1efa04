/*
 * Internals for this repository's tests, benchmarks and tools: no stability promise, not documented for
 * users. The public API is `index.ts`.
 */
export { TurnBatcher } from './batch.js';
export { type Context, createContext, redactError } from './context.js';
export { appendRows, chunks } from './flush/append-plan.js';
export { FlushBatcher, RowRejectedError } from './flush/batcher.js';
export {
  abandonWorker,
  blockingConnectionOf,
  dueAtOfDelayedScore,
  lockManagerOf,
  lockRenewalFailedJobId,
  STALLED_REASON,
  waitAndDelayedKeys,
} from './flush/bullmq-internals.js';
export { coalesceWrites } from './flush/coalesce-writes.js';
export { FLUSH_JOB, type FlushJobData, flushJob, SWEEP_JOB } from './flush/job.js';
export { outageBackoff, planFlush, type SnapshotItem, writeIsolatingFailures } from './flush/plan.js';
export { isStuck, type QueueBacklog, type ShardActivity } from './flush/stuck.js';
export { bullWorkersOf } from './flush/worker.js';
export { dataKey, parseDataKey, rankingKey, type ShardKeys, shardKeys, shardOf, writerKey } from './keys.js';
export { resolveOptions, resolveWorkerOptions } from './options.js';
export { compareEntries, mergeTop, type RankingEntry } from './ranking/merge.js';
export { MAX_TOP } from './ranking/ranking.js';
export {
  canonicalDecimal,
  decodeField,
  decodeRecord,
  encodeField,
  encodeLoaded,
  fromSqlText,
  toSqlText,
} from './schema/codec.js';
export { decodeEvent, encodeEvent } from './schema/event-codec.js';
export { decodeId, encodeId, idFromColumns, keyColumnsOf } from './schema/id-codec.js';
export { type DataModel, parsePrismaSchema } from './schema/prisma-schema.js';
export { prismaColumnType, resolveEntities } from './schema/resolve.js';
export { defineScripts, pairsToMap, resolveIncludes, scriptSource } from './scripts.js';
export { PrismaStore, type PrismaStoreOptions, prismaDataModel } from './store/prisma-store.js';
export {
  appendLoadSql,
  appendSql,
  arrayLiteral,
  deleteSql,
  loadSql,
  purgeTombstonesSql,
  scanSql,
  upsertSql,
} from './store/sql.js';
export { checkTable, checkTombstones, introspectSql, type TableInfo } from './store/verify.js';
export { createWriteBatcher } from './write/batcher.js';
export * as writeProtocol from './write/protocol.js';
