// The dashboard process: the overview's live charts, the key inspector, failures by cause and the operator's
// API, Bull Board and /metrics, always behind HTTP Basic auth; without
// configured credentials it generates a password, writes it to a private file and binds to 127.0.0.1.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, resolve } from 'node:path';
import { exitOnConfigError, listen, loadConfigOrExit, startDemoProcess } from '@write-behind/demo';
import { cacheSampler, createApp } from './app.ts';
import { dashboardAccess, dashboardConfigSpec } from './config.ts';

const config = loadConfigOrExit('dashboard', process.env, dashboardConfigSpec);
const access = exitOnConfigError('dashboard', () => dashboardAccess(config));
// The dashboard reads keys and their rows for the inspector, and changes a key only on an operator's action
// (flush now, retry, discard), each audited; the cache also gives it the queues and the backlog figures.
const { cache, log, logger, refusals, shutdownOnSignal } = startDemoProcess(
  'dashboard',
  dashboardConfigSpec,
  config,
  // A generated password is a secret too: it goes to a file, never to the log.
  { secrets: [access.credentials.password] },
);
// Sampled from the start, so the charts have history when an operator first opens the dashboard.
const sampler = cacheSampler(cache, { intervalMs: config.DASHBOARD_SAMPLE_MS }).start();
const server = createServer(
  createApp({
    cache,
    sampler,
    credentials: access.credentials,
    logger: log,
    refusals,
    loginLimit: { failures: config.DASHBOARD_LOGIN_FAILURES, windowMs: config.DASHBOARD_LOGIN_WINDOW_MS },
  }),
);
const port = await listen(server, config.PORT, access.host);
if (access.generated) {
  // The password goes to a file only this user can read, never to the log.
  const file = resolve(config.DASHBOARD_CREDENTIALS_FILE);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${access.credentials.user}:${access.credentials.password}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  logger.warn(
    { host: access.host, port, credentialsFile: file },
    'DASHBOARD_USER and DASHBOARD_PASSWORD are not set: generated a password for user admin, written to ' +
      `${file}; the dashboard listens on ${access.host} only. Set both to choose them and to expose it.`,
  );
}
logger.info({ port, host: access.host }, 'dashboard listening');

shutdownOnSignal(
  async () => {
    sampler.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  },
  { timeoutMs: 10_000 },
);
