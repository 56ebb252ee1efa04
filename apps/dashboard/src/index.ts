// The dashboard process: Bull Board, a live lag chart and /metrics, protected by HTTP Basic auth or bound to
// 127.0.0.1 when no credentials are configured.
import { createServer } from 'node:http';
import {
  ConfigError,
  createDemoCache,
  libraryLogger,
  listen,
  loadConfigOrExit,
  onShutdownSignal,
} from '@write-behind/demo';
import { pino } from 'pino';
import { createApp } from './app.ts';
import { type DashboardAccess, dashboardAccess, dashboardConfigSpec } from './config.ts';

const config = loadConfigOrExit('dashboard', process.env, dashboardConfigSpec);
let access: DashboardAccess;
try {
  access = dashboardAccess(config);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`dashboard: ${error.message}`);
  process.exit(1);
}

const logger = pino({ name: 'dashboard', level: config.LOG_LEVEL });
const log = libraryLogger(logger);
// The dashboard never reads or writes records; the cache gives it the queues and the backlog figures.
const { cache, close } = createDemoCache(config, libraryLogger(logger.child({ component: 'write-behind' })));
const server = createServer(createApp({ cache, credentials: access.credentials, logger: log }));
const port = await listen(server, config.PORT, access.host);
if (!access.credentials) {
  logger.warn(
    { host: access.host, port },
    '!!! DASHBOARD_USER and DASHBOARD_PASSWORD are not set: the dashboard has NO authentication and listens on ' +
      `${access.host} only. Anyone on this machine can retry and delete jobs. Set both to expose it safely. !!!`,
  );
}
logger.info({ port, host: access.host, auth: Boolean(access.credentials) }, 'dashboard listening');

onShutdownSignal(
  async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await close();
  },
  { logger: log, timeoutMs: 10_000 },
);
