// The api process: reads its configuration, builds the cache, listens, and shuts down cleanly on SIGTERM.
import { createServer } from 'node:http';
import {
  configSecrets,
  createDemoCache,
  createLogger,
  exitOnUncaughtError,
  LogLimiter,
  libraryLogger,
  listen,
  loadConfigOrExit,
  onShutdownSignal,
} from '@write-behind/demo';
import { createApp } from './app.ts';
import { apiConfigSpec } from './config.ts';

const config = loadConfigOrExit('api', process.env, apiConfigSpec);

const logger = createLogger({
  name: 'api',
  level: config.LOG_LEVEL,
  secrets: configSecrets(apiConfigSpec, config),
});
const log = libraryLogger(logger);
exitOnUncaughtError(log);
const { cache, close } = createDemoCache(config, libraryLogger(logger.child({ component: 'write-behind' })));
const refusals = new LogLimiter(log);
const app = createApp({
  cache,
  logger: log,
  refusals,
  retryAfterSeconds: Math.max(1, Math.ceil(config.FLUSH_WINDOW_MS / 1000)),
  maxIncrementBy: config.MAX_INCREMENT_BY,
});
const server = createServer(app);
const port = await listen(server, config.PORT, config.HOST);
logger.info({ port, host: config.HOST, prefix: config.WB_PREFIX }, 'api listening');

onShutdownSignal(
  async () => {
    // Stop taking requests, let those in flight finish (idle keep-alive sockets would hold close() open),
    // then close the cache: every write acknowledged so far is in Redis, and the workers flush it.
    const closed = new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
    server.closeIdleConnections();
    await closed;
    // The counts of refusals held back in the last window.
    refusals.flush();
    refusals.close();
    await close();
  },
  { logger: log, timeoutMs: 10_000 },
);
