/*
 * Internals for this repository's tests, benchmarks and tools: no stability promise, not documented for
 * users. The public API is `index.ts`.
 */

export { appendedKey, runStatements, splitEvents } from './flush/append-plan.js';
// One namespace: what the worker reads of BullMQ beyond its published API, which test/bullmq-internals.test.ts
// checks against the installed BullMQ.
export * as bullmqInternals from './flush/bullmq-internals.js';
export { coalesceWrites } from './flush/coalesce-writes.js';
export { RowRejectedError, ZERO_FLUSH_COUNTERS } from './flush/flush-batcher.js';
export { FLUSH_JOB, type FlushJobData, flushJob, SWEEP_JOB } from './flush/job.js';
export { outageBackoff, planFlush, writeIsolatingFailures } from './flush/plan.js';
export { isStuck, type QueueBacklog, type ShardActivity } from './flush/stuck.js';
export { bullWorkersOf } from './flush/worker.js';
export { dataKey, parseDataKey, rankingKey, type ShardKeys, shardKeys, shardOf, writerKey } from './keys.js';
export { resolveOptions, resolveWorkerOptions } from './options.js';
export { compareEntries, mergeTop } from './ranking/merge.js';
export {
  canonicalDecimal,
  decodeField,
  decodeRecord,
  encodeField,
  encodeLoaded,
  fromSqlText,
  storedToSqlText,
  toSqlText,
} from './schema/codec.js';
export { decodeEvent, encodeEvent } from './schema/event-codec.js';
export { decodeId, encodeId, idFromColumns, keyColumnsOf } from './schema/id-codec.js';
export { parsePrismaSchema } from './schema/prisma-schema.js';
export type { ResolvedEntity, ResolvedField } from './schema/resolve.js';
export { resolveEntities } from './schema/resolve.js';
export { defineScripts, resolveIncludes, scriptSource } from './scripts.js';
export { PrismaStore } from './store/prisma-store.js';
export {
  appendLoadSql,
  appendSql,
  arrayLiteral,
  deleteSql,
  loadSql,
  scanSql,
  storedValueSql,
  upsertSql,
} from './store/sql.js';
export { checkTable, checkTombstones, type TableInfo } from './store/verify.js';
export { TurnBatcher } from './turn-batcher.js';
export * as writeProtocol from './write/protocol.js';
