// The worker's HTTP surface over a fake backlog (no servers needed): /healthz and /metrics say that they
// failed, never why (anyone who reaches the port may ask); the reason goes to the log, once a window.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Stats } from '@write-behind/core';
import { LogLimiter } from '@write-behind/demo';
import { ZERO_FLUSH_COUNTERS } from '@write-behind/testkit';
import request from 'supertest';
import { createApp, METRICS_UNAVAILABLE } from '../../src/app.ts';

function fakeLogger() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string | undefined }[] = [];
  const record = (level: string) => (obj: object, msg?: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { logger: { info: record('info'), warn: record('warn'), error: record('error') }, lines };
}

test('while Redis answers: 200 ok and the metrics', async () => {
  const stats = async () => ({ dirtyKeys: 3, oldestDirtyAgeMs: 0, failedKeys: 0, pendingEvents: 0 }) as Stats;
  const app = createApp({
    cache: { stats, queues: [] },
    counters: ZERO_FLUSH_COUNTERS,
    processMetrics: false,
  });
  await request(app).get('/healthz').expect(200, { status: 'ok' });
  const metrics = await request(app).get('/metrics').expect(200);
  assert.match(metrics.text, /^write_behind_dirty_keys 3$/m);
});

test('while it does not: 503 without the reason, and one warning per window in the log', async () => {
  const { logger, lines } = fakeLogger();
  const refusals = new LogLimiter(logger, { now: () => 0 });
  const stats = async (): Promise<Stats> => {
    throw new Error('WRONGPASS invalid username-password pair or user is disabled.');
  };
  const app = createApp({
    cache: { stats, queues: [] },
    counters: ZERO_FLUSH_COUNTERS,
    logger,
    refusals,
    processMetrics: false,
  });
  try {
    for (let i = 0; i < 3; i++) {
      const health = await request(app).get('/healthz').expect(503);
      assert.equal(health.text, '{"status":"unavailable"}');
      const metrics = await request(app).get('/metrics').expect(503);
      assert.doesNotMatch(metrics.text, /WRONGPASS/);
    }
    assert.deepEqual(
      lines.map((l) => [l.level, l.obj.code, l.obj.reason, l.msg]),
      [
        [
          'warn',
          'HEALTH_CHECK_FAILED',
          'WRONGPASS invalid username-password pair or user is disabled.',
          'health check failed: cannot read Redis',
        ],
        [
          'warn',
          METRICS_UNAVAILABLE,
          'WRONGPASS invalid username-password pair or user is disabled.',
          'could not collect metrics',
        ],
      ],
    );
  } finally {
    refusals.close();
  }
});
