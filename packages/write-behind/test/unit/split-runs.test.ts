import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitRuns } from '../../src/flush/flush-batcher.ts';

const keys = (names: string[]) => new Map(names.map((n) => [n, n.toUpperCase()]));
const isAppend = (key: string) => key.startsWith('e');

test('append keys go in runs of at most perRun, in order; every other key in the first run', () => {
  const runs = splitRuns(keys(['e1', 'v1', 'e2', 'e3', 'c1', 'e4', 'e5', 'v2']), isAppend, 2);
  assert.deepEqual(
    runs.map((r) => [...r.keys()]),
    [['e1', 'e2', 'v1', 'c1', 'v2'], ['e3', 'e4'], ['e5']],
  );
  assert.equal(runs[0]?.get('v1'), 'V1', 'each key keeps its value');
});

test('a batch without append keys, or within one run, is one run', () => {
  assert.deepEqual(
    splitRuns(keys(['v1', 'c1']), isAppend, 2).map((r) => [...r.keys()]),
    [['v1', 'c1']],
  );
  assert.deepEqual(
    splitRuns(keys(['e1', 'e2']), isAppend, 2).map((r) => [...r.keys()]),
    [['e1', 'e2']],
  );
  assert.deepEqual(splitRuns(keys([]), isAppend, 2).length, 1);
});
