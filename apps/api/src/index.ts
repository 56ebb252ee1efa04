// The api process: reads its configuration, builds the cache, listens, and shuts down cleanly on SIGTERM.
import { createServer } from 'node:http';
import {
  createDemoCache,
  libraryLogger,
  listen,
  loadConfigOrExit,
  onShutdownSignal,
} from '@write-behind/demo';
import { pino } from 'pino';
import { createApp } from './app.ts';
import { apiConfigSpec } from './config.ts';

const config = loadConfigOrExit('api', process.env, apiConfigSpec);

const logger = pino({ name: 'api', level: config.LOG_LEVEL });
const { cache, close } = createDemoCache(config, libraryLogger(logger.child({ component: 'write-behind' })));
const app = createApp({
  cache,
  logger: libraryLogger(logger),
  retryAfterSeconds: Math.max(1, Math.ceil(config.FLUSH_WINDOW_MS / 1000)),
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
    await close();
  },
  { logger: libraryLogger(logger), timeoutMs: 10_000 },
);
