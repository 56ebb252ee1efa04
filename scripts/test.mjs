// `npm test`: checks the servers, generates the Prisma client, then runs every *.test.ts file.
// Usage: npm test [-- --unit] [-- <file or folder>... | --test-name-pattern=...]
// Two tiers: a test in a folder named `unit` (test/unit/, packages/<name>/test/unit/, apps/<name>/test/unit/,
// bench/test/unit/) needs no server; every other test is an integration test against real Redis and
// PostgreSQL. `--unit` (`npm run test:unit`) runs the unit tests alone. The servers are checked only when an
// integration test is to run. Paths narrow the run to those files; other options starting with `-` go to
// `node --test` as they are.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { relative, resolve, sep } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { redactUrl } from '@write-behind/testkit/redact-url';
import pg from 'pg';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHECK_TIMEOUT_MS = 5_000;
const env = {
  ...process.env,
  // Set for the test processes too, so they talk to exactly the servers checked here.
  REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  DATABASE_URL: process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres',
};

/** @param {string} text @returns {never} */
function fail(text) {
  console.error(`npm test: ${text}`);
  process.exit(1);
}

/**
 * PING over a bare socket, so the check needs no Redis client package.
 * @param {URL} url
 * @returns {Promise<void>}
 */
function pingRedis(url) {
  const port = Number(url.port || 6379);
  const host = url.hostname.replace(/^\[|\]$/g, ''); // an IPv6 literal keeps its brackets in a URL
  const socket =
    url.protocol === 'rediss:' ? connectTls({ host, port, servername: host }) : connectTcp({ host, port });
  const auth = url.password
    ? ['AUTH', ...(url.username ? [decodeURIComponent(url.username)] : []), decodeURIComponent(url.password)]
    : undefined;
  /** @param {string[]} words */
  const command = (words) =>
    `*${words.length}\r\n${words.map((word) => `$${Buffer.byteLength(word)}\r\n${word}\r\n`).join('')}`;
  return new Promise((resolvePing, rejectPing) => {
    let reply = '';
    socket.setTimeout(CHECK_TIMEOUT_MS, () =>
      socket.destroy(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)),
    );
    socket.on('error', rejectPing);
    // A no-op once resolved; otherwise something that is not Redis took the connection and hung up.
    socket.on('close', () => rejectPing(new Error('connection closed without a PONG')));
    socket.once(url.protocol === 'rediss:' ? 'secureConnect' : 'connect', () => {
      socket.write((auth ? command(auth) : '') + command(['PING']));
    });
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.startsWith('-') && reply.includes('\r\n')) {
        socket.destroy(new Error(reply.slice(1, reply.indexOf('\r\n'))));
      } else if (reply.includes('+PONG')) {
        resolvePing();
        socket.end();
      }
    });
  });
}

/** @param {URL} url */
async function pingPostgres(url) {
  const client = new pg.Client({
    connectionString: url.toString(),
    connectionTimeoutMillis: CHECK_TIMEOUT_MS,
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Fails with a message naming the variable to fix, before any test can time out on a missing server.
 * @param {'REDIS_URL' | 'DATABASE_URL'} variable
 * @param {string} server
 * @param {(url: URL) => Promise<void>} ping
 */
async function checkServer(variable, server, ping) {
  /** @type {URL} */
  let url;
  try {
    url = new URL(env[variable]);
  } catch {
    fail(`${variable}=${env[variable]} is not a URL`);
  }
  await ping(url).catch((error) => {
    // Connecting to several addresses fails with an AggregateError whose message is empty.
    const reason = error instanceof Error && error.message ? error.message : String(error);
    fail(
      `${server} at ${redactUrl(url.toString())} does not answer (${reason}). Start it, or set ${variable}.`,
    );
  });
}

/** @param {string} dir @returns {string[]} */
function findTestFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = resolve(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : findTestFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** @param {string} file @returns {boolean} whether `file` is a unit test: it lies in a folder named `unit` */
function isUnitTest(file) {
  return relative(root, file).split(sep).slice(0, -1).includes('unit');
}

/** test/, the test/ folder of every workspace package and app, and the benchmark's (bench/test). */
function testRoots() {
  const workspaceTests = ['packages', 'apps'].flatMap((parent) =>
    existsSync(resolve(root, parent))
      ? readdirSync(resolve(root, parent), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => resolve(root, parent, entry.name, 'test'))
      : [],
  );
  return [resolve(root, 'test'), ...workspaceTests, resolve(root, 'bench', 'test')];
}

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const nodeOptions = args.filter((arg) => arg.startsWith('-') && arg !== '--unit');
const paths = args.filter((arg) => !arg.startsWith('-'));
// npm runs scripts from the root; INIT_CWD is where the user typed the command.
// biome-ignore lint/suspicious/noUndeclaredEnvVars: npm sets it; turbo never runs this script.
const userCwd = process.env.INIT_CWD ?? process.cwd();
const chosen = paths.length
  ? paths.flatMap((path) => {
      const absolute = resolve(userCwd, path);
      if (!existsSync(absolute)) fail(`no such test file or folder: ${path}`);
      return statSync(absolute).isDirectory() ? findTestFiles(absolute) : [absolute];
    })
  : testRoots().flatMap(findTestFiles).sort();
const files = unitOnly ? chosen.filter(isUnitTest) : chosen;
if (files.length === 0)
  fail(
    `no ${unitOnly ? 'unit ' : ''}*.test.ts files found${paths.length ? ` under ${paths.join(', ')}` : ''}`,
  );

if (!files.every(isUnitTest)) {
  await checkServer('REDIS_URL', 'Redis', pingRedis);
  await checkServer('DATABASE_URL', 'PostgreSQL', pingPostgres);
}

// Unit tests need it too (anything that imports @write-behind/db loads the generated client); it needs no
// server, and does nothing when the client is up to date.
const generate = spawnSync(process.execPath, [`${root}scripts/prisma-generate.mjs`], {
  env,
  stdio: 'inherit',
});
if (generate.status !== 0) fail('prisma generate failed (see above)');

const run = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-timeout=300000',
    // spec even when piped: the default TAP reporter in CI logs is hard to read.
    '--test-reporter=spec',
    ...nodeOptions,
    ...files.map((file) => relative(root, file)),
  ],
  { cwd: root, env, stdio: 'inherit' },
);
process.exit(run.status ?? 1);
