// The chaos run's command line and options (src/chaos/args.ts, src/chaos/options.ts); no servers needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseChaosArgs, parseDuration } from '../../src/chaos/args.ts';
import { DEFAULT_CHAOS, resolveChaosOptions } from '../../src/chaos/options.ts';

test('every documented flag sets its option', () => {
  const command = parseChaosArgs(
    [
      ...['--duration', '30s', '--clients', '8', '--videos', '100', '--settings', '50', '--hot', '2'],
      ...['--streams', '3', '--workers', '1', '--kill-every', '1500ms', '--outage', '2s'],
      ...['--outage-at', '0.5', '--drain-timeout', '1m', '--seed', '7', '--json', '--quiet'],
    ].flat(),
  );
  assert.deepEqual(command, {
    options: {
      durationMs: 30_000,
      clients: 8,
      videos: 100,
      settings: 50,
      hot: 2,
      streams: 3,
      workers: 1,
      killEveryMs: 1500,
      outageMs: 2000,
      outageAt: 0.5,
      drainTimeoutMs: 60_000,
      seed: 7,
      verbose: false,
    },
    json: true,
    help: false,
  });
  assert.deepEqual(parseChaosArgs([]), { options: {}, json: false, help: false });
  assert.equal(parseChaosArgs(['--help']).help, true);
});

test('an unknown flag, a missing value or a value that is no number is refused, quoting it', () => {
  assert.throws(() => parseChaosArgs(['--durations', '3s']), /--durations/);
  assert.throws(() => parseChaosArgs(['--duration']), /--duration/);
  assert.throws(() => parseChaosArgs(['--clients', 'many']), /--clients takes a number, got "many"/);
  assert.throws(() => parseChaosArgs(['--duration', 'soon']), /not a duration: "soon"/);
});

test('durations: ms, s, m or a bare number of ms', () => {
  assert.deepEqual(['1500ms', '2s', '1.5m', '250'].map(parseDuration), [1500, 2000, 90_000, 250]);
});

test('options take their defaults, undefined included, and a value out of range is refused', () => {
  assert.deepEqual(resolveChaosOptions({ clients: undefined }), DEFAULT_CHAOS);
  assert.equal(resolveChaosOptions({ streams: 0 }).streams, 0);
  assert.throws(
    () => resolveChaosOptions({ clients: 0 }),
    /clients must be a whole number of at least 1, got 0/,
  );
  assert.throws(
    () => resolveChaosOptions({ outageAt: 1.5 }),
    /outageAt must be a fraction from 0 to 1, got 1.5/,
  );
  assert.throws(() => resolveChaosOptions({ videos: 2.5 }), /videos .* got 2.5/);
  assert.throws(
    () => resolveChaosOptions({ clientz: 3 } as unknown as Parameters<typeof resolveChaosOptions>[0]),
    /unknown chaos option "clientz"/,
  );
});
