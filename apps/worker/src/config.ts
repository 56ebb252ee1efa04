import { DEFAULT_OPTIONS } from '@write-behind/core';
import { cacheConfigSpec, integer, port, text } from '@write-behind/demo';

export const workerConfigSpec = {
  ...cacheConfigSpec,
  WORKER_CONCURRENCY: integer({
    min: 1,
    max: 10_000,
    default: DEFAULT_OPTIONS.flush.concurrency,
    description: 'worker: flush jobs run at once per shard (also bounds a batch)',
  }),
  WORKER_CLOSE_TIMEOUT_MS: integer({
    min: 0,
    default: 10_000,
    description:
      'worker: on SIGTERM, how long to wait for flushes in flight before leaving them to another worker',
  }),
  METRICS_PORT: port({
    default: 9464,
    description: 'worker: port of `/metrics` and `/healthz` (0 picks a free one and logs it)',
  }),
  METRICS_HOST: text({ default: '0.0.0.0', description: 'worker: address of the metrics server' }),
};
