// The dashboard in-process (supertest): who may start it where, authentication on every route but
// /healthz, the stats and metrics it serves, and the refusal to retry completed jobs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createWriteBehind, type Logger } from '@write-behind/core';
import { ConfigError, type DemoCache, demoEntities, loadConfig } from '@write-behind/demo';
import { type Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  cleanupRedis,
  createTestDatabase,
  eventually,
  REDIS_URL,
  type TestDatabase,
  testPrefix,
} from '../../../test/support/env.ts';
import { BOARD_PATH, createApp } from '../src/app.ts';
import { dashboardAccess, dashboardConfigSpec } from '../src/config.ts';

const silent: Logger = { info() {}, warn() {}, error() {} };
const credentials = { user: 'ops', password: 's3cret' };

describe('where the dashboard may listen', () => {
  const access = (env: Record<string, string>) => dashboardAccess(loadConfig(env, dashboardConfigSpec));

  test('without configured credentials it generates a password and binds to 127.0.0.1', () => {
    const first = access({});
    assert.equal(first.host, '127.0.0.1');
    assert.equal(first.generated, true);
    assert.equal(first.credentials.user, 'admin');
    assert.ok(first.credentials.password.length >= 24, 'a long random password');
    assert.notEqual(access({}).credentials.password, first.credentials.password, 'a new one each start');
    assert.equal(access({ HOST: '::1' }).host, '::1');
  });

  test('without credentials a non-loopback HOST is refused, naming HOST', () => {
    assert.throws(
      () => access({ HOST: '0.0.0.0' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.variables.includes('HOST') &&
        /DASHBOARD_USER and DASHBOARD_PASSWORD/.test(error.message),
    );
  });

  test('one credential without the other is refused, naming the missing one', () => {
    assert.throws(
      () => access({ DASHBOARD_USER: 'ops' }),
      (error: unknown) => error instanceof ConfigError && error.variables[0] === 'DASHBOARD_PASSWORD',
    );
  });

  test('with credentials it listens on every interface unless HOST says otherwise', () => {
    const env = { DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 'pw' };
    assert.deepEqual(access(env), {
      host: '0.0.0.0',
      credentials: { user: 'ops', password: 'pw' },
      generated: false,
    });
    assert.equal(access({ ...env, HOST: '10.0.0.5' }).host, '10.0.0.5');
  });

  test('a bad password is never echoed in the error', () => {
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/x' }, dashboardConfigSpec),
      (error: unknown) =>
        error instanceof ConfigError && /DATABASE_URL/.test(error.message) && !/hunter2/.test(error.message),
    );
  });
});

describe('the dashboard app', () => {
  let db: TestDatabase;
  let prefix: string;
  let cache: DemoCache;

  before(async () => {
    db = await createTestDatabase();
    prefix = testPrefix();
    cache = createWriteBehind({
      redis: REDIS_URL,
      prisma: db.prisma,
      entities: demoEntities,
      prefix,
      logger: silent,
    });
  });
  after(async () => {
    await cache.close();
    await cleanupRedis(prefix);
    await db.drop();
  });

  const app = () => createApp({ cache, credentials, logger: silent, processMetrics: false });
  const auth = (r: request.Test) => r.auth(credentials.user, credentials.password);

  test('every route but /healthz needs the credentials', async () => {
    for (const path of ['/', '/api/stats', '/metrics', BOARD_PATH, `${BOARD_PATH}/api/queues`]) {
      const response = await request(app()).get(path).expect(401);
      assert.match(response.headers['www-authenticate'] ?? '', /^Basic realm="write-behind dashboard"/);
      assert.equal(response.body.error.code, 'UNAUTHORIZED');
      await request(app()).get(path).auth(credentials.user, 'wrong').expect(401);
      await request(app()).get(path).auth('wrong', credentials.password).expect(401);
    }
    await request(app()).get('/healthz').expect(200, { status: 'ok' });
  });

  test('stats, metrics and the page', async () => {
    await cache.increment('video', 'd1', 'likes');
    const stats = await auth(request(app()).get('/api/stats')).expect(200);
    assert.equal(stats.body.dirtyKeys, 1);
    assert.ok(stats.body.lagMs >= 0);
    assert.deepEqual(
      stats.body.queues.map((q: { queue: string }) => q.queue),
      [`{${prefix}:0}:flush`],
    );

    const metrics = await auth(request(app()).get('/metrics')).expect(200);
    assert.match(metrics.text, /^write_behind_dirty_keys 1$/m);
    assert.match(metrics.text, /^write_behind_lag_seconds \d/m);
    assert.match(metrics.text, /^write_behind_failed_keys 0$/m);
    assert.match(
      metrics.text,
      new RegExp(`^write_behind_queue_jobs\\{queue="\\{${prefix}:0\\}:flush",state="delayed"\\} 1$`, 'm'),
    );
    assert.match(metrics.text, /^write_behind_queue_backlog_jobs 1$/m);

    const page = await auth(request(app()).get('/')).expect(200).expect('content-type', /html/);
    const nonce = /script-src 'nonce-([^']+)'/.exec(page.headers['content-security-policy'] ?? '')?.[1];
    assert.ok(nonce, 'the page has a CSP with a script nonce');
    assert.ok(page.text.includes(`<script nonce="${nonce}">`));
    assert.ok(page.text.includes('api/stats'));

    await auth(request(app()).get(`${BOARD_PATH}/`)).expect(200);
  });

  test('Bull Board refuses to retry completed jobs, one by one or all at once', async () => {
    const queue = cache.queues[0] as Queue;
    // A job that completes and is kept: the flush worker removes its own completed jobs, so run a stand-in.
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new Worker('flush', async () => 'done', { connection, prefix: queue.opts.prefix });
    try {
      const job = await queue.add('stand-in', {}, { jobId: 'completed-job', removeOnComplete: false });
      assert.ok(await eventually(async () => (await job.getState()) === 'completed'));
      const one = await auth(request(app()).put(`${BOARD_PATH}/api/queues/flush/completed-job/retry`)).expect(
        405,
      );
      assert.equal(one.body.error.code, 'COMPLETED_RETRY_REFUSED');
      await auth(request(app()).put(`${BOARD_PATH}/api/queues/flush/retry/completed`)).expect(405);
      assert.equal(await job.getState(), 'completed');
      // Anything else reaches Bull Board: an unknown job is its 404.
      await auth(request(app()).put(`${BOARD_PATH}/api/queues/flush/no-such-job/retry`)).expect(404);
    } finally {
      await worker.close();
      connection.disconnect();
    }
  });
});
