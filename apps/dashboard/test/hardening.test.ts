// The dashboard's defences, in-process over HTTP as curl would see them (supertest): headers that forbid
// framing and sniffing on every response, state-changing requests from another site refused before
// authentication, failed logins logged without the password and limited per client address, and a
// /healthz that says only ok or unavailable. The same in Chromium: browser-hardening.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Logger } from '@write-behind/core';
import { type DemoCache, type DemoEntities, demoEntities, LogLimiter } from '@write-behind/demo';
import { createTestCache, type TestCache } from '@write-behind/testkit';
import type { Queue } from 'bullmq';
import request from 'supertest';
import { BOARD_PATH, createApp } from '../src/app.ts';

const silent: Logger = { info() {}, warn() {}, error() {} };
const credentials = { user: 'ops', password: `pw-${randomBytes(8).toString('hex')}` };
/** The dashboard's address as a client names it, in `Host` and, from its own pages, in `Origin`. */
const HOST = 'dashboard.example:3001';
const ADD_JOB = `${BOARD_PATH}/api/queues/flush/add`;

interface Line {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function fakeLogger() {
  const lines: Line[] = [];
  const record = (level: string) => (obj: object, msg?: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { logger: { info: record('info'), warn: record('warn'), error: record('error') }, lines };
}

describe('the dashboard, hardened', () => {
  let world: TestCache<DemoEntities>;
  let cache: DemoCache;
  let queue: Queue;

  before(async () => {
    world = await createTestCache({ entities: demoEntities, logger: silent });
    cache = world.cache;
    queue = cache.queues[0] as Queue;
  });
  after(() => world.close());

  const app = (options: Partial<Parameters<typeof createApp>[0]> = {}) =>
    createApp({ cache, credentials, logger: silent, processMetrics: false, ...options });
  const jobCount = async () => Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0);

  test('every response forbids framing and sniffing: pages, assets, API, 401s, 403s, 404s', async () => {
    const dashboard = app();
    const board = await request(dashboard).get(`${BOARD_PATH}/`).auth(credentials.user, credentials.password);
    const script = /src="(static\/js\/main\.[^"]+\.js)"/.exec(board.text)?.[1];
    assert.ok(script, 'Bull Board links its main script');

    const cases: [string, request.Test, number][] = [
      ['health', request(dashboard).get('/healthz'), 200],
      ['anonymous page', request(dashboard).get('/'), 401],
      ['anonymous board API', request(dashboard).get(`${BOARD_PATH}/api/queues`), 401],
      ['wrong password', request(dashboard).get('/').auth(credentials.user, 'wrong'), 401],
      ['lag page', request(dashboard).get('/').auth(credentials.user, credentials.password), 200],
      ['stats', request(dashboard).get('/api/stats').auth(credentials.user, credentials.password), 200],
      ['metrics', request(dashboard).get('/metrics').auth(credentials.user, credentials.password), 200],
      [
        'board page',
        request(dashboard).get(`${BOARD_PATH}/`).auth(credentials.user, credentials.password),
        200,
      ],
      [
        'board script',
        request(dashboard).get(`${BOARD_PATH}/${script}`).auth(credentials.user, credentials.password),
        200,
      ],
      [
        'board API',
        request(dashboard).get(`${BOARD_PATH}/api/queues`).auth(credentials.user, credentials.password),
        200,
      ],
      ['not found', request(dashboard).get('/nope').auth(credentials.user, credentials.password), 404],
      ['cross-site', request(dashboard).post(ADD_JOB).set('Origin', 'https://evil.example'), 403],
    ];
    for (const [name, pending, status] of cases) {
      const response = await pending;
      assert.equal(response.status, status, name);
      const csp = response.headers['content-security-policy'] ?? '';
      assert.match(csp, /frame-ancestors 'none'/, `${name}: ${csp}`);
      assert.equal(response.headers['x-frame-options'], 'DENY', name);
      assert.equal(response.headers['x-content-type-options'], 'nosniff', name);
      assert.equal(response.headers['x-powered-by'], undefined, name);
    }

    // What is no page may load nothing; the lag page runs only its own nonce; Bull Board only its own files.
    const json = await request(dashboard).get('/api/stats').auth(credentials.user, credentials.password);
    assert.match(json.headers['content-security-policy'] ?? '', /default-src 'none'/);
    const page = await request(dashboard).get('/').auth(credentials.user, credentials.password);
    const pageCsp = page.headers['content-security-policy'] ?? '';
    const nonce = /script-src 'nonce-([^']+)'/.exec(pageCsp)?.[1];
    assert.ok(nonce && page.text.includes(`<script nonce="${nonce}" src="assets/overview.js">`), pageCsp);
    assert.doesNotMatch(pageCsp, /unsafe-inline|'self' 'unsafe/);
    assert.match(board.headers['content-security-policy'] ?? '', /script-src 'self'(;|$)/);
  });

  test('a cross-site POST is refused (403) before authentication, and adds no job', async () => {
    const { logger, lines } = fakeLogger();
    const refusals = new LogLimiter(logger, { now: () => 0 });
    const dashboard = app({ logger, refusals });
    const before = await jobCount();
    // What a form on https://evil.example sends: text/plain (no CORS preflight), the operator's credentials
    // (the browser attaches them), and headers that say where it came from.
    const body = '{"name":"forged","data":{"pad":"="}}';
    const forged: [string, Record<string, string>][] = [
      ['Origin and Sec-Fetch-Site', { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' }],
      ['Origin alone', { Origin: 'https://evil.example' }],
      ['Sec-Fetch-Site alone', { 'Sec-Fetch-Site': 'cross-site' }],
      ['a sibling site', { Origin: 'http://other.example:3001', 'Sec-Fetch-Site': 'same-site' }],
      ['an opaque origin', { Origin: 'null' }],
      ['another port', { Origin: 'http://dashboard.example:3002' }],
    ];
    for (const [name, headers] of forged) {
      for (const authenticated of [true, false]) {
        let pending = request(dashboard).post(ADD_JOB).set('Host', HOST).set(headers).type('text/plain');
        if (authenticated) pending = pending.auth(credentials.user, credentials.password);
        const response = await pending.send(body);
        assert.equal(response.status, 403, `${name}, authenticated: ${authenticated}`);
        assert.equal(response.body.error.code, 'CROSS_SITE_REFUSED');
      }
    }
    assert.equal(await jobCount(), before, 'no job was added');
    assert.equal(lines.length, 1, 'one warning for the window');
    assert.equal(lines[0]?.obj.code, 'CROSS_SITE_REFUSED');
    assert.match(String(lines[0]?.obj.reason), /Sec-Fetch-Site is "cross-site"/);

    // The dashboard's own pages (same origin, as Bull Board's Add button sends it), and curl (no such
    // headers) get through.
    const own = await request(dashboard)
      .post(ADD_JOB)
      .set('Host', HOST)
      .set({ Origin: `http://${HOST}`, 'Sec-Fetch-Site': 'same-origin' })
      .auth(credentials.user, credentials.password)
      .send({ name: 'operator-probe', data: {} })
      .expect(200);
    assert.equal(await jobCount(), before + 1);
    await queue.remove(own.body.job.id);
    await request(dashboard)
      .put(`${BOARD_PATH}/api/queues/flush/no-such-job/retry`)
      .auth(credentials.user, credentials.password)
      .expect(404);
    refusals.close();
  });

  test('failed logins: each logged at warn with user and address, never the password tried', async () => {
    const { logger, lines } = fakeLogger();
    const dashboard = app({ logger });
    const tried = `guess-${randomBytes(8).toString('hex')}`;
    await request(dashboard).get('/').auth('mallory', tried).expect(401);
    // A header without `user:` may be a password typed in the wrong place: no user is reported either.
    await request(dashboard)
      .get('/')
      .set('Authorization', `Basic ${Buffer.from(tried).toString('base64')}`)
      .expect(401);
    // A request without credentials is the first step of every browser's login: not a failure.
    await request(dashboard).get('/').expect(401);
    await request(dashboard).get('/').auth(credentials.user, credentials.password).expect(200);

    assert.deepEqual(
      lines.map((l) => [l.level, l.msg, l.obj.user]),
      [
        ['warn', 'dashboard login failed', 'mallory'],
        ['warn', 'dashboard login failed', undefined],
      ],
    );
    for (const line of lines) {
      assert.match(String(line.obj.client), /127\.0\.0\.1/);
      assert.ok(!JSON.stringify(line).includes(tried), 'the password tried is not logged');
      assert.ok(!JSON.stringify(line).includes(credentials.password));
    }
  });

  test('after N failed logins a client gets 429 with Retry-After, right password or not', async () => {
    const { logger, lines } = fakeLogger();
    const dashboard = app({ logger, loginLimit: { failures: 3, windowMs: 60_000 } });
    const right = (r: request.Test) => r.auth(credentials.user, credentials.password);
    const wrong = (r: request.Test) => r.auth(credentials.user, 'wrong');
    // Successes and anonymous requests are not failures.
    for (let i = 0; i < 5; i++) await request(dashboard).get('/').expect(401);
    await wrong(request(dashboard).get('/')).expect(401);
    await right(request(dashboard).get('/api/stats')).expect(200);
    await wrong(request(dashboard).get('/')).expect(401);
    await right(request(dashboard).get('/nope')).expect(404);
    await wrong(request(dashboard).get('/metrics')).expect(401);

    for (const attempt of [wrong, right]) {
      const refused = await attempt(request(dashboard).get('/')).expect(429);
      const retryAfter = Number(refused.headers['retry-after']);
      assert.ok(
        Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60,
        `Retry-After ${retryAfter}`,
      );
      assert.equal(refused.body.error.code, 'TOO_MANY_LOGIN_FAILURES');
      assert.equal(refused.headers['x-frame-options'], 'DENY');
    }
    // Without credentials nothing is guessed: still the challenge, not the refusal.
    await request(dashboard).get('/').expect(401);
    assert.ok(lines.some((l) => l.obj.code === 'TOO_MANY_LOGIN_FAILURES' && l.level === 'warn'));
  });

  test('/healthz says only ok or unavailable; the reason goes to the log', async () => {
    const { logger, lines } = fakeLogger();
    const dead = {
      queues: cache.queues,
      stats: async () => {
        throw new Error('Redis command failed: connect ECONNREFUSED 127.0.0.1:1');
      },
    };
    const dashboard = createApp({ cache: dead, credentials, logger, processMetrics: false });
    await request(dashboard).get('/healthz').expect(503, { status: 'unavailable' });
    await request(app()).get('/healthz').expect(200, { status: 'ok' });
    assert.deepEqual(
      lines.map((l) => [l.obj.code, l.obj.reason]),
      [['HEALTH_CHECK_FAILED', 'Redis command failed: connect ECONNREFUSED 127.0.0.1:1']],
    );
    // The stats of a Redis that is away: 503, the reason in the log only.
    const stats = await request(dashboard).get('/api/stats').auth(credentials.user, credentials.password);
    assert.equal(stats.status, 503);
    assert.doesNotMatch(stats.text, /ECONNREFUSED/);
  });
});
