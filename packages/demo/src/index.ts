export {
  type CacheConfig,
  cacheConfigSpec,
  createDemoCache,
  type DemoCache,
  type DemoCacheHandle,
  LOG_LEVELS,
  libraryLogger,
} from './cache.ts';
export {
  type Config,
  ConfigError,
  type ConfigSpec,
  describeConfig,
  integer,
  isLoopback,
  loadConfig,
  oneOf,
  optional,
  port,
  text,
  url,
  type VariableSpec,
} from './config.ts';
export { type DemoEntities, demoEntities } from './entities.ts';
export {
  type BacklogSnapshot,
  type BacklogSource,
  backlogReader,
  JOB_STATES,
  type JobState,
  registerBacklogMetrics,
  registerFlushMetrics,
} from './metrics.ts';
export { listen, loadConfigOrExit, onShutdownSignal } from './process.ts';
export {
  type ClusterNode,
  type ClusterNodes,
  ClusterNodesError,
  clusterNodes,
  clusterOptions,
  connectRedis,
  parseClusterNodes,
  type RedisConnection,
} from './redis.ts';
