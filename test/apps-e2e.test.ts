// The three demo apps as real processes against the real Redis and PostgreSQL: writes acknowledged by the
// api reach PostgreSQL through the worker; the dashboard guards Bull Board, retries a failed job through
// its HTTP API, and reports lag that grows while no worker runs and drains once one is back.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  type AppProcess,
  cleanupRedis,
  createTestDatabase,
  eventually,
  REDIS_URL,
  startApp,
  type TestDatabase,
  testPrefix,
} from '@write-behind/testkit';

const USER = 'operator';
const PASSWORD = 'correct horse battery staple';
const AUTH = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };

let db: TestDatabase;
let prefix: string;
let env: Record<string, string>;
let api: AppProcess;
let worker: AppProcess;
/** Started by the last test: two workers on one queue. */
let restarted: AppProcess[] = [];
let dashboard: AppProcess;

before(async () => {
  db = await createTestDatabase();
  prefix = testPrefix();
  env = {
    REDIS_URL,
    DATABASE_URL: db.url,
    WB_PREFIX: prefix,
    FLUSH_WINDOW_MS: '100',
    // One attempt: a job the database refuses fails for good at once and waits for an operator.
    FLUSH_ATTEMPTS: '1',
    WORKER_CLOSE_TIMEOUT_MS: '3000',
    // Rankings of three entries, so that the leaderboard's test has a video below them.
    CACHE_RANKING_ENTRIES: '3',
  };
  [api, worker, dashboard] = await Promise.all([
    startApp('api', env),
    startApp('worker', env),
    startApp('dashboard', { ...env, DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD, HOST: '127.0.0.1' }),
  ]);
});

after(async () => {
  await Promise.all([api, worker, dashboard, ...restarted].filter(Boolean).map((app) => app.stop()));
  await cleanupRedis(prefix);
  await db?.drop();
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

async function videoRow(id: string) {
  const { rows } = await db.pool.query(
    'SELECT likes::int AS likes, views::int AS views FROM "Video" WHERE id = $1',
    [id],
  );
  return rows[0] as { likes: number; views: number } | undefined;
}

/** A gauge's value from a Prometheus text exposition. */
async function gauge(app: AppProcess, name: string): Promise<number> {
  const response = await fetch(`${app.url}/metrics`, { headers: AUTH });
  assert.equal(response.status, 200);
  const line = (await response.text()).split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is missing from /metrics`);
  return Number(line.split(' ')[1]);
}

test('likes and views are acknowledged by the api and reach PostgreSQL', async () => {
  const likes = await Promise.all(Array.from({ length: 20 }, () => call('POST', '/videos/e2e-1/likes')));
  assert.ok(likes.every((r) => r.status === 200));
  assert.deepEqual(
    likes.map((r) => r.body.likes).sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  assert.deepEqual((await call('POST', '/videos/e2e-1/likes', { by: 5 })).body, { id: 'e2e-1', likes: 25 });
  const view = await call('POST', '/videos/e2e-1/views');
  assert.equal(view.status, 202);
  assert.deepEqual(view.body, { id: 'e2e-1', added: { views: 1 } });
  assert.deepEqual((await call('GET', '/videos/e2e-1')).body, { id: 'e2e-1', likes: 25, views: 1 });

  assert.ok(
    await eventually(
      async () => (await videoRow('e2e-1'))?.likes === 25 && (await videoRow('e2e-1'))?.views === 1,
    ),
    `the row never reached PostgreSQL: ${JSON.stringify(await videoRow('e2e-1'))}`,
  );
});

test('the leaderboard: GET /videos/top and /videos/:id/rank answer from the running api', async () => {
  assert.equal((await call('POST', '/videos/e2e-low/likes', { by: 1 })).status, 200);
  // The most one request may add (MAX_INCREMENT_BY's default): far above the other videos' likes.
  for (const [id, by] of [
    ['e2e-top3', 998],
    ['e2e-top2', 999],
    ['e2e-top', 1000],
  ] as const) {
    assert.equal((await call('POST', `/videos/${id}/likes`, { by })).status, 200);
  }
  const top = await call('GET', '/videos/top?by=likes&n=1');
  assert.deepEqual(top.body, { by: 'likes', top: [{ id: 'e2e-top', likes: 1000, rank: 1 }] });
  assert.deepEqual((await call('GET', '/videos/e2e-top/rank?by=likes')).body, {
    id: 'e2e-top',
    by: 'likes',
    rank: 1,
    likes: 1000,
  });
  assert.equal((await call('GET', '/videos/e2e-nothing/rank?by=views')).status, 404);
  // The ranking keeps three videos (CACHE_RANKING_ENTRIES): one below them has its likes and no rank.
  assert.deepEqual((await call('GET', '/videos/e2e-low/rank?by=likes')).body, {
    id: 'e2e-low',
    by: 'likes',
    rank: null,
    likes: 1,
  });
});

test('a video that exists only in PostgreSQL is read through the cache', async () => {
  await db.pool.query(`INSERT INTO "Video" (id, likes, views, version) VALUES ('e2e-cold', 7, 3, 0)`);
  assert.deepEqual((await call('GET', '/videos/e2e-cold')).body, { id: 'e2e-cold', likes: 7, views: 3 });
  assert.deepEqual((await call('POST', '/videos/e2e-cold/likes')).body, { id: 'e2e-cold', likes: 8 });
  assert.ok(await eventually(async () => (await videoRow('e2e-cold'))?.likes === 8));
});

test('user settings: PUT, PATCH, GET and DELETE reach PostgreSQL', async () => {
  const put = await call('PUT', '/users/e2e-u1/settings', {
    theme: 'dark',
    language: 'en',
    notifications: true,
  });
  assert.equal(put.status, 200);
  assert.deepEqual(put.body, { userId: 'e2e-u1', theme: 'dark', language: 'en', notifications: true });
  const patch = await call('PATCH', '/users/e2e-u1/settings', { notifications: false });
  assert.deepEqual(patch.body, { userId: 'e2e-u1', theme: 'dark', language: 'en', notifications: false });
  assert.deepEqual((await call('GET', '/users/e2e-u1/settings')).body, patch.body);

  const row = async () =>
    (
      await db.pool.query('SELECT theme, language, notifications FROM user_settings WHERE user_id = $1', [
        'e2e-u1',
      ])
    ).rows[0];
  assert.ok(await eventually(async () => (await row())?.notifications === false));
  assert.deepEqual(await row(), { theme: 'dark', language: 'en', notifications: false });

  assert.equal((await call('DELETE', '/users/e2e-u1/settings')).status, 204);
  assert.equal((await call('GET', '/users/e2e-u1/settings')).status, 404);
  assert.ok(await eventually(async () => (await row()) === undefined), 'the row was never deleted');
});

test('bad requests get 400, 404 and 413 with the error shape', async () => {
  const cases: [string, string, unknown, number, string][] = [
    ['POST', '/videos/e2e-2/likes', '{"by": ', 400, 'INVALID_JSON'],
    ['POST', '/videos/e2e-2/likes', { by: 'two' }, 400, 'VALIDATION'],
    ['POST', '/videos/e2e-2/likes', { by: 1.5 }, 400, 'VALIDATION'],
    ['POST', '/videos/e2e-2/likes', { times: 2 }, 400, 'VALIDATION'],
    ['POST', '/videos/e2e-2/likes', [1], 400, 'VALIDATION'],
    ['POST', '/videos/e2e-2/likes', { by: 2 ** 53 }, 400, 'VALIDATION'],
    ['PUT', '/users/e2e-u2/settings', { theme: 'dark' }, 400, 'VALIDATION'],
    [
      'PUT',
      '/users/e2e-u2/settings',
      { theme: 'dark', language: 'en', notifications: 'yes' },
      400,
      'VALIDATION',
    ],
    ['PATCH', '/users/e2e-u2/settings', {}, 400, 'VALIDATION'],
    ['PATCH', '/users/e2e-u2/settings', { theme: 'dark' }, 404, 'NOT_FOUND'],
    ['GET', '/videos/e2e-never', undefined, 404, 'NOT_FOUND'],
    ['GET', '/users/e2e-never/settings', undefined, 404, 'NOT_FOUND'],
    ['POST', '/videos/e2e-2/likes', JSON.stringify({ pad: 'x'.repeat(200_000) }), 413, 'PAYLOAD_TOO_LARGE'],
  ];
  for (const [method, path, body, status, code] of cases) {
    const response = await call(method, path, body);
    assert.equal(response.status, status, `${method} ${path} ${JSON.stringify(body)?.slice(0, 60)}`);
    assert.equal(response.body.error.code, code);
    assert.equal(typeof response.body.error.message, 'string');
  }
  // Nothing was written by the refused requests.
  assert.equal((await call('GET', '/videos/e2e-2')).status, 404);
});

test('the dashboard refuses anonymous and wrong credentials', async () => {
  for (const path of ['/', '/api/stats', '/metrics', '/admin/queues', '/admin/queues/api/queues']) {
    const anonymous = await fetch(`${dashboard.url}${path}`);
    assert.equal(anonymous.status, 401, path);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  }
  const wrong = await fetch(`${dashboard.url}/`, {
    headers: { authorization: `Basic ${Buffer.from(`${USER}:nope`).toString('base64')}` },
  });
  assert.equal(wrong.status, 401);
  assert.equal((await fetch(`${dashboard.url}/`, { headers: AUTH })).status, 200);
  assert.equal((await fetch(`${dashboard.url}/healthz`)).status, 200);
});

test('without configured credentials the dashboard generates a password into a private file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wb-dashboard-'));
  const file = join(dir, 'nested', 'credentials');
  const local = await startApp('dashboard', { ...env, DASHBOARD_CREDENTIALS_FILE: file });
  try {
    const [user, password] = (await readFile(file, 'utf8')).trim().split(':');
    assert.equal(user, 'admin');
    assert.ok(password && password.length >= 24);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await fetch(`${local.url}/`)).status, 401, 'anonymous is refused');
    const auth = { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` };
    assert.equal((await fetch(`${local.url}/`, { headers: auth })).status, 200);
    const printed = `${JSON.stringify(local.logs)}\n${local.output.join('\n')}`;
    assert.ok(!printed.includes(password), 'the password is not in the log');
    assert.ok(printed.includes(file), 'the log says where it is');
  } finally {
    await local.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a flush job the database refused is retried through Bull Board and reaches PostgreSQL', async () => {
  await db.pool.query(`ALTER TABLE "Video" ADD CONSTRAINT e2e_refuse_poison CHECK (id <> 'e2e-poison')`);
  for (let i = 0; i < 3; i++) assert.equal((await call('POST', '/videos/e2e-poison/likes')).status, 200);

  const board = `${dashboard.url}/admin/queues/api/queues`;
  type FailedJobs = { queues: { name: string; jobs: { id: string; data: { id: string } }[] }[] };
  let failed: FailedJobs['queues'][number]['jobs'] = [];
  assert.ok(
    await eventually(async () => {
      const response = await fetch(`${board}?activeQueue=flush&status=failed&page=1&jobsPerPage=10`, {
        headers: AUTH,
      });
      failed = ((await response.json()) as FailedJobs).queues.find((q) => q.name === 'flush')?.jobs ?? [];
      return failed.length > 0;
    }),
    'the flush job never failed',
  );
  assert.equal(failed.length, 1);
  const job = failed[0] as (typeof failed)[number];
  assert.equal(job.data.id, 'e2e-poison');
  assert.equal(await videoRow('e2e-poison'), undefined);
  assert.ok(await eventually(async () => (await gauge(dashboard, 'write_behind_failed_keys')) === 1));

  await db.pool.query('ALTER TABLE "Video" DROP CONSTRAINT e2e_refuse_poison');
  const retry = await fetch(`${board}/flush/${encodeURIComponent(job.id)}/retry`, {
    method: 'PUT',
    headers: AUTH,
  });
  assert.equal(retry.status, 204, await retry.text());

  assert.ok(
    await eventually(async () => (await videoRow('e2e-poison'))?.likes === 3),
    'the retried job did not write the row',
  );
  assert.ok(await eventually(async () => (await gauge(dashboard, 'write_behind_failed_keys')) === 0));
});

test('lag grows while no worker runs and drains once two workers are back', async () => {
  const stopped = await worker.stop('SIGTERM');
  assert.deepEqual(stopped, { code: 0, signal: null }, 'the worker did not shut down cleanly');

  assert.equal((await call('POST', '/videos/e2e-lag/likes', { by: 4 })).status, 200);
  let first = 0;
  assert.ok(
    await eventually(async () => {
      first = await gauge(dashboard, 'write_behind_lag_seconds');
      return first > 0.3;
    }),
  );
  assert.ok(
    await eventually(async () => (await gauge(dashboard, 'write_behind_lag_seconds')) > first + 0.3),
    'lag did not grow',
  );
  assert.equal(await gauge(dashboard, 'write_behind_dirty_keys'), 1);
  assert.equal(await videoRow('e2e-lag'), undefined);

  // Several workers may share the queue.
  restarted = await Promise.all([startApp('worker', env), startApp('worker', env)]);
  assert.ok(
    await eventually(async () => (await gauge(dashboard, 'write_behind_dirty_keys')) === 0),
    'the backlog never drained',
  );
  assert.equal(await gauge(dashboard, 'write_behind_lag_seconds'), 0);
  assert.equal((await videoRow('e2e-lag'))?.likes, 4);
  // The workers' own /metrics say what they flushed, and see the same (global) backlog.
  const flushed = await Promise.all(restarted.map((w) => gauge(w, 'write_behind_flush_keys_total')));
  assert.equal(
    flushed.reduce((a, b) => a + b),
    1,
  );
  for (const w of restarted) assert.equal(await gauge(w, 'write_behind_dirty_keys'), 0);
});
