// The api in-process over a fake cache (no servers needed): the bounds of `by`, /healthz saying only ok or
// unavailable, and the log lines of refused requests (a few warnings per window, no stack) next to those of
// unexpected errors (each at error, with its stack). Against real Redis: ../app.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnavailableError } from '@write-behind/core';
import { ConfigError, LogLimiter, loadConfig } from '@write-behind/demo';
import request from 'supertest';
import { type ApiCache, createApp } from '../../src/app.ts';
import { apiConfigSpec } from '../../src/config.ts';

interface Line {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function fakeLogger() {
  const lines: Line[] = [];
  const record = (level: Line['level']) => (obj: object, msg?: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { logger: { info: record('info'), warn: record('warn'), error: record('error') }, lines };
}

/** A cache whose counters start at 0 and add what they are given; `stats` answers as told. */
function fakeCache(stats: () => Promise<unknown> = async () => ({})) {
  const increments: number[] = [];
  const cache = {
    increment: async (_entity: string, _id: string, _field: string, by: number) => {
      increments.push(by);
      return by;
    },
    add: async (_entity: string, _id: string, _field: string, by: number) => {
      increments.push(by);
    },
    stats,
  } as unknown as ApiCache;
  return { cache, increments };
}

test('`by` of likes and views: a whole number from 1 to MAX_INCREMENT_BY, else 400 saying so', async () => {
  const { cache, increments } = fakeCache();
  const { logger } = fakeLogger();
  const app = createApp({ cache, logger });
  for (const by of [1, 1000]) {
    await request(app).post('/videos/v/likes').send({ by }).expect(200, { id: 'v', likes: by });
  }
  await request(app)
    .post('/videos/v/views')
    .expect(202, { id: 'v', added: { views: 1 } });
  assert.deepEqual(increments, [1, 1000, 1]);

  const refused: [unknown, string][] = [
    [0, '0'],
    [-1, '-1'],
    [-1000, '-1000'],
    [1001, '1001'],
    [1e12, '1000000000000'],
    [2 ** 53, '9007199254740992'],
    [1.5, '1.5'],
    ['5', '"5"'],
    [null, 'null'],
    [true, 'true'],
    [[1], '[1]'],
    [{ n: 1 }, '{"n":1}'],
  ];
  for (const [by, shown] of refused) {
    const response = await request(app).post('/videos/v/likes').send({ by }).expect(400);
    assert.deepEqual(response.body, {
      error: { code: 'VALIDATION', message: `by must be a whole number from 1 to 1000, got ${shown}` },
    });
  }
  const long = await request(app)
    .post('/videos/v/likes')
    .send({ by: 'x'.repeat(500) })
    .expect(400);
  assert.ok(long.body.error.message.length < 120, 'a long value is cut');
  assert.deepEqual(increments, [1, 1000, 1], 'nothing refused reached the cache');

  const five = createApp({ cache, logger, maxIncrementBy: 5 });
  await request(five).post('/videos/v/likes').send({ by: 5 }).expect(200);
  const six = await request(five).post('/videos/v/views').send({ by: 6 }).expect(400);
  assert.equal(six.body.error.message, 'by must be a whole number from 1 to 5, got 6');
});

test('MAX_INCREMENT_BY is read and checked at start-up', () => {
  assert.equal(loadConfig({}, apiConfigSpec).MAX_INCREMENT_BY, 1000);
  assert.equal(loadConfig({ MAX_INCREMENT_BY: '50' }, apiConfigSpec).MAX_INCREMENT_BY, 50);
  for (const raw of ['0', '-5', 'ten', '1.5']) {
    assert.throws(
      () => loadConfig({ MAX_INCREMENT_BY: raw }, apiConfigSpec),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.variables.includes('MAX_INCREMENT_BY') &&
        error.message.includes(`MAX_INCREMENT_BY must be an integer from 1 to`),
      raw,
    );
  }
});

test('/healthz says ok or unavailable, nothing more; why goes to the log, once a window', async () => {
  const { logger, lines } = fakeLogger();
  const { cache: healthy } = fakeCache();
  await request(createApp({ cache: healthy, logger }))
    .get('/healthz')
    .expect(200, { status: 'ok' });

  const { cache: broken } = fakeCache(async () => {
    throw new UnavailableError('Redis command failed: WRONGPASS invalid username-password pair');
  });
  const app = createApp({ cache: broken, logger, healthTimeoutMs: 300 });
  for (let i = 0; i < 5; i++) {
    const response = await request(app).get('/healthz').expect(503);
    assert.deepEqual(response.body, { status: 'unavailable' });
  }
  const { cache: silent } = fakeCache(() => new Promise(() => {}));
  await request(createApp({ cache: silent, logger, healthTimeoutMs: 50 }))
    .get('/healthz')
    .expect(503, { status: 'unavailable' });

  assert.deepEqual(
    lines.map((l) => [l.level, l.obj.code, l.obj.reason]),
    [
      ['warn', 'HEALTH_CHECK_FAILED', 'Redis command failed: WRONGPASS invalid username-password pair'],
      ['warn', 'HEALTH_CHECK_FAILED', 'no answer within 50 ms'],
    ],
  );
});

test('refused requests: a warning per code and window without a stack; a bug: an error with its stack', async () => {
  const { logger, lines } = fakeLogger();
  const refusals = new LogLimiter(logger, { now: () => 0 });
  const outage = new UnavailableError('Redis command failed: connect ECONNREFUSED 127.0.0.1:6379');
  const cache = {
    increment: async () => {
      throw outage;
    },
    get: async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'likes')");
    },
  } as unknown as ApiCache;
  const app = createApp({ cache, logger, refusals });
  try {
    for (let i = 0; i < 30; i++) await request(app).post('/videos/v/likes').send({ by: 0 }).expect(400);
    for (let i = 0; i < 20; i++) await request(app).get(`/nowhere/${i}`).expect(404);
    for (let i = 0; i < 10; i++) await request(app).post('/videos/v/likes').expect(503);
    for (let i = 0; i < 2; i++) await request(app).get('/videos/v').expect(500);

    const warnings = lines.filter((l) => l.level === 'warn');
    assert.deepEqual(
      warnings.map((l) => [l.obj.code, l.obj.status, l.obj.method, l.obj.path, l.msg]),
      [
        ['VALIDATION', 400, 'POST', '/videos/v/likes', 'request refused'],
        ['NOT_FOUND', 404, 'GET', '/nowhere/0', 'request refused'],
        ['UNAVAILABLE', 503, 'POST', '/videos/v/likes', 'request refused'],
      ],
    );
    // The client's message for a refusal, the library's detail for an outage; no error object, no stack.
    assert.equal(warnings[0]?.obj.reason, 'by must be a whole number from 1 to 1000, got 0');
    assert.equal(warnings[2]?.obj.reason, outage.message);
    for (const warning of warnings) assert.ok(!JSON.stringify(warning).includes('    at '), 'no stack');

    const errors = lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 2, 'every unexpected error, each with its stack');
    for (const error of errors) {
      assert.ok(error.obj.err instanceof TypeError);
      assert.match((error.obj.err as Error).stack ?? '', /\n {4}at /);
      assert.equal(error.obj.path, '/videos/v');
    }

    refusals.flush();
    assert.deepEqual(
      lines.slice(-3).map((l) => [l.obj.code, l.obj.suppressed]),
      [
        ['VALIDATION', 29],
        ['NOT_FOUND', 19],
        ['UNAVAILABLE', 9],
      ],
    );
  } finally {
    refusals.close();
  }
});
