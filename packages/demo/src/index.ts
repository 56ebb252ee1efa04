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
  configSecrets,
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
export { HEALTH_CHECK_FAILED, type HealthAnswer, type HealthBody, healthCheck } from './health.ts';
export { type CreateLoggerOptions, createLogger } from './log.ts';
export {
  DEFAULT_LOG_LIMITER_OPTIONS,
  errorReason,
  LogLimiter,
  type LogLimiterOptions,
} from './log-limiter.ts';
export {
  type BacklogSnapshot,
  type BacklogSource,
  backlogReader,
  JOB_STATES,
  type JobState,
  registerBacklogMetrics,
  registerFlushMetrics,
} from './metrics.ts';
export {
  type DemoProcess,
  exitOnConfigError,
  exitOnUncaughtError,
  listen,
  loadConfigOrExit,
  onShutdownSignal,
  startDemoProcess,
} from './process.ts';
export { MASK, Redactor, redactUrl, type SafeError, urlSecrets } from './redact.ts';
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
