// Repeated log lines (an outage's reconnect errors) are folded: logged once, counted, logged once per interval
// while they go on, and closed with one last count when they stop. No server needed.
import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import { dedupLogger, LOG_REPEAT_INTERVAL_MS, LogDedup } from '../../src/log-dedup.ts';
import type { Logger } from '../../src/options.ts';

describe('LogDedup', () => {
  test('a first occurrence is logged, the next ones counted until an interval has passed', () => {
    const dedup = new LogDedup(1000);
    assert.deepEqual(dedup.occur('a', 0), { repeated: 1, sinceMs: 0 });
    assert.equal(dedup.occur('a', 100), undefined);
    assert.equal(dedup.occur('a', 999), undefined);
    assert.deepEqual(dedup.occur('a', 1000), { repeated: 3, sinceMs: 1000 });
    assert.equal(dedup.occur('a', 1500), undefined);
    assert.deepEqual(dedup.occur('a', 2100), { repeated: 2, sinceMs: 1100 });
  });

  test('keys are counted apart', () => {
    const dedup = new LogDedup(1000);
    assert.ok(dedup.occur('a', 0));
    assert.ok(dedup.occur('b', 10));
    assert.equal(dedup.occur('a', 20), undefined);
    assert.equal(dedup.occur('b', 30), undefined);
  });

  test('a key quiet for an interval ends with its untold count, then starts afresh', () => {
    const dedup = new LogDedup(1000);
    dedup.occur('a', 0);
    dedup.occur('a', 200);
    dedup.occur('a', 400);
    dedup.occur('b', 0);
    assert.equal(dedup.nextQuietAt(), 1000, "b's, the earliest");
    assert.deepEqual(dedup.quiet(1000), [{ key: 'b', repeat: undefined }], 'b said everything already');
    assert.deepEqual(dedup.quiet(1399), []);
    assert.deepEqual(dedup.quiet(1400), [{ key: 'a', repeat: { repeated: 2, sinceMs: 1400 } }]);
    assert.equal(dedup.nextQuietAt(), undefined);
    assert.deepEqual(dedup.occur('a', 1500), { repeated: 1, sinceMs: 0 }, 'a first again');
  });
});

describe('dedupLogger', () => {
  /** A logger that records each line as `level msg {fields}`. */
  function recorder() {
    const lines: { level: string; msg: string | undefined; obj: Record<string, unknown> }[] = [];
    const record = (level: string) => (obj: object, msg?: string) =>
      lines.push({ level, msg, obj: obj as Record<string, unknown> });
    const logger: Logger = { info: record('info'), warn: record('warn'), error: record('error') };
    return { logger, lines };
  }
  const refused = () =>
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });

  test('an outage of 25 s with an error every 100 ms is 4 lines whose counts add up', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const { logger, lines } = recorder();
    const log = dedupLogger(logger, 10_000);
    for (let at = 0; at < 25_000; at += 100) {
      log.error({ err: refused(), shard: (at / 100) % 2 }, 'flush worker error');
      t.mock.timers.tick(100);
    }
    assert.equal(lines.length, 3, 'at 0, 10 s and 20 s');
    t.mock.timers.tick(10_000);
    assert.equal(lines.length, 4, 'and once it stopped');
    assert.deepEqual(
      lines.map((l) => [l.msg, l.obj.repeated, l.obj.ended]),
      [
        ['flush worker error', undefined, undefined],
        ['flush worker error', 100, undefined],
        ['flush worker error', 100, undefined],
        ['flush worker error', 49, true],
      ],
    );
    const counted = lines.reduce((n, l) => n + (typeof l.obj.repeated === 'number' ? l.obj.repeated : 1), 0);
    assert.equal(counted, 250, 'every occurrence counted once');
    assert.equal((lines[0]?.obj.err as Error | undefined)?.message, 'connect ECONNREFUSED 127.0.0.1:6379');
  });

  test('different messages, codes or levels are not folded together; info passes through', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const { logger, lines } = recorder();
    const log = dedupLogger(logger, 1000);
    log.error({ err: refused() }, 'flush worker error');
    log.error({ err: refused() }, 'flush queue error');
    log.warn({ err: refused() }, 'flush worker error');
    log.error({ err: new Error('Connection is closed.') }, 'flush worker error');
    log.info({}, 'hello');
    log.info({}, 'hello');
    assert.equal(lines.length, 6);
    log.error({ err: refused() }, 'flush worker error');
    assert.equal(lines.length, 6, 'the repeat is counted');
    t.mock.timers.tick(1000);
    assert.equal(lines.length, 7, 'and told once it stopped');
    assert.deepEqual(lines.at(-1)?.obj.repeated, 1);
  });

  test('one wrapper per logger, so that every listener shares the counts', () => {
    const { logger } = recorder();
    assert.equal(dedupLogger(logger), dedupLogger(logger));
    assert.equal(LOG_REPEAT_INTERVAL_MS, 10_000);
  });

  test('a pending closing line keeps no process alive', (t) => {
    const unref = mock.fn();
    t.mock.method(globalThis, 'setTimeout', (() => ({ unref })) as unknown as typeof setTimeout);
    const { logger } = recorder();
    dedupLogger(logger, 5000).error({ err: refused() }, 'x');
    assert.equal(unref.mock.callCount(), 1);
  });
});
