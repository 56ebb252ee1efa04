// The api process: reads its configuration, builds the cache, listens, and shuts down cleanly on SIGTERM.
import { createServer } from 'node:http';
import { listen, loadConfigOrExit, startDemoProcess } from '@write-behind/demo';
import { createApp } from './app.ts';
import { apiConfigSpec } from './config.ts';

const config = loadConfigOrExit('api', process.env, apiConfigSpec);
const { cache, log, logger, refusals, shutdownOnSignal } = startDemoProcess('api', apiConfigSpec, config);
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

shutdownOnSignal(
  async () => {
    // Stop taking requests, let those in flight finish (idle keep-alive sockets would hold close() open);
    // then the cache closes: every write acknowledged so far is in Redis, and the workers flush it.
    const closed = new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
    server.closeIdleConnections();
    await closed;
  },
  { timeoutMs: 10_000 },
);
