// No app prints a password, whatever is wrong with the servers or the configuration. The api, the worker and
// the dashboard run as real processes with credentials that fail in every way we know of: a wrong Redis
// password, a Redis Cluster refusing its credentials, PostgreSQL refusing a password or a user, servers that
// are not there, a Redis database that is no number, URLs that are not URLs; and with credentials that work. Each run uses fresh
// random secrets; everything the processes write (stdout, stderr) and answer (`/healthz`, `/metrics`, the
// api's errors, the dashboard's pages) is searched for them. Each run also checks that the output still
// says what went wrong: an app that printed nothing would pass the first check.
//
// PostgreSQL here trusts every local connection, so a wrong password cannot fail against it; a stand-in
// that speaks the protocol's start (it asks for the password in clear text and refuses it, with
// PostgreSQL's own error code and message) plays the server that refuses a password. The real server is
// used for a user it does not know.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  type AppName,
  cleanupRedis,
  createTestDatabase,
  eventually,
  freePort,
  type RedisServer,
  type SpawnedApp,
  spawnApp,
  startRedis,
  type TestDatabase,
  testPrefix,
} from '@write-behind/testkit';

/** The distinctive part of each secret: found in any form (raw, percent-encoded, cut), it is a leak. */
const core = (label: string) => `${label}${randomBytes(12).toString('hex')}`;
const REDIS_CORE = core('wbredis');
const PG_CORE = core('wbpg');
const DASHBOARD_CORE = core('wbdash');
const GUESS_CORE = core('wbguess');
// Characters a URL must encode, so that both forms are in play.
const REDIS_SECRET = `${REDIS_CORE}/=&`;
const PG_SECRET = `${PG_CORE}/=&`;
const CORES = [REDIS_CORE, PG_CORE, DASHBOARD_CORE, GUESS_CORE];
const DASHBOARD_USER = 'operator';
const DASHBOARD_PASSWORD = `${DASHBOARD_CORE}!`;
const redisUserinfo = (user = 'default') => `${user}:${encodeURIComponent(REDIS_SECRET)}`;
const pgUserinfo = (user = 'postgres') => `${user}:${encodeURIComponent(PG_SECRET)}`;
/** How long an app may take to start answering, and to show the failure. */
const STEP_MS = 30_000;
/**
 * How long a request may take. With its Redis away an app may hold a request until the library gives up
 * (on a Cluster that never connects, for longer than this); what it wrote by then is enough here.
 */
const REQUEST_MS = 3_000;
/**
 * How long an app may take to stop after SIGTERM before it is killed. One whose Redis never connected may
 * spend its whole shutdown timeout (10 s) closing the cache; what it wrote until then is checked all the same.
 */
const STOP_MS = 5_000;

interface Run extends SpawnedApp {
  port: number;
  /** stdout, stderr and the answers to every request made, in order. */
  transcript: string[];
  exitCode(): number | null;
}

let authRedis: RedisServer;
let refusingPostgres: { port: number; passwords: string[]; server: Server };
let db: TestDatabase;
const prefixes: string[] = [];

before(async () => {
  authRedis = await startRedis(['--requirepass', 'the-right-one', '--save', '', '--appendonly', 'no'], {
    password: 'the-right-one',
  });
  refusingPostgres = await startPasswordRefusingPostgres();
  db = await createTestDatabase();
});

after(async () => {
  await authRedis?.kill();
  if (refusingPostgres) await new Promise<void>((resolve) => refusingPostgres.server.close(() => resolve()));
  await Promise.all(prefixes.map((prefix) => cleanupRedis(prefix)));
  await db?.drop();
});

/**
 * Starts `app` with `env` and the test's dashboard credentials. Not `startApp`: an app whose Redis refuses
 * it never logs that it is ready, so the ports are chosen here.
 */
async function spawnRun(name: AppName, env: Record<string, string>): Promise<Run> {
  const port = await freePort();
  const app = spawnApp(name, {
    LOG_LEVEL: 'info',
    PORT: String(port),
    METRICS_PORT: String(port),
    HOST: '127.0.0.1',
    METRICS_HOST: '127.0.0.1',
    DASHBOARD_USER,
    DASHBOARD_PASSWORD,
    WORKER_CLOSE_TIMEOUT_MS: '2000',
    ...env,
  });
  const transcript: string[] = [];
  app.child.stdout.on('data', (chunk) => transcript.push(String(chunk)));
  app.child.stderr.on('data', (chunk) => transcript.push(String(chunk)));
  return { ...app, port, transcript, exitCode: () => app.child.exitCode };
}

/** A request whose answer, headers included, goes to the transcript; never throws. */
async function call(run: Run, path: string, init: RequestInit = {}): Promise<void> {
  const method = init.method ?? 'GET';
  try {
    const response = await fetch(`http://127.0.0.1:${run.port}${path}`, {
      ...init,
      signal: AbortSignal.timeout(REQUEST_MS),
    });
    const text = await response.text();
    const headers = JSON.stringify([...response.headers]);
    run.transcript.push(`${method} ${path} -> ${response.status} ${headers} ${text}\n`);
  } catch (error) {
    run.transcript.push(`${method} ${path} -> ${String(error)}\n`);
  }
}

/** Whether the app answers HTTP at all (any status) or has exited; leaves no trace in the transcript. */
async function answersOrExited(run: Run): Promise<boolean> {
  if (run.exitCode() !== null) return true;
  return fetch(`http://127.0.0.1:${run.port}/healthz`, { signal: AbortSignal.timeout(REQUEST_MS) }).then(
    () => true,
    () => false,
  );
}

const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

/** Every request that can make an app reach for Redis or PostgreSQL, or log something. */
async function exercise(run: Run): Promise<void> {
  await call(run, '/healthz');
  if (run.name === 'api') {
    await call(run, '/videos/secret-check/likes', { method: 'POST' });
    await call(run, `/videos/cold-${randomBytes(4).toString('hex')}`);
    await call(run, '/nowhere');
  } else if (run.name === 'worker') {
    await call(run, '/metrics');
  } else {
    const auth = basic(DASHBOARD_USER, DASHBOARD_PASSWORD);
    // /metrics reads the backlog from Redis as /api/stats and Bull Board do.
    for (const path of ['/metrics', '/']) await call(run, path, { headers: auth });
    // A failed login is logged: with the user, never with the password tried.
    await call(run, '/', { headers: basic('mallory', GUESS_CORE) });
  }
  await call(run, '/healthz');
}

interface Scenario {
  /** Variables over the test's defaults (the real servers, a fresh prefix). */
  env: Record<string, string>;
  /** What every app's transcript must show: the output still says what went wrong. */
  evidence: RegExp[];
  /** The apps stop by themselves (a configuration they refuse): exit code 1. */
  exits?: boolean;
  /** What `/healthz` answers while the app runs. */
  health?: 'ok' | 'unavailable';
}

/**
 * Runs the three apps under `scenario` until each shows its evidence (or the deadline passes), stops them,
 * and checks that no secret is anywhere in what they wrote or answered.
 */
async function runScenario(scenario: Scenario): Promise<void> {
  const prefix = testPrefix();
  prefixes.push(prefix);
  const runs = await Promise.all(
    (['api', 'worker', 'dashboard'] as const).map((name) =>
      spawnRun(name, {
        REDIS_URL: 'redis://127.0.0.1:6379',
        DATABASE_URL: db.url,
        WB_PREFIX: prefix,
        ...scenario.env,
      }),
    ),
  );
  try {
    await Promise.all(
      runs.map(async (run) => {
        const text = () => run.transcript.join('');
        if (scenario.exits) {
          const { code } = await withDeadline(run.exited, STEP_MS, `${run.name} exits`);
          assert.equal(code, 1, `${run.name} refuses to start:\n${text()}`);
        } else {
          const answered = await eventually(() => answersOrExited(run), STEP_MS, 100);
          assert.ok(answered, `${run.name} never answered:\n${text()}`);
          await exercise(run);
          const health = run.transcript.filter((line) => line.startsWith('GET /healthz -> ')).at(-1) ?? '';
          if (scenario.health === 'ok') assert.match(health, /-> 200 .* \{"status":"ok"\}\n$/, run.name);
          if (scenario.health === 'unavailable') {
            assert.match(health, /-> 503 .* \{"status":"unavailable"\}\n$/, `${run.name}: ${health}`);
          }
        }
        const shown = async () => scenario.evidence.every((pattern) => pattern.test(text()));
        assert.ok(
          await eventually(shown, STEP_MS, 100),
          `${run.name} does not say what went wrong (${scenario.evidence.join(', ')}):\n${text().slice(-3000)}`,
        );
      }),
    );
  } finally {
    await Promise.all(runs.map(stop));
  }
  for (const run of runs) {
    const text = run.transcript.join('');
    for (const secret of CORES) {
      const at = text.indexOf(secret);
      assert.equal(at, -1, `${run.name} printed a secret: ...${text.slice(Math.max(0, at - 300), at + 100)}`);
    }
  }
}

/** SIGTERM, then SIGKILL if the app has not exited within {@link STOP_MS}. */
async function stop(run: Run): Promise<void> {
  if (run.exitCode() !== null || run.child.signalCode !== null) return;
  run.child.kill('SIGTERM');
  try {
    await withDeadline(run.exited, STOP_MS, `${run.name} stops`);
  } catch {
    run.child.kill('SIGKILL');
    await run.exited;
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe('no app prints a password', () => {
  test('wrong passwords for Redis (URL) and PostgreSQL', async () => {
    await runScenario({
      env: {
        REDIS_URL: `redis://${redisUserinfo()}@127.0.0.1:${authRedis.port}`,
        DATABASE_URL: `postgresql://${pgUserinfo()}@127.0.0.1:${refusingPostgres.port}/postgres`,
      },
      evidence: [/WRONGPASS/, /password authentication failed for user/],
      health: 'unavailable',
    });
    // The apps did send the password: the refusal was real, and it is the password that was kept quiet.
    assert.ok(refusingPostgres.passwords.includes(PG_SECRET), 'the stand-in got the password');
  });

  test('a Redis Cluster refusing its credentials (REDIS_CLUSTER_NODES), PostgreSQL refusing the user', async () => {
    await runScenario({
      env: {
        REDIS_CLUSTER_NODES: `redis://${redisUserinfo('ops')}@127.0.0.1:${authRedis.port},localhost:${authRedis.port}`,
        DATABASE_URL: `postgresql://${pgUserinfo('nobody_wb')}@127.0.0.1:5432/postgres`,
      },
      // "Failed to refresh slots cache" is true only with the node's error, which the log keeps.
      evidence: [/Redis Cluster connection error/, /WRONGPASS/, /role \\?"nobody_wb\\?" does not exist/],
      health: 'unavailable',
    });
  });

  test('servers that are not there: a closed port, a host name that does not resolve', async () => {
    await runScenario({
      env: {
        REDIS_URL: `redis://${redisUserinfo()}@127.0.0.1:${await freePort()}`,
        DATABASE_URL: `postgresql://${pgUserinfo()}@wb-nowhere.invalid:5432/postgres`,
      },
      evidence: [/ECONNREFUSED/, /Can't reach database server at .?wb-nowhere\.invalid/],
      health: 'unavailable',
    });
  });

  test('credentials the servers accept: everything works, and no line carries them', async () => {
    const database = new URL(db.url);
    database.password = encodeURIComponent(PG_SECRET);
    await runScenario({
      env: {
        // The local Redis's default user has no password: `AUTH default <anything>` is accepted.
        REDIS_URL: `redis://${redisUserinfo()}@127.0.0.1:6379`,
        // PostgreSQL here trusts local connections whatever the password.
        DATABASE_URL: database.toString(),
      },
      evidence: [/"msg":"(api listening|worker ready|dashboard listening)"/],
      health: 'ok',
    });
  });

  test('a Redis URL whose database is no number: the apps stop, and say why', async () => {
    const database = new URL(db.url);
    database.password = encodeURIComponent(PG_SECRET);
    await runScenario({
      env: {
        // ioredis selects the database named in the path; Redis refuses, and nothing catches that rejection.
        // (A password for a Redis without one goes unnoticed: ioredis sends `HELLO 3 AUTH default`.)
        REDIS_URL: `redis://:${encodeURIComponent(REDIS_SECRET)}@127.0.0.1:6379/not-a-number`,
        DATABASE_URL: database.toString(),
      },
      evidence: [/"msg":"uncaught error; exiting"/, /ERR value is not an integer/],
    });
  });

  test('URLs that are not URLs: every app refuses to start, naming the variables, quoting no password', async () => {
    await runScenario({
      env: {
        REDIS_URL: `redis//:${REDIS_SECRET}@127.0.0.1:6379`,
        DATABASE_URL: `postgresql://postgres:${PG_SECRET}@127.0.0.1:port/postgres`,
        // Credentials without the scheme in front of them.
        REDIS_CLUSTER_NODES: `ops:${REDIS_SECRET}@127.0.0.1:6379`,
      },
      evidence: [
        /REDIS_URL must be a URL/,
        /DATABASE_URL must be a URL/,
        /REDIS_CLUSTER_NODES must be .*credentials/,
      ],
      exits: true,
    });
  });
});

/**
 * A stand-in for a PostgreSQL server that refuses the password: it answers the client's start-up message
 * with AuthenticationCleartextPassword, keeps the password it gets (to prove the client sent it), and
 * answers with the FATAL error PostgreSQL sends, SQLSTATE 28P01.
 */
async function startPasswordRefusingPostgres(): Promise<{
  port: number;
  passwords: string[];
  server: Server;
}> {
  const passwords: string[] = [];
  const SSL_REQUEST = 80_877_103;
  const GSS_REQUEST = 80_877_104;
  const server = createServer((socket) => {
    let buffer = Buffer.alloc(0);
    let started = false;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          // Start-up: length, protocol (or an SSL/GSS request, declined with `N`), parameters.
          if (buffer.length < 8 || buffer.length < buffer.readInt32BE(0)) return;
          const code = buffer.readInt32BE(4);
          buffer = buffer.subarray(buffer.readInt32BE(0));
          if (code === SSL_REQUEST || code === GSS_REQUEST) {
            socket.write('N');
            continue;
          }
          started = true;
          // AuthenticationCleartextPassword: 'R', length 8, method 3.
          const ask = Buffer.alloc(9);
          ask.write('R', 0);
          ask.writeInt32BE(8, 1);
          ask.writeInt32BE(3, 5);
          socket.write(ask);
          continue;
        }
        // Messages: type, length (itself included), body.
        if (buffer.length < 5 || buffer.length < 1 + buffer.readInt32BE(1)) return;
        const type = String.fromCharCode(buffer[0] as number);
        const body = buffer.subarray(5, 1 + buffer.readInt32BE(1));
        buffer = buffer.subarray(1 + buffer.readInt32BE(1));
        if (type === 'p') {
          passwords.push(body.toString('utf8').replace(/\0$/, ''));
          const fields = Buffer.from(
            `SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "postgres"\0\0`,
            'utf8',
          );
          const error = Buffer.alloc(5);
          error.write('E', 0);
          error.writeInt32BE(4 + fields.length, 1);
          socket.end(Buffer.concat([error, fields]));
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, passwords, server };
}
