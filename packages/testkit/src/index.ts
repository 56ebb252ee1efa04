// The helpers that the tests (test/, packages/<name>/test, apps/<name>/test), the benchmark (bench/) and the
// scripts (scripts/) share. It imports none of them: they import it. Private to this repository.
// Besides this entry: `@write-behind/testkit/chaos` (the chaos run: model, load, faults, final check),
// `@write-behind/testkit/migrations` and `@write-behind/testkit/redact-url` (plain .mjs, for the root scripts
// that bare `node` runs).
export {
  type AppName,
  type AppProcess,
  type LogLine,
  type SpawnedApp,
  spawnApp,
  startApp,
} from './app-process.ts';
export { mastersOfShards, type SpreadOptions, spreadPrefix } from './cluster-spread.ts';
export { type CrashAfterCommit, crashAfterCommit } from './crash-after-commit.ts';
export {
  type ChaosTestEntities,
  chaosEntities,
  comment,
  type EventTestEntities,
  entities,
  eventEntities,
  type RankedTestEntities,
  type RelationTestEntities,
  rankedEntities,
  relationEntities,
  type TestEntities,
  videoEvent,
} from './entities.ts';
export {
  cleanupRedis,
  createTestDatabase,
  DATABASE_URL,
  deleteKeys,
  prefixPattern,
  REDIS_URL,
  scanKeys,
  scanPages,
  schemaUrl,
  type TestDatabase,
  type TestSchema,
  testPrefix,
  uniqueName,
} from './env.ts';
export { expectedTop } from './expected-top.ts';
export { FLOOD_USAGE, floodPassed, formatFloodReport, parseFloodArgs, runFlood } from './flood.ts';
export { ZERO_FLUSH_COUNTERS } from './flush-counters.ts';
export { forwardingStore } from './forwarding-store.ts';
export { type GatedStore, gatedStore } from './gated-store.ts';
export {
  countVideoRowWrites,
  createHarness,
  createTestCache,
  createWorld,
  HARNESS_FLUSH,
  type Harness,
  type HarnessOptions,
  STALLED,
  settingsRow,
  type TestCache,
  testWorkerConfig,
  videoRow,
  type World,
  type WorldOptions,
} from './harness.ts';
export { type IncrementLoad, type IncrementLoadOptions, startIncrementLoad } from './increment-load.ts';
export { type PartitionWrites, writeAcrossPartition } from './partition-writes.ts';
export { type PgProxy, startPgProxy, startProxyTo } from './pg-proxy.ts';
export { eventually, poll, waitFor } from './poll.ts';
export { createProxiedWorld, type ProxiedWorld } from './proxied-world.ts';
export { fuzzSeed, mulberry32 } from './random.ts';
export {
  type ClusterMaster,
  type ClusterNodeInfo,
  type RedisCluster,
  type StartRedisClusterOptions,
  startRedisCluster,
} from './redis-cluster.ts';
export {
  type ProxiedReplication,
  type RedisReplication,
  type StartRedisReplicationOptions,
  startProxiedReplication,
  startRedisReplication,
} from './redis-replication.ts';
export { type RedisSentinel, type StartRedisSentinelOptions, startRedisSentinel } from './redis-sentinel.ts';
export { freePort, type RedisServer, type StartRedisOptions, startRedis, withNode } from './redis-server.ts';
export {
  assertNoSecret,
  flatten,
  flushingCache,
  incrementRejection,
  recordingLogger,
  rejectionOf,
  withTimeout,
} from './secrets.ts';
export { idsInShards } from './shard-ids.ts';
export { stderrLogger } from './stderr-logger.ts';
export { type ContractWorld, storeContract } from './store-contract.ts';
export {
  type SpawnOptions,
  spawnWorkerProcess,
  startWorkerProcess,
  type WorkerEvent,
  type WorkerProcess,
  type WorkerProcessConfig,
} from './worker-process.ts';
