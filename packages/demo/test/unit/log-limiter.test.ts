// The warnings about refused requests: one line per code and window, the rest counted and summarised
// (no servers needed; a fake logger and a fake clock).
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { errorReason, LogLimiter } from '../../src/index.ts';

function fakeLogger() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string | undefined }[] = [];
  const record = (level: string) => (obj: object, msg?: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { logger: { info: record('info'), warn: record('warn'), error: record('error') }, lines };
}

test('one line per code and window; the held-back lines are counted before the next one', () => {
  const { logger, lines } = fakeLogger();
  let now = 1_000_000;
  const limiter = new LogLimiter(logger, { windowMs: 10_000, now: () => now });
  try {
    for (let i = 0; i < 50; i++) limiter.warn('VALIDATION', { path: `/v/${i}` }, 'request refused');
    limiter.warn('NOT_FOUND', { path: '/nope' }, 'request refused');
    assert.deepEqual(
      lines.map((l) => [l.level, l.obj.code, l.obj.path, l.msg]),
      [
        ['warn', 'VALIDATION', '/v/0', 'request refused'],
        ['warn', 'NOT_FOUND', '/nope', 'request refused'],
      ],
    );
    now += 9_999;
    assert.equal(limiter.warn('VALIDATION', {}, 'request refused'), false, 'still inside the window');
    now += 1;
    assert.equal(limiter.warn('VALIDATION', { path: '/v/again' }, 'request refused'), true);
    assert.deepEqual(lines.slice(2), [
      {
        level: 'warn',
        obj: { code: 'VALIDATION', suppressed: 50, windowMs: 10_000 },
        msg: 'similar lines suppressed',
      },
      { level: 'warn', obj: { code: 'VALIDATION', path: '/v/again' }, msg: 'request refused' },
    ]);
    assert.ok(
      lines.every((l) => l.level === 'warn' && !('err' in l.obj)),
      'warnings without a stack',
    );
  } finally {
    limiter.close();
  }
});

test('a timer writes the summary every window while lines are held back, and stops when all is quiet', () => {
  mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
  const { logger, lines } = fakeLogger();
  const limiter = new LogLimiter(logger, { windowMs: 10_000 });
  try {
    limiter.warn('UNAVAILABLE', { reason: 'Redis away' }, 'request refused');
    for (let i = 0; i < 7; i++) limiter.warn('UNAVAILABLE', { reason: 'Redis away' }, 'request refused');
    assert.equal(lines.length, 1);
    mock.timers.tick(10_000);
    assert.deepEqual(lines[1]?.obj, { code: 'UNAVAILABLE', suppressed: 7, windowMs: 10_000 });
    // Nothing more held back: no further summaries.
    mock.timers.tick(30_000);
    assert.equal(lines.length, 2);
    // The key was forgotten after a quiet window: the next line is written at once.
    assert.equal(limiter.warn('UNAVAILABLE', {}, 'request refused'), true);
  } finally {
    limiter.close();
    mock.timers.reset();
  }
});

test('flush() writes the counts now; a bad window is refused, quoting it', () => {
  const { logger, lines } = fakeLogger();
  const limiter = new LogLimiter(logger, { now: () => 0 });
  limiter.warn('BACKLOG_FULL', {}, 'request refused');
  limiter.warn('BACKLOG_FULL', {}, 'request refused');
  limiter.flush();
  limiter.close();
  assert.deepEqual(lines[1]?.obj, { code: 'BACKLOG_FULL', suppressed: 1, windowMs: 10_000 });
  assert.throws(() => new LogLimiter(logger, { windowMs: 0 }), /windowMs must be a positive integer .*got 0/);
});

test('errorReason: the message and its causes in one line', () => {
  const cause = new Error('Raw query failed.\n\nMessage: `role "nobody" does not exist`');
  const error = new Error('could not load video "x" from the database', { cause });
  assert.equal(
    errorReason(error),
    'could not load video "x" from the database: Raw query failed. Message: `role "nobody" does not exist`',
  );
  assert.equal(errorReason('plain'), 'plain');
  const quoted = new Error('Redis command failed: WRONGPASS invalid', {
    cause: new Error('WRONGPASS invalid'),
  });
  assert.equal(errorReason(quoted), 'Redis command failed: WRONGPASS invalid', 'a cause quoted already');
});
