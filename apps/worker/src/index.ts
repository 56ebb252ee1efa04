// The flush worker process: flushes dirty keys from Redis to PostgreSQL, serves /metrics and /healthz, and
// on SIGTERM or SIGINT drains the flushes in flight before it exits. Run as many as the backlog needs.
import { createServer } from 'node:http';
import { listen, loadConfigOrExit, startDemoProcess } from '@write-behind/demo';
import { createApp } from './app.ts';
import { workerConfigSpec } from './config.ts';

const config = loadConfigOrExit('worker', process.env, workerConfigSpec);
const { cache, log, logger, refusals, shutdownOnSignal } = startDemoProcess(
  'worker',
  workerConfigSpec,
  config,
);
const worker = cache.createWorker({
  concurrency: config.WORKER_CONCURRENCY,
  closeTimeoutMs: config.WORKER_CLOSE_TIMEOUT_MS,
});
const server = createServer(createApp({ cache, counters: worker.counters, logger: log, refusals }));

shutdownOnSignal(
  async () => {
    // Stop taking jobs and finish those in flight first: metrics may be scraped until the end.
    await worker.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  },
  // worker.close() bounds itself by WORKER_CLOSE_TIMEOUT_MS; the rest needs a few seconds more.
  { timeoutMs: config.WORKER_CLOSE_TIMEOUT_MS + 5_000 },
);

const metricsPort = await listen(server, config.METRICS_PORT, config.METRICS_HOST);
await worker.ready;
logger.info(
  { metricsPort, prefix: config.WB_PREFIX, concurrency: config.WORKER_CONCURRENCY },
  'worker ready',
);
